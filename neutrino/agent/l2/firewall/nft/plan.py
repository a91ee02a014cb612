"""The nftables transaction that turns one NftRendered into another: pure.

full_text(rendered): both tables replaced in one transaction (`add table`,
`delete table`, then everything): cold start, and any full resync that
finds the kernel is not what the last apply left. On a cold start (no
table of ours) the agent writes it as one transaction per table, side by
side (full_texts; see NftKernel.apply).
diff_text(old, new): only what changed, still one transaction: set
elements added and deleted, changed chains flushed and refilled, new
chains added, map entries swapped, stale chains and sets deleted. A rule
added to or removed from a group refills the chains of the combinations
of groups it is in (render.py), whatever the number of ports; a
membership change only touches set elements (benchmarks/nft_firewall.py).
(An `insert rule ... index N` per chain was measured slower than a refill:
nft then reads every rule of the table back first.)
Each transaction also swaps the `state-<digest>` chain, so a restarted
agent can tell that the kernel still holds exactly what it would write.
"""
from __future__ import annotations

import ipaddress

from neutrino.agent.l2.firewall.member_cuts import SetUser, member_cuts
from neutrino.agent.l2.firewall.model import FAMILIES, ConntrackDelete, FwDesired
from neutrino.agent.l2.firewall.nft.render import (BASE, BRIDGE, CONST_SETS, INET, MAPS,
                                                   STATE_PREFIX, TABLE, NftRendered, is_prefix_set,
                                                   key_text)

# A merged block of a set that shrank (members are merged into prefixes) is
# read as the addresses it lost when it holds at most this many.
EXPAND_UP_TO = 4096
SET_DECL = {4: "type ipv4_addr;", 6: "type ipv6_addr;"}


def set_decl(name: str, version: int) -> str:
    """Addresses: a hash set; prefixes (rn-): an interval set."""
    return SET_DECL[version] + (" flags interval;" if is_prefix_set(name) else "")


def _elements(family: str, name: str, items: dict) -> str:
    body = ", ".join(f"{key_text(name, k)} : {v}" for k, v in items.items())
    return f"{family} {TABLE} {name} {{ {body} }}"


def _set_elements(name: str, members) -> str:
    return f"{INET} {TABLE} {name} {{ {', '.join(sorted(members))} }}"


def full_text(new: NftRendered) -> str:
    return "".join(full_texts(new))


def full_texts(new: NftRendered) -> list[str]:
    """Each table's replace, inet then bridge: together one transaction
    (full_text), or one each on a cold start (NftKernel.apply). Nothing in
    one table names anything in the other; within each, what a rule names
    comes before it."""
    out: dict[str, list[str]] = {INET: [], BRIDGE: []}
    for family, lines in out.items():
        lines += [f"add table {family} {TABLE}", f"delete table {family} {TABLE}",
                  f"add table {family} {TABLE}"]
    inet = out[INET]
    for name, (decl, items) in CONST_SETS.items():
        inet.append(f"add set {INET} {TABLE} {name} {{ {decl} elements = {{ {items} }}; }}")
    for name, (v, members) in sorted(new.sets.items()):
        inet.append(f"add set {INET} {TABLE} {name} {{ {set_decl(name, v)} }}")
        if members:
            inet.append(f"add element {_set_elements(name, members)}")
    for (family, name), decl in MAPS.items():
        out[family].append(f"add map {family} {TABLE} {name} {{ {decl}; }}")
    for family, lines in out.items():
        lines += _chains(new, sorted(c for c in new.chains if c[0] == family))
    for (family, name), items in new.maps.items():
        if items:
            out[family].append(f"add element {_elements(family, name, items)}")
    for (family, name), (decl, rules) in BASE.items():
        out[family].append(f"add chain {family} {TABLE} {name} {{ {decl} }}")
        out[family] += [f"add rule {family} {TABLE} {name} {r}" for r in rules]
    inet.append(f"add chain {INET} {TABLE} {STATE_PREFIX}{new.digest()}")
    return ["\n".join(lines) + "\n" for lines in out.values()]


def whole_lines(new: NftRendered) -> int:
    """How many lines full_text(new) has, without building it."""
    return (7 + len(CONST_SETS) + sum(2 if m else 1 for _, m in new.sets.values())
            + len(MAPS) + len(new.chains) + sum(map(len, new.chains.values()))
            + sum(1 for items in new.maps.values() if items)
            + sum(1 + len(rules) for _, rules in BASE.values()))


def _chains(new: NftRendered, names) -> list[str]:
    out = [f"add chain {family} {TABLE} {name}" for family, name in names]
    for family, name in names:
        out += [f"add rule {family} {TABLE} {name} {r}" for r in new.chains[(family, name)]]
    return out


def diff_text(old: NftRendered, new: NftRendered) -> str:
    """"" when nothing changed."""
    out: list[str] = []
    for name, (v, members) in sorted(new.sets.items()):
        have = old.sets.get(name, (v, frozenset()))[1] if name in old.sets else None
        if have is None:
            out.append(f"add set {INET} {TABLE} {name} {{ {set_decl(name, v)} }}")
            have = frozenset()
        if have - members:
            out.append(f"delete element {_set_elements(name, have - members)}")
        if members - have:
            out.append(f"add element {_set_elements(name, members - have)}")
    added = sorted(c for c in new.chains if c not in old.chains)
    changed = sorted(c for c in new.chains if c in old.chains and old.chains[c] is not
                     new.chains[c] and old.chains[c] != new.chains[c])   # mostly the same tuple
    out += [f"flush chain {family} {TABLE} {name}" for family, name in changed]
    out += [f"add chain {family} {TABLE} {name}" for family, name in added]
    for family, name in added + changed:        # every chain exists before a rule jumps to it
        out += [f"add rule {family} {TABLE} {name} {r}" for r in new.chains[(family, name)]]
    for key in MAPS:
        have, want = old.maps.get(key, {}), new.maps.get(key, {})
        gone = {k: v for k, v in have.items() if want.get(k) != v}
        fresh = {k: v for k, v in want.items() if have.get(k) != v}
        if gone:
            out.append(f"delete element {_elements(*key, gone)}")
        if fresh:
            out.append(f"add element {_elements(*key, fresh)}")
    stale = sorted(c for c in old.chains if c not in new.chains)
    out += [f"flush chain {family} {TABLE} {name}" for family, name in stale]
    out += [f"delete chain {family} {TABLE} {name}" for family, name in stale]
    out += [f"delete set {INET} {TABLE} {name}" for name in sorted(old.sets)
            if name not in new.sets]
    if not out:
        return ""
    out.append(f"add chain {INET} {TABLE} {STATE_PREFIX}{new.digest()}")
    out.append(f"delete chain {INET} {TABLE} {STATE_PREFIX}{old.digest()}")
    return "\n".join(out) + "\n"


def left_set(old: frozenset[str], new: frozenset[str]) -> frozenset[str]:
    """What left a set: addresses, or CIDRs. A set holds its members merged
    into prefixes, so one address leaving turns a block into a few smaller
    ones: that is the one address gone, not the whole old block (which cut
    every flow of every port using the set). A block gone whole (two
    neighbours deleted together) is its addresses too, up to EXPAND_UP_TO:
    as a CIDR it cut every flow of every port using the set that way."""
    out: set[str] = set()
    kept = None
    for element in old - new:
        try:
            net = ipaddress.ip_network(element)
        except ValueError:
            out.add(element)
            continue
        if net.num_addresses == 1 or net.num_addresses > EXPAND_UP_TO:
            out.add(element)
            continue
        if kept is None:
            kept = []
            for e in new:
                try:
                    kept.append(ipaddress.ip_network(e))
                except ValueError:
                    pass
        first, last = int(net.network_address), int(net.broadcast_address)
        parts = [k for k in kept if k.version == net.version and k.overlaps(net)]
        still: set[int] = set()
        for k in parts:
            still.update(range(max(first, int(k.network_address)),
                               min(last, int(k.broadcast_address)) + 1))
        make = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
        out.update(str(make(a)) for a in range(first, last + 1) if a not in still)
    return frozenset(out)


def conntrack(desired: FwDesired, old: NftRendered | None, new: NftRendered,
              old_sets: dict[str, frozenset[str]] | None = None) -> list[ConntrackDelete]:
    """As the iptables driver: a port whose in/eg chain lost a rule has its
    flows that way forgotten; an address that left a remote group loses its
    flows with the ports whose rules name that group. `old_sets` stands in
    for old.sets when only the kernel's sets are known (a full resync)."""
    have_sets = old_sets if old_sets is not None else (
        {n: m for n, (_, m) in old.sets.items()} if old else {})
    removed = {name: left_set(have_sets[name], m) for name, (_, m) in new.sets.items()
               if name in have_sets and have_sets[name] - m}
    names_in: dict[tuple[str, str], list[str]] = {}   # (chain, saddr|daddr) -> sets it matches
    out: list[ConntrackDelete] = []
    users: dict[str, list[SetUser]] = {}     # removed set -> the ports matching it
    lost: dict[tuple[str, str], bool] = {}   # (chain before, chain now) -> a rule went
    for port in sorted(desired.ports.values(), key=lambda p: p.id):
        if not port.filtered or port.network_id not in new.zones:
            continue
        zone = new.zones[port.network_id]
        was = old.groups_of.get(port.id) if old else None
        now = new.groups_of.get(port.id, ("", ""))
        for n, key in ((0, "dst"), (1, "src")):
            after = new.chains.get((INET, now[n]), ())
            if was is not None:
                pair = (was[n], now[n])
                if pair not in lost:    # thousands of ports share a pair: compared once
                    before = old.chains.get((INET, was[n]))
                    lost[pair] = before is not None and any(r not in after for r in before)
                if lost[pair]:
                    out += [ConntrackDelete(v, zone, **{key: ip}) for v in FAMILIES
                            for ip in port.ips(v)]
                    continue
            where = "saddr" if key == "dst" else "daddr"
            if not removed:
                continue
            # the same shared chain for every port of a combination of groups:
            # which removed sets it matches is worked out once per chain
            matched = names_in.get((now[n], where))
            if matched is None:
                matched = names_in[(now[n], where)] = [
                    name for name in sorted(removed)
                    if any(f"{where} @{name} " in r for r in after)]
            for name in matched:
                v = int(name[2])
                users.setdefault(name, []).append(SetUser(v, zone, key, tuple(port.ips(v))))
    out += member_cuts(removed, users)
    return list(dict.fromkeys(out))
