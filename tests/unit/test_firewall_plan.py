"""neutrino.agent.l2.firewall.plan: the seed §10 chain structure rendered
from plain values, and the diff against what iptables-save shows."""
from __future__ import annotations

from neutrino.agent.l2.firewall.model import (FwConf, FwDesired, FwPort, Observed, SgRule,
                                              group_chain, set_name)
from neutrino.agent.l2.firewall.plan import assign_zones, link_local, plan, render, rule_matches
from neutrino.dataplane.iptables import parse_save

P1 = "11111111-aaaa-bbbb-cccc-000000000001"
P2 = "22222222-aaaa-bbbb-cccc-000000000002"
DHCP = "33333333-aaaa-bbbb-cccc-000000000003"
NET = "99999999-0000-0000-0000-000000000009"
G = "gggggggg-0000-0000-0000-00000000000g"
W = "neutron-linuxbri"


def default_rules(gid: str = G) -> tuple[SgRule, ...]:
    return (SgRule("egress", "IPv4"), SgRule("egress", "IPv6"),
            SgRule("ingress", "IPv4", remote_group_id=gid),
            SgRule("ingress", "IPv6", remote_group_id=gid))


def desired(**extra_rules) -> FwDesired:
    ports = {
        P1: FwPort(P1, NET, "fa:16:3e:00:00:01", "compute:nova", True, ("10.0.0.5",),
                   (("10.0.0.100", "fa:16:3e:00:00:01"),), (G,)),
        P2: FwPort(P2, NET, "fa:16:3e:00:00:02", "compute:nova", False, ("10.0.0.6",)),
        DHCP: FwPort(DHCP, NET, "fa:16:3e:00:00:03", "network:dhcp", True, ("10.0.0.2",)),
    }
    rules = default_rules() + tuple(extra_rules.get("rules", ()))
    return FwDesired(ports=ports, rules={G: rules}, members={G: ("10.0.0.5", "10.0.0.100")})


def rendered(d: FwDesired | None = None, conf: FwConf = FwConf()):
    d = d or desired()
    return render(d, conf, assign_zones({p.network_id for p in d.ports.values()}, {}))


def test_seed_chain_structure():
    r = rendered()
    f = r.tables[4]["filter"]
    i, o, s = f"{W}-i{P1[:10]}", f"{W}-o{P1[:10]}", f"{W}-s{P1[:10]}"
    gi, go = group_chain("ingress", f"stateful|{G}"), group_chain("egress", f"stateful|{G}")
    assert {"neutron-filter-top", f"{W}-FORWARD", f"{W}-INPUT", f"{W}-OUTPUT", f"{W}-local",
            f"{W}-sg-chain", f"{W}-sg-fallback", i, o, s, gi, go} == set(f)
    assert len(gi) == len(go) == 28 == len(i)           # iptables' longest chain name
    tap = "tap" + P1[:11]
    fwd = f[f"{W}-FORWARD"]
    assert (f"-A {W}-FORWARD -m physdev --physdev-out {tap} --physdev-is-bridged -m comment "
            f'--comment "Direct traffic from the VM interface to the security group chain." '
            f"-j {W}-sg-chain") in fwd
    assert any(f"--physdev-in {tap} --physdev-is-bridged" in line for line in fwd)
    # the DHCP port is trusted, the port without port security has no chain at all
    assert any("tap" + DHCP[:11] in line and "trusted" in line and line.endswith("-j ACCEPT")
               for line in fwd)
    assert not any(P2[:10] in c for c in f) and not any(P2[:11] in line for line in fwd)
    assert f[f"{W}-sg-chain"][-1] == f"-A {W}-sg-chain -j ACCEPT"
    assert f[f"{W}-sg-fallback"] == [
        f'-A {W}-sg-fallback -m comment --comment "Default drop rule for unmatched traffic." '
        f"-j DROP"]
    # the port's own lines, then its groups' chain (shared by the ports of
    # the same groups): the groups' rules, INVALID, fallback
    ing = f[i]
    assert "RELATED,ESTABLISHED" in ing[0] and ing[0].endswith("-j RETURN")
    assert (f"-A {i} -d 10.0.0.5/32 -p udp -m multiport --sports 67 -m multiport --dports 68 "
            f"-j RETURN") in ing
    assert ing[-1] == f"-A {i} -j {gi}"
    assert f"-A {gi} -m set --match-set {set_name(G, 4)} src -j RETURN" in f[gi]
    assert "INVALID" in f[gi][-2] and f[gi][-1].endswith(f"-j {W}-sg-fallback")
    egr = f[o]
    assert "-m multiport --sports 68 -m multiport --dports 67" in egr[0] and egr[1:] == [f"-A {o} -j {s}", f"-A {o} -j {go}"]
    assert any("Prevent DHCP Spoofing by VM." in line and line.endswith("-j DROP")
               for line in f[go])
    assert f"-A {go} -j RETURN" in f[go]                   # egress any
    assert f[s] == [
        f"-A {s} -s 10.0.0.5/32 -m mac --mac-source fa:16:3e:00:00:01 -m comment --comment "
        f'"Allow traffic from defined IP/MAC pairs." -j RETURN',
        f"-A {s} -s 10.0.0.100/32 -m mac --mac-source fa:16:3e:00:00:01 -m comment --comment "
        f'"Allow traffic from defined IP/MAC pairs." -j RETURN',
        f'-A {s} -m comment --comment "Drop traffic without an IP/MAC allow rule." -j DROP']
    raw = r.tables[4]["raw"][f"{W}-PREROUTING"]
    assert any(line.endswith("-j CT --zone 4097") and "brq" + NET[:11] in line for line in raw)
    assert r.sets[set_name(G, 4)] == (4, frozenset({"10.0.0.5", "10.0.0.100"}))
    assert r.eb[f"neutronARP-{tap}"] == [
        f"-A neutronARP-{tap} -p ARP --arp-ip-src 10.0.0.5 -j ACCEPT",
        f"-A neutronARP-{tap} -p ARP --arp-ip-src 10.0.0.100 -j ACCEPT"]
    assert r.eb[f"neutronMAC-{tap}"] == [f"-A neutronMAC-{tap} -s fa:16:3e:00:00:01 -i {tap} "
                                         f"-j RETURN"]
    # IPv6: the link-local of the MAC may be used; RAs from the VM are dropped
    f6 = r.tables[6]["filter"]
    assert any(link_local("fa:16:3e:00:00:01") + "/128" in line for line in f6[s])
    assert any("--icmpv6-type 134" in line and line.endswith("DROP") for line in f6[go])


def test_rule_matches_as_iptables_save_prints_them():
    def m(**kw):
        return rule_matches(SgRule(**{"direction": "ingress", "ethertype": "IPv4", **kw}),
                            None, None)
    assert m(protocol="tcp", port_range_min=22, port_range_max=22,
             remote_ip_prefix="192.0.2.7") == ["-s 192.0.2.7/32 -p tcp -m tcp --dport 22"]
    assert m(protocol="6", port_range_min=1000, port_range_max=2000) == [
        "-p tcp -m tcp --dport 1000:2000"]
    assert m(protocol="icmp", port_range_min=8, port_range_max=0) == [
        "-p icmp -m icmp --icmp-type 8/0"]
    assert m(protocol="icmp", ethertype="IPv6", port_range_min=128) == [
        "-p ipv6-icmp -m icmp6 --icmpv6-type 128"]
    assert m(protocol="112") == ["-p vrrp"]
    assert m(remote_ip_prefix="0.0.0.0/0") == [""]
    assert rule_matches(SgRule("egress", "IPv4", remote_group_id=G), ["10.0.0.9"], None) == [
        "-d 10.0.0.9/32"]


def test_no_ipset_expands_members_into_rules():
    r = rendered(conf=FwConf(use_ipset=False))
    gi = group_chain("ingress", f"stateful|{G}")
    i = r.tables[4]["filter"][gi]
    assert f"-A {gi} -s 10.0.0.5/32 -j RETURN" in i
    assert not r.sets and not any("match-set" in line for line in i)


def _observe(r) -> Observed:
    """What the kernel shows once `r` is applied (as parse_save gives it)."""
    text = ""
    for table, chains in r.tables[4].items():
        text += f"*{table}\n" + "".join(f":{c} - [0:0]\n" for c in chains)
        builtin = {"filter": ["FORWARD", "INPUT", "OUTPUT"], "raw": ["PREROUTING", "OUTPUT"]}
        from neutrino.agent.l2.firewall.plan import JUMPS
        for b in builtin[table]:
            text += "".join(f"-A {b} -j {t}\n" for t in JUMPS[table].get(b, ()))
        text += "".join(line + "\n" for rules in chains.values() for line in rules) + "COMMIT\n"
    obs = Observed(iptables={4: parse_save(text)})
    obs.sets = {n: set(m) for n, (_, m) in r.sets.items()}
    obs.ebtables = {**r.eb, "PREROUTING": list(r.eb_jumps)}
    obs.eb_policy = {c: "DROP" for c in r.eb}
    return obs


def test_applied_state_plans_nothing_and_rule_change_touches_only_chains():
    d = desired()
    r = rendered(d)
    obs = _observe(r)
    assert plan(d, r, obs, families=(4,)).empty
    d2 = desired(rules=[SgRule("ingress", "IPv4", "tcp", 22, 22, "192.0.2.0/24")])
    r2 = rendered(d2)
    p = plan(d2, r2, obs, families=(4,))
    # one insert at its place in the group's chain, inside one atomic restore
    gi = group_chain("ingress", f"stateful|{G}")
    assert p.iptables[4] == (f"*filter\n-I {gi} 3 -s 192.0.2.0/24 -p tcp -m tcp "
                             f"--dport 22 -j RETURN\nCOMMIT\n")
    assert not p.ipset_before and not p.ebtables and not p.conntrack  # an added allow cuts nothing


def test_removed_rule_and_member_clear_conntrack():
    d2 = desired(rules=[SgRule("ingress", "IPv4", "tcp", 22, 22, "192.0.2.0/24")])
    obs = _observe(rendered(d2))
    d = desired()
    p = plan(d, rendered(d), obs, families=(4,))
    assert [(c.zone, c.src, c.dst) for c in p.conntrack] == [(4097, None, "10.0.0.5")]
    # a member leaves: only the set changes, and flows from it are forgotten
    d3 = desired()
    d3.members = {G: ("10.0.0.5",)}
    p = plan(d3, rendered(d3), _observe(rendered(d)), families=(4,))
    assert not p.iptables and p.ipset_before == f"del {set_name(G, 4)} 10.0.0.100\n"
    assert [(c.src, c.dst) for c in p.conntrack] == [("10.0.0.100", "10.0.0.5")]


def test_zones_are_kept_and_new_networks_get_free_ones():
    raw = {f"{W}-PREROUTING": [f"-A {W}-PREROUTING -i brqaaaaaaaaaaa -m comment --comment "
                               f'"Set zone for network." -j CT --zone 4097']}
    zones = assign_zones({"aaaaaaaaaaaaaaa", "bbbbbbbbbbb"}, raw)
    assert zones == {"aaaaaaaaaaaaaaa": 4097, "bbbbbbbbbbb": 4098}


def test_disabled_firewall_removes_everything_of_ours():
    obs = _observe(rendered())
    d = desired()
    p = plan(d, render(d, FwConf(enabled=False), {}), obs, families=(4,))
    text = p.iptables[4]
    assert f"-X {W}-sg-chain" in text and "-D FORWARD -j neutron-filter-top" in text
    assert not [line for line in text.splitlines() if line.startswith("-I ")]
    assert p.ipset_after == [set_name(G, 4), set_name(G, 6)]


def _many(n: int, groups=(G,)) -> FwDesired:
    ports = {f"{k:08x}-aaaa-bbbb-cccc-000000000000": FwPort(
        f"{k:08x}-aaaa-bbbb-cccc-000000000000", NET, f"fa:16:3e:00:{k >> 8:02x}:{k & 255:02x}",
        "compute:nova", True, (f"10.1.{k >> 8}.{k & 255}",), (), groups) for k in range(n)}
    return FwDesired(ports=ports, rules={G: default_rules()}, members={G: ()})


def test_a_rule_for_many_ports_is_one_line_and_its_removal_clears_all_their_flows():
    d = _many(300)
    obs = _observe(rendered(d))
    d2 = _many(300)
    d2.rules[G] += (SgRule("ingress", "IPv4", "tcp", 22, 22, "192.0.2.0/24"),)
    p = plan(d2, rendered(d2), obs, families=(4,))
    assert p.iptables[4].count("\n") == 3                 # *filter, one -I, COMMIT
    # removed again: the flows of every port of the group to their address
    p = plan(d, rendered(d), _observe(rendered(d2)), families=(4,))
    assert len({c.dst for c in p.conntrack}) == 300


def test_large_restore_into_an_empty_table_starts_with_zero_counters():
    # iptables-nft --noflush: without a chain-less command first, every line
    # searches a sorted list of the chains named so far (lines x chains)
    d = _many(300)
    text = plan(d, rendered(d), Observed(), families=(4,)).iptables[4]
    assert text.split("*filter\n", 1)[1].startswith("-Z\n")
    assert "*raw\n-Z" not in text                          # two chains: not worth it
    small = _many(3)
    assert "-Z" not in plan(small, rendered(small), Observed(), families=(4,)).iptables[4]
    # a few ports more on a full table: not (-Z would rewrite every rule's counter)
    more = _many(310)
    assert "-Z" not in plan(more, rendered(more), _observe(rendered(d)), families=(4,)).iptables[4]


def _restored(chains: dict[str, list[str]], text: str) -> dict[str, list[str]]:
    """iptables-restore --noflush's effect on one table's chains, for the
    lines a plan writes (:chain, -A, -D chain N, -D rule, -I chain N, -F, -X)."""
    chains = {c: list(r) for c, r in chains.items()}
    for line in text.splitlines():
        word = line.split()
        if line.startswith(":"):
            chains[word[0][1:]] = []
        elif word[0] == "-A":
            chains[word[1]].append(line)
        elif word[0] == "-D" and len(word) == 3 and word[2].isdigit():
            del chains[word[1]][int(word[2]) - 1]
        elif word[0] == "-D":
            chains[word[1]].remove("-A " + line[3:])
        elif word[0] == "-I":
            chains[word[1]].insert(int(word[2]) - 1,
                                   f"-A {word[1]} " + line.split(None, 3)[3])
        elif word[0] == "-F":
            chains[word[1]] = []
        elif word[0] == "-X":       # as the kernel: only empty, unreferenced chains
            assert not chains[word[1]], f"{line}: the chain still has rules"
            assert not [r for rules in chains.values() for r in rules
                        if r.endswith(f" -j {word[1]}")], f"{line}: a rule still jumps to it"
            del chains[word[1]]
    return chains


def _flushed_first(text: str) -> bool:
    """Stale chains flushed before the first -D and deleted after the last
    (-X of a chain still used fails in _restored): iptables-nft matches each
    -F against every pending -D (1,000 ports gone of 5,000: IPv4 1.23-1.29 s
    against 0.66-0.69 s)."""
    kinds = [line.split()[0] for line in text.splitlines() if line[:2] in ("-F", "-D", "-X")]
    return "-F" in kinds and kinds == sorted(kinds, key=["-F", "-D", "-X"].index)


def test_ports_gone_leave_the_long_chains_by_position_and_most_gone_rewrite_them():
    # iptables-nft compares a `-D <rule>` with the chain's rules one by one;
    # by position it does not (500 gone of 5,000: 0.5 s against a 3.1 s rewrite)
    full = _many(300)
    obs = _observe(rendered(full))
    fewer = _many(200)
    text = plan(fewer, rendered(fewer), obs, families=(4,)).iptables[4]
    assert f":{W}-sg-chain - [0:0]" not in text
    deletes = [int(line.split()[2]) for line in text.splitlines()
               if line.startswith(f"-D {W}-sg-chain ")]
    assert len(deletes) == 200 and deletes == sorted(deletes, reverse=True)
    filter_text = text.split("*filter\n", 1)[1]
    assert _flushed_first(filter_text)
    after = _restored(obs.iptables[4]["filter"], filter_text)
    want = rendered(fewer).tables[4]["filter"]
    assert {c: after[c] for c in want} == want
    assert not [c for c in after if c.startswith(f"{W}-") and c not in want]
    # ports gone and ports added in one apply: deletes by position, then inserts
    mixed = _many(310)
    mixed.ports = dict(sorted(mixed.ports.items())[20:])
    text = plan(mixed, rendered(mixed), obs, families=(4,)).iptables[4]
    assert f"-I {W}-sg-chain " in text and f":{W}-sg-chain - [0:0]" not in text
    want = rendered(mixed).tables[4]["filter"]
    after = _restored(obs.iptables[4]["filter"], text.split("*filter\n", 1)[1])
    assert {c: after[c] for c in want} == want
    one = _many(1)
    text = plan(one, rendered(one), obs, families=(4,)).iptables[4]
    assert f":{W}-sg-chain - [0:0]" in text and f"-D {W}-sg-chain" not in text


def test_many_members_leaving_are_cut_per_address_not_per_pair():
    # 300 ports each see 100 addresses leave their group: per (address, port)
    # that was 30,000 filters (millions at 5,000 ports); per address and zone, 100
    gone = tuple(f"10.2.0.{k}" for k in range(100))
    before = _many(300)
    before.members[G] = gone
    d = _many(300)
    p = plan(d, rendered(d), _observe(rendered(before)), families=(4,))
    assert sorted((c.src, c.dst) for c in p.conntrack) == sorted((m, None) for m in gone)


def test_few_members_leaving_a_group_many_ports_use_are_cut_per_address():
    # 4 ports deleted on a host of 3,000: 4 x 2,996 pair filters before (the
    # first cycle of 1,000 deletes at 5,000 ports queued 157,940); past
    # MAX_PAIRS pairs per set, one filter per address and zone
    d = _many(3000)
    d.members[G] = tuple(p.fixed_ips[0] for p in d.ports.values())
    gone = sorted(d.ports)[:4]
    d2 = _many(3000)
    d2.ports = {k: v for k, v in d2.ports.items() if k not in gone}
    d2.members[G] = tuple(p.fixed_ips[0] for p in d2.ports.values())
    p = plan(d2, rendered(d2), _observe(rendered(d)), families=(4,))
    assert sorted((c.src, c.dst) for c in p.conntrack) == sorted(
        (d.ports[g].fixed_ips[0], None) for g in gone)
    assert {c.zone for c in p.conntrack} == {4097}


def test_ebtables_jumps_leave_by_position_around_others_rules():
    d = _many(10)
    obs = _observe(rendered(d))
    foreign = "-A PREROUTING -i foreign0 -j ACCEPT"
    obs.ebtables["PREROUTING"] = [*obs.ebtables["PREROUTING"][:4], foreign,
                                  *obs.ebtables["PREROUTING"][4:]]
    fewer = _many(10)
    fewer.ports = {k: v for n, (k, v) in enumerate(sorted(fewer.ports.items())) if n % 3}
    text = plan(fewer, rendered(fewer), obs, families=(4,)).ebtables
    deletes = [line for line in text.splitlines() if line.startswith("-D ")]
    assert deletes and all(line.split()[2].isdigit() for line in deletes)
    assert _flushed_first(text)
    after = _restored(obs.ebtables, text)
    want = rendered(fewer).eb_jumps
    assert after["PREROUTING"] == [*want[:2], foreign, *want[2:]]


def test_only_a_restore_into_tables_without_our_chains_is_additive():
    """FirewallKernel runs the restores side by side only when they only
    add (see apply.FirewallKernel._side_by_side): into tables holding none
    of our chains, whatever else they hold."""
    d = desired()
    r = rendered(d)
    foreign = parse_save("*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -s 192.0.2.1/32 -j ACCEPT\n"
                         "COMMIT\n")
    cold = plan(d, r, Observed(iptables={4: foreign, 6: {}}))
    assert cold.additive and cold.iptables[4] and cold.iptables[6] and cold.ebtables
    assert not any(line.startswith(("-D", "-F", "-X"))
                   for text in (*cold.iptables.values(), cold.ebtables)
                   for line in text.splitlines())
    obs = _observe(r)
    d2 = desired(rules=[SgRule("ingress", "IPv4", "tcp", 22, 22, "192.0.2.0/24")])
    assert not plan(d2, rendered(d2), obs, families=(4,)).additive
    only_eb = Observed(iptables={4: foreign}, ebtables={c: [] for c in r.eb})  # ip chains flushed
    assert not plan(d, r, only_eb, families=(4,)).additive
