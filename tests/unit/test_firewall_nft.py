"""The nftables firewall driver's pure part: what render() makes of ports,
groups and members, and the transactions plan.py writes (no kernel)."""
from __future__ import annotations

from neutrino.agent.l2.firewall.model import FwDesired, FwPort, SgRule
from neutrino.agent.l2.firewall.nft import plan as nft_plan
from neutrino.agent.l2.firewall.nft.render import (BRIDGE, INET, assign_marks, assign_zones,
                                                   group_chains, nft_set, prefix_set, render,
                                                   rule_line)

NET = "fe000000-0000-4000-8000-000000000001"
G = "5e000000-0000-4000-8000-00000000000a"
P1 = "00000001-1111-4000-8000-000000000000"
P2 = "00000002-1111-4000-8000-000000000000"
DHCP = "0000000d-1111-4000-8000-000000000000"
OFF = "0000000e-1111-4000-8000-000000000000"


def desired(**over) -> FwDesired:
    ports = {
        P1: FwPort(P1, NET, "fa:16:3e:00:00:01", "compute:x", True, ("10.0.0.1", "fd00::1"),
                   (), (G,)),
        P2: FwPort(P2, NET, "fa:16:3e:00:00:02", "compute:x", True, ("10.0.0.2",),
                   (("10.0.9.0/24", "fa:16:3e:00:00:99"),), (G,)),
        DHCP: FwPort(DHCP, NET, "fa:16:3e:00:00:0d", "network:dhcp", True, ("10.0.0.3",)),
        OFF: FwPort(OFF, NET, "fa:16:3e:00:00:0e", "compute:x", False, ("10.0.0.4",)),
    }
    rules = {G: (SgRule("egress", "IPv4"), SgRule("ingress", "IPv4", remote_group_id=G),
                 SgRule("ingress", "IPv6", "tcp", 22, 22, "fd00::/64"))}
    members = {G: ("10.0.0.1", "10.0.0.2", "10.0.9.0/24", "10.0.9.7", "fd00::1")}
    d = FwDesired(ports=ports, rules=rules, members=members)
    for k, v in over.items():
        setattr(d, k, v)
    return d


def rendered(d=None, marks=None):
    d = d or desired()
    return render(d, assign_zones({NET}, {}), marks or {})


def test_only_filtered_ports_get_chains_and_map_entries():
    r = rendered()
    assert set(r.marks) == {P1, P2}
    for pid in (P1, P2):
        for fam, name in ((INET, "in-"), (INET, "eg-"), (BRIDGE, "pi-"),
                          (BRIDGE, "po-")):
            assert (fam, name + pid) in r.chains
    assert not any(DHCP in name or OFF in name for _, name in r.chains)   # trusted, unfiltered
    assert r.maps[(BRIDGE, "port-in")] == {"tap" + P1[:11]: f"jump pi-{P1}",
                                           "tap" + P2[:11]: f"jump pi-{P2}"}
    assert r.maps[(INET, "ingress")][r.marks[P1] << 16] == f"jump in-{P1}"
    assert r.maps[(INET, "egress")][r.marks[P2]] == f"jump eg-{P2}"
    assert r.maps[(INET, "zones")] == {"brq" + NET[:11]: "4097"}


def test_port_chains_keep_the_iptables_drivers_order():
    r = rendered()
    ing = r.chains[(INET, f"in-{P1}")]
    gi, ge = group_chains((G,))
    assert ing == ("ip daddr 10.0.0.1 udp sport 67 udp dport 68 return", f"goto {gi}")
    assert r.chains[(INET, f"eg-{P2}")][-2:] == (
        f"ip saddr 10.0.9.0/24 ether saddr fa:16:3e:00:00:99 goto {ge}", "drop")
    shared = r.chains[(INET, gi)]
    assert f"meta nfproto ipv4 ip saddr @{nft_set(G, 4)} return" in shared
    assert "meta nfproto ipv6 ip6 saddr fd00::/64 tcp dport 22 return" in shared
    assert shared[0] == "ct state established,related return"
    assert shared[-2:] == ("ct state invalid drop", "drop")
    assert "meta nfproto ipv4 udp sport 67 udp dport 68 drop" in r.chains[(INET, ge)]
    assert "meta nfproto ipv4 return" in r.chains[(INET, ge)]      # egress IPv4 to anywhere
    spoof = r.chains[(INET, f"eg-{P2}")]        # the IP/MAC pairs lead on, the rest drops
    assert f"ip saddr 10.0.9.0/24 ether saddr fa:16:3e:00:00:99 goto {ge}" in spoof
    assert f"ip saddr 10.0.0.2 ether saddr fa:16:3e:00:00:02 goto {ge}" in spoof
    assert spoof[-1] == "drop"
    pre = r.chains[(BRIDGE, f"pi-{P2}")]
    assert pre[0].startswith("meta mark set meta mark & 0xffff0000 | ")
    assert "ether saddr != { fa:16:3e:00:00:02, fa:16:3e:00:00:99 } drop" in pre
    assert "arp saddr ip != { 10.0.0.2, 10.0.9.0/24 } drop" in pre
    one = r.chains[(BRIDGE, f"pi-{P1}")]            # one MAC, one IPv4: no anonymous set
    assert one[1:] == ("ether saddr != fa:16:3e:00:00:01 drop", "arp saddr ip != 10.0.0.1 drop")


def test_remote_group_sets_are_merged_prefixes():
    r = rendered()
    # addresses in a hash set, prefixes (10.0.9.7 inside the /24 stays an
    # address) in an interval set that only groups with prefixes have
    assert r.sets[nft_set(G, 4)] == (4, frozenset({"10.0.0.1", "10.0.0.2", "10.0.9.7"}))
    assert r.sets[prefix_set(G, 4)] == (4, frozenset({"10.0.9.0/24"}))
    assert r.sets[nft_set(G, 6)] == (6, frozenset({"fd00::1"}))
    assert prefix_set(G, 6) not in r.sets
    shared = r.chains[(INET, group_chains((G,))[0])]
    assert f"meta nfproto ipv4 ip saddr @{nft_set(G, 4)} return" in shared
    assert f"meta nfproto ipv4 ip saddr @{prefix_set(G, 4)} return" in shared
    assert f"meta nfproto ipv6 ip6 saddr @{prefix_set(G, 6)} return" not in shared
    text = nft_plan.full_text(r)
    assert f"add set inet neutrino {nft_set(G, 4)} {{ type ipv4_addr; }}" in text
    assert f"add set inet neutrino {prefix_set(G, 4)} {{ type ipv4_addr; flags interval; }}" \
        in text


def test_rule_translation():
    assert rule_line(SgRule("ingress", "IPv4", "icmp", 8, 0)) == \
        "meta nfproto ipv4 icmp type 8 icmp code 0 return"
    assert rule_line(SgRule("ingress", "IPv6", "icmp")) == \
        "meta nfproto ipv6 meta l4proto 58 return"
    assert rule_line(SgRule("egress", "IPv4", "udp", 1000, 2000, "0.0.0.0/0")) == \
        "meta nfproto ipv4 udp dport 1000-2000 return"
    assert rule_line(SgRule("ingress", "IPv4", "tcp", 1, 65535)) == \
        "meta nfproto ipv4 meta l4proto 6 return"
    assert rule_line(SgRule("egress", "IPv4", "132", remote_group_id=G)) == \
        f"meta nfproto ipv4 ip daddr @{nft_set(G, 4)} meta l4proto 132 return"


def test_a_bad_row_costs_its_own_port_only():
    d = desired()
    d.ports[P2] = FwPort(P2, NET, "fa:16:3e:00:00:02", "compute:x", True, ("10.0.0.2/99",),
                         (), (G,))
    r = rendered(d)
    assert P2 in r.bad and P1 not in r.bad
    assert r.chains[(INET, f"in-{P2}")] == ("drop",)
    assert r.chains[(BRIDGE, f"pi-{P2}")][-1] == "drop"


def test_marks_and_zones_are_kept():
    assert assign_marks([P1, P2], {P2: 7}) == {P1: 1, P2: 7}
    assert assign_zones({NET, "ab" + NET[2:]}, {"brq" + NET[:11]: 4100}) == {
        NET: 4100, "ab" + NET[2:]: 4097}
    first = rendered()
    again = render(desired(), first.zones, {P1: 5, P2: 9})
    assert again.marks == {P1: 5, P2: 9}


def test_diff_of_a_membership_change_touches_only_the_set():
    old = rendered()
    d = desired()
    d.members = {G: ("10.0.0.1", "10.0.0.8", "10.0.9.0/24", "fd00::1")}
    new = render(d, old.zones, old.marks)
    text = nft_plan.diff_text(old, new)
    lines = [line for line in text.splitlines() if "state-" not in line]
    assert lines == [f"delete element inet neutrino {nft_set(G, 4)} {{ 10.0.0.2, 10.0.9.7 }}",
                     f"add element inet neutrino {nft_set(G, 4)} {{ 10.0.0.8 }}"]
    flows = nft_plan.conntrack(d, old, new)
    assert {(f.src, f.dst) for f in flows} >= {("10.0.0.2", "10.0.0.1")}


def test_the_last_prefix_leaving_takes_its_set_and_the_rule_naming_it():
    old = rendered()
    d = desired()
    d.members = {G: ("10.0.0.1", "10.0.0.2", "fd00::1")}
    new = render(d, old.zones, old.marks)
    text = nft_plan.diff_text(old, new)
    assert text.rstrip().splitlines()[-3] == f"delete set inet neutrino {prefix_set(G, 4)}"
    assert f"@{prefix_set(G, 4)}" not in "".join(new.chains[(INET, group_chains((G,))[0])])
    # a rule line gone from the group's chain: as any removed allow, the
    # flows that way of the ports using it (P1 and P2, ingress)
    flows = nft_plan.conntrack(d, old, new)
    assert {(f.src, f.dst) for f in flows} == {(None, "10.0.0.1"), (None, "fd00::1"),
                                                (None, "10.0.0.2")}


def test_a_prefix_leaving_a_set_that_keeps_others_cuts_its_addresses_only():
    old = rendered(desired(members={G: ("10.0.0.1", "10.0.9.0/24", "10.0.8.0/30")}))
    d = desired(members={G: ("10.0.0.1", "10.0.8.0/30")})
    new = render(d, old.zones, old.marks)
    flows = nft_plan.conntrack(d, old, new)
    assert {f.src for f in flows} >= {"10.0.9.0", "10.0.9.255"}
    assert not [f for f in flows if f.src is None]


def test_diff_of_a_new_rule_refills_the_groups_chains_and_nothing_else():
    old = rendered()
    d = desired()
    d.rules = {G: (*d.rules[G], SgRule("ingress", "IPv4", "tcp", 80, 80))}
    new = render(d, old.zones, old.marks)
    text = nft_plan.diff_text(old, new)
    gi = group_chains((G,))[0]
    assert [line for line in text.splitlines() if "state-" not in line][0] == \
        f"flush chain inet neutrino {gi}"                # one chain for both ports
    assert "meta nfproto ipv4 tcp dport 80 return" in text
    assert P1 not in text and P2 not in text and "element" not in text
    assert f"flush chain inet neutrino {gi}" in nft_plan.diff_text(new, old)
    gone = nft_plan.conntrack(desired(), new, old)     # the rule removed: flows to P1, P2 cut
    assert {(f.dst, f.zone) for f in gone} >= {("10.0.0.1", 4097), ("10.0.0.2", 4097)}
    assert nft_plan.diff_text(new, new) == ""
    assert nft_plan.conntrack(d, old, new) == []        # an allow added cuts nothing


def test_diff_of_a_removed_port_deletes_its_entries_before_its_chains():
    old = rendered()
    d = desired()
    del d.ports[P2]
    new = render(d, old.zones, old.marks)
    lines = nft_plan.diff_text(old, new).splitlines()
    entry = next(i for i, line in enumerate(lines)
                 if line.startswith("delete element bridge neutrino port-in"))
    chain = lines.index(f"delete chain bridge neutrino pi-{P2}")
    assert entry < chain and f"flush chain bridge neutrino pi-{P2}" in lines


def test_full_text_replaces_both_tables_in_one_transaction():
    text = nft_plan.full_text(rendered())
    lines = text.splitlines()
    assert lines[:3] == ["add table inet neutrino", "delete table inet neutrino",
                         "add table inet neutrino"]
    bridge = lines.index("add table bridge neutrino")
    assert lines[bridge:bridge + 3] == ["add table bridge neutrino",
                                        "delete table bridge neutrino",
                                        "add table bridge neutrino"]
    assert all(line.split()[2] == "inet" for line in lines[:bridge])
    assert all(line.split()[2] == "bridge" for line in lines[bridge:])
    assert lines[bridge - 1].startswith("add chain inet neutrino state-")
    # sets and chains exist before the rules and map entries that name them
    first_rule = next(i for i, line in enumerate(lines) if line.startswith("add rule"))
    assert all(i < first_rule for i, line in enumerate(lines) if line.startswith("add set"))
    for family in ("inet", "bridge"):
        declared = set()
        for line in lines:
            words = line.split()
            if words[2] != family:
                continue
            if words[:2] == ["add", "chain"]:
                declared.add(words[4])
            if words[:2] == ["add", "rule"]:
                assert words[4] in declared, line
                assert all(t in declared for t in
                           (w for i, w in enumerate(words) if words[i - 1] in ("jump", "goto")))


def test_a_cold_starts_tables_are_written_one_text_each():
    r = rendered()
    inet, bridge = nft_plan.full_texts(r)
    assert inet + bridge == nft_plan.full_text(r)
    for family, part in (("inet", inet), ("bridge", bridge)):
        lines = part.splitlines()
        assert all(line.split()[2] == family for line in lines)
        assert lines[:3] == [f"add table {family} neutrino", f"delete table {family} neutrino",
                             f"add table {family} neutrino"]
    assert any(line.startswith("add rule bridge") for line in bridge.splitlines())


def test_whole_lines_counts_the_full_text_without_building_it():
    empty = desired(members={G: ()})
    for d in (desired(), empty, desired(ports={}), desired(stateless=frozenset({G}))):
        r = rendered(d)
        assert nft_plan.whole_lines(r) == nft_plan.full_text(r).count("\n")


def test_a_rule_the_renderer_cannot_write_isolates_the_ports_of_its_groups_only():
    d = desired()
    other = "5e000000-0000-4000-8000-00000000000b"
    d.rules = {**d.rules, other: (SgRule("ingress", "IPv4", "not-a-protocol"),)}
    d.ports[P2] = FwPort(P2, NET, "fa:16:3e:00:00:02", "compute:x", True, ("10.0.0.2",), (),
                         (other,))
    r = rendered(d)
    assert set(r.bad) == {P2}
    assert r.chains[(INET, f"in-{P2}")] == ("drop",)
    assert r.chains[(INET, f"in-{P1}")][-1] == f"goto {group_chains((G,))[0]}"


def test_many_addresses_leaving_a_group_are_cut_by_address_not_by_pair():
    d = desired()
    d.members = {G: tuple(f"10.{i}.7.1" for i in range(200))}      # no two merge
    old = render(d, assign_zones({NET}, {}), {})
    d2 = desired()
    d2.members = {G: ()}
    new = render(d2, old.zones, old.marks)
    flows = nft_plan.conntrack(d2, old, new)
    assert len(flows) == 200                    # one per address, not 200 x ports
    assert {f.src for f in flows} == set(d.members[G]) and {f.dst for f in flows} == {None}


def test_few_addresses_leaving_a_group_many_ports_use_are_cut_by_address():
    """32 ports deleted on a host of 5,000 had planned 32 x 4,968 pair
    filters (139,000: seconds of CPU each apply, issue #18); past MAX_PAIRS
    pairs per set it is one filter per address and zone."""
    n, left = 3000, 4
    ports = {f"{i:08d}-2222-4000-8000-000000000000": FwPort(
        f"{i:08d}-2222-4000-8000-000000000000", NET, f"fa:16:3e:00:{i >> 8:02x}:{i & 255:02x}",
        "compute:x", True, (f"10.1.{i >> 8}.{i & 255}",), (), (G,)) for i in range(n)}
    rules = {G: (SgRule("ingress", "IPv4", remote_group_id=G),)}
    members = tuple(sorted(p.fixed_ips[0] for p in ports.values()))
    d = FwDesired(ports=ports, rules=rules, members={G: members})
    old = render(d, assign_zones({NET}, {}), {})
    gone = sorted(ports)[:left]
    d2 = FwDesired(ports={k: v for k, v in ports.items() if k not in gone}, rules=rules,
                   members={G: tuple(m for m in members
                                     if m not in {ports[g].fixed_ips[0] for g in gone})})
    new = render(d2, old.zones, old.marks)
    flows = nft_plan.conntrack(d2, old, new)
    assert len(flows) == left                  # not left x (n - left) pairs
    assert {f.src for f in flows} == {ports[g].fixed_ips[0] for g in gone}
    assert {f.dst for f in flows} == {None} and {f.zone for f in flows} == {old.zones[NET]}


def test_a_merged_block_that_shrank_lost_only_its_addresses_gone():
    left = nft_plan.left_set
    assert left(frozenset({"10.1.0.0/30"}), frozenset({"10.1.0.0/31", "10.1.0.3"})) == {
        "10.1.0.2"}
    # gone whole (two neighbours deleted together, a CIDR pair removed):
    # their addresses, not a CIDR that cuts every flow of the ports that way
    assert left(frozenset({"10.1.0.2/31", "10.0.0.2"}), frozenset()) == {
        "10.1.0.2", "10.1.0.3", "10.0.0.2"}
    assert len(left(frozenset({"10.0.9.0/24"}), frozenset())) == 256
    assert left(frozenset({"10.0.0.0/16"}), frozenset()) == {"10.0.0.0/16"}   # too big
    assert left(frozenset({"fd00::/127"}), frozenset({"fd00::1"})) == {"fd00::"}
