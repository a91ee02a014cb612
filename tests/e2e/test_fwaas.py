"""FWaaS v2 end to end (issue #13, SEED-SPEC §11): firewall groups on a
router's interface port, enforced by the L3 agent in the router namespace,
checked packet by packet in the lab.

One site per lab (module scope): an external network with the outside host
203.0.113.254, a tenant vxlan subnet behind a router, instance `a` (on the
host without the router, with a floating IP; its security group lets tcp 22,
tcp 80 and ICMP in, as a tenant opens them) and instance `b` on the same
subnet. `a` runs a TCP sink on 22 and an HTTP server on 80. Each test makes
its own rules, policies and group on the router's interface port and removes
them; the site is back to "everything passes" before the next test starts.

Directions, as upstream: a group's ingress policy filters what the router
sends into the subnet (outside -> instance), its egress policy what comes
from the subnet (instance -> outside).
"""
from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from neutrino.dataplane import netns as ns
from tests.e2e.fwaas_helpers import (DNS_ANSWER, Fwaas, Servers, TcpSession, dns_query,
                                     dns_responder, tcp_probe, wait_gone)
from tests.e2e.helpers import wait_for
from tests.e2e.l3_helpers import OUTSIDE, L3World, router_ready

pytestmark = pytest.mark.root


def eventually(pred, what: str, timeout: float = 20.0):
    return wait_for(pred, timeout=timeout, interval=0.2, what=what)


class Site:
    def __init__(self, world, lab, a, b, fip, qr_port, router, sink, outside_ns):
        self.world, self.lab, self.a, self.b = world, lab, a, b
        self.fip, self.qr_port, self.router = fip, qr_port, router
        self.sink, self.outside_ns = sink, outside_ns
        self.http_body = lab.state.topology().http_body

    # what the outside host sees of `a` through its floating IP
    def outside_tcp(self, port: int) -> str:
        return tcp_probe(self.outside_ns, self.fip, port)

    def outside_ping(self) -> bool:
        with ns.in_netns(self.outside_ns):
            return subprocess.run(["ping", "-n", "-c", "1", "-W", "1", self.fip],
                                  capture_output=True).returncode == 0

    # what `a` sees of the outside host
    def a_http_out(self) -> bool:
        out = self.lab.instances.run(self.a.name, ["curl", "-s", "-m", "2",
                                                   f"http://{OUTSIDE}/"], timeout=15)
        return out.returncode == 0 and out.stdout == self.http_body

    def a_dns(self) -> str | None:
        return dns_query(self.a.netns, OUTSIDE)

    def everything_passes(self) -> bool:
        return (self.outside_tcp(22) == "open" and self.outside_tcp(80) == "open"
                and self.outside_ping() and self.a_http_out())


@pytest.fixture(scope="module")
def site(lab, tmp_path_factory):
    want = set(lab.state.host_names())
    wait_for(lambda: want <= {a["host"] for a in lab.api.list("agents", agent_type="L3 agent")
                              if a["alive"]}, timeout=60, what="L3 agents alive")
    world = L3World(lab, tag=secrets.token_hex(2))
    servers = Servers()
    tmp = tmp_path_factory.mktemp("fwaas")
    try:
        ext = world.external()
        net, sub = world.tenant("fw", "10.84.0.0/24", network_type="vxlan")
        router = world.router("fw", ext=ext)
        world.add_interface(router, sub)
        router = lab.api.show("routers", router["id"])
        gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        host = world.router_host(router)
        other = next(h for h in lab.state.host_names() if h != host)
        a = world.instance("a", net, host=other)
        b = world.instance("b", net, host=host)
        world.allow_ingress(a, {"protocol": "icmp"},
                            {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
                            {"protocol": "tcp", "port_range_min": 80, "port_range_max": 80})
        fip = world.fip(ext, a.port_id)["floating_ip_address"]
        router_ready(world, router, "10.84.0.1", gw_ip, fip)
        qr_port = lab.api.list("ports", device_id=router["id"],
                               device_owner="network:router_interface")[0]["id"]
        sink = tmp / "sink22"
        servers.tcp_sink(a.netns, 22, sink)
        (tmp / "www").mkdir()
        (tmp / "www" / "index.html").write_text("instance a\n")
        servers.http(a.netns, 80, tmp / "www")
        s = Site(world, lab, a, b, fip, qr_port, router, sink, lab.lab.outside_ns)
        eventually(s.everything_passes, "the site to work without a firewall", timeout=30)
        yield s
    finally:
        servers.stop()
        world.cleanup()


@pytest.fixture
def fw(site):
    f = Fwaas(lambda: site.lab.api, secrets.token_hex(2))
    try:
        yield f
    finally:
        f.cleanup()
        # the next test starts from a site without a firewall
        eventually(site.everything_passes, "everything to pass again after cleanup")


def allow(fw, name, **match):
    return fw.rule(name, action="allow", **match)


def applied(fw, group, status: str = "ACTIVE"):
    """Wait until the L3 agent reported the group's current configuration
    applied: its status leaves PENDING_* (and the API takes changes again)."""
    eventually(lambda: fw.status(group) == status, f"the group to be {status}")


def attach(fw, site, group):
    """Put the router's interface port in `group`; wait until it is enforced."""
    updated = fw.update("firewall_group", group["id"], ports=[site.qr_port])
    # the answer is given before any agent heard of the change
    assert updated["status"] in ("PENDING_CREATE", "PENDING_UPDATE"), updated["status"]
    applied(fw, group)


# ---------------------------------------------------------------- tests

def test_ingress_policy_allows_tcp22_only(fw, site):
    ssh = allow(fw, "ssh", protocol="tcp", destination_port="22")
    inbound = fw.policy("in", [ssh])
    group = fw.group("ssh-only", ingress=inbound)
    assert group["status"] == "INACTIVE" and group["ports"] == []   # no ports yet
    assert site.outside_tcp(80) == "open"                            # not enforced anywhere

    attach(fw, site, group)
    shown = fw.show("firewall_group", group["id"])
    assert shown["ports"] == [site.qr_port] and shown["status"] == "ACTIVE"
    assert site.outside_tcp(22) == "open"
    assert site.outside_tcp(80) == "timeout"       # unmatched: dropped
    assert not site.outside_ping()
    # no egress policy: new connections from the subnet out are dropped too
    # (upstream's driver); replies of the allowed inbound flows pass
    assert not site.a_http_out()


def test_deny_inserted_before_allow_wins_and_cuts_the_established_session(fw, site):
    ssh = allow(fw, "ssh", protocol="tcp", destination_port="22")
    inbound = fw.policy("in", [ssh])
    group = fw.group("ssh", ingress=inbound)
    attach(fw, site, group)
    assert site.outside_tcp(22) == "open"

    session = TcpSession(site.outside_ns, site.fip, 22)
    try:
        marker = secrets.token_hex(4)
        assert session.send(f"before-{marker}")
        eventually(lambda: site.sink.exists() and f"before-{marker}" in site.sink.read_text(),
                   "the session to carry data")

        deny = fw.rule("deny-ssh", action="deny", protocol="tcp", destination_port="22")
        policy = fw.insert_rule(inbound, deny, before=ssh)
        assert policy["firewall_rules"] == [deny["id"], ssh["id"]]
        assert policy["audited"] is False
        applied(fw, group)
        assert site.outside_tcp(22) == "timeout"             # the deny rule wins
        # the session opened before the rule: its conntrack entry is gone,
        # so its next segment meets the deny rule
        session.send(f"after-{marker}")
        assert wait_gone(site.sink, f"after-{marker}"), "the established session was not cut"
    finally:
        session.close()

    # removing the deny rule opens 22 again
    policy = fw.remove_rule(inbound, deny)
    assert policy["firewall_rules"] == [ssh["id"]]
    applied(fw, group)
    assert site.outside_tcp(22) == "open"                    # open again without the deny
    assert site.outside_tcp(80) == "timeout"


def test_reject_refuses_at_once_and_deny_times_out(fw, site):
    web = fw.rule("web", action="reject", protocol="tcp", destination_port="80")
    ssh = allow(fw, "ssh", protocol="tcp", destination_port="22")
    inbound = fw.policy("in", [web, ssh])
    group = fw.group("web", ingress=inbound)
    attach(fw, site, group)
    # the HTTP server in `a` is listening: a refusal can only come from the router
    assert site.outside_tcp(80) == "refused"
    assert site.outside_tcp(22) == "open"

    fw.update("firewall_rule", web["id"], action="deny")
    applied(fw, group)
    assert site.outside_tcp(80) == "timeout"                 # deny: no answer at all

    fw.update("firewall_rule", web["id"], action="allow")
    applied(fw, group)
    assert site.outside_tcp(80) == "open"                    # allow: the server answers


def test_egress_policy_blocks_http_out_but_not_dns(fw, site):
    with dns_responder(site.outside_ns, OUTSIDE):
        assert site.a_dns() == DNS_ANSWER and site.a_http_out()      # before: both work
        dns = allow(fw, "dns", protocol="udp", destination_port="53")
        outbound = fw.policy("out", [dns])
        group = fw.group("dns-only", egress=outbound)
        attach(fw, site, group)
        assert not site.a_http_out()                 # HTTP to the outside host: dropped
        assert site.a_dns() == DNS_ANSWER            # DNS through the same router: answered
        assert tcp_probe(site.a.netns, OUTSIDE, 80) == "timeout"
        assert site.outside_tcp(22) == "timeout"     # no ingress policy: nothing new comes in

        # detached: HTTP out works again
        fw.update("firewall_group", group["id"], ports=[])
        applied(fw, group, "INACTIVE")
        eventually(site.a_http_out, "HTTP out once the port left the group")
        assert site.a_dns() == DNS_ANSWER


def test_same_subnet_is_never_filtered(fw, site):
    deny_all = fw.rule("deny-all", action="deny")
    group = fw.group("closed", ingress=fw.policy("in", [deny_all]),
                     egress=fw.policy("out", [deny_all]))
    attach(fw, site, group)
    assert site.outside_tcp(22) == "timeout" and not site.a_http_out()   # the router: closed
    a, b = site.a, site.b
    assert site.world.ping(b, a.ip) and site.world.ping(a, b.ip)        # within the subnet
    assert tcp_probe(b.netns, a.ip, 80) == "open"
    assert tcp_probe(b.netns, a.ip, 22) == "open"


def test_removing_the_port_from_the_group_restores_everything(fw, site):
    deny_all = fw.rule("deny-all", action="deny")
    group = fw.group("closed", ingress=fw.policy("in", [deny_all]),
                     egress=fw.policy("out", [deny_all]))
    attach(fw, site, group)
    assert site.outside_tcp(22) == "timeout" and site.outside_tcp(80) == "timeout"
    assert not site.outside_ping() and not site.a_http_out()

    group = fw.update("firewall_group", group["id"], ports=[])
    assert group["ports"] == []
    applied(fw, group, "INACTIVE")                           # no ports: INACTIVE
    eventually(site.everything_passes, "everything to pass once the port left the group")
    assert site.outside_tcp(22) == "open" and site.outside_tcp(80) == "open"
    assert site.outside_ping() and site.a_http_out()


def test_admin_down_group_drops_everything_established_flows_too(fw, site):
    ssh = allow(fw, "ssh", protocol="tcp", destination_port="22")
    anything = allow(fw, "any")
    group = fw.group("updown", ingress=fw.policy("in", [ssh]), egress=fw.policy("out", [anything]))
    attach(fw, site, group)
    assert site.outside_tcp(22) == "open" and site.a_http_out()
    session = TcpSession(site.outside_ns, site.fip, 22)
    try:
        marker = secrets.token_hex(4)
        assert session.send(f"up-{marker}")
        eventually(lambda: site.sink.exists() and f"up-{marker}" in site.sink.read_text(),
                   "the session to carry data")
        fw.update("firewall_group", group["id"], admin_state_up=False)
        applied(fw, group, "DOWN")
        assert site.outside_tcp(22) == "timeout" and not site.a_http_out()
        session.send(f"down-{marker}")
        assert wait_gone(site.sink, f"down-{marker}"), "the established session was not cut"
    finally:
        session.close()
    fw.update("firewall_group", group["id"], admin_state_up=True)
    applied(fw, group)
    assert site.outside_tcp(22) == "open" and site.a_http_out()
    assert site.outside_tcp(80) == "timeout"


def test_reattached_group_is_pending_until_applied(fw, site):
    deny_all = fw.rule("deny-all", action="deny")
    group = fw.group("again", ingress=fw.policy("in", [deny_all]))
    attach(fw, site, group)
    assert site.outside_tcp(22) == "timeout"
    fw.update("firewall_group", group["id"], ports=[])
    applied(fw, group, "INACTIVE")
    eventually(lambda: site.outside_tcp(22) == "open", "22 open once detached")

    again = fw.update("firewall_group", group["id"], ports=[site.qr_port])
    assert again["status"] == "PENDING_UPDATE"          # not applied yet: not ACTIVE
    applied(fw, group)
    assert site.outside_tcp(22) == "timeout"


def test_router_namespace_and_neutrino_show_router_have_the_chains(fw, site):
    ssh = allow(fw, "ssh", protocol="tcp", destination_port="22")
    group = fw.group("shown", ingress=fw.policy("in", [ssh]))
    attach(fw, site, group)
    # upstream's v2 iptables driver's chains, in the router namespace's filter
    # table (iptables -S order: FORWARD's jumps in order, then chain by chain)
    wrap, tag, qr = "neutron-l3-agent", group["id"][:8], "qr-" + site.qr_port[:11]
    expected = [f"-A {wrap}-FORWARD -o {qr} -j {wrap}-iv4{tag}",
                f"-A {wrap}-FORWARD -i {qr} -j {wrap}-ov4{tag}",
                f"-A {wrap}-FORWARD -o {qr} -j {wrap}-fwaas-defau",
                f"-A {wrap}-FORWARD -i {qr} -j {wrap}-fwaas-defau",
                f"-A {wrap}-fwaas-defau -j {wrap}-dropped",
                f"-A {wrap}-iv4{tag} -m state --state INVALID -j {wrap}-dropped",
                f"-A {wrap}-iv4{tag} -m state --state RELATED,ESTABLISHED -j ACCEPT",
                f"-A {wrap}-iv4{tag} -p tcp -m tcp --dport 22 -j {wrap}-accepted"]
    rules = ns.run(["iptables", "-S"], netns=site.world.router_ns(site.router)).splitlines()
    assert [r for r in rules if r in expected] == expected, "\n".join(rules)
    out = subprocess.run([sys.executable, "-m", "neutrino.cli.main", "--lab-dir",
                          site.lab.state.lab_dir, "show", "router", site.router["id"]],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert all(line in out.stdout for line in expected), out.stdout
