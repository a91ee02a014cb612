"""Stateless security groups (stateful=false) on a real kernel, both
drivers, as upstream's iptables driver: the port's packets are not tracked
(CT --notrack / nft notrack) and its chains have no session lines, so a
stateless group passes return traffic only through its own rules."""
from __future__ import annotations

import subprocess
import time

import pytest

from neutrino.agent.l2.firewall.model import FwDesired, SgRule
from neutrino.dataplane import conntrack
from neutrino.dataplane import netns as ns
from tests.dataplane.test_firewall_filter import Host, ping, pid

pytestmark = pytest.mark.root

SL = "5e000000-0000-4000-8000-0000000000d1"     # the group under test
OPEN = "5e000000-0000-4000-8000-0000000000d2"   # stateful: ICMP and TCP in from anywhere


class StatelessHost(Host):
    stateless: frozenset[str] = frozenset()

    def desired(self) -> FwDesired:
        d = super().desired()
        d.stateless = self.stateless
        return d


@pytest.fixture(params=["iptables", "nftables"])
def host(request, netns):
    return StatelessHost(netns, request.param)


def _setup(host):
    host.rules[SL] = (SgRule("egress", "IPv4"),)
    host.rules[OPEN] = (SgRule("egress", "IPv4"), SgRule("ingress", "IPv4", "icmp"),
                        SgRule("ingress", "IPv4", "tcp", 2222, 2222))
    a = host.add(1, groups=(SL,))
    b = host.add(2, groups=(OPEN,))
    return a, b


def test_a_stateless_group_passes_return_traffic_only_through_its_own_rules(host):
    a, b = _setup(host)
    host.converge()
    assert ping(a, "10.90.0.2")                  # stateful: the reply is a known session
    host.stateless = frozenset({SL})
    host.converge()
    assert not ping(a, "10.90.0.2")              # stateless: the reply needs its own rule
    host.rules[SL] += (SgRule("ingress", "IPv4", "icmp"),)
    host.converge()
    assert ping(a, "10.90.0.2")
    assert host.replan().empty
    # nothing of a's is tracked
    assert not [e for e in conntrack.entries(host.ns) if "src=10.90.0.1 " in e]
    if host.driver == "nftables":
        listing = host.nft_list()
        assert "vmap @untracked" in listing and "notrack" in listing
        assert "goto untrack" in listing
    else:
        raw = ns.run(["iptables-save", "-t", "raw"], netns=host.ns)
        assert f"--physdev-in tap{pid(1)[:11]}" in raw and "-j CT --notrack" in raw
        save = ns.run(["iptables-save"], netns=host.ns)
        chain = f"neutron-linuxbri-i{pid(1)[:10]}"
        mine = [line for line in save.splitlines() if line.startswith(f"-A {chain} ")]
        shared = mine[-1].split(" -j ")[-1]            # its groups' chain (rules, fallback)
        assert shared.startswith("neutron-linuxbri-gi")
        mine += [line for line in save.splitlines() if line.startswith(f"-A {shared} ")]
        assert len(mine) > 2 and not any("--state" in line for line in mine)


def test_stateless_tcp_needs_a_rule_for_the_replies(host):
    a, b = _setup(host)
    host.stateless = frozenset({SL})
    host.converge()
    with ns.in_netns(b):
        server = subprocess.Popen(["socat", "-u", "TCP4-LISTEN:2222,reuseaddr", "STDOUT"],
                                  stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    try:
        # the SYN-ACK from b's port 2222 comes back to a: no rule lets it in
        with ns.in_netns(a):
            r = subprocess.run(["socat", "-u", "STDIN", "TCP4:10.90.0.2:2222,connect-timeout=2"],
                               input="lost\n", text=True, capture_output=True)
        assert r.returncode != 0
        # an ingress rule for the replies (from the server's port) completes it
        host.rules[SL] += (SgRule("ingress", "IPv4", "tcp", remote_ip_prefix="10.90.0.2/32"),)
        host.converge()
        with ns.in_netns(a):
            r = subprocess.run(["socat", "-u", "STDIN", "TCP4:10.90.0.2:2222,connect-timeout=2"],
                               input="kept\n", text=True, capture_output=True)
        assert r.returncode == 0, r.stderr
        time.sleep(0.3)
    finally:
        server.kill()
        got = server.communicate()[0]
    assert "kept" in got and "lost" not in got
