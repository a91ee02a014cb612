"""haproxy.conf rendering of the LB agent: each algorithm, persistence,
monitor, listener option and L7 case gives the haproxy lines that do it
(and haproxy itself accepts the file, where haproxy is installed)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from neutrino.agent.lb.haproxy_config import Unsupported, expected_codes, render
from neutrino.agent.lb.model import Paths
from tests.unit.lb_samples import listener, loadbalancer, member, monitor, policy, pool, rule

PATHS = Paths.of("/var/lib/neutrino/lbaas", "lb1")


def section(text: str, header: str) -> list[str]:
    """The lines of one section ("frontend lis1", "backend pool1")."""
    lines = text.splitlines()
    start = lines.index(header)
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        out.append(line.strip())
    return out


@pytest.mark.parametrize("algorithm, balance", [("ROUND_ROBIN", "roundrobin"),
                                                ("LEAST_CONNECTIONS", "leastconn"),
                                                ("SOURCE_IP", "source")])
def test_algorithms(algorithm, balance):
    text = render(loadbalancer(pools=[pool(algorithm=algorithm)]), PATHS)
    assert f"balance {balance}" in section(text, "backend pool1")


def test_global_has_stats_socket_and_server_state():
    text = render(loadbalancer(), PATHS)
    assert ("stats socket /var/lib/neutrino/lbaas/lb1/haproxy.sock mode 600 level admin "
            "expose-fd listeners") in section(text, "global")
    assert "server-state-file /var/lib/neutrino/lbaas/lb1/servers.state" in section(text, "global")
    assert "load-server-state-from-file global" in section(text, "defaults")


def test_frontend_http_and_tcp_modes():
    lb = loadbalancer(listeners=[listener(), listener("lis2", "TCP", 5432, "pool2")],
                      pools=[pool(), pool("pool2", protocol="TCP")])
    text = render(lb, PATHS)
    http, tcp = section(text, "frontend lis1"), section(text, "frontend lis2")
    assert "mode http" in http and "bind 10.0.0.5:80" in http and "default_backend pool1" in http
    assert "mode tcp" in tcp and "bind 10.0.0.5:5432" in tcp and "default_backend pool2" in tcp
    assert "mode tcp" in section(text, "backend pool2")


def test_connection_limit_timeouts_and_disabled():
    lb = loadbalancer(listeners=[listener(connection_limit=100, timeout_client_data=1000,
                                          timeout_tcp_inspect=500, timeout_member_connect=700,
                                          timeout_member_data=2000, admin_state_up=False)])
    text = render(lb, PATHS)
    fe = section(text, "frontend lis1")
    assert "maxconn 100" in fe and "timeout client 1000ms" in fe
    assert "tcp-request inspect-delay 500ms" in fe and "disabled" in fe
    be = section(text, "backend pool1")
    assert "timeout connect 700ms" in be and "timeout server 2000ms" in be
    # -1 (unlimited): no maxconn; unset timeouts: Octavia's defaults
    fe = section(render(loadbalancer(listeners=[listener(timeout_client_data=None)]), PATHS),
                 "frontend lis1")
    assert not any(line.startswith("maxconn") for line in fe)
    assert "timeout client 50000ms" in fe


def test_insert_headers_and_allowed_cidrs():
    lb = loadbalancer(listeners=[listener(
        insert_headers={"X-Forwarded-For": "true", "X-Forwarded-Port": "True",
                        "X-Forwarded-Proto": "false"},
        allowed_cidrs=["192.0.2.0/24", "10.0.0.0/8"])])
    fe = section(render(lb, PATHS), "frontend lis1")
    assert "option forwardfor" in fe
    assert "http-request set-header X-Forwarded-Port %[dst_port]" in fe
    assert not any("X-Forwarded-Proto" in line for line in fe)
    assert "acl allowed_cidr src 10.0.0.0/8 192.0.2.0/24" in fe
    assert "tcp-request connection reject unless allowed_cidr" in fe


def test_session_persistence_kinds():
    src = section(render(loadbalancer(pools=[pool(session_persistence={
        "type": "SOURCE_IP", "cookie_name": None})]), PATHS), "backend pool1")
    assert "stick on src" in src and any(s.startswith("stick-table type ip") for s in src)
    cookie = section(render(loadbalancer(pools=[pool(session_persistence={
        "type": "HTTP_COOKIE", "cookie_name": None})]), PATHS), "backend pool1")
    assert "cookie SRV insert indirect nocache" in cookie
    assert any(s.startswith("server m1 ") and s.endswith("cookie m1") for s in cookie)
    app = section(render(loadbalancer(pools=[pool(session_persistence={
        "type": "APP_COOKIE", "cookie_name": "JSESSIONID"})]), PATHS), "backend pool1")
    assert "stick store-response res.cook(JSESSIONID)" in app
    assert "stick match req.cook(JSESSIONID)" in app


def test_http_monitor_and_member_options():
    lb = loadbalancer(pools=[pool(healthmonitor=monitor(expected_codes="200-202,204",
                                                        http_method="HEAD"),
                                  members=[member("m1", weight=5, backup=True),
                                           member("m2", "10.0.0.12", admin_state_up=False,
                                                  monitor_address="10.0.0.99",
                                                  monitor_port=8081)])])
    be = section(render(lb, PATHS), "backend pool1")
    assert "option httpchk HEAD /healthz" in be
    assert "http-check expect rstatus ^(200|201|202|204)$" in be
    assert "timeout check 3s" in be
    assert ("server m1 10.0.0.11:80 weight 5 backup check inter 5s fall 4 rise 2") in be
    assert ("server m2 10.0.0.12:80 weight 1 check inter 5s fall 4 rise 2 addr 10.0.0.99 "
            "port 8081 disabled") in be


@pytest.mark.parametrize("kind", ["TCP", "PING"])
def test_tcp_and_ping_monitors_are_connect_checks(kind):
    be = section(render(loadbalancer(pools=[pool(healthmonitor=monitor(kind))]), PATHS),
                 "backend pool1")
    assert not any("httpchk" in line for line in be)
    assert any(line.startswith("server m1") and " check inter 5s" in line for line in be)


def test_no_monitor_or_disabled_monitor_means_no_checks():
    for hm in (None, monitor(admin_state_up=False)):
        be = section(render(loadbalancer(pools=[pool(healthmonitor=hm)]), PATHS), "backend pool1")
        assert not any(" check" in line for line in be)


def test_l7_policies_in_position_order_first_match_wins():
    pols = [policy("p3", 3, "REDIRECT_TO_URL", [rule("r3", "HOST_NAME", "EQUAL_TO", "old.example")],
                   redirect_url="http://new.example/", redirect_http_code=301),
            policy("p1", 1, "REDIRECT_TO_POOL", [rule("r1")], redirect_pool_id="pool2"),
            policy("p2", 2, "REJECT", [rule("r2", "HEADER", "CONTAINS", "bad", key="X-Test"),
                                       rule("r2b", "COOKIE", "REGEX", "^a", key="c",
                                            invert=True)]),
            policy("p4", 4, "REJECT", []),                            # no rules: never matches
            policy("p5", 5, "REJECT", [rule("r5")], admin_state_up=False)]
    lb = loadbalancer(listeners=[listener(l7policies=pols)], pools=[pool(), pool("pool2")])
    fe = section(render(lb, PATHS), "frontend lis1")
    assert 'acl rule_r1 path -m beg "/api"' in fe
    assert 'acl rule_r2 req.hdr(X-Test) -m sub "bad"' in fe
    assert 'acl rule_r2b req.cook(c) -m reg "^a"' in fe
    assert 'acl rule_r3 req.hdr(host),field(1,:) -m str -i "old.example"' in fe
    actions = [line for line in fe if line.startswith(("http-request set-var", "http-request deny",
                                                      "http-request redirect", "use_backend"))]
    guard = "!{ var(txn.l7pool) -m found }"
    assert actions == [
        f"http-request set-var(txn.l7pool) str(pool2) if rule_r1 {guard}",
        f"http-request deny deny_status 403 if rule_r2 !rule_r2b {guard}",
        f'http-request redirect location "http://new.example/" code 301 if rule_r3 {guard}',
        "use_backend %[var(txn.l7pool)] if { var(txn.l7pool) -m found }"]
    assert fe[-1] == "default_backend pool1"


def test_quoting_of_rule_values():
    lb = loadbalancer(listeners=[listener(l7policies=[policy("p", 1, "REJECT", [
        rule("r", "HEADER", "EQUAL_TO", 'a "b" \\c', key="X")])])])
    assert 'acl rule_r req.hdr(X) -m str "a \\"b\\" \\\\c"' in section(render(lb, PATHS),
                                                                       "frontend lis1")


def test_expected_codes():
    assert expected_codes("200") == "^(200)$"
    assert expected_codes("200,302") == "^(200|302)$"
    assert expected_codes("200-202") == "^(200|201|202)$"


@pytest.mark.parametrize("wire", [
    loadbalancer(listeners=[listener(protocol="UDP")]),
    loadbalancer(pools=[pool(algorithm="SOURCE_IP_PORT")]),
    loadbalancer(pools=[pool(healthmonitor=monitor("UDP-CONNECT"))]),
])
def test_unsupported_is_an_error_not_a_config(wire):
    with pytest.raises(Unsupported):
        render(wire, PATHS)


def test_admin_down_lb_disables_every_frontend():
    lb = loadbalancer(admin_state_up=False)
    assert "disabled" in section(render(lb, PATHS), "frontend lis1")


def test_empty_load_balancer_is_just_global_and_defaults():
    text = render(loadbalancer(listeners=[], pools=[]), PATHS)
    assert "frontend" not in text and "backend" not in text


@pytest.mark.missing(shutil.which("haproxy") is None, reason="needs haproxy")
def test_haproxy_accepts_a_full_config(tmp_path):
    pols = [policy("p1", 1, "REDIRECT_TO_POOL", [rule("r1")], redirect_pool_id="pool2"),
            policy("p2", 2, "REDIRECT_PREFIX", [rule("r2", "FILE_TYPE", "EQUAL_TO", "php")],
                   redirect_prefix="https://x.example", redirect_http_code=308)]
    lb = loadbalancer(
        listeners=[listener(l7policies=pols, insert_headers={"X-Forwarded-For": "true"},
                            allowed_cidrs=["10.0.0.0/8"], connection_limit=10),
                   listener("lis2", "TCP", 3306, "pool3")],
        pools=[pool(healthmonitor=monitor(), session_persistence={"type": "HTTP_COOKIE"}),
               pool("pool2", "LEAST_CONNECTIONS", session_persistence={
                   "type": "APP_COOKIE", "cookie_name": "SID"}),
               pool("pool3", "SOURCE_IP", "TCP", healthmonitor=monitor("TCP"),
                    session_persistence={"type": "SOURCE_IP"})])
    conf = tmp_path / "haproxy.conf"
    conf.write_text(render(lb, Paths.of(tmp_path, "lb1")))
    done = subprocess.run(["haproxy", "-c", "-q", "-f", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_proxy_pools_send_the_proxy_protocol_in_the_listener_mode():
    lb = loadbalancer(listeners=[listener(), listener("lis2", "TCP", 25, "pool2")],
                      pools=[pool(protocol="PROXY"), pool("pool2", protocol="PROXYV2")])
    text = render(lb, PATHS)
    be = section(text, "backend pool1")
    assert "mode http" in be
    assert any(line.startswith("server m1 ") and "send-proxy" in line for line in be)
    be2 = section(text, "backend pool2")
    assert "mode tcp" in be2 and any("send-proxy-v2" in line for line in be2)


def test_l7_pool_takes_the_mode_and_timeouts_of_its_listener():
    pols = [policy("p1", 1, "REDIRECT_TO_POOL", [rule("r1")], redirect_pool_id="pool2")]
    lb = loadbalancer(listeners=[listener(l7policies=pols, timeout_member_connect=1234)],
                      pools=[pool(), pool("pool2", protocol="PROXY")])
    be = section(render(lb, PATHS), "backend pool2")
    assert "mode http" in be and "timeout connect 1234ms" in be


def test_terminated_https_is_not_offered():
    with pytest.raises(Unsupported):
        render(loadbalancer(listeners=[listener(protocol="TERMINATED_HTTPS", port=443)]), PATHS)
