"""Security groups and anti-spoofing with instances (issue #7): a lab whose
L2 agents run the iptables firewall; every check is packets passing or
being dropped between instances (or the outside world), and the seed's
chain structure as `iptables-save` shows it in a host namespace. The same
packet checks run once more on a lab whose agents use the nftables driver
(inproc), and on one whose iptables driver runs iptables-legacy (inproc,
`--iptables-backend legacy`)."""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
import time

import pytest

from neutrino.agent.l2.firewall.apply import tool
from neutrino.dataplane import netns as ns
from neutrino.dataplane.process import Daemon
from tests.e2e.conftest import RABBIT_URL, _rabbit_unreachable
from tests.e2e.helpers import World, wait_for
from tests.machine import missing

pytestmark = pytest.mark.root
W = "neutron-linuxbri"


@pytest.fixture(scope="module", params=["inproc", "rabbit", "inproc-nftables",
                                        "inproc-iptables-legacy"])
def fwlab(request, tmp_path_factory):
    """A 2-host lab with security groups on (the shared lab has them off),
    per transport: with rabbit the agents are processes inside the hosts."""
    if os.geteuid() != 0:
        missing("needs root: network namespaces")
    if request.param == "rabbit":
        reason = _rabbit_unreachable()
        if reason:
            missing(reason)
    from neutrino.lab.control import LabControl
    transport, _, driver = request.param.partition("-")
    driver, _, backend = driver.partition("-")
    ctl = LabControl.up(hosts=2, transport=transport, firewall=True, rabbit_url=RABBIT_URL,
                        lab_dir=tmp_path_factory.mktemp(f"lab-fw-{request.param}") / "lab",
                        firewall_driver=driver or "iptables", iptables_backend=backend or "auto")
    try:
        yield ctl
    finally:
        ctl.down()


class SgWorld(World):
    def __init__(self, lab, tag):
        super().__init__(lab, tag)
        self.groups: list[str] = []

    def group(self, name: str) -> dict:
        g = self.api.request("POST", "/v2.0/security-groups",
                             {"security_group": {"name": f"{name}-{self.tag}"}})["security_group"]
        self.groups.append(g["id"])
        return g

    def rule(self, group_id: str, **kw) -> dict:
        body = {"security_group_id": group_id, "direction": "ingress", "ethertype": "IPv4", **kw}
        return self.api.request("POST", "/v2.0/security-group-rules",
                                {"security_group_rule": body})["security_group_rule"]

    def delete_rule(self, rule_id: str) -> None:
        self.api.request("DELETE", f"/v2.0/security-group-rules/{rule_id}")

    def default_group(self) -> str:
        groups = self.api.request("GET", "/v2.0/security-groups",
                                  params={"name": "default"})["security_groups"]
        return groups[0]["id"]

    def vm(self, name: str, net: dict, host: str = "host1", groups=None, **port_kw):
        body = {"network_id": net["id"], "name": name, "device_owner": "compute:lab",
                "binding:host_id": host, **port_kw}
        if groups is not None:
            body["security_groups"] = groups
        port = self.api.create("ports", body)
        return self.instance(name, net, host=host, port=port)

    def cleanup(self) -> None:
        super().cleanup()
        for gid in reversed(self.groups):
            with contextlib.suppress(Exception):
                self.api.request("DELETE", f"/v2.0/security-groups/{gid}")


@pytest.fixture
def w(fwlab):
    world = SgWorld(fwlab, secrets.token_hex(2))
    try:
        yield world
    finally:
        world.cleanup()
        time.sleep(0.2)


def ping(w, src, ip: str, count: int = 1) -> bool:
    return w.ping(src, ip, count=count, wait=1.0)


def eventually(pred, what: str, timeout: float = 10.0):
    return wait_for(pred, timeout=timeout, interval=0.2, what=what)


def tcp_open(lab, inst, ip: str, port: int) -> bool:
    out = lab.instances.run(inst.name, ["socat", "-u", "/dev/null",
                                        f"TCP4:{ip}:{port},connect-timeout=1"], timeout=10)
    return out.returncode == 0


@contextlib.contextmanager
def tcp_sink(inst, port: int, path):
    """A TCP server in `inst` appending what it receives to `path`."""
    with ns.in_netns(inst.netns):   # its own process group: the forked children go too
        proc = subprocess.Popen(["socat", "-u", f"TCP4-LISTEN:{port},reuseaddr,fork",
                                 f"OPEN:{path},creat,append"], start_new_session=True)
    try:
        time.sleep(0.3)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()


def vxlan_net(w, name: str, cidr: str = "10.81.0.0/24", dhcp: bool = False) -> dict:
    net = w.network(name, cidr=None, network_type="vxlan")
    w.subnet(net["id"], cidr, enable_dhcp=dhcp)
    return net


# ---------------------------------------------------------------- tests

def test_default_group_members_reach_each_other_across_hosts(w):
    net = vxlan_net(w, "def", dhcp=True)
    a = w.vm("a", net, host="host1")
    b = w.vm("b", net, host="host2")
    assert eventually(lambda: ping(w, a, b.ip) and ping(w, b, a.ip), "members to ping")
    # a DHCP client gets its lease through the filter (DHCP port trusted, client allowed)
    c = w.instance("c", net, host="host1", dhcp=True)
    assert c.lease["ip"] == w.api.show("ports", c.port_id)["fixed_ips"][0]["ip_address"]


def test_another_group_cannot_reach_members_and_egress_works(w, fwlab):
    net = vxlan_net(w, "other")
    a = w.vm("a", net)
    b = w.vm("b", net, host="host2")
    other = w.group("other")
    x = w.vm("x", net, groups=[other["id"]])
    assert eventually(lambda: ping(w, b, a.ip), "members to reach each other")
    assert not ping(w, x, a.ip, count=2)          # x is not in a's group
    assert not ping(w, a, x.ip, count=2)          # x's group has no ingress rule
    ext = w.network("ext", cidr=None, network_type="flat", physical_network="external")
    w.subnet(ext["id"], "203.0.113.0/24", gateway_ip=None, enable_dhcp=False,
             allocation_pools=[{"start": "203.0.113.160", "end": "203.0.113.170"}])
    e = w.vm("e", ext, groups=[other["id"]])
    outside = fwlab.state.topology().outside_ip
    assert eventually(lambda: ping(w, e, outside), "egress to the outside world")


def test_tcp22_from_a_cidr_only_and_removing_it_cuts_the_session(w, fwlab, tmp_path):
    net = vxlan_net(w, "ssh")
    ssh = w.group("ssh")
    srv = w.vm("srv", net, groups=[ssh["id"]], fixed_ips=[{"ip_address": "10.81.0.10"}])
    c1 = w.vm("c1", net, host="host2", fixed_ips=[{"ip_address": "10.81.0.21"}])
    c2 = w.vm("c2", net, host="host2", fixed_ips=[{"ip_address": "10.81.0.22"}])
    sink = tmp_path / "received"
    with tcp_sink(srv, 22, sink):
        assert not tcp_open(fwlab, c1, srv.ip, 22)
        rule = w.rule(ssh["id"], protocol="tcp", port_range_min=22, port_range_max=22,
                      remote_ip_prefix="10.81.0.21/32")
        assert eventually(lambda: tcp_open(fwlab, c1, srv.ip, 22), "c1 allowed on 22")
        assert not tcp_open(fwlab, c2, srv.ip, 22)          # another address
        assert not ping(w, c1, srv.ip, count=2)              # another protocol
        with ns.in_netns(c1.netns):
            session = subprocess.Popen(["socat", "-u", "STDIN", f"TCP4:{srv.ip}:22"],
                                       stdin=subprocess.PIPE, text=True)
        try:
            session.stdin.write("before\n")
            session.stdin.flush()
            eventually(lambda: sink.exists() and "before" in sink.read_text(),
                       "the session to carry data")
            w.delete_rule(rule["id"])
            eventually(lambda: not tcp_open(fwlab, c1, srv.ip, 22), "the rule to go")
            session.stdin.write("after\n")
            session.stdin.flush()
            time.sleep(2.0)
        finally:
            session.kill()
            session.wait()
        assert "after" not in sink.read_text()           # the established flow was cut


def test_remote_group_rule_follows_membership(w, fwlab):
    net = vxlan_net(w, "rg")
    target, members = w.group("target"), w.group("members")
    w.rule(target["id"], protocol="icmp", remote_group_id=members["id"])
    s = w.vm("s", net, host="host1", groups=[target["id"]])
    x = w.vm("x", net, host="host2", groups=[members["id"]])
    y = w.vm("y", net, host="host2")                       # default group only
    assert eventually(lambda: ping(w, x, s.ip), "a member to reach s")
    assert not ping(w, y, s.ip, count=2)
    w.api.update("ports", y.port_id, {"security_groups": [w.default_group(), members["id"]]})
    assert eventually(lambda: ping(w, y, s.ip), "y to reach s once it joined")
    host1 = w.host_ns("host1")
    if fwlab.state.firewall_driver == "nftables":
        argv = ["nft", "list", "set", "inet", "neutrino", f"rg4-{members['id']}"]
    else:
        argv = ["ipset", "list", f"NIPv4{members['id']}"[:31]]
    assert x.ip in ns.run(argv, netns=host1)
    fwlab.instances.delete(x.name)                          # x leaves
    eventually(lambda: x.ip not in ns.run(argv, netns=host1),
               "x's address to leave the set on host1")
    w.api.update("ports", y.port_id, {"security_groups": [w.default_group()]})
    assert eventually(lambda: not ping(w, y, s.ip), "y to be dropped once it left")


def test_a_deleted_members_address_is_refused_on_the_networks_dhcp_host(w, fwlab):
    """s, on host1, lets in members of a group; the network has DHCP, served
    by host1 (the lab's DHCP host), so host1 hears of every port of it. A
    member on host2 is deleted; then a port without port security on host2
    sends from the member's address: s's rule must refuse it. (Told of the
    deleted port as the network's DHCP host, host1 used to be left out of
    the membership notice, and its agent, not holding the port, kept the
    address in its set until some other port of the network changed.)"""
    lab = fwlab
    net = vxlan_net(w, "reuse", dhcp=True)
    target, members = w.group("target"), w.group("members")
    w.rule(target["id"], protocol="icmp", remote_group_id=members["id"])
    s = w.vm("s", net, host="host1", groups=[target["id"]])
    x = w.vm("x", net, host="host2", groups=[members["id"]])
    z = w.vm("z", net, host="host2", groups=[], port_security_enabled=False)
    assert eventually(lambda: ping(w, x, s.ip), "a member to reach s")
    assert not ping(w, z, s.ip, count=2)                    # z is no member
    address = x.ip
    lab.instances.delete(x.name)
    ns.run(["ip", "addr", "add", f"{address}/32", "dev", "eth0"], netns=z.netns)

    def refused() -> bool:
        ns.run(["ip", "neigh", "flush", "all"], netns=s.netns)  # answer z's MAC, not x's
        out = lab.instances.run(z.name, ["ping", "-n", "-c", "2", "-W", "1", "-I", address,
                                         s.ip], timeout=10)
        return out.returncode != 0
    assert eventually(refused, "x's address refused once x is deleted")
    assert not lab.instances.run(z.name, ["ping", "-n", "-c", "3", "-W", "1", "-I", address,
                                          s.ip], timeout=15).returncode == 0


def test_instance_changing_its_ip_or_mac_is_dropped(w):
    net = vxlan_net(w, "spoof")
    a = w.vm("a", net, fixed_ips=[{"ip_address": "10.81.0.31"}])
    b = w.vm("b", net, fixed_ips=[{"ip_address": "10.81.0.32"}])
    assert eventually(lambda: ping(w, a, b.ip), "a to reach b")
    ns.run(["ip", "addr", "flush", "dev", "eth0"], netns=a.netns)
    ns.run(["ip", "addr", "add", "10.81.0.99/24", "dev", "eth0"], netns=a.netns)
    assert not ping(w, a, b.ip, count=2)                    # new IP: dropped
    ns.run(["ip", "addr", "flush", "dev", "eth0"], netns=a.netns)
    ns.run(["ip", "addr", "add", "10.81.0.31/24", "dev", "eth0"], netns=a.netns)
    assert eventually(lambda: ping(w, a, b.ip), "a back on its own address")
    ns.run(["ip", "link", "set", "eth0", "address", "fa:16:3e:aa:bb:cc"], netns=a.netns)
    ns.run(["ip", "neigh", "flush", "all"], netns=b.netns)
    assert not ping(w, a, b.ip, count=2)                    # new MAC: dropped


def test_instance_running_a_dhcp_server_is_dropped(w, tmp_path):
    net = vxlan_net(w, "rogue")                             # no neutrino DHCP on it
    rogue = w.vm("rogue", net, fixed_ips=[{"ip_address": "10.81.0.5"}])
    victim = w.vm("victim", net)
    pidfile = tmp_path / "rogue.pid"
    daemon = Daemon(["dnsmasq", "--keep-in-foreground", "--no-hosts", "--no-resolv",
                     "--port=0", "--conf-file=", f"--pid-file={pidfile}", "--interface=eth0",
                     "--bind-interfaces", "--user=root", "--group=root",
                     f"--dhcp-leasefile={tmp_path / 'rogue.leases'}",
                     # it offers the victim its own address: only the filter stops it
                     "--dhcp-range=10.81.0.0,static,255.255.255.0,120s",
                     f"--dhcp-host={victim.mac},{victim.ip}"],
                    pidfile, netns=rogue.netns, cmdline_match=f"--pid-file={pidfile}")
    daemon.start(wait=10)
    lab = w.lab
    try:
        with pytest.raises(TimeoutError):
            lab.instances.dhcp(victim, timeout=4, tries=2)   # the offers never arrive
        # the control: the same server on a port without port security is heard
        w.api.update("ports", rogue.port_id, {"security_groups": [],
                                               "port_security_enabled": False})
        lease = eventually(lambda: _try_lease(lab, victim), "a lease from the unfiltered server",
                           timeout=30)
        assert lease["serverid"] == "10.81.0.5"
    finally:
        daemon.stop()


def _try_lease(lab, inst):
    try:
        return lab.instances.dhcp(inst, timeout=3, tries=2)
    except TimeoutError:
        return None


def test_allowed_address_pair_lets_a_vip_through(w):
    net = vxlan_net(w, "vip")
    a = w.vm("a", net)
    b = w.vm("b", net, host="host2")
    ns.run(["ip", "addr", "add", "10.81.0.250/24", "dev", "eth0"], netns=a.netns)
    assert eventually(lambda: ping(w, b, a.ip), "b to reach a")
    assert not ping(w, b, "10.81.0.250", count=2)
    w.api.update("ports", a.port_id, {"allowed_address_pairs": [{"ip_address": "10.81.0.250"}]})
    assert eventually(lambda: ping(w, b, "10.81.0.250"), "the VIP to answer")


def test_port_security_disabled_lets_everything_through(w):
    net = vxlan_net(w, "open")
    other = w.group("other2")
    p = w.vm("p", net, groups=[], port_security_enabled=False)
    a = w.vm("a", net)                                     # default group: the control
    x = w.vm("x", net, host="host2", groups=[other["id"]])
    assert eventually(lambda: ping(w, x, p.ip), "anyone to reach the open port")
    assert not ping(w, x, a.ip, count=2)                   # a filtered port in p's place
    # and it may send from any address: p, from a second address, reaches q
    q = w.vm("q", net, host="host2", groups=[], port_security_enabled=False)
    ns.run(["ip", "addr", "add", "10.81.0.251/24", "dev", "eth0"], netns=p.netns)
    assert eventually(lambda: w.lab.instances.run(
        p.name, ["ping", "-n", "-c", "1", "-W", "1", "-I", "10.81.0.251", q.ip]).returncode == 0,
        "p to send from an address of its own choosing")
    if w.lab.state.firewall_driver == "nftables":
        tables = ns.run(["nft", "list", "table", "inet", "neutrino"], netns=w.host_ns("host1"))
        assert f"in-{p.port_id}" not in tables and f"in-{a.port_id}" in tables
        return
    save = ns.run([tool("iptables-save", w.lab.state.iptables_backend)],
                  netns=w.host_ns("host1"))
    assert f"{W}-i{p.port_id[:10]}" not in save and f"{W}-i{a.port_id[:10]}" in save


@pytest.mark.parametrize("fwlab", ["inproc", "rabbit"], indirect=True)   # iptables labs
def test_seed_chain_structure_in_iptables_save(w):
    net = vxlan_net(w, "seed", dhcp=True)
    a = w.vm("a", net, fixed_ips=[{"ip_address": "10.81.0.41"}])
    host1 = w.host_ns("host1")
    tag, tap = a.port_id[:10], a.tap
    # a's chains, and the DHCP port's (its agent may wire it after a, under load)
    save = eventually(lambda: (lambda s: s if f"{W}-i{tag}" in s and
                               "Accept all packets when port is trusted." in s else None)(
        ns.run(["iptables-save"], netns=host1)), "a's and the DHCP port's chains", timeout=30)
    for chain in ("neutron-filter-top", f"{W}-FORWARD", f"{W}-INPUT", f"{W}-OUTPUT",
                  f"{W}-local", f"{W}-sg-chain", f"{W}-sg-fallback", f"{W}-i{tag}",
                  f"{W}-o{tag}", f"{W}-s{tag}"):
        assert f":{chain} - " in save, chain
    # the rules of a's groups: in the chains every port of the same groups jumps to
    gi = re.search(rf"-A {W}-i{tag} -j ({W}-gi\w+)", save).group(1)
    go = re.search(rf"-A {W}-o{tag} -j ({W}-go\w+)", save).group(1)
    expect = [
        "-A FORWARD -j neutron-filter-top",
        f"-A FORWARD -j {W}-FORWARD",
        f"-A neutron-filter-top -j {W}-local",
        f"-A {W}-FORWARD -m physdev --physdev-out {tap} --physdev-is-bridged",
        f"-A {W}-sg-chain -m physdev --physdev-out {tap} --physdev-is-bridged",
        f"-A {W}-i{tag} -m state --state RELATED,ESTABLISHED",
        f"-A {gi} -m set --match-set NIPv4",
        f"-A {gi} -m state --state INVALID",
        f"-A {W}-o{tag} -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m multiport --sports 68 "
        f"-m multiport --dports 67",
        f"-A {W}-o{tag} -j {W}-s{tag}",
        f"-A {W}-o{tag} -j {go}",
        f'-A {go} -p udp -m udp --sport 67 --dport 68 -m comment --comment "Prevent DHCP '
        f'Spoofing by VM." -j DROP',
        f"-A {W}-s{tag} -s 10.81.0.41/32 -m mac --mac-source {a.mac}",
        f"-A {W}-sg-chain -j ACCEPT",
        f"-A {W}-sg-fallback",
        "Accept all packets when port is trusted.",     # the DHCP port
    ]
    for piece in expect:
        assert piece in save, piece
    raw = ns.run(["iptables-save", "-t", "raw"], netns=host1)
    assert f"-m physdev --physdev-in {tap}" in raw and "-j CT --zone 4" in raw
    eb = ns.run(["ebtables-save"], netns=host1)
    assert f"-A neutronARP-{tap} -p ARP --arp-ip-src 10.81.0.41 -j ACCEPT" in eb
    assert ns.run(["sysctl", "-n", "net.bridge.bridge-nf-call-iptables"], netns=host1).strip() \
        == "1"
    # `neutrino show port` shows the same chains and the port's ipset with its address
    out = subprocess.run([sys.executable, "-m", "neutrino.cli.main", "--lab-dir",
                          w.lab.state.lab_dir, "show", "port", a.port_id], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"-A {W}-i{tag} -m state --state RELATED,ESTABLISHED" in out.stdout
    assert f"-A {gi} -m set --match-set NIPv4" in out.stdout
    assert f"-A {W}-s{tag} -s 10.81.0.41/32 -m mac --mac-source {a.mac}" in out.stdout
    assert f"ipset NIPv4{w.default_group()}"[:37] in out.stdout and "10.81.0.41" in out.stdout
    assert f"-A neutronMAC-{tap} -s {a.mac} -i {tap} -j RETURN" in out.stdout


def test_router_ports_are_trusted_and_a_rule_opens_a_floating_ip(fwlab):
    """The seed's classic: behind a router an instance reaches the outside
    (SNAT; router ports trusted), but the outside cannot ping its floating
    IP until an ICMP ingress rule allows it."""
    from tests.e2e.l3_helpers import OUTSIDE, L3World, router_ready

    class World3(SgWorld, L3World):
        pass

    wait_for(lambda: set(fwlab.state.host_names()) <= {
        a["host"] for a in fwlab.api.list("agents", agent_type="L3 agent") if a["alive"]},
        timeout=60, what="L3 agents alive")
    w3 = World3(fwlab, secrets.token_hex(2))
    try:
        ext = w3.external()
        net, sub = w3.tenant("rt", "10.81.3.0/24", network_type="vxlan")
        router = w3.router("r", ext=ext)
        w3.add_interface(router, sub)
        web = w3.group("fipweb")
        a = w3.vm("a", net, host="host2", groups=[web["id"]])
        router = fwlab.api.show("routers", router["id"])
        gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        router_ready(w3, router, "10.81.3.1", gw_ip)
        assert eventually(lambda: ping(w3, a, OUTSIDE), "a to reach the outside", timeout=20)
        fip = w3.fip(ext, a.port_id)["floating_ip_address"]

        def outside_ping() -> bool:
            with ns.in_netns(fwlab.lab.outside_ns):
                return subprocess.run(["ping", "-n", "-c", "1", "-W", "1", fip],
                                      capture_output=True).returncode == 0
        time.sleep(2)
        assert not outside_ping() and not outside_ping()     # no ingress rule yet
        rule = w3.rule(web["id"], protocol="icmp", remote_ip_prefix="0.0.0.0/0")
        assert eventually(outside_ping, "the outside to ping the floating IP", timeout=20)
        w3.delete_rule(rule["id"])             # the floating IP works: now only the rule is gone
        assert eventually(lambda: not outside_ping() and not outside_ping(),
                          "the floating IP closed again")
    finally:
        w3.cleanup()
