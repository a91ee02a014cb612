"""render(desired, conf, zones) -> Rendered and plan(rendered, observed) ->
FwPlan: the pure part of the security-group firewall. No I/O.

The chains are upstream's (seed §10), written exactly as `iptables-save`
prints them so the kernel can be diffed line by line:

  FORWARD -> neutron-filter-top -> neutron-linuxbri-local
  FORWARD -> neutron-linuxbri-FORWARD: per filtered port, physdev-in/out tap
             (bridged) -> neutron-linuxbri-sg-chain; trusted ports ACCEPT
  neutron-linuxbri-sg-chain: physdev-out tap -> i<port>, physdev-in tap ->
             o<port>; then ACCEPT
  i<port>:   RELATED,ESTABLISHED; DHCP (and ICMPv6 ND/RA) to the port; the
             groups' ingress rules; INVALID drop; -> sg-fallback (drop)
  o<port>:   DHCP client; -> s<port> (IP/MAC pairs, else drop); DHCP server
             spoofing drop; RELATED,ESTABLISHED; egress rules; INVALID drop;
             -> sg-fallback
  raw:       per network a conntrack zone (-j CT --zone N) for its bridge and taps;
             before them, -j CT --notrack for the taps of stateless groups' ports
             (whose i/o chains then have no RELATED,ESTABLISHED or INVALID line)
Remote-group rules match an ipset per (group, IP version), so a membership
change only changes the set. ebtables (nat PREROUTING) drops frames of a
filtered tap whose source MAC, or ARP sender IP, is not the port's.
"""
from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field

from neutrino.agent.l2.firewall.member_cuts import SetUser, member_cuts
from neutrino.agent.l2.firewall.model import (EB_PREFIXES, FALLBACK, FAMILIES, GROUP_PREFIXES,
                                              OWN_PREFIXES, SET_PREFIXES,
                                              SG_CHAIN, TOP, WRAP, ZONE_BASE,
                                              ConntrackDelete, FwConf, FwDesired, FwPlan, FwPort,
                                              Observed, SgRule, bridge, canonical_member,
                                              egress_chain, group_chain, ingress_chain, ip_version,
                                              set_name, spoof_chain, tap)

# protocol numbers and the names iptables-save prints for them
PROTO_NUMBERS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "icmpv6": 58,
    "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113,
    "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}
SAVE_NAMES = {1: "icmp", 2: "igmp", 4: "ipencap", 6: "tcp", 8: "egp", 17: "udp", 33: "dccp",
              41: "ipv6", 43: "ipv6-route", 44: "ipv6-frag", 46: "rsvp", 47: "gre", 50: "esp",
              51: "ah", 58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 89: "ospf",
              112: "vrrp", 113: "pgm", 132: "sctp", 136: "udplite"}
PORT_MATCH = {6: "tcp", 17: "udp", 132: "sctp", 33: "dccp"}   # protocols with a --dport match

C_SESSION = ('-m comment --comment "Direct packets associated with a known session to the '
             'RETURN chain."')
C_INVALID = ('-m comment --comment "Drop packets that appear related to an existing '
             'connection (e.g. TCP ACK/FIN) but do not have an entry in conntrack."')
C_FALLBACK = '-m comment --comment "Send unmatched traffic to the fallback chain."'
C_DHCP = '-m comment --comment "Allow DHCP client traffic."'
C_DHCP_SPOOF = '-m comment --comment "Prevent DHCP Spoofing by VM."'
C_PAIR = '-m comment --comment "Allow traffic from defined IP/MAC pairs."'
C_NO_PAIR = '-m comment --comment "Drop traffic without an IP/MAC allow rule."'
C_TO_SG = ('-m comment --comment "Direct traffic from the VM interface to the security group '
           'chain."')
C_INPUT = '-m comment --comment "Direct incoming traffic from VM to the security group chain."'
C_JUMP = '-m comment --comment "Jump to the VM specific chain."'
C_TRUSTED = '-m comment --comment "Accept all packets when port is trusted."'
C_DROP_ALL = '-m comment --comment "Default drop rule for unmatched traffic."'
C_RA = '-m comment --comment "Drop IPv6 Router Advts from VM Instance."'
C_ICMP6 = '-m comment --comment "Allow IPv6 ICMP traffic."'
C_ZONE = '-m comment --comment "Set zone for network."'
C_NOTRACK = '-m comment --comment "Stateless security group: no connection tracking."'

# The per-port DHCP lines match their ports with multiport, not `-m udp
# --sport/--dport`: libxtables resolves a udp match's port numbers with
# getaddrinfo(NULL, "67"), whose AI_ADDRCONFIG default dumps every address
# of the namespace (RTM_GETADDR) -- per port number, so per line: with
# 5,000 taps that was most of a cold IPv4 restore. multiport parses
# numbers itself. The shared chains keep upstream's spelling (parsed once).
DHCP_REPLY = "-m multiport --sports 67 -m multiport --dports 68"
DHCP_REQUEST = "-m multiport --sports 68 -m multiport --dports 67"

# Builtin chain -> our jumps, in order, at the top of it (never flushed: not ours).
JUMPS = {
    "filter": {"FORWARD": [TOP, f"{WRAP}-FORWARD"], "INPUT": [f"{WRAP}-INPUT"],
               "OUTPUT": [TOP, f"{WRAP}-OUTPUT"]},
    "raw": {"PREROUTING": [f"{WRAP}-PREROUTING"], "OUTPUT": [f"{WRAP}-OUTPUT"]},
}
ICMP6_INGRESS = (130, 134, 135, 136)     # MLD query, RA, NS, NA
ICMP6_DAD = (131, 135, 143)              # MLD report, NS, MLDv2 report from ::
# The first lines of the shared chains (group_chain), per IP version.
GROUP_INGRESS_HEAD = {
    4: ["-d 255.255.255.255/32 -p udp -m udp --sport 67 --dport 68 -j RETURN"],
    6: [*(f"-p ipv6-icmp -m icmp6 --icmpv6-type {t} -j RETURN" for t in ICMP6_INGRESS),
        "-p udp -m udp --sport 547 --dport 546 -j RETURN"],
}
GROUP_EGRESS_HEAD = {
    4: [f"-p udp -m udp --sport 68 --dport 67 {C_DHCP} -j RETURN",
        f"-p udp -m udp --sport 67 --dport 68 {C_DHCP_SPOOF} -j DROP"],
    6: [f"-p ipv6-icmp -m icmp6 --icmpv6-type 134 {C_RA} -j DROP",
        f"-p ipv6-icmp {C_ICMP6} -j RETURN",
        f"-p udp -m udp --sport 546 --dport 547 {C_DHCP} -j RETURN",
        f"-p udp -m udp --sport 547 --dport 546 {C_DHCP_SPOOF} -j DROP"],
}
# rules compared by the -D <rule> lines of a chain edit, per rule of the
# chain, past which the chain is rewritten (see chain_edits)
DELETE_BUDGET = 10
# lines x chains of a restore past which `-Z` goes first (see _zero_first):
# per rule already in the table, and at least
ZERO_FIRST_RATIO = 2000
ZERO_FIRST_MIN = 1_000_000
# a combination of groups' two shared chains: ((gi name, lines), (go name, lines))
GroupChains = tuple[tuple[str, list[str]], tuple[str, list[str]]]


@dataclass
class Rendered:
    """Desired kernel content. tables[v][table] = chain -> ['-A chain ...'];
    sets = name -> (version, members); eb = chain -> ['-A ...'] (nat)."""
    tables: dict[int, dict[str, dict[str, list[str]]]] = field(default_factory=dict)
    sets: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    eb: dict[str, list[str]] = field(default_factory=dict)
    eb_jumps: list[str] = field(default_factory=list)       # '-A PREROUTING ...'
    zones: dict[str, int] = field(default_factory=dict)     # network -> conntrack zone
    bad: dict[str, str] = field(default_factory=dict)       # port isolated here -> why
    # version -> port -> the (ingress, egress) group chains its chains end in
    groups_of: dict[int, dict[str, tuple[str, str]]] = field(default_factory=dict)


# ---------------------------------------------------------------- zones

_ZONE_RE = re.compile(r"-i (brq\S+) .*--zone (\d+)")


def assign_zones(network_ids, raw: dict[str, list[str]]) -> dict[str, int]:
    """One conntrack zone per network: the one the kernel already has (an
    agent restart keeps them), else the lowest free one."""
    seen: dict[str, int] = {}
    for line in raw.get(f"{WRAP}-PREROUTING", ()):
        m = _ZONE_RE.search(line)
        if m:
            seen.setdefault(m.group(1), int(m.group(2)))
    zones: dict[str, int] = {}
    for net in sorted(network_ids):
        if bridge(net) in seen:
            zones[net] = seen[bridge(net)]
    used = set(zones.values())
    free = ZONE_BASE
    for net in sorted(network_ids):
        if net not in zones:
            while free in used:
                free += 1
            zones[net] = free
            used.add(free)
    return zones


# ---------------------------------------------------------------- rules

@functools.lru_cache(maxsize=65536)      # every port's addresses, on every render
def _host(address: str) -> str:
    """A CIDR as iptables-save prints it (hosts get /32 or /128)."""
    return str(ipaddress.ip_network(address, strict=False))


def proto_number(protocol: str | None) -> int | None:
    if protocol is None:
        return None
    text = str(protocol).lower()
    return PROTO_NUMBERS[text] if text in PROTO_NUMBERS else int(text)


def rule_matches(rule: SgRule, members: list[str] | None, set_ref: str | None) -> list[str]:
    """The match part of one group rule as iptables-save lines (several when
    a remote group is expanded without ipsets); [] if it can match nothing."""
    v = rule.version
    ingress = rule.direction == "ingress"
    parts: list[str] = []
    proto = proto_number(rule.protocol)
    if proto in (1, 58):
        proto = 58 if v == 6 else 1
    if proto is not None:
        parts.append(f"-p {SAVE_NAMES.get(proto, str(proto))}")
        lo, hi = rule.port_range_min, rule.port_range_max
        if proto in PORT_MATCH and lo is not None and (lo, hi) != (1, 65535):
            mod = PORT_MATCH[proto]
            parts.append(f"-m {mod} --dport {lo}" if hi in (None, lo) else
                         f"-m {mod} --dport {lo}:{hi}")
        elif proto in (1, 58) and lo is not None:
            kind = "-m icmp --icmp-type" if proto == 1 else "-m icmp6 --icmpv6-type"
            parts.append(f"{kind} {lo}" + (f"/{hi}" if hi is not None else ""))
    body = " ".join(parts)
    direction_flag = "-s" if ingress else "-d"
    if rule.remote_group_id is not None:
        if set_ref is not None:
            where = "src" if ingress else "dst"
            return [" ".join(x for x in (body, f"-m set --match-set {set_ref} {where}") if x)]
        return [" ".join(x for x in (f"{direction_flag} {_host(m)}", body) if x)
                for m in members or ()]
    if rule.remote_ip_prefix:
        net = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        if net.prefixlen:
            return [" ".join(x for x in (f"{direction_flag} {net}", body) if x)]
    return [body]


def _group_lines(port: FwPort, desired: FwDesired, conf: FwConf, version: int,
                 direction: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for gid in port.security_groups:
        for rule in desired.rules.get(gid, ()):
            if rule.direction != direction or rule.version != version:
                continue
            members = None
            ref = None
            if rule.remote_group_id is not None:
                if conf.use_ipset:
                    ref = set_name(rule.remote_group_id, version)
                else:
                    members = sorted({m for m in desired.members.get(rule.remote_group_id, ())
                                      if _version_of(m) == version})
            for match in rule_matches(rule, members, ref):
                line = f"{match} -j RETURN" if match else "-j RETURN"
                if line not in seen:       # identical rules of two groups: one line
                    seen.add(line)
                    out.append(line)
    return out


@functools.lru_cache(maxsize=65536)
def link_local(mac: str) -> str:
    """The EUI-64 link-local address a MAC gives (IPv6 spoof chain)."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 2
    eui = b[:3] + [0xFF, 0xFE] + b[3:]
    words = [(eui[i] << 8) | eui[i + 1] for i in range(0, 8, 2)]
    return str(ipaddress.IPv6Address("fe80::" + ":".join(f"{w:x}" for w in words)))


def _port_chains(port: FwPort, desired: FwDesired, conf: FwConf, version: int,
                 chains: dict[str, list[str]], shared: dict[str, GroupChains]
                 ) -> tuple[str, str] | None:
    """The port's i/o/s chains, and the chains its combination of groups
    shares with the other ports of that combination (`shared`: combination
    -> chain names, filled by the first of its ports, so a rule change
    rewrites one chain however many ports it concerns). Returns the port's
    (ingress, egress) group chains; None when isolated."""
    i, o, s = ingress_chain(port.id), egress_chain(port.id), spoof_chain(port.id)
    if port.isolated:       # nothing in, nothing out
        chains[i] = [f"-A {i} {C_FALLBACK} -j {FALLBACK}"]
        chains[o] = [f"-A {o} {C_FALLBACK} -j {FALLBACK}"]
        return None
    # Stateless groups (upstream's iptables driver): no session or INVALID
    # lines, replies pass only through the groups' own rules.
    stateful = not desired.is_stateless(port)
    gi, go = _group_chains(port, desired, conf, version, stateful, chains, shared)
    chains.update(_own_chains(port, version, stateful, gi, go))
    return gi, go


@functools.lru_cache(maxsize=16384)      # 8,192 ports x 2 IP versions
def _own_chains(port: FwPort, version: int, stateful: bool, gi: str, go: str
                ) -> dict[str, list[str]]:
    """i/o/s<port>: a function of the port's own values only, so a cycle
    re-renders just the ports that changed (a rule to 5,000 ports changes
    one shared chain). Callers never change the lists."""
    i, o, s = ingress_chain(port.id), egress_chain(port.id), spoof_chain(port.id)
    chains: dict[str, list[str]] = {}
    ing = chains.setdefault(i, [])
    if stateful:
        ing.append(f"-A {i} -m state --state RELATED,ESTABLISHED {C_SESSION} -j RETURN")
    if version == 4:
        for ip in port.ips(4):
            ing.append(f"-A {i} -d {_host(ip)} -p udp {DHCP_REPLY} -j RETURN")
    ing.append(f"-A {i} -j {gi}")

    egr = chains.setdefault(o, [])
    if version == 4:
        egr.append(f"-A {o} -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp {DHCP_REQUEST} "
                   f"{C_DHCP} -j RETURN")
    else:
        for t in ICMP6_DAD:
            egr.append(f"-A {o} -s ::/128 -d ff02::/16 -p ipv6-icmp -m icmp6 --icmpv6-type {t} "
                       f"-j RETURN")
    egr.append(f"-A {o} -j {s}")
    egr.append(f"-A {o} -j {go}")

    spoof = chains.setdefault(s, [])
    pairs = [(ip, port.mac_address) for ip in port.ips(version)]
    if version == 6:
        pairs.append((link_local(port.mac_address), port.mac_address))
    pairs += [(ip, mac) for ip, mac in port.allowed_address_pairs if ip_version(ip) == version]
    done = set()
    for ip, mac in pairs:
        line = f"-A {s} -s {_host(ip)} -m mac --mac-source {mac} {C_PAIR} -j RETURN"
        if line not in done:
            done.add(line)
            spoof.append(line)
    spoof.append(f"-A {s} {C_NO_PAIR} -j DROP")
    return chains


def _group_chains(port: FwPort, desired: FwDesired, conf: FwConf, version: int,
                  stateful: bool, chains: dict[str, list[str]],
                  shared: dict[str, GroupChains]) -> tuple[str, str]:
    """The tails of i<port> and o<port> every port of the same groups (and
    statefulness) has: what follows the port's own lines up to the
    fallback. A RETURN in them ends the port's chain too (the port's chain
    has nothing after the jump); a DROP drops."""
    key = f"{'stateful' if stateful else 'stateless'}|{','.join(port.security_groups)}"
    known = shared.get(key)
    if known is None:
        gi, go = group_chain("ingress", key), group_chain("egress", key)
        session = ([f"-m state --state RELATED,ESTABLISHED {C_SESSION} -j RETURN"]
                   if stateful else [])
        ing = _group_chain_lines(gi, GROUP_INGRESS_HEAD[version],
                                 _group_lines(port, desired, conf, version, "ingress"), stateful)
        egr = _group_chain_lines(go, GROUP_EGRESS_HEAD[version] + session,
                                 _group_lines(port, desired, conf, version, "egress"), stateful)
        shared[key] = known = ((gi, ing), (go, egr))
    for name, lines in known:
        chains[name] = lines
    return known[0][0], known[1][0]


def _group_chain_lines(name: str, head: list[str], rules: list[str],
                       stateful: bool) -> list[str]:
    """A shared chain: `head`, the groups' rules, then (stateful) the
    INVALID drop and, last, the fallback."""
    tail = [f"-m state --state INVALID {C_INVALID} -j DROP"] if stateful else []
    return [f"-A {name} {line}" for line in [*head, *rules, *tail, f"{C_FALLBACK} -j {FALLBACK}"]]


def render(desired: FwDesired, conf: FwConf, zones: dict[str, int]) -> Rendered:
    out = Rendered(zones=dict(zones))
    if not conf.enabled:
        return out
    ports = sorted(desired.ports.values(), key=lambda p: p.id)
    filtered = [p for p in ports if p.filtered]
    trusted = [p for p in ports if p.trusted]
    for v in FAMILIES:
        f: dict[str, list[str]] = {TOP: [f"-A {TOP} -j {WRAP}-local"]}
        for name in ("FORWARD", "INPUT", "OUTPUT", "local"):
            f[f"{WRAP}-{name}"] = []
        fwd, inp = f[f"{WRAP}-FORWARD"], f[f"{WRAP}-INPUT"]
        sg: list[str] = []
        shared: dict[str, GroupChains] = {}
        groups_of = out.groups_of[v] = {}
        for n, p in enumerate(filtered):
            chains: dict[str, list[str]] = {}
            try:
                ends = _port_chains(p, desired, conf, v, chains, shared)
            except Exception as exc:  # noqa: BLE001 - a row the checks let through
                out.bad[p.id] = f"{type(exc).__name__}: {exc}"     # costs this port only
                p = filtered[n] = p.isolate()
                chains = {}
                ends = _port_chains(p, desired, conf, v, chains, shared)
            if ends is not None:
                groups_of[p.id] = ends
            t = tap(p.id)
            fwd.append(f"-A {WRAP}-FORWARD -m physdev --physdev-out {t} --physdev-is-bridged "
                       f"{C_TO_SG} -j {SG_CHAIN}")
            fwd.append(f"-A {WRAP}-FORWARD -m physdev --physdev-in {t} --physdev-is-bridged "
                       f"{C_TO_SG} -j {SG_CHAIN}")
            inp.append(f"-A {WRAP}-INPUT -m physdev --physdev-in {t} --physdev-is-bridged "
                       f"{C_INPUT} -j {egress_chain(p.id)}")
            sg.append(f"-A {SG_CHAIN} -m physdev --physdev-out {t} --physdev-is-bridged "
                      f"{C_JUMP} -j {ingress_chain(p.id)}")
            sg.append(f"-A {SG_CHAIN} -m physdev --physdev-in {t} --physdev-is-bridged "
                      f"{C_JUMP} -j {egress_chain(p.id)}")
            f.update(chains)
        for p in trusted:       # after the filtered ports: traffic *to* a VM is still filtered
            t = tap(p.id)
            for d in ("out", "in"):
                fwd.append(f"-A {WRAP}-FORWARD -m physdev --physdev-{d} {t} --physdev-is-bridged "
                           f"{C_TRUSTED} -j ACCEPT")
        sg.append(f"-A {SG_CHAIN} -j ACCEPT")
        f[SG_CHAIN] = sg
        f[FALLBACK] = [f"-A {FALLBACK} {C_DROP_ALL} -j DROP"]

        raw: dict[str, list[str]] = {f"{WRAP}-PREROUTING": [], f"{WRAP}-OUTPUT": []}
        pre = raw[f"{WRAP}-PREROUTING"]
        # first: a packet's first CT target decides (later ones leave it be)
        for p in filtered:
            if desired.is_stateless(p):
                pre.append(f"-A {WRAP}-PREROUTING -m physdev --physdev-in {tap(p.id)} "
                           f"{C_NOTRACK} -j CT --notrack")
        for net in sorted({p.network_id for p in ports}):
            zone, br = zones[net], bridge(net)
            pre.append(f"-A {WRAP}-PREROUTING -m physdev --physdev-in {br} {C_ZONE} "
                       f"-j CT --zone {zone}")
            pre.append(f"-A {WRAP}-PREROUTING -i {br} {C_ZONE} -j CT --zone {zone}")
        for p in ports:
            pre.append(f"-A {WRAP}-PREROUTING -m physdev --physdev-in {tap(p.id)} {C_ZONE} "
                       f"-j CT --zone {zones[p.network_id]}")
        out.tables[v] = {"filter": f, "raw": raw}

    if conf.use_ipset:
        remote = {r.remote_group_id for p in filtered for g in p.security_groups
                  for r in desired.rules.get(g, ()) if r.remote_group_id}
        for gid in sorted(remote):
            for v in FAMILIES:
                out.sets[set_name(gid, v)] = (v, frozenset(_members(desired, gid, v)))

    for p in filtered:
        t = tap(p.id)
        mac_chain, arp_chain = f"neutronMAC-{t}", f"neutronARP-{t}"
        try:
            macs, arp = _eb_lines(p, arp_chain)
        except Exception as exc:  # noqa: BLE001 - as for its iptables chains
            out.bad.setdefault(p.id, f"{type(exc).__name__}: {exc}")
            macs, arp = [], []
        # An empty MAC chain (policy DROP) drops every frame of the tap.
        out.eb[mac_chain] = [f"-A {mac_chain} -s {m} -i {t} -j RETURN" for m in macs]
        out.eb[arp_chain] = arp
        out.eb_jumps.append(f"-A PREROUTING -i {t} -j {mac_chain}")
        out.eb_jumps.append(f"-A PREROUTING -p ARP -i {t} -j {arp_chain}")
    return out


@functools.lru_cache(maxsize=16384)      # a function of the port alone (a frozen value)
def _eb_lines(p: FwPort, arp_chain: str) -> tuple[list[str], list[str]]:
    """The MACs a filtered tap may send from, and its ARP chain. Callers
    never change the lists."""
    if p.isolated:
        return [], []
    macs = sorted({p.mac_address} | {mac for _, mac in p.allowed_address_pairs})
    arp_ips = [*p.ips(4), *(ip for ip, _ in p.allowed_address_pairs if ip_version(ip) == 4)]
    arp: list[str] = []
    for ip in arp_ips:
        net = ipaddress.ip_network(ip, strict=False)
        text = str(net.network_address) if net.prefixlen == 32 else str(net)
        line = f"-A {arp_chain} -p ARP --arp-ip-src {text} -j ACCEPT"
        if line not in arp:
            arp.append(line)
    return macs, arp


def _version_of(member) -> int | None:
    try:
        return ip_version(member)
    except (ValueError, TypeError):
        return None


def _members(desired: FwDesired, group_id: str, version: int):
    """A remote group's members of one IP version as ipset prints them; an
    unreadable one is skipped (a missing allow filters more, never less)."""
    for member in desired.members.get(group_id, ()):
        try:
            if ip_version(member) == version:
                yield canonical_member(member)
        except (ValueError, TypeError):
            continue


# ---------------------------------------------------------------- diff

def _ours(chain: str) -> bool:
    return chain.startswith(OWN_PREFIXES)


def _jump_target(line: str) -> str | None:
    m = re.search(r" -j (\S+)$", line)
    return m.group(1) if m else None


def table_input(name: str, want: dict[str, list[str]], observed: dict[str, list[str]],
                jumps: dict[str, list[str]]) -> str:
    """The --noflush restore input for one table: changed chains of ours
    redeclared (that flushes them) and refilled, stale ones deleted, and our
    jumps at the top of the builtins; the builtins' other rules untouched.
    "" when the table already matches.

    Stale chains are flushed before any `-D` line and deleted after them
    (once nothing jumps to them): on each `-F`, iptables-nft and
    ebtables-nft (1.8.9) walk the restore's pending rule changes by chain
    name, so 3,000 `-F` after 6,000 `-D` (1,000 ports gone of 5,000) were
    18M name comparisons: IPv4 1.23-1.29 s, 0.66-0.69 s flushed first."""
    changed = [c for c, rules in want.items() if observed.get(c) != rules]
    stale = [c for c in observed if _ours(c) and c not in want]
    fix: list[str] = []
    for builtin, targets in jumps.items():
        rules = observed.get(builtin, [])
        ours = [r for r in rules if _ours(_jump_target(r) or "")]
        wanted = [f"-A {builtin} -j {t}" for t in targets] if want else []
        if rules[:len(wanted)] != wanted or len(ours) != len(wanted):
            fix += [f"-D {r[3:]}" for r in ours]
            fix += [f"-I {builtin} {n} -j {t}" for n, t in enumerate(
                targets if want else [], start=1)]
    if not (changed or stale or fix):
        return ""
    # our chains hold only what we wrote, in that order: edits by position
    edits = {c: chain_edits(c, observed[c], want[c], by_number=True)
             for c in changed if c in observed}
    edits = {c: e for c, e in edits.items() if e is not None}
    rewrite = [c for c in changed if c not in edits]
    out = [f"*{name}"]
    out += [f":{c} - [0:0]" for c in rewrite]
    out += [f"-F {c}" for c in stale]          # before any -D (see above)
    out += [line for line in fix if line.startswith("-D ")]
    out += [line for c in edits for line in edits[c] if line.startswith("-D ")]
    out += [f"-X {c}" for c in stale]          # once no rule jumps to them
    for c in rewrite:
        out += want[c]
    out += [line for c in edits for line in edits[c] if line.startswith("-I ")]
    out += [line for line in fix if line.startswith("-I ")]
    if _zero_first(len(out), len(rewrite) + len(edits) + len(stale), observed):
        out.insert(1, "-Z")
    out.append("COMMIT")
    return "\n".join(out) + "\n"


def _zero_first(lines: int, chains: int, observed: dict[str, list[str]]) -> bool:
    """Whether to start the restore with `-Z` (zero the table's counters).

    iptables-nft (1.8.x) `--noflush` keeps the chains a restore names in a
    sorted linked list, searched with strcmp for every line: lines x chains
    (a cold start at 5,000 ports: ~9 s of the 11.5 s per IP version). A
    command naming no chain, as `-Z`, makes it cache all chains and stop
    listing them. `-Z` itself rewrites every rule of the table to zero its
    counter (nothing of ours reads counters), so it pays only when the
    table holds few rules for the restore's size: a cold start, a first
    sync, a large change."""
    have = sum(len(rules) for rules in observed.values())
    return lines * chains > ZERO_FIRST_RATIO * have and lines * chains > ZERO_FIRST_MIN


def chain_edits(chain: str, have: list[str], want: list[str],
                by_number: bool = False) -> list[str] | None:
    """A few -D/-I lines turning `have` into `want` (still inside the one
    atomic restore), so a port added is one insert into the long chains
    (sg-chain, FORWARD) rather than their rewrite; None when a rewrite is
    simpler (duplicate lines, most of the chain changes) or cheaper.

    `by_number`: the rules go by position (`-D chain N`, last first, so the
    numbers ahead stay right), for chains only their owner writes and whose
    `have` is exactly the kernel's order. By rule text, iptables-nft compares
    each `-D <rule>` with the chain's rules one by one (1,000 ports deleted of
    5,000: 2,000 deletes in a chain of 10,000, ~13 s of CPU); by position,
    500 ports gone of 5,000 took 0.5 s, a rewrite of the chains 3.1 s."""
    if len(set(have)) != len(have) or len(set(want)) != len(want):
        return None
    keep = set(have) & set(want)
    common_have = [r for r in have if r in keep]
    common_want = [r for r in want if r in keep]
    if common_have != common_want:          # reordered: rewrite
        return None
    if by_number:
        deletes = [f"-D {chain} {n}" for n in range(len(have), 0, -1) if have[n - 1] not in keep]
    else:
        deletes = [f"-D {r[3:]}" for r in have if r not in keep]
    inserts = [f"-I {chain} {n} {r[4 + len(chain):]}"
               for n, r in enumerate(want, start=1) if r not in keep]
    if len(deletes) + len(inserts) > len(want):
        return None
    if not by_number and len(deletes) * len(have) > DELETE_BUDGET * len(want):
        return None
    return deletes + inserts


def _ipset_input(rendered: Rendered, observed: Observed) -> tuple[str, list[str]]:
    lines: list[str] = []
    for name, (v, members) in sorted(rendered.sets.items()):
        have = observed.sets.get(name)
        if have is None:
            lines.append(f"create {name} hash:net family {'inet' if v == 4 else 'inet6'}")
            have = set()
        lines += [f"add {name} {m}" for m in sorted(members - have)]
        lines += [f"del {name} {m}" for m in sorted(have - members)]
    stale = sorted(n for n in observed.sets if n.startswith(SET_PREFIXES)
                   and n not in rendered.sets)
    return ("\n".join(lines) + "\n" if lines else ""), stale


def _ebtables_input(rendered: Rendered, observed: Observed) -> str:
    """`observed.ebtables["PREROUTING"]` is the kernel's, other rules
    included: our jumps leave it by position (`-D PREROUTING N`, last
    first). By rule text ebtables-nft compares each with the chain's rules
    one by one: 500 ports gone at random of 5,000, 3.8 s against 0.3 s."""
    want = rendered.eb
    changed = [c for c, rules in want.items()
               if observed.ebtables.get(c) != rules or observed.eb_policy.get(c) != "DROP"]
    stale = [c for c in observed.ebtables if c.startswith(EB_PREFIXES) and c not in want]
    prerouting = observed.ebtables.get("PREROUTING", [])
    have_jumps = [r for r in prerouting if (_jump_target(r) or "").startswith(EB_PREFIXES)]
    want_jumps, had = set(rendered.eb_jumps), set(have_jumps)     # 2 per port: sets
    dels = [f"-D PREROUTING {n}" for n in range(len(prerouting), 0, -1)
            if prerouting[n - 1] in had and prerouting[n - 1] not in want_jumps]
    adds = [r for r in rendered.eb_jumps if r not in had]
    if not (changed or stale or dels or adds):
        return ""
    out = ["*nat"]
    if _zero_first(len(changed) * 3 + len(stale) * 2 + len(dels) + len(adds),
                   len(changed) + len(stale), observed.ebtables):
        out.append("-Z")               # ebtables-nft: the same list of chains as iptables'
    out += [f":{c} DROP" for c in changed]
    out += [f"-F {c}" for c in stale]          # before the -D lines, as table_input's
    out += dels
    out += [f"-X {c}" for c in stale]
    for c in changed:
        out += want[c]
    out += adds
    out.append("COMMIT")
    return "\n".join(out) + "\n"


def _conntrack(desired: FwDesired, rendered: Rendered, observed: Observed) -> list[ConntrackDelete]:
    """Flows a removed allow had let in stop now: for each filtered port
    whose chain lost a rule, its flows in that direction are forgotten (the
    next packet is judged as NEW by the new rules); for each address that
    left a remote group, the flows between it and the ports matching it."""
    out: list[ConntrackDelete] = []
    removed_members = {name: observed.sets[name] - members
                       for name, (_, members) in rendered.sets.items()
                       if name in observed.sets and observed.sets[name] - members}
    same_of: dict[int, dict[str, bool]] = {v: {} for v in FAMILIES}
    users: dict[str, list[SetUser]] = {}     # removed set -> the ports matching it
    sets_in: dict[int, dict] = {v: {} for v in FAMILIES}    # see _sets_matched
    memo_of: dict[tuple[int, str], dict[str, list[str]]] = {
        (v, side): {} for v in FAMILIES for side in ("have", "want")}
    for port in sorted(desired.ports.values(), key=lambda p: p.id):
        if not port.filtered or port.network_id not in rendered.zones:
            continue
        zone = rendered.zones[port.network_id]
        for v in FAMILIES:
            ips = port.ips(v)
            have = observed.iptables.get(v, {}).get("filter", {})
            want = rendered.tables.get(v, {}).get("filter", {})
            same, memo_have, memo_want = same_of[v], memo_of[v, "have"], memo_of[v, "want"]
            for chain, key in ((ingress_chain(port.id), "dst"), (egress_chain(port.id), "src")):
                if chain in have and not _unchanged(chain, have, want, same):
                    before = _path(have, chain, memo_have) or []
                    after = _path(want, chain, memo_want) or []
                    if not set(before) <= set(after):
                        out += [ConntrackDelete(v, zone, **{key: ip}) for ip in ips]
                        continue
                if not removed_members:
                    continue
                ends = rendered.groups_of.get(v, {}).get(port.id)
                if ends is None:        # isolated: its chains name no set
                    continue
                side = "src" if key == "dst" else "dst"      # the remote end's
                for name in _sets_matched(ends[0 if key == "dst" else 1], want, side,
                                          removed_members, sets_in[v]):
                    users.setdefault(name, []).append(SetUser(v, zone, key, tuple(ips)))
    out += member_cuts(removed_members, users)
    return list(dict.fromkeys(out))


def _sets_matched(group_chain: str, chains: dict[str, list[str]], side: str,
                  names, memo: dict[tuple[str, str], list[str]]) -> list[str]:
    """Which of the sets `names` a port's group chain matches on `side` (a
    port's own chains name no set: its groups' chain does). Read once per
    chain and side: thousands of ports share it."""
    hits = memo.get((group_chain, side))
    if hits is None:
        hits = memo[(group_chain, side)] = [
            n for n in names
            if any(f"--match-set {n} {side}" in r for r in chains.get(group_chain, ()))]
    return hits


def _unchanged(chain: str, have: dict[str, list[str]], want: dict[str, list[str]],
               same: dict[str, bool]) -> bool:
    """The port chain and the group chains it jumps to are as they were
    (the common case: a full resync; `same` remembers each group chain's answer)."""
    rules = have.get(chain)
    if rules != want.get(chain):
        return False
    for line in rules:
        if f" -j {WRAP}-g" in line:
            target = line.rsplit(" ", 1)[-1]
            if target not in same:
                same[target] = have.get(target) == want.get(target)
            if not same[target]:
                return False
    return True


def _path(chains: dict[str, list[str]], chain: str,
          memo: dict[str, list[str]]) -> list[str] | None:
    """A port chain's rules followed by those of the group chains it jumps
    to, without the "-A chain" (a port that changes groups keeps the flows
    its new groups' chain still allows); None if the chain is absent.
    `memo`: group chain -> its rules so (shared by thousands of ports)."""
    rules = chains.get(chain)
    if rules is None:
        return None
    out = []
    for line in rules:
        target = line[line.rfind(" ") + 1:]          # our filter lines end "-j <target>"
        if target.startswith(GROUP_PREFIXES):
            body = memo.get(target)
            if body is None:
                body = memo[target] = [r.split(" ", 2)[2] for r in chains.get(target, ())]
            out += body
        else:
            out.append(line.split(" ", 2)[2])
    return out


def plan(desired: FwDesired, rendered: Rendered, observed: Observed,
         families=FAMILIES) -> FwPlan:
    """What to run so that the kernel shows `rendered`; `families`: the IP
    versions whose tables were observed (the others are known to match)."""
    result = FwPlan(conntrack=_conntrack(desired, rendered, observed))
    result.ipset_before, result.ipset_after = _ipset_input(rendered, observed)
    for v in families:
        parts = []
        have = observed.iptables.get(v, {})
        for table in ("raw", "filter"):
            want = rendered.tables.get(v, {}).get(table, {})
            text = table_input(table, want, have.get(table, {}), JUMPS[table])
            if text:
                parts.append(text)
        if parts:
            result.iptables[v] = "".join(parts)
    result.ebtables = _ebtables_input(rendered, observed)
    result.additive = not any(_ours(c) for v in families
                              for chains in observed.iptables.get(v, {}).values() for c in chains
                              ) and not any(c.startswith(EB_PREFIXES) for c in observed.ebtables)
    return result

