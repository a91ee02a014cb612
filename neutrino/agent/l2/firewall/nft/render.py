"""render(desired, zones, marks) -> NftRendered: the security-group
firewall as nftables objects, with the iptables driver's semantics
(firewall/plan.py, seed §10). Pure, no I/O.

Two tables per host, both named `neutrino`:

  bridge neutrino   sees every frame on a bridge port by port name:
    prerouting (-300): iifname vmap @port-in -> pi-<port>: stamp the port's
                       index into the packet mark's low 16 bits, then the
                       ebtables checks (source MAC one of the port's, ARP
                       sender IP one of its addresses, else drop)
    forward (-200):    oifname vmap @port-out -> po-<port>: the index of the
                       port the frame leaves by, into the mark's high 16 bits
  inet neutrino     stateful filtering (conntrack runs here, br_netfilter
                    passes bridged IP packets through the inet hooks):
    prerouting (raw):  mark low bits vmap @untracked -> untrack: `notrack` for
                       the ports of stateless groups; then
                       ct zone set iifname map @zones (one zone per network,
                       keyed by its bridge, as upstream's `-i brq` rule)
    forward:           mark high bits vmap @ingress -> in-<port>,
                       mark low bits vmap @egress -> eg-<port>
    input:             mark low bits vmap @egress (an instance to the host)
    in-/eg-<port>:     what names the port: DHCP replies to its addresses;
                       its IP/MAC pairs (the iptables driver's s-chain: a
                       matching packet goes on, any other is dropped); then
                       `goto` the chain of its combination of groups:
    gi-/ge-<groups>:   the rest of the iptables driver's i/o chains (sessions,
                       DHCP, ICMPv6, the groups' rules, INVALID drop, drop),
                       shared by every port with that combination. IPv4 and
                       IPv6 rules share a chain (each names its family). A
                       `return` there returns to the base chain (goto), as
                       RETURN from the iptables driver's chains, so a rule
                       added to a group rewrites one chain per combination,
                       not one per port.
    rg4-/rg6-<group>:  remote groups' addresses, as hash sets: a member
                       that leaves is one element out (an interval set
                       of 5,000 scattered addresses made nft 1.0.6 spend
                       seconds of CPU per burst of deletes)
    rn4-/rn6-<group>:  their prefixes (address pairs, address groups'
                       CIDRs) as interval sets, only when they have some;
                       a rule naming the group then matches both sets

Verdict maps replace the iptables driver's linear physdev jump lists: a
packet costs two map lookups whatever the number of ports. A port without
an entry (trusted DHCP/router port, port security off, not ours) is not
filtered. The kernel this runs on has no bridge-family conntrack
(nf_conntrack_bridge), hence the marks: the bridge table names the ports,
the inet table keeps the state.
"""
from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field

from neutrino.agent.l2.firewall.model import (FAMILIES, ZONE_BASE, FwDesired, FwPort, SgRule,
                                              bridge, canonical_member, ip_version, tap)
from neutrino.agent.l2.firewall.plan import PORT_MATCH, link_local, proto_number

TABLE = "neutrino"
INET, BRIDGE = "inet", "bridge"
MAX_INDEX = 0xFFFF
NFPROTO = {4: "ipv4", 6: "ipv6"}
ADDR = {4: "ip", 6: "ip6"}
# Constant sets shared by every port's chains (an anonymous set per rule
# would be one kernel set per port: more than half the cost of a cold start).
CONST_SETS = {
    "icmp6-in": ("type icmpv6_type;", "130, 134, 135, 136"),    # MLD query, RA, NS, NA
    "icmp6-dad": ("type icmpv6_type;", "131, 135, 143"),        # MLD report, NS, MLDv2 from ::
}

# Maps: (family, name) -> (declaration, key format)
MAPS = {
    (INET, "zones"): "typeof iifname : ct zone",
    (INET, "untracked"): "type mark : verdict",
    (INET, "ingress"): "type mark : verdict",
    (INET, "egress"): "type mark : verdict",
    (BRIDGE, "port-in"): "type ifname : verdict",
    (BRIDGE, "port-out"): "type ifname : verdict",
}
# The base chains: never change, created with the table.
BASE = {
    (INET, "prerouting"): ("type filter hook prerouting priority raw; policy accept;",
                           ["meta mark & 0x0000ffff vmap @untracked",
                            "ct zone set iifname map @zones"]),
    (INET, "forward"): ("type filter hook forward priority filter; policy accept;",
                        ["meta mark & 0xffff0000 vmap @ingress",
                         "meta mark & 0x0000ffff vmap @egress"]),
    (INET, "input"): ("type filter hook input priority filter; policy accept;",
                      ["meta mark & 0x0000ffff vmap @egress"]),
    (BRIDGE, "prerouting"): ("type filter hook prerouting priority -300; policy accept;",
                             ["iifname vmap @port-in"]),
    (BRIDGE, "forward"): ("type filter hook forward priority -200; policy accept;",
                          ["oifname vmap @port-out"]),
}
STATE_PREFIX = "state-"      # an empty chain whose name is the digest of the rest
# Ports of stateless groups: @untracked (by the index the bridge table
# stamped: iifname is the bridge here) sends their packets here (prerouting,
# raw priority), before any conntrack zone is set.
UNTRACK = (INET, "untrack")
UNTRACK_RULES = ("notrack",)


def in_chain(port_id: str) -> str:
    return "in-" + port_id


def eg_chain(port_id: str) -> str:
    return "eg-" + port_id


def pi_chain(port_id: str) -> str:
    return "pi-" + port_id


def po_chain(port_id: str) -> str:
    return "po-" + port_id


@functools.lru_cache(maxsize=4096)     # asked per port, several times a cycle
def group_chains(groups: tuple[str, ...]) -> tuple[str, str]:
    """The ingress and egress chains of one combination of groups (in order:
    the rule order follows it, as in the iptables driver)."""
    key = hashlib.sha256(",".join(groups).encode()).hexdigest()[:20]
    return "gi-" + key, "ge-" + key


def nft_set(group_id: str, version: int) -> str:
    """The set of a remote group's single addresses."""
    return f"rg{version}-{group_id}"


def prefix_set(group_id: str, version: int) -> str:
    """The interval set of a remote group's prefixes (when it has some)."""
    return f"rn{version}-{group_id}"


def is_prefix_set(name: str) -> bool:
    return name.startswith("rn")


def key_text(name: str, key) -> str:
    return f"0x{key:08x}" if isinstance(key, int) else f'"{key}"'


@dataclass
class NftRendered:
    chains: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    maps: dict[tuple[str, str], dict] = field(default_factory=dict)   # key -> value text
    sets: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    zones: dict[str, int] = field(default_factory=dict)     # network -> conntrack zone
    marks: dict[str, int] = field(default_factory=dict)     # port -> index in the mark
    bad: dict[str, str] = field(default_factory=dict)       # port isolated here -> why
    groups_of: dict[str, tuple[str, str]] = field(default_factory=dict)  # port -> gi/ge chain
    port_digests: dict[str, str] = field(default_factory=dict)  # port -> digest of its chains

    _digest: str | None = field(default=None, repr=False, compare=False)

    def digest(self) -> str:
        """A name for the whole rendering (computed once: render is done)."""
        if self._digest is None:
            self._digest = self._hash()
        return self._digest

    def _hash(self) -> str:
        """Ports by their (remembered) chain digests: their map entries follow
        from their ids and indices, which those chains hold; then everything
        shared. Hashing every rule again took 0.5 s at 5,000 ports."""
        h = hashlib.sha256()
        h.update(b"untracked-1 rn-2")  # since these layouts: once a full rewrite
        for part in (sorted(self.port_digests.items()),
                     sorted(self.maps.get((INET, "untracked"), {}).items()),
                     sorted((k, v) for k, v in self.chains.items()
                            if k[1].startswith(("gi-", "ge-"))),
                     sorted(self.maps.get((INET, "zones"), {}).items()),
                     sorted((k, v, sorted(m)) for k, (v, m) in self.sets.items())):
            h.update(repr(part).encode())
        return h.hexdigest()[:24]


# ---------------------------------------------------------------- assignments

def _allocate(keys, have: dict, first: int, last: int) -> dict:
    """key -> number: the one it has, else the lowest free from `first`."""
    out = {k: have[k] for k in sorted(keys) if k in have}
    taken, free = set(out.values()), first
    for k in sorted(keys):
        if k not in out:
            while free in taken:
                free += 1
            if free > last:
                raise ValueError(f"more than {last - first + 1} to number on one host")
            out[k] = free
            taken.add(free)
    return out


def assign_zones(network_ids, known: dict[str, int]) -> dict[str, int]:
    """One conntrack zone per network: the one it has (`known`: bridge ->
    zone, from the kernel or the last apply), else the lowest free one."""
    by_bridge = _allocate({bridge(n) for n in network_ids}, known, ZONE_BASE, 0xFFFF)
    return {n: by_bridge[bridge(n)] for n in network_ids}


def assign_marks(port_ids, known: dict[str, int]) -> dict[str, int]:
    """A stable index per filtered port (1..65535): kept while the port is."""
    return _allocate(port_ids, known, 1, MAX_INDEX)


# ---------------------------------------------------------------- rules

# an address or prefix as nft prints it: a host without its length
_net = canonical_member


def rule_line(rule: SgRule) -> str | None:
    """One group rule as an nft rule ending in `return`; None if it can
    match nothing (a remote prefix of the wrong family cannot reach here)."""
    v = rule.version
    ingress = rule.direction == "ingress"
    parts = [f"meta nfproto {NFPROTO[v]}"]
    if rule.remote_group_id is not None:
        parts.append(f"{ADDR[v]} {'saddr' if ingress else 'daddr'} "
                     f"@{nft_set(rule.remote_group_id, v)}")
    elif rule.remote_ip_prefix:
        net = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        if net.prefixlen:
            parts.append(f"{ADDR[v]} {'saddr' if ingress else 'daddr'} {_net(str(net))}")
    proto = proto_number(rule.protocol)
    if proto in (1, 58):
        proto = 58 if v == 6 else 1
    lo, hi = rule.port_range_min, rule.port_range_max
    if proto in PORT_MATCH and lo is not None and (lo, hi) != (1, 65535):
        name = PORT_MATCH[proto]
        parts.append(f"{name} dport {lo}" if hi in (None, lo) else f"{name} dport {lo}-{hi}")
    elif proto in (1, 58) and lo is not None:
        kind = "icmp" if proto == 1 else "icmpv6"
        parts.append(f"{kind} type {lo}" + (f" {kind} code {hi}" if hi is not None else ""))
    elif proto is not None:
        parts.append(f"meta l4proto {proto}")
    return " ".join(parts) + " return"


def _group_lines(port: FwPort, desired: FwDesired, direction: str) -> list[str]:
    out: list[str] = []
    for gid in port.security_groups:
        for rule in desired.rules.get(gid, ()):
            if rule.direction != direction:
                continue
            line = rule_line(rule)
            lines = [line] if line is not None else []
            remote = rule.remote_group_id
            if remote is not None and members(desired, remote, rule.version)[1]:
                lines.append(line.replace(f"@{nft_set(remote, rule.version)} ",
                                          f"@{prefix_set(remote, rule.version)} "))
            for one in lines:
                if one not in out:   # identical rules of two groups: one
                    out.append(one)
    return out


@functools.lru_cache(maxsize=1 << 16)
def _port_chains(port: FwPort, index: int) -> tuple[tuple, str]:
    items = tuple(port_chains(port, index).items())
    return items, hashlib.sha256(repr(items).encode()).hexdigest()[:24]


def port_chains(port: FwPort, index: int) -> dict[tuple[str, str], tuple]:
    """The four chains of one filtered port (isolated: nothing in or out).
    Only what names the port is here; the rest is its groups' chains.
    Depends on the port alone: render() remembers it (a frozen value), so
    a host of 5,000 ports re-renders only the ports that changed."""
    pid = port.id
    stamp_in = f"meta mark set meta mark & 0xffff0000 | 0x{index:08x}"
    stamp_out = f"meta mark set meta mark & 0x0000ffff | 0x{index << 16:08x}"
    if port.isolated:
        return {(INET, in_chain(pid)): ("drop",), (INET, eg_chain(pid)): ("drop",),
                (BRIDGE, pi_chain(pid)): (stamp_in, "drop"),
                (BRIDGE, po_chain(pid)): (stamp_out,)}
    ips4, ips6 = port.ips(4), port.ips(6)
    gi, ge = group_chains(port.security_groups)
    ing = [f"ip daddr {_net(ip)} udp sport 67 udp dport 68 return" for ip in ips4]
    ing.append(f"goto {gi}")

    # DHCP discover and DAD come from no address yet; everything else must
    # come from one of the port's IP/MAC pairs (the iptables driver's s-chain)
    egr = ["ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return",
           "ip6 saddr :: ip6 daddr ff02::/16 icmpv6 type @icmp6-dad return"]
    pairs = [(ip, port.mac_address) for ip in (*ips4, *ips6)]
    pairs.append((link_local(port.mac_address), port.mac_address))
    pairs += list(port.allowed_address_pairs)
    for ip, mac in pairs:
        line = f"{ADDR[ip_version(ip)]} saddr {_net(ip)} ether saddr {mac} goto {ge}"
        if line not in egr:
            egr.append(line)
    egr.append("drop")

    macs = sorted({port.mac_address} | {mac for _, mac in port.allowed_address_pairs})
    arp = sorted({_net(ip) for ip in ips4} | {_net(ip) for ip, _ in port.allowed_address_pairs
                                              if ip_version(ip) == 4})
    pre = [stamp_in, f"ether saddr != {_one_or_set(macs)} drop"]
    if arp:
        pre.append(f"arp saddr ip != {_one_or_set(arp)} drop")
    else:
        pre.append("ether type arp drop")
    return {(INET, in_chain(pid)): tuple(ing), (INET, eg_chain(pid)): tuple(egr),
            (BRIDGE, pi_chain(pid)): tuple(pre), (BRIDGE, po_chain(pid)): (stamp_out,)}


def group_rules(port: FwPort, desired: FwDesired) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ingress and egress chains of the port's combination of groups:
    what the iptables driver's i/o chains hold that does not name the port.
    Stateless groups: no conntrack state lines (their packets are untracked)."""
    if desired.is_stateless(port):
        ing, egr = _rules(port, desired)
        drop = ("ct state established,related return", "ct state invalid drop")
        return (tuple(r for r in ing if r not in drop), tuple(r for r in egr if r not in drop))
    return _rules(port, desired)


def _rules(port: FwPort, desired: FwDesired) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ing = ("ct state established,related return",
           "ip daddr 255.255.255.255 udp sport 67 udp dport 68 return",
           "icmpv6 type @icmp6-in return",
           "meta nfproto ipv6 udp sport 547 udp dport 546 return",
           *_group_lines(port, desired, "ingress"),
           "ct state invalid drop", "drop")
    egr = ("meta nfproto ipv4 udp sport 68 udp dport 67 return",
           "meta nfproto ipv4 udp sport 67 udp dport 68 drop",       # DHCP spoofing
           "icmpv6 type 134 drop",                                   # router advertisements
           "meta nfproto ipv6 meta l4proto 58 return",
           "meta nfproto ipv6 udp sport 546 udp dport 547 return",
           "meta nfproto ipv6 udp sport 547 udp dport 546 drop",     # DHCPv6 spoofing
           "ct state established,related return",
           *_group_lines(port, desired, "egress"),
           "ct state invalid drop", "drop")
    return ing, egr


def _one_or_set(items: list[str]) -> str:
    """A single value as itself, several as an anonymous set (ports with
    address pairs only: each anonymous set is a kernel object)."""
    return items[0] if len(items) == 1 else f"{{ {', '.join(items)} }}"


def members(desired: FwDesired, group_id: str, version: int
            ) -> tuple[frozenset[str], frozenset[str]]:
    """A remote group's members of one version: (single addresses, the
    prefixes merged into disjoint ones, as an interval set needs);
    unreadable ones skipped (a missing allow filters more, never less)."""
    return _members(tuple(desired.members.get(group_id, ())), version)


@functools.lru_cache(maxsize=1024)
def _members(found: tuple, version: int) -> tuple[frozenset[str], frozenset[str]]:
    hosts: set[str] = set()
    nets = []
    for m in found:
        parsed = _member(m)
        if parsed is None or parsed[0] != version:
            continue
        if parsed[1] is not None:
            hosts.add(parsed[1])
        else:
            nets.append(parsed[2])
    return (frozenset(hosts),
            frozenset(_net(str(n)) for n in ipaddress.collapse_addresses(nets)))


@functools.lru_cache(maxsize=1 << 17)
def _member(m) -> tuple[int, str | None, object] | None:
    """(version, the address if a host, else the network) of one member:
    parsed once, not on every cycle that changes the group (a burst of
    deletes changes it each time, and it has thousands)."""
    try:
        net = ipaddress.ip_network(m, strict=False)
    except (ValueError, TypeError):
        return None
    if net.prefixlen == net.max_prefixlen:
        return net.version, str(net.network_address), None
    return net.version, None, net


def render(desired: FwDesired, zones: dict[str, int], known_marks: dict[str, int]) -> NftRendered:
    ports = sorted(desired.ports.values(), key=lambda p: p.id)
    filtered = [p for p in ports if p.filtered]
    out = NftRendered(zones=dict(zones))
    out.marks = assign_marks([p.id for p in filtered], known_marks)
    out.maps = {key: {} for key in MAPS}
    out.chains[UNTRACK] = UNTRACK_RULES
    for net in sorted({p.network_id for p in ports}):
        out.maps[(INET, "zones")][bridge(net)] = str(zones[net])
    seen_groups: set[tuple[str, ...]] = set()
    for p in filtered:
        index = out.marks[p.id]
        try:
            items, digest = _port_chains(p, index)
            chains = dict(items)
            if not p.isolated:
                gi, ge = group_chains(p.security_groups)
                if (INET, gi) not in out.chains:
                    chains[(INET, gi)], chains[(INET, ge)] = group_rules(p, desired)
        except Exception as exc:  # noqa: BLE001 - a row the checks let through
            out.bad[p.id] = f"{type(exc).__name__}: {exc}"         # costs this port only
            p = p.isolate()
            items, digest = _port_chains(p, index)
            chains = dict(items)
        out.chains.update(chains)
        out.port_digests[p.id] = digest
        if not p.isolated:
            out.groups_of[p.id] = group_chains(p.security_groups)
        out.maps[(INET, "ingress")][index << 16] = f"jump {in_chain(p.id)}"
        out.maps[(INET, "egress")][index] = f"jump {eg_chain(p.id)}"
        out.maps[(BRIDGE, "port-in")][tap(p.id)] = f"jump {pi_chain(p.id)}"
        out.maps[(BRIDGE, "port-out")][tap(p.id)] = f"jump {po_chain(p.id)}"
        if desired.is_stateless(p):
            out.maps[(INET, "untracked")][index] = f"goto {UNTRACK[1]}"
        if not p.isolated and p.security_groups not in seen_groups:
            seen_groups.add(p.security_groups)      # the same for every port of them
            for gid in p.security_groups:
                for rule in desired.rules.get(gid, ()):
                    if rule.remote_group_id is not None:
                        for v in FAMILIES:
                            out.sets.setdefault(nft_set(rule.remote_group_id, v), (v, None))
    sets = {}
    for name, (v, _) in sorted(out.sets.items()):
        gid = name.split("-", 1)[1]
        hosts, prefixes = members(desired, gid, v)
        sets[name] = (v, hosts)
        if prefixes:
            sets[prefix_set(gid, v)] = (v, prefixes)
    out.sets = dict(sorted(sets.items()))
    return out
