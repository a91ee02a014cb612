"""The security-group firewall on a real kernel: a "host" namespace with a
bridge and veth "instances" (tap<port> on the host side), programmed by
neutrino.agent.l2.firewall exactly as the L2 agent does; packets pass or
are dropped. Everything lives in per-test namespaces. Every test runs
against both drivers ([securitygroup] firewall_driver = iptables and
nftables), the iptables one also with iptables_backend = legacy: the
packets must do the same."""
from __future__ import annotations

import subprocess
import time

import pytest

from neutrino.agent.l2.firewall.apply import FirewallKernel, tool
from neutrino.agent.l2.firewall.model import (FwConf, FwDesired, FwPort, SgRule, group_chain,
                                              set_name)
from neutrino.agent.l2.firewall.nft import plan as nft_plan
from neutrino.agent.l2.firewall.nft import render as nft_render
from neutrino.agent.l2.firewall.nft.agent import NftKernel
from neutrino.agent.l2.firewall.show import nft_network, port_firewall
from neutrino.agent.l2.firewall.plan import assign_zones, plan, render
from neutrino.dataplane import conntrack
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink

pytestmark = pytest.mark.root

NET = "fe000000-0000-4000-8000-000000000001"
G = "5e000000-0000-4000-8000-00000000000a"      # "default": members reach each other
OTHER = "5e000000-0000-4000-8000-00000000000b"  # egress only


def pid(n: int) -> str:
    return f"{n:08x}-1111-4000-8000-000000000000"


def rules_default(gid):
    return (SgRule("egress", "IPv4"), SgRule("egress", "IPv6"),
            SgRule("ingress", "IPv4", remote_group_id=gid),
            SgRule("ingress", "IPv6", remote_group_id=gid))


class Host:
    """One bridge, instances on taps, the firewall of the host namespace."""

    def __init__(self, netns, driver="iptables", backend="auto"):
        self.ns = netns("host")
        self.make_ns = netns
        self.driver = driver
        self.backend = backend          # the iptables driver's tools
        self.kernel = (FirewallKernel(self.ns, backend=backend) if driver == "iptables"
                       else NftKernel(self.ns))
        self.last = None           # nftables: what the last apply left
        self.kernel.ensure_bridge_netfilter()
        self.ports: dict[str, FwPort] = {}
        self.inst: dict[str, str] = {}
        self.rules = {G: rules_default(G), OTHER: (SgRule("egress", "IPv4"),)}
        self.conf = FwConf()
        self.extra_members: dict[str, tuple[str, ...]] = {}
        with Netlink(self.ns) as nl:
            nl.ensure_bridge("brq" + NET[:11])

    def add(self, n: int, groups=(G,), ip=None, port_security=True, pairs=(), owner="compute:x",
            ip6: bool = False):
        port_id = pid(n)
        ip = ip or f"10.90.0.{n}"
        mac = f"fa:16:3e:00:00:{n:02x}"
        inst = self.make_ns(f"i{n}")
        tap = "tap" + port_id[:11]
        with Netlink(self.ns) as nl:
            nl.create_veth(tap, "eth0", peer_netns=inst, peer_mac=mac)
            nl.set_master(tap, "brq" + NET[:11])
            nl.set_up(tap)
        with Netlink(inst) as nl:
            nl.set_up("eth0")
            nl.add_address("eth0", f"{ip}/24")
        ips = (ip,)
        if ip6:
            ips += (f"fd00:90::{n}",)
            ns.run(["ip", "-6", "addr", "add", f"fd00:90::{n}/64", "dev", "eth0", "nodad"],
                   netns=inst)
        self.ports[port_id] = FwPort(port_id, NET, mac, owner, port_security, ips,
                                     tuple(pairs), tuple(groups))
        self.inst[port_id] = inst
        return inst

    def desired(self) -> FwDesired:
        members = {}
        for gid in self.rules:
            members[gid] = tuple(ip for p in self.ports.values() if gid in p.security_groups
                                 for ip in (*p.fixed_ips, *(a for a, _ in p.allowed_address_pairs)))
            members[gid] += self.extra_members.get(gid, ())
        return FwDesired(ports=dict(self.ports), rules=dict(self.rules), members=members)

    def converge(self):
        d = self.desired()
        if self.driver == "nftables":
            return self._nft(apply=True)
        observed = self.kernel.observe()
        zones = assign_zones({NET}, observed.iptables[4].get("raw", {}))
        r = render(d, self.conf, zones)
        p = plan(d, r, observed)
        self.kernel.apply(p)
        return p, r

    def replan(self):
        d = self.desired()
        if self.driver == "nftables":
            return self._nft(apply=False)[0]
        observed = self.kernel.observe()
        r = render(d, self.conf, assign_zones({NET}, observed.iptables[4].get("raw", {})))
        return plan(d, r, observed)


    def _nft(self, apply: bool):
        """As the nftables reconciler: the whole tables from the kernel's
        state first, then the diff against the last apply."""
        d = self.desired()
        if self.last is None:
            obs = self.kernel.observe()
            r = nft_render.render(d, nft_render.assign_zones({NET}, obs.zones), obs.marks)
            text = "" if obs.digest == r.digest() else nft_plan.full_text(r)
            flows = nft_plan.conntrack(d, None, r, obs.sets)
        else:
            r = nft_render.render(d, self.last.zones, self.last.marks)
            text = nft_plan.diff_text(self.last, r)
            flows = nft_plan.conntrack(d, self.last, r)
        p = NftPlan(text, flows)
        if apply and text:
            self.kernel.apply(text, flows)
        if apply:
            self.last = r
        return p, r

    def save(self, command: str = "iptables-save", *args: str) -> str:
        """What the iptables driver's backend shows."""
        return ns.run([tool(command, self.backend), *args], netns=self.ns)

    def nft_list(self) -> str:
        return "".join(ns.run(["nft", "list", "table", fam, "neutrino"], netns=self.ns)
                       for fam in ("inet", "bridge"))


class NftPlan:
    """What the nftables driver ran, shaped like FwPlan where the tests look."""

    def __init__(self, text, conntrack_deletes):
        self.text = text
        self.conntrack = conntrack_deletes
        self.empty = not text

    @property
    def iptables(self):
        return {}


def ping(src_ns: str, ip: str) -> bool:
    with ns.in_netns(src_ns):   # ping does IPv6 too
        out = subprocess.run(["ping", "-n", "-c", "1", "-W", "1", ip], capture_output=True)
    return out.returncode == 0


@pytest.fixture(params=["iptables", "iptables-legacy", "nftables"])
def host(request, netns):
    driver, _, backend = request.param.partition("-")
    return Host(netns, driver, backend or "auto")


def test_default_group_members_reach_each_other_others_do_not(host):
    a, b = host.add(1), host.add(2)
    c = host.add(3, groups=(OTHER,))
    host.converge()
    assert ping(a, "10.90.0.2") and ping(b, "10.90.0.1")
    assert not ping(c, "10.90.0.1")            # not a member: ingress dropped
    assert ping(a, "10.90.0.3") is False       # c's group has no ingress rule
    assert host.replan().empty                 # applied state == desired: nothing to do
    if host.driver == "nftables":
        listing = host.nft_list()
        for chain in (f"in-{pid(1)}", f"eg-{pid(1)}", f"pi-{pid(1)}",
                      f"po-{pid(1)}"):
            assert f"chain {chain} {{" in listing
        assert '"brq' in listing and ": 4097" in listing        # the network's zone
        assert "iifname vmap @port-in" in listing and "vmap @ingress" in listing
        shown = port_firewall(host.ns, pid(1))["nftables"]      # `neutrino show port`
        assert f"inet chain in-{pid(1)}" in shown and f"bridge chain pi-{pid(1)}" in shown
        assert any(line.startswith(f"inet set {nft_render.nft_set(G, 4)}: ") and "10.90.0.2"
                   in line for line in shown)
        assert any(line.startswith("bridge map port-in: ") for line in shown)
        assert nft_network(host.ns, "brq" + NET[:11]) == ["nftables zone 4097"]
        return
    save = host.save()
    for chain in ("neutron-filter-top", "neutron-linuxbri-sg-chain",
                  "neutron-linuxbri-sg-fallback", f"neutron-linuxbri-i{pid(1)[:10]}",
                  f"neutron-linuxbri-o{pid(1)[:10]}", f"neutron-linuxbri-s{pid(1)[:10]}"):
        assert f":{chain} " in save
    assert "-A FORWARD -j neutron-filter-top" in save
    assert "--physdev-is-bridged" in save and "-j CT --zone 4097" in host.save(
        "iptables-save", "-t", "raw")
    shown = port_firewall(host.ns, pid(1))["iptables"]["IPv4"]   # `neutrino show port`
    assert f"-A neutron-linuxbri-sg-chain -m physdev --physdev-out tap{pid(1)[:11]} " \
        "--physdev-is-bridged" in " ".join(shown)
    if host.backend == "legacy":      # x_tables, not nf_tables: iptables-nft sees none of it
        assert "neutron-linuxbri" not in ns.run(["iptables-nft-save"], netns=host.ns)


@pytest.mark.parametrize("backend", ["auto", "legacy"])
def test_a_cold_start_beside_foreign_rules_filters_every_port_and_keeps_them(netns, backend):
    """A cold start (no chain of ours in the kernel) with the host's own
    rules in the builtins: the iptables driver on iptables-nft runs its
    three restores side by side (they only add); the filters and the
    foreign rules are what one after the other would leave, and packets
    agree. With iptables-legacy, ebtables-restore runs beside the two
    iptables ones (they take turns: the xtables lock), in every apply."""
    host = Host(netns, "iptables", backend)
    foreign = [["iptables", "-A", "FORWARD", "-s", "192.0.2.1/32", "-j", "ACCEPT"],
               ["iptables", "-t", "raw", "-A", "PREROUTING", "-s", "192.0.2.9/32", "-j", "ACCEPT"],
               ["ip6tables", "-A", "FORWARD", "-s", "2001:db8::1/128", "-j", "ACCEPT"],
               ["ebtables", "-t", "nat", "-A", "PREROUTING", "-s", "2:0:0:0:0:1", "-j", "ACCEPT"]]
    for argv in foreign:
        ns.run([tool(argv[0], host.backend) if argv[0] != "ebtables" else argv[0], *argv[1:]],
               netns=host.ns)
    a, b = host.add(1, ip6=True), host.add(2, ip6=True)
    c = host.add(3, groups=(OTHER,))
    p, _ = host.converge()
    assert p.additive and set(p.iptables) == {4, 6} and p.ebtables
    assert "side by side: ip4, ip6, ebtables" in host.kernel.timings
    assert ping(a, "10.90.0.2") and ping(b, "fd00:90::1") and not ping(c, "10.90.0.1")
    assert host.replan().empty                 # every chain, set and jump in place
    save4, save6 = host.save(), host.save("ip6tables-save")
    assert "-A FORWARD -s 192.0.2.1/32 -j ACCEPT" in save4
    assert "-A FORWARD -s 2001:db8::1/128 -j ACCEPT" in save6
    assert "-A PREROUTING -s 192.0.2.9/32 -j ACCEPT" in host.save("iptables-save", "-t", "raw")
    assert "-s 02:00:00:00:00:01 -j ACCEPT" in ns.run(["ebtables", "-t", "nat", "-L"], netns=host.ns)
    # our jumps go first in the builtins, the host's own rule after them
    forward = [line for line in save4.splitlines() if line.startswith("-A FORWARD")]
    assert forward[-1] == "-A FORWARD -s 192.0.2.1/32 -j ACCEPT"
    host.rules[G] += (SgRule("ingress", "IPv4", "icmp", remote_ip_prefix="10.90.0.3/32"),)
    p, _ = host.converge()                     # one restore (IPv4)
    assert not p.additive and set(p.iptables) == {4} and not p.ebtables
    assert not any(k.startswith("side by side") for k in host.kernel.timings)
    assert ping(c, "10.90.0.1")
    del host.ports[pid(2)]                     # every table changes, and rules go
    p, _ = host.converge()
    assert not p.additive and set(p.iptables) == {4, 6} and p.ebtables
    assert ("side by side: ip4, ip6, ebtables" in host.kernel.timings) == (backend == "legacy")
    assert host.replan().empty
    assert f"neutronMAC-tap{pid(2)[:11]}" not in ns.run(["ebtables", "-t", "nat", "-L"],
                                                        netns=host.ns)
    assert f"neutron-linuxbri-i{pid(2)[:10]}" not in host.save("ip6tables-save")
    assert ping(c, "10.90.0.1") and ping(a, "10.90.0.3") is False


def test_ipv6_members_reach_each_other_others_do_not(host):
    a, b = host.add(1, ip6=True), host.add(2, ip6=True)
    c = host.add(3, groups=(OTHER,), ip6=True)
    host.rules[OTHER] = (SgRule("egress", "IPv6"),)
    host.converge()
    assert any(ping(a, "fd00:90::2") for _ in range(3))      # neighbour discovery passes
    assert ping(b, "fd00:90::1")
    assert not ping(c, "fd00:90::1")                         # not in a's group
    assert host.replan().empty
    if host.driver == "nftables":
        assert f"ip6 saddr @{nft_render.nft_set(G, 6)}" in host.nft_list()
        return
    save6 = host.save("ip6tables-save")
    gi = group_chain("ingress", f"stateful|{G}")          # the group's rules, shared
    assert f"-A neutron-linuxbri-i{pid(1)[:10]} -j {gi}" in save6
    assert f"-A {gi} -m set --match-set {set_name(G, 6)} src" in save6


def test_membership_change_only_changes_the_set(host):
    a = host.add(1)
    b = host.add(2, groups=(OTHER,))
    host.converge()
    assert not ping(b, "10.90.0.1")
    host.extra_members[G] = ("10.90.0.2",)     # b's address joins G (say, a second port)
    if host.driver == "nftables":
        p, _ = host.converge()                 # only the set's elements (and the digest)
        assert [line for line in p.text.splitlines() if "state-" not in line] == \
            [f"add element inet neutrino {nft_render.nft_set(G, 4)} {{ 10.90.0.2 }}"]
    else:
        restores = host.kernel.restores
        p, _ = host.converge()
        assert not p.iptables and p.ipset_before == f"add {set_name(G, 4)} 10.90.0.2\n"
        assert host.kernel.restores == restores    # no iptables-restore at all
    assert ping(b, "10.90.0.1") and not ping(a, "10.90.0.2")   # b's group has no ingress
    host.extra_members[G] = ()
    p, _ = host.converge()
    assert not p.iptables and [(c.src, c.dst) for c in p.conntrack] == [("10.90.0.2", "10.90.0.1")]
    assert not ping(b, "10.90.0.1")


def test_spoofed_ip_and_mac_are_dropped(host):
    a, b = host.add(1), host.add(2)
    host.converge()
    assert ping(a, "10.90.0.2")
    ns.run(["ip", "addr", "flush", "dev", "eth0"], netns=a)
    ns.run(["ip", "addr", "add", "10.90.0.77/24", "dev", "eth0"], netns=a)
    assert not ping(a, "10.90.0.2")
    ns.run(["ip", "addr", "flush", "dev", "eth0"], netns=a)
    ns.run(["ip", "addr", "add", "10.90.0.1/24", "dev", "eth0"], netns=a)
    assert ping(a, "10.90.0.2")
    ns.run(["ip", "link", "set", "eth0", "address", "fa:16:3e:00:00:99"], netns=a)
    ns.run(["ip", "neigh", "flush", "all"], netns=b)
    assert not ping(a, "10.90.0.2")


def test_allowed_address_pair_lets_a_vip_through(host):
    a, b = host.add(1), host.add(2)
    host.converge()
    ns.run(["ip", "addr", "add", "10.90.0.200/24", "dev", "eth0"], netns=a)
    assert not ping(b, "10.90.0.200")
    host.ports[pid(1)] = FwPort(**{**host.ports[pid(1)].__dict__,
                                   "allowed_address_pairs": (("10.90.0.200",
                                                              "fa:16:3e:00:00:01"),)})
    host.converge()
    # b's neighbour entry for the VIP failed above (its ARP replies were dropped): allow
    # the kernel a few tries to resolve it again
    assert any(ping(b, "10.90.0.200") for _ in range(5))


def test_port_security_disabled_passes_everything(host):
    host.add(1, groups=(), port_security=False)
    c = host.add(3, groups=(OTHER,))
    host.converge()
    assert ping(c, "10.90.0.1")
    if host.driver == "nftables":
        assert pid(1) not in host.nft_list()
        return
    assert f"neutron-linuxbri-i{pid(1)[:10]}" not in host.save()


def test_rogue_dhcp_reply_from_an_instance_is_dropped(host):
    a, b = host.add(1), host.add(2)
    host.converge()
    if host.driver == "iptables":
        out = host.save("iptables-save", "-c")
        assert "Prevent DHCP Spoofing by VM." in out
    # a DHCP "reply" (udp 67 -> 68) sent by instance a towards b never arrives
    listener = None
    with ns.in_netns(b):
        listener = subprocess.Popen(["socat", "-u", "UDP4-RECV:68,reuseaddr", "STDOUT"],
                                    stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        with ns.in_netns(a):
            subprocess.run(["socat", "-u", "STDIN", "UDP4-SENDTO:10.90.0.2:68,sourceport=67"],
                           input="offer\n", text=True, check=True, timeout=5)
        time.sleep(0.5)
    finally:
        listener.kill()
        got = listener.communicate()[0]
    assert "offer" not in got
    if host.driver == "nftables":
        return
    go = group_chain("egress", f"stateful|{G}")          # a's egress tail, shared
    drops = [line for line in host.save("iptables-save", "-c").splitlines()
             if "Prevent DHCP Spoofing by VM." in line and go in line]
    assert drops and not drops[0].startswith("[0:")


def test_removed_rule_cuts_an_established_connection(host):
    srv = host.add(1, groups=(OTHER,))
    cli = host.add(2)
    host.rules[OTHER] = (SgRule("egress", "IPv4"),
                         SgRule("ingress", "IPv4", "tcp", 2222, 2222, "10.90.0.2/32"))
    host.converge()
    with ns.in_netns(srv):
        server = subprocess.Popen(["socat", "-u", "TCP4-LISTEN:2222,reuseaddr", "STDOUT"],
                                  stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    with ns.in_netns(cli):
        client = subprocess.Popen(["socat", "-u", "STDIN", "TCP4:10.90.0.1:2222"],
                                  stdin=subprocess.PIPE, text=True)
    try:
        client.stdin.write("one\n")
        client.stdin.flush()
        time.sleep(0.5)
        assert conntrack.entries(host.ns)             # the flow is tracked
        host.rules[OTHER] = (SgRule("egress", "IPv4"),)
        p, _ = host.converge()
        assert p.conntrack and p.conntrack[0].dst == "10.90.0.1"
        client.stdin.write("two\n")
        client.stdin.flush()
        time.sleep(1.0)
    finally:
        client.kill()
        server.kill()
        got = server.communicate()[0]
    assert "one" in got and "two" not in got


def test_a_rule_goes_once_into_the_groups_shared_chain_and_reaches_only_its_ports(netns):
    """iptables: the ports of one combination of groups jump to one chain
    holding their rules, so a rule added to a group is one line in one chain
    however many ports; it lets traffic reach the group's ports only."""
    host = Host(netns, "iptables")
    cli = host.add(9, groups=(OTHER,))
    for n in (1, 2, 3):
        host.add(n)                                  # G
    host.add(4, groups=(OTHER,))
    host.converge()
    assert not ping(cli, "10.90.0.1") and not ping(cli, "10.90.0.4")
    host.rules[G] += (SgRule("ingress", "IPv4", "icmp", remote_ip_prefix="10.90.0.9/32"),)
    restores = host.kernel.restores
    p, _ = host.converge()
    gi = group_chain("ingress", f"stateful|{G}")
    edits = [line for line in p.iptables[4].splitlines() if line.startswith("-")]
    assert edits == [f"-I {gi} 3 -s 10.90.0.9/32 -p icmp -j RETURN"]
    assert host.kernel.restores == restores + 1
    assert all(ping(cli, f"10.90.0.{n}") for n in (1, 2, 3))     # G's ports: the rule
    assert not ping(cli, "10.90.0.4")                           # OTHER's port: no such rule
    save = ns.run(["iptables-save"], netns=host.ns)
    assert save.count("-s 10.90.0.9/32 -p icmp -j RETURN") == 1
    assert all(f"-A neutron-linuxbri-i{pid(n)[:10]} -j {gi}" in save for n in (1, 2, 3))
    shown = port_firewall(host.ns, pid(2))["iptables"]["IPv4"]   # `neutrino show port`
    assert f"-A {gi} -s 10.90.0.9/32 -p icmp -j RETURN" in shown
    # the rule removed: gone from the one chain, and G's ports no longer reachable
    host.rules[G] = host.rules[G][:-1]
    host.converge()
    assert not ping(cli, "10.90.0.1")
