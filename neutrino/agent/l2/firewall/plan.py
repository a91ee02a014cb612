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

import ipaddress
import re
from dataclasses import dataclass, field

from neutrino.agent.l2.firewall.model import (EB_PREFIXES, FALLBACK, FAMILIES, OWN_PREFIXES,
                                              SET_PREFIXES, SG_CHAIN, TOP, WRAP, ZONE_BASE,
                                              ConntrackDelete, FwConf, FwDesired, FwPlan, FwPort,
                                              Observed, SgRule, bridge, canonical_member,
                                              egress_chain, ingress_chain, ip_version, set_name,
                                              spoof_chain, tap)

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

# Builtin chain -> our jumps, in order, at the top of it (never flushed: not ours).
JUMPS = {
    "filter": {"FORWARD": [TOP, f"{WRAP}-FORWARD"], "INPUT": [f"{WRAP}-INPUT"],
               "OUTPUT": [TOP, f"{WRAP}-OUTPUT"]},
    "raw": {"PREROUTING": [f"{WRAP}-PREROUTING"], "OUTPUT": [f"{WRAP}-OUTPUT"]},
}
ICMP6_INGRESS = (130, 134, 135, 136)     # MLD query, RA, NS, NA
ICMP6_DAD = (131, 135, 143)              # MLD report, NS, MLDv2 report from ::


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


def link_local(mac: str) -> str:
    """The EUI-64 link-local address a MAC gives (IPv6 spoof chain)."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 2
    eui = b[:3] + [0xFF, 0xFE] + b[3:]
    words = [(eui[i] << 8) | eui[i + 1] for i in range(0, 8, 2)]
    return str(ipaddress.IPv6Address("fe80::" + ":".join(f"{w:x}" for w in words)))


def _port_chains(port: FwPort, desired: FwDesired, conf: FwConf, version: int,
                 chains: dict[str, list[str]]) -> None:
    i, o, s = ingress_chain(port.id), egress_chain(port.id), spoof_chain(port.id)
    if port.isolated:       # nothing in, nothing out
        chains[i] = [f"-A {i} {C_FALLBACK} -j {FALLBACK}"]
        chains[o] = [f"-A {o} {C_FALLBACK} -j {FALLBACK}"]
        return
    # Stateless groups (upstream's iptables driver): no session or INVALID
    # lines, replies pass only through the groups' own rules.
    stateful = not desired.is_stateless(port)
    ing = chains.setdefault(i, [])
    if stateful:
        ing.append(f"-A {i} -m state --state RELATED,ESTABLISHED {C_SESSION} -j RETURN")
    if version == 4:
        for ip in port.ips(4):
            ing.append(f"-A {i} -d {_host(ip)} -p udp -m udp --sport 67 --dport 68 -j RETURN")
        ing.append(f"-A {i} -d 255.255.255.255/32 -p udp -m udp --sport 67 --dport 68 -j RETURN")
    else:
        for t in ICMP6_INGRESS:
            ing.append(f"-A {i} -p ipv6-icmp -m icmp6 --icmpv6-type {t} -j RETURN")
        ing.append(f"-A {i} -p udp -m udp --sport 547 --dport 546 -j RETURN")
    ing += [f"-A {i} {line}" for line in _group_lines(port, desired, conf, version, "ingress")]
    if stateful:
        ing.append(f"-A {i} -m state --state INVALID {C_INVALID} -j DROP")
    ing.append(f"-A {i} {C_FALLBACK} -j {FALLBACK}")

    egr = chains.setdefault(o, [])
    if version == 4:
        egr.append(f"-A {o} -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 "
                   f"--dport 67 {C_DHCP} -j RETURN")
        egr.append(f"-A {o} -j {s}")
        egr.append(f"-A {o} -p udp -m udp --sport 68 --dport 67 {C_DHCP} -j RETURN")
        egr.append(f"-A {o} -p udp -m udp --sport 67 --dport 68 {C_DHCP_SPOOF} -j DROP")
    else:
        for t in ICMP6_DAD:
            egr.append(f"-A {o} -s ::/128 -d ff02::/16 -p ipv6-icmp -m icmp6 --icmpv6-type {t} "
                       f"-j RETURN")
        egr.append(f"-A {o} -j {s}")
        egr.append(f"-A {o} -p ipv6-icmp -m icmp6 --icmpv6-type 134 {C_RA} -j DROP")
        egr.append(f"-A {o} -p ipv6-icmp {C_ICMP6} -j RETURN")
        egr.append(f"-A {o} -p udp -m udp --sport 546 --dport 547 {C_DHCP} -j RETURN")
        egr.append(f"-A {o} -p udp -m udp --sport 547 --dport 546 {C_DHCP_SPOOF} -j DROP")
    if stateful:
        egr.append(f"-A {o} -m state --state RELATED,ESTABLISHED {C_SESSION} -j RETURN")
    egr += [f"-A {o} {line}" for line in _group_lines(port, desired, conf, version, "egress")]
    if stateful:
        egr.append(f"-A {o} -m state --state INVALID {C_INVALID} -j DROP")
    egr.append(f"-A {o} {C_FALLBACK} -j {FALLBACK}")

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
        for n, p in enumerate(filtered):
            chains: dict[str, list[str]] = {}
            try:
                _port_chains(p, desired, conf, v, chains)
            except Exception as exc:  # noqa: BLE001 - a row the checks let through
                out.bad[p.id] = f"{type(exc).__name__}: {exc}"     # costs this port only
                p = filtered[n] = p.isolate()
                chains = {}
                _port_chains(p, desired, conf, v, chains)
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
            macs, arp = _eb_lines(p, mac_chain, arp_chain)
        except Exception as exc:  # noqa: BLE001 - as for its iptables chains
            out.bad.setdefault(p.id, f"{type(exc).__name__}: {exc}")
            macs, arp = [], []
        # An empty MAC chain (policy DROP) drops every frame of the tap.
        out.eb[mac_chain] = [f"-A {mac_chain} -s {m} -i {t} -j RETURN" for m in macs]
        out.eb[arp_chain] = arp
        out.eb_jumps.append(f"-A PREROUTING -i {t} -j {mac_chain}")
        out.eb_jumps.append(f"-A PREROUTING -p ARP -i {t} -j {arp_chain}")
    return out


def _eb_lines(p: FwPort, mac_chain: str, arp_chain: str) -> tuple[list[str], list[str]]:
    """The MACs a filtered tap may send from, and its ARP chain."""
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
    "" when the table already matches."""
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
    edits = {c: chain_edits(c, observed[c], want[c]) for c in changed if c in observed}
    edits = {c: e for c, e in edits.items() if e is not None}
    rewrite = [c for c in changed if c not in edits]
    out = [f"*{name}"]
    out += [f":{c} - [0:0]" for c in rewrite]
    out += [line for line in fix if line.startswith("-D ")]
    out += [line for c in edits for line in edits[c] if line.startswith("-D ")]
    out += [f"-F {c}" for c in stale]
    out += [f"-X {c}" for c in stale]
    for c in rewrite:
        out += want[c]
    out += [line for c in edits for line in edits[c] if line.startswith("-I ")]
    out += [line for line in fix if line.startswith("-I ")]
    out.append("COMMIT")
    return "\n".join(out) + "\n"


def chain_edits(chain: str, have: list[str], want: list[str]) -> list[str] | None:
    """A few -D/-I lines turning `have` into `want` (still inside the one
    atomic restore), so a rule added to a group of 1,000 ports is 1,000
    inserts rather than 1,000 chains rewritten; None when a rewrite is
    simpler (duplicate lines, or most of the chain changes)."""
    if len(set(have)) != len(have) or len(set(want)) != len(want):
        return None
    keep = set(have) & set(want)
    common_have = [r for r in have if r in keep]
    common_want = [r for r in want if r in keep]
    if common_have != common_want:          # reordered: rewrite
        return None
    deletes = [f"-D {r[3:]}" for r in have if r not in keep]
    inserts = [f"-I {chain} {n} {r[4 + len(chain):]}"
               for n, r in enumerate(want, start=1) if r not in keep]
    if len(deletes) + len(inserts) > len(want):
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
    want = rendered.eb
    changed = [c for c, rules in want.items()
               if observed.ebtables.get(c) != rules or observed.eb_policy.get(c) != "DROP"]
    stale = [c for c in observed.ebtables if c.startswith(EB_PREFIXES) and c not in want]
    have_jumps = [r for r in observed.ebtables.get("PREROUTING", [])
                  if (_jump_target(r) or "").startswith(EB_PREFIXES)]
    dels = [f"-D {r[3:]}" for r in have_jumps if r not in rendered.eb_jumps]
    adds = [r for r in rendered.eb_jumps if r not in have_jumps]
    if not (changed or stale or dels or adds):
        return ""
    out = ["*nat"]
    out += [f":{c} DROP" for c in changed]
    out += dels
    out += [f"-F {c}" for c in stale]
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
    for port in sorted(desired.ports.values(), key=lambda p: p.id):
        if not port.filtered or port.network_id not in rendered.zones:
            continue
        zone = rendered.zones[port.network_id]
        for v in FAMILIES:
            ips = port.ips(v)
            have = observed.iptables.get(v, {}).get("filter", {})
            want = rendered.tables.get(v, {}).get("filter", {})
            for chain, key in ((ingress_chain(port.id), "dst"), (egress_chain(port.id), "src")):
                before, after = have.get(chain), want.get(chain, [])
                if before is not None and any(line not in after for line in before):
                    out += [ConntrackDelete(v, zone, **{key: ip}) for ip in ips]
                    continue
                for name, gone in removed_members.items():
                    where = "src" if key == "dst" else "dst"
                    if not any(f"--match-set {name} {where}" in line for line in after):
                        continue
                    for member in sorted(gone):
                        if "/" in member:      # a CIDR pair: all the port's flows that way
                            out += [ConntrackDelete(v, zone, **{key: ip}) for ip in ips]
                        elif key == "dst":
                            out += [ConntrackDelete(v, zone, src=member, dst=ip) for ip in ips]
                        else:
                            out += [ConntrackDelete(v, zone, src=ip, dst=member) for ip in ips]
    return list(dict.fromkeys(out))


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
    return result

