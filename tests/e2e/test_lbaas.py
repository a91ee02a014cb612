"""Load balancers end to end (issue #14, SEED-SPEC §12): three instances
serving HTTP (each answers its own name) behind an Octavia load balancer on
their tenant network, as a tenant builds it through the v2 API, waiting for
ACTIVE between calls as Octavia's clients do. Every check is what a client
sees: who answered, and how many times.

One farm per lab (module scope): a vxlan tenant network across both hosts
with web1..web3 (port 8080 answers "webN", 8081 answers "api-webN"), a client
instance, a router to the outside host, the load balancer (HTTP listener on
80, a ROUND_ROBIN pool of the three on 8080) and a floating IP on its VIP.
Each test sets the pool as it needs it first.
"""
from __future__ import annotations

import collections
import secrets
import threading
import time
from pathlib import Path

import pytest

from neutrino.dataplane import netns as ns
from tests.e2e.helpers import wait_for
from tests.e2e.lb_helpers import (
    Farm, LbWorld, LoadLoop, http_get, lb_namespace, names, wait_lb_agents,
)

pytestmark = pytest.mark.root

WEB_PORT, API_PORT = 8080, 8081


@pytest.fixture(scope="module")
def farm(lab):
    wait_lb_agents(lab)
    w = LbWorld(lab, tag=secrets.token_hex(2))
    try:
        hosts = lab.state.host_names()
        ext = w.external()
        net, sub = w.tenant("lbnet", "10.93.0.0/24", network_type="vxlan")
        w.add_interface(w.router("lbr", ext=ext), sub)
        webs = [w.instance(f"web{i}", net, host=hosts[i % len(hosts)]) for i in (1, 2, 3)]
        client = w.instance("client", net, host=hosts[0])
        for web in webs:
            # the tenant opens its servers' ports (security groups are on in the lab)
            w.allow_ingress(web, {"protocol": "tcp", "port_range_min": WEB_PORT,
                                  "port_range_max": API_PORT})
            short = web.name.rsplit("-", 1)[0]
            w.backends.start(web, WEB_PORT, short)
            w.backends.start(web, API_PORT, f"api-{short}")
        oc = w.octavia
        lb = w.loadbalancer("lb", sub)
        assert lb["provisioning_status"] == "PENDING_CREATE", lb
        lb = oc.wait_active(lb["id"], timeout=60)
        listener = oc.change(lb["id"], "listener", "create", {
            "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80,
            "name": f"http-{w.tag}"})
        pool = oc.change(lb["id"], "pool", "create", {
            "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "name": f"web-{w.tag}"})
        farm = Farm(world=w, lb=lb, listener=listener, pool=pool, webs=webs, client=client,
                    subnet=sub, ext=ext, fip={})
        for web in webs:
            short = web.name.rsplit("-", 1)[0]
            farm.members[short] = oc.change(lb["id"], "member", "create", {
                "address": web.ip, "protocol_port": WEB_PORT, "subnet_id": sub["id"],
                "name": short}, parent=pool["id"])
        farm.fip = w.fip(ext, lb["vip_port_id"])
        yield farm
    finally:
        w.cleanup()
        time.sleep(0.3)


def even(counts: collections.Counter, names_: set[str], each: int) -> bool:
    return dict(counts) == {n: each for n in names_}


# ---------------------------------------------------------------- tests

def test_load_balancer_active_in_its_namespace_and_shown(farm, lab):
    oc, lb = farm.octavia, farm.lb
    shown = oc.show("loadbalancer", lb["id"])
    assert shown["provisioning_status"] == "ACTIVE"
    assert wait_for(lambda: oc.show("loadbalancer", lb["id"])["operating_status"] == "ONLINE",
                    timeout=20, what="load balancer ONLINE")
    for kind, obj in (("listener", farm.listener), ("pool", farm.pool)):
        assert oc.show(kind, obj["id"])["provisioning_status"] == "ACTIVE"
    members = oc.list("member", parent=farm.pool["id"])
    assert sorted(m["address"] for m in members) == sorted(w.ip for w in farm.webs)
    assert all(m["provisioning_status"] == "ACTIVE" for m in members)

    # the VIP port: Octavia's owner, the VIP address, ACTIVE like any bound port
    port = lab.api.show("ports", lb["vip_port_id"])
    assert port["device_owner"] == "Octavia" and port["device_id"] == f"lb-{lb['id']}"
    assert port["fixed_ips"][0]["ip_address"] == farm.vip
    wait_for(lambda: lab.api.show("ports", lb["vip_port_id"])["status"] == "ACTIVE",
             timeout=20, what="VIP port ACTIVE")

    # the kernel: a qlbaas-<id> namespace holding the VIP on ns-<port>
    lbns = lb_namespace(lb["id"])
    assert lbns, "no qlbaas namespace"
    addrs = ns.run(["ip", "-4", "-o", "addr"], netns=lbns)
    assert f"ns-{lb['vip_port_id'][:11]}" in addrs and f" {farm.vip}/24" in addrs

    # `neutrino show loadbalancer` prints the namespace, haproxy and the members
    from neutrino.agent.lb.show import loadbalancer_view, render_loadbalancer
    dirs = [lab.state.host_dir(h) / "lbaas" for h in lab.state.host_names()]
    text = "\n".join(render_loadbalancer(loadbalancer_view(lab.api, lb["id"], dirs)))
    assert f"namespace {lbns}" in text and "haproxy.conf" in text, text
    assert "haproxy pid (not running)" not in text, text
    for web in farm.webs:
        assert f"{web.ip}:{WEB_PORT}" in text, text
    # the config under the host's state path: a frontend on VIP:80, the members
    conf = next(d / lb["id"] / "haproxy.conf" for d in dirs if (d / lb["id"]).is_dir())
    config = conf.read_text()
    assert f"bind {farm.vip}:80" in config
    assert all(f"{web.ip}:{WEB_PORT}" in config for web in farm.webs), config


def test_round_robin_spreads_30_requests_10_10_10(farm):
    farm.set_pool(lb_algorithm="ROUND_ROBIN", session_persistence=None)
    assert even(farm.from_client(30), farm.web_names(), 10)


def test_least_connections_sends_new_requests_to_the_idle_member(farm):
    farm.set_pool(lb_algorithm="LEAST_CONNECTIONS", session_persistence=None)
    held: list = []

    def hold():
        held.append(http_get(farm.client.netns, farm.vip, path="/hold/6", timeout=15).name)
    # two requests that keep two members busy for 6 s ...
    holders = [threading.Thread(target=hold) for _ in range(2)]
    for t in holders:
        t.start()
        time.sleep(0.4)
    # ... then every new request goes to the third, the one with no connection
    quick = farm.from_client(10)
    for t in holders:
        t.join(timeout=20)
    assert len(held) == 2 and held[0] != held[1], held
    (idle,) = farm.web_names() - set(held)
    assert dict(quick) == {idle: 10}, (held, quick)
    # and with nothing held, the three share the work again
    assert set(farm.from_client(9)) == farm.web_names()


def test_source_ip_pins_each_client_address_to_one_member(farm, lab):
    farm.set_pool(lb_algorithm="SOURCE_IP", session_persistence=None)
    seen = farm.from_client(20)
    assert len(seen) == 1, seen
    # another client address, on the other host, is pinned too
    other = farm.world.instance("client2", lab.api.show("networks", farm.subnet["network_id"]),
                                host=lab.state.host_names()[-1])
    elsewhere = names(other.netns, farm.vip, 20)
    assert len(elsewhere) == 1, elsewhere


def test_http_cookie_persistence_pins_a_client_that_returns_the_cookie(farm):
    farm.set_pool(lb_algorithm="ROUND_ROBIN", session_persistence={"type": "HTTP_COOKIE"})
    first = http_get(farm.client.netns, farm.vip)
    assert first.status == 200 and first.cookies(), first.headers
    pinned = farm.from_client(15, headers={"Cookie": first.cookies()})
    assert dict(pinned) == {first.name: 15}, pinned
    # without the cookie the pool still spreads
    assert set(farm.from_client(9)) == farm.web_names()


def test_http_health_monitor_takes_a_stopped_member_out_and_back(farm):
    oc, lb = farm.octavia, farm.lb
    pool = farm.set_pool(lb_algorithm="ROUND_ROBIN", session_persistence=None)
    hm = oc.change(lb["id"], "healthmonitor", "create", {
        "pool_id": pool["id"], "type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1,
        "max_retries_down": 1, "http_method": "GET", "url_path": "/", "expected_codes": "200"})
    try:
        members = farm.members

        def statuses():
            return {n: oc.member_status(pool["id"], m["id"]) for n, m in members.items()}
        wait_for(lambda: set(statuses().values()) == {"ONLINE"}, timeout=20,
                 what="all members ONLINE")

        web3 = next(w for w in farm.webs if w.name.startswith("web3-"))
        farm.world.backends.stop(web3, WEB_PORT)
        wait_for(lambda: statuses()["web3"] in ("ERROR", "OFFLINE"), timeout=20,
                 what="web3 marked down by the health monitor")
        assert statuses()["web1"] == statuses()["web2"] == "ONLINE"
        tree = oc.status_tree(lb["id"])["loadbalancer"]
        tree_members = {m["id"]: m["operating_status"]
                        for m in tree["listeners"][0]["pools"][0]["members"]}
        assert tree_members[members["web3"]["id"]] in ("ERROR", "OFFLINE"), tree
        assert tree["listeners"][0]["pools"][0]["operating_status"] == "DEGRADED", tree
        # no request reaches it; none fails
        assert even(farm.from_client(30), {"web1", "web2"}, 15)

        farm.world.backends.start(web3, WEB_PORT, "web3")
        wait_for(lambda: statuses()["web3"] == "ONLINE", timeout=20, what="web3 ONLINE again")
        assert even(farm.from_client(30), farm.web_names(), 10)
    finally:
        oc.change(lb["id"], "healthmonitor", "delete", hm["id"])


def test_floating_ip_on_the_vip_serves_the_outside_host(farm, lab):
    farm.set_pool(lb_algorithm="ROUND_ROBIN", session_persistence=None)
    fip = farm.fip["floating_ip_address"]
    wait_for(lambda: _answers(lab.lab.outside_ns, fip), timeout=30,
             what="the floating IP answering the outside host")
    assert even(names(lab.lab.outside_ns, fip, 30), farm.web_names(), 10)


def test_l7_policy_sends_api_to_a_second_pool(farm):
    oc, lb = farm.octavia, farm.lb
    farm.set_pool(lb_algorithm="ROUND_ROBIN", session_persistence=None)
    api_pool = oc.change(lb["id"], "pool", "create", {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
        "name": f"api-{farm.world.tag}"})
    policy = None
    try:
        for web in farm.webs:
            oc.change(lb["id"], "member", "create", {
                "address": web.ip, "protocol_port": API_PORT, "subnet_id": farm.subnet["id"]},
                parent=api_pool["id"])
        policy = oc.change(lb["id"], "l7policy", "create", {
            "listener_id": farm.listener["id"], "action": "REDIRECT_TO_POOL",
            "redirect_pool_id": api_pool["id"], "position": 1})
        oc.change(lb["id"], "rule", "create", {
            "type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"},
            parent=policy["id"])
        api = farm.from_client(9, path="/api/v1/items")
        assert even(api, {f"api-{n}" for n in farm.web_names()}, 3)
        assert even(farm.from_client(9, path="/index.html"), farm.web_names(), 3)
    finally:
        if policy:
            oc.change(lb["id"], "l7policy", "delete", policy["id"])
        oc.change(lb["id"], "pool", "delete", api_pool["id"])
    assert set(farm.from_client(6, path="/api/v1/items")) <= farm.web_names()


def test_members_and_algorithm_change_under_load_without_a_failed_request(farm, lab):
    oc, lb, pool = farm.octavia, farm.lb, farm.pool
    farm.set_pool(lb_algorithm="ROUND_ROBIN", session_persistence=None)
    fip = farm.fip["floating_ip_address"]
    wait_for(lambda: _answers(lab.lab.outside_ns, fip), timeout=30, what="FIP answering")
    web1, web3 = farm.webs[0], next(w for w in farm.webs if w.name.startswith("web3-"))
    with LoadLoop(lab.lab.outside_ns, fip, clients=3, pause=0.01) as load:
        time.sleep(1)
        oc.change(lb["id"], "member", "delete", farm.members["web3"]["id"], parent=pool["id"])
        time.sleep(1)
        farm.members["web3"] = oc.change(lb["id"], "member", "create", {
            "address": web3.ip, "protocol_port": WEB_PORT, "subnet_id": farm.subnet["id"],
            "name": "web3"}, parent=pool["id"])
        time.sleep(1)
        extra = oc.change(lb["id"], "member", "create", {     # a fourth member
            "address": web1.ip, "protocol_port": API_PORT, "subnet_id": farm.subnet["id"]},
            parent=pool["id"])
        time.sleep(1)
        for algorithm in ("LEAST_CONNECTIONS", "SOURCE_IP", "ROUND_ROBIN"):
            farm.set_pool(lb_algorithm=algorithm)
            time.sleep(1)
        oc.change(lb["id"], "member", "delete", extra["id"], parent=pool["id"])
        time.sleep(1)
    print(f"under load: {load.total} requests, {len(load.failures)} failed, by member "
          f"{dict(load.ok)}")
    assert load.failures == [], (f"{len(load.failures)} of {load.total} failed",
                                 load.failures[:10])
    assert load.total >= 100, load.ok
    assert set(load.ok) == farm.web_names() | {"api-web1"}, load.ok
    # after the changes: the three again, 10/10/10
    assert even(names(lab.lab.outside_ns, fip, 30), farm.web_names(), 10)


def _answers(netns: str, ip: str) -> bool:
    try:
        return http_get(netns, ip, timeout=2).status == 200
    except OSError:
        return False



@pytest.mark.parametrize("lab", ["rabbit"], indirect=True)   # agents are processes there
def test_lb_agent_restart_adopts_haproxy_without_a_blip(farm, lab):
    """SIGKILL the agent serving the load balancer and start it again: its
    haproxy keeps running (same master pid) and serving (0 failed requests
    meanwhile), and the restarted agent applies the next change."""
    oc, lb = farm.octavia, farm.lb
    farm.set_pool(lb_algorithm="ROUND_ROBIN", session_persistence=None)
    lbns = lb_namespace(lb["id"])
    host = next(h for h in lab.state.host_names() if lbns.startswith(f"{lab.state.prefix}{h}-"))
    pid_file = lab.state.host_dir(host) / "lbaas" / lb["id"] / "haproxy.pid"
    master = int(pid_file.read_text())
    with LoadLoop(farm.client.netns, farm.vip, clients=2, pause=0.01) as load:
        time.sleep(0.5)
        lab.kill_lb_agent(host)
        time.sleep(0.5)
        lab.start_lb_agent(host)
        wait_lb_agents(lab)
        farm.set_pool(lb_algorithm="LEAST_CONNECTIONS")
        time.sleep(0.5)
    print(f"agent restart: {load.total} requests, {len(load.failures)} failed")
    assert load.failures == [], load.failures[:10]
    assert load.total >= 50 and set(load.ok) == farm.web_names(), load.ok
    assert int(pid_file.read_text()) == master
    assert Path(f"/proc/{master}/cmdline").read_bytes().startswith(b"haproxy")
    farm.set_pool(lb_algorithm="ROUND_ROBIN")
    assert even(farm.from_client(30), farm.web_names(), 10)


def test_a_new_load_balancer_on_a_freed_vip_address_serves_its_clients(farm):
    """A client that talked to a deleted load balancer's VIP reaches the new
    load balancer given the same address once it is ACTIVE (the new VIP's
    MAC is announced when its port is wired, so the client's neighbour
    entry does not keep the old MAC until it ages out, 15-45 s)."""
    oc, w = farm.octavia, farm.world
    web1 = farm.webs[0]
    # an address no port holds now (the subnet's ports have random addresses)
    taken = {ip["ip_address"] for port in w.api.list("ports", network_id=farm.subnet["network_id"])
             for ip in port["fixed_ips"]}
    vip = next(a for a in (f"10.93.0.{n}" for n in range(240, 254)) if a not in taken)

    def make(name):
        lb = w.octavia.create("loadbalancer", {
            "name": f"{name}-{w.tag}", "vip_subnet_id": farm.subnet["id"],
            "vip_address": vip, "listeners": [{
                "protocol": "HTTP", "protocol_port": 80, "default_pool": {
                    "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": [{
                        "address": web1.ip, "protocol_port": WEB_PORT,
                        "subnet_id": farm.subnet["id"]}]}}]})
        w.lbs.append(lb["id"])
        return oc.wait_active(lb["id"])

    for round_ in range(3):
        lb = make(f"reuse{round_}")
        wait_for(lambda: _answers(farm.client.netns, vip), timeout=5,
                 what=f"round {round_}: the new VIP answering a client that knew the old one")
        assert http_get(farm.client.netns, vip).name == "web1"
        oc.delete("loadbalancer", lb["id"], cascade="true")
        oc.wait_gone(lb["id"])
