"""security-groups-remote-address-group on a real kernel, both drivers: a
rule naming an address group lets exactly the group's addresses in (a
host address and a CIDR), and changing the group's addresses changes only
the set. The firewall state is what the server gives (an address group is a
remote set of its CIDRs: tests/unit/test_address_group_firewall_rpc.py)."""
from __future__ import annotations

import pytest

from neutrino.agent.l2.firewall.model import FwDesired, SgRule, set_name
from neutrino.agent.l2.firewall.nft import render as nft_render
from neutrino.dataplane import netns as ns
from tests.dataplane.test_firewall_filter import OTHER, Host, ping, pid

pytestmark = pytest.mark.root

WEB = "5e000000-0000-4000-8000-0000000000c1"
AG = "a9000000-0000-4000-8000-0000000000a1"     # the address group


class AgHost(Host):
    """Host whose desired state carries the address group's CIDRs, as the
    server's get_firewall_state does."""

    addresses: tuple[str, ...] = ()

    def desired(self) -> FwDesired:
        d = super().desired()
        d.members[AG] = tuple(self.addresses)
        return d


@pytest.fixture(params=["iptables", "nftables"])
def host(request, netns):
    return AgHost(netns, request.param)


def test_an_address_group_rule_lets_exactly_the_listed_addresses_in(host):
    host.rules[WEB] = (SgRule("egress", "IPv4"),
                       SgRule("ingress", "IPv4", protocol="icmp", remote_group_id=AG))
    host.addresses = ("10.90.0.2/32", "192.168.7.0/24")
    a = host.add(1, groups=(WEB,))
    b, c, d = (host.add(n, groups=(OTHER,)) for n in (2, 3, 4))
    host.converge()
    assert ping(b, "10.90.0.1")                  # listed
    assert not ping(c, "10.90.0.1")              # not listed
    assert not ping(d, "10.90.0.1")
    assert ping(a, "10.90.0.2") is False         # OTHER has no ingress rule at all
    assert host.replan().empty
    if host.driver == "nftables":
        assert f"ip saddr @{nft_render.nft_set(AG, 4)}" in host.nft_list()
    else:
        save = ns.run(["iptables-save"], netns=host.ns)
        assert f"--match-set {set_name(AG, 4)} src" in save
        assert "192.168.7.0/24" in ns.run(["ipset", "list", set_name(AG, 4)], netns=host.ns)
    # the group now lists a CIDR covering .2 and .3: .3 comes in, .4 still not
    host.addresses = ("10.90.0.2/31",)
    p, _ = host.converge()
    if host.driver == "iptables":
        assert not p.iptables                    # only the set changed
    assert ping(c, "10.90.0.1") and ping(b, "10.90.0.1")
    assert not ping(d, "10.90.0.1")
    host.addresses = ()
    host.converge()
    assert not ping(b, "10.90.0.1") and not ping(c, "10.90.0.1")
