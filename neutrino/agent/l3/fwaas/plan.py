"""render(router) -> Rendered and plan(rendered, observed) -> FwaasPlan: the
pure part of FWaaS v2 in a router's namespace. No I/O.

The chains are upstream's v2 iptables driver's (neutron-fwaas
iptables_fwaas_v2), in the filter table of both IP versions, written as
`iptables-save` prints them so the kernel is diffed line by line:

  FORWARD                   -j neutron-l3-agent-FORWARD   (first; others' rules untouched)
  neutron-l3-agent-FORWARD  for each port of an enforced group: -o <dev> -j iv<v><fwg>
                            (ingress: packets leaving the router into the port's
                            network), then for each: -i <dev> -j ov<v><fwg> (egress),
                            then for every port in a group: -o <dev>, -i <dev>
                            -j neutron-l3-agent-fwaas-defau
  iv<v><fwg>, ov<v><fwg>    INVALID -> dropped; RELATED,ESTABLISHED ACCEPT;
                            TCP NEW but not SYN -> dropped (ours); the policy's
                            enabled rules of that IP version, in order,
                            -> accepted | dropped | rejected
  accepted / dropped        ACCEPT / DROP
  rejected                  tcp: REJECT tcp-reset; else icmp(6)-port-unreachable
  fwaas-defau               -j dropped

So, as upstream: traffic through a port in no group is not filtered; a
direction without a policy passes established flows only; a group that is
administratively down (or whose data is unusable) has no chains, and
everything through its ports is dropped. A packet between two filtered
ports meets the ingress chain of its way out first, then the egress chain
of its way in: the first allow, deny or reject decides.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field

from neutrino.agent.l2.firewall.plan import SAVE_NAMES, chain_edits
from neutrino.agent.l3.fwaas.model import (ACCEPTED, ACTION_CHAINS, DEFAULT_CHAIN, DROPPED,
                                           FAMILIES, FORWARD_CHAIN, REJECTED, FirewallGroup,
                                           FwRule, chain_tags, group_chain, is_ours)

DIRECTION_FLAG = {"ingress": "-o", "egress": "-i"}
# A TCP packet conntrack sees as NEW that is not a SYN: the middle of a
# session it does not know (one we cut). Without this, the side whose
# policy still lets it out would pick the session up again ("loose" pickup).
MIDSTREAM = "-p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m state --state NEW"
VERDICTS = {"allow": "ACCEPT", "deny": "DROP", "reject": "REJECT"}


@dataclass(frozen=True)
class Jump:
    """One rule of neutron-l3-agent-FORWARD: packets leaving (-o) or
    entering (-i) the router through `dev` go to the group's chain of
    `direction`; group None: the default drop."""
    flag: str
    dev: str
    group: FirewallGroup | None = None
    direction: str | None = None


@dataclass
class Rendered:
    """chains[v] = chain -> ['-A chain ...'] (empty: no FWaaS on the router);
    jumps in FORWARD order (the matcher walks them); ports: device -> group."""
    chains: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    jumps: tuple[Jump, ...] = ()
    ports: dict[str, FirewallGroup] = field(default_factory=dict)

    @property
    def groups(self) -> dict[str, FirewallGroup]:
        return {g.id: g for g in self.ports.values()}


@dataclass
class FwaasPlan:
    iptables: dict[int, str] = field(default_factory=dict)   # version -> restore input

    @property
    def empty(self) -> bool:
        return not self.iptables


# ---------------------------------------------------------------- render

def _ports(rng: tuple[int, int]) -> str | None:
    lo, hi = rng
    if (lo, hi) == (0, 65535):      # iptables-save prints no flag for the full range
        return None
    return str(lo) if lo == hi else f"{lo}:{hi}"


def rule_line(chain: str, rule: FwRule) -> str:
    """One policy rule as iptables-save prints it."""
    parts = [f"-A {chain}"]
    for flag, net in (("-s", rule.source), ("-d", rule.destination)):
        if net is not None and net.prefixlen:
            parts.append(f"{flag} {net}")
    if rule.protocol:
        parts.append(f"-p {SAVE_NAMES.get(rule.protocol, str(rule.protocol))}")
    if rule.has_ports:
        parts.append(f"-m {'tcp' if rule.protocol == 6 else 'udp'}")
        for flag, rng in (("--sport", rule.source_port), ("--dport", rule.destination_port)):
            text = _ports(rng) if rng is not None else None
            if text is not None:
                parts.append(f"{flag} {text}")
    parts.append(f"-j {ACTION_CHAINS[rule.action]}")
    return " ".join(parts)


def render(router) -> Rendered:
    """`router`: neutrino.agent.l3.model.Router (its ports carry their group)."""
    ports = {dev: p.firewall_group for dev, p in sorted(router.devices().items())
             if p.firewall_group is not None}
    out = Rendered(chains={v: {} for v in FAMILIES}, ports=ports)
    if not ports:
        return out
    enforced = {g.id: g for g in ports.values() if g.enforcing}
    tags = chain_tags(enforced)
    jumps = [Jump(DIRECTION_FLAG[d], dev, g, d) for d in ("ingress", "egress")
             for dev, g in ports.items() if g.enforcing]
    jumps += [Jump(flag, dev) for flag in ("-o", "-i") for dev in ports]
    out.jumps = tuple(jumps)
    for v in FAMILIES:
        chains = out.chains[v]
        chains[FORWARD_CHAIN] = [
            f"-A {FORWARD_CHAIN} {j.flag} {j.dev} -j "
            + (group_chain(tags[j.group.id], v, j.direction) if j.group else DEFAULT_CHAIN)
            for j in jumps]
        chains[ACCEPTED] = [f"-A {ACCEPTED} -j ACCEPT"]
        chains[DROPPED] = [f"-A {DROPPED} -j DROP"]
        icmp = "icmp6" if v == 6 else "icmp"
        chains[REJECTED] = [f"-A {REJECTED} -p tcp -j REJECT --reject-with tcp-reset",
                            f"-A {REJECTED} -j REJECT --reject-with {icmp}-port-unreachable"]
        chains[DEFAULT_CHAIN] = [f"-A {DEFAULT_CHAIN} -j {DROPPED}"]
        for gid, group in sorted(enforced.items()):
            for direction in ("ingress", "egress"):
                name = group_chain(tags[gid], v, direction)
                lines = [f"-A {name} -m state --state INVALID -j {DROPPED}",
                         f"-A {name} -m state --state RELATED,ESTABLISHED -j ACCEPT",
                         f"-A {name} {MIDSTREAM} -j {DROPPED}"]
                lines += [rule_line(name, r) for r in group.rules(direction)
                          if r.enabled and r.ip_version == v]
                chains[name] = lines
    return out


# ---------------------------------------------------------------- diff

_PROTO = re.compile(r" -p (\S+)")
_BY_NAME = {name: number for number, name in SAVE_NAMES.items()}


_PORTABLE = ("tcp", "udp", "icmp", "ipv6-icmp")     # names every iptables knows


def _number(name: str) -> int | None:
    if name.isdigit():
        return int(name)
    if name in _BY_NAME:
        return _BY_NAME[name]
    try:
        return socket.getprotobyname(name)
    except OSError:
        return None


def _proto_spelling(match: re.Match) -> str:
    number = _number(match.group(1))
    return match.group(0) if number is None else f" -p {SAVE_NAMES.get(number, str(number))}"


def _proto_written(match: re.Match) -> str:
    name = match.group(1)
    number = None if name in _PORTABLE else _number(name)
    return match.group(0) if number is None else f" -p {number}"


def written(line: str) -> str:
    """A rule as given to iptables-restore: protocols other than the common
    four by number (this machine's protocol table may lack the name)."""
    return _PROTO.sub(_proto_written, line) if " -p " in line else line


def canonical(line: str) -> str:
    """A rule with its protocol spelled as render() spells it: iptables-save
    prints names from the machine's protocol table (113 is "pgm" on some,
    "113" on others; 115 "l2tp" here)."""
    return _PROTO.sub(_proto_spelling, line) if " -p " in line else line


def _target(line: str) -> str:
    m = re.search(r" -j (\S+)$", line)
    return m.group(1) if m else ""


def table_input(want: dict[str, list[str]], observed: dict[str, list[str]]) -> str:
    """The --noflush restore input making the filter table's chains of ours
    `want` (the others' chains and rules untouched); "" if they match."""
    want = {c: [canonical(r) for r in rules] for c, rules in want.items()}
    observed = {c: [canonical(r) for r in rules] if is_ours(c) else rules
                for c, rules in observed.items()}
    changed = [c for c, rules in want.items() if observed.get(c) != rules]
    stale = [c for c in observed if is_ours(c) and c not in want]
    forward = observed.get("FORWARD", [])
    ours = [r for r in forward if is_ours(_target(r))]
    wanted = [f"-A FORWARD -j {FORWARD_CHAIN}"] if want else []
    fix: list[str] = []
    if forward[:len(wanted)] != wanted or len(ours) != len(wanted):
        fix += [f"-D {r[3:]}" for r in ours]
        fix += [f"-I FORWARD 1 -j {FORWARD_CHAIN}"] if want else []
    if not (changed or stale or fix):
        return ""
    edits = {c: chain_edits(c, observed[c], want[c]) for c in changed if c in observed}
    edits = {c: e for c, e in edits.items() if e is not None}
    rewrite = [c for c in changed if c not in edits]
    out = ["*filter"]
    out += [f":{c} - [0:0]" for c in rewrite]           # declare: create or flush
    out += [line for line in fix if line.startswith("-D ")]
    out += [line for c in edits for line in edits[c] if line.startswith("-D ")]
    out += [f"-F {c}" for c in stale]
    out += [f"-X {c}" for c in stale]
    for c in rewrite:
        out += want[c]
    out += [line for c in edits for line in edits[c] if line.startswith("-I ")]
    out += [line for line in fix if line.startswith("-I ")]
    out.append("COMMIT")
    return "\n".join(written(line) for line in out) + "\n"


def plan(rendered: Rendered, observed: dict[int, dict[str, list[str]]]) -> FwaasPlan:
    """`observed[v]`: the filter table of IP version v (parse_save)."""
    result = FwaasPlan()
    for v in FAMILIES:
        text = table_input(rendered.chains.get(v, {}), observed.get(v, {}))
        if text:
            result.iptables[v] = text
    return result


# ---------------------------------------------------------------- conntrack

@dataclass(frozen=True)
class Flow:
    """One conntrack entry: the original tuple and the reply's source (after
    DNAT: where the flow really goes)."""
    version: int
    proto: int
    src: str
    dst: str
    reply_src: str
    sport: int | None = None
    dport: int | None = None
    reply_sport: int | None = None
    icmp: tuple[int, int, int] | None = None       # type, code, id

    def delete_argv(self) -> list[str]:
        """`conntrack -D` for exactly this flow."""
        names = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
        argv = ["conntrack", "-D", "-f", "ipv6" if self.version == 6 else "ipv4",
                "-p", names.get(self.proto, str(self.proto)), "-s", self.src, "-d", self.dst]
        if self.sport is not None and self.dport is not None:
            argv += ["--sport", str(self.sport), "--dport", str(self.dport)]
        if self.icmp is not None:
            kind = "icmpv6" if self.proto == 58 else "icmp"
            t, c, i = self.icmp
            argv += [f"--{kind}-type", str(t), f"--{kind}-code", str(c), f"--{kind}-id", str(i)]
        return argv


def parse_flows(lines, version: int) -> list[Flow]:
    """`conntrack -L` lines -> flows (lines it cannot read are skipped)."""
    out = []
    for line in lines:
        tokens = line.split()
        if tokens and tokens[0] in ("ipv4", "ipv6"):      # -o extended
            tokens = tokens[2:]
        if len(tokens) < 2 or not tokens[1].isdigit():
            continue
        orig: dict[str, str] = {}
        reply: dict[str, str] = {}
        for token in tokens[2:]:
            key, sep, value = token.partition("=")
            if not sep:
                continue
            if key not in orig:
                orig[key] = value
            elif key not in reply:
                reply[key] = value
        if not {"src", "dst"} <= set(orig) or "src" not in reply:
            continue
        try:
            icmp = None
            if "type" in orig and "code" in orig and "id" in orig:
                icmp = (int(orig["type"]), int(orig["code"]), int(orig["id"]))
            out.append(Flow(version, int(tokens[1]), orig["src"], orig["dst"], reply["src"],
                            sport=int(orig["sport"]) if "sport" in orig else None,
                            dport=int(orig["dport"]) if "dport" in orig else None,
                            reply_sport=int(reply["sport"]) if "sport" in reply else None,
                            icmp=icmp))
        except ValueError:
            continue
    return out


def _routes(router) -> list[tuple[ipaddress._BaseNetwork, str]]:
    """(network, device) the router forwards by: connected, extra, default."""
    devices = router.devices()
    connected = [(ipaddress.ip_interface(c).network, dev)
                 for dev, port in devices.items() for c in port.cidrs]
    out = list(connected)
    for dest, hop in router.desired_routes().items():
        hop_ip = ipaddress.ip_address(hop)
        dev = next((d for net, d in connected if hop_ip in net), None)
        if dev is not None:
            out.append((ipaddress.ip_network(dest, strict=False), dev))
    return out


def _device(routes, ip) -> str | None:
    best = None
    for net, dev in routes:
        if net.version == ip.version and ip in net and (best is None
                                                        or net.prefixlen > best[0].prefixlen):
            best = (net, dev)
    return best[1] if best else None


def _rule_matches(rule: FwRule, flow: Flow, src, dst) -> bool:
    if rule.protocol and rule.protocol != flow.proto:
        return False
    if rule.source is not None and src not in rule.source:
        return False
    if rule.destination is not None and dst not in rule.destination:
        return False
    if rule.has_ports:
        for rng, port in ((rule.source_port, flow.sport), (rule.destination_port,
                                                             flow.reply_sport)):
            if rng is not None and (port is None or not rng[0] <= port <= rng[1]):
                return False
    return True


def verdict(flow: Flow, rendered: Rendered, router) -> str | None:
    """How the FORWARD chain would judge the flow's first packet now (as it
    is seen there: after DNAT, before SNAT); None: not forwarded (to or
    from the router itself, or not routable here)."""
    src, dst = ipaddress.ip_address(flow.src), ipaddress.ip_address(flow.reply_src)
    local = {ipaddress.ip_interface(c).ip for p in router.devices().values() for c in p.cidrs}
    if src in local or dst in local:
        return None
    routes = _routes(router)
    devs = {"-i": _device(routes, src), "-o": _device(routes, dst)}
    if None in devs.values():
        return None
    for jump in rendered.jumps:
        if devs[jump.flag] != jump.dev:
            continue
        if jump.group is None:
            return "DROP"
        for rule in jump.group.rules(jump.direction):
            if rule.enabled and rule.ip_version == flow.version and _rule_matches(
                    rule, flow, src, dst):
                return VERDICTS[rule.action]
    return "ACCEPT"


def forbidden(flows, rendered: Rendered, router) -> list[Flow]:
    """The flows the rules now in place would not let start."""
    return [f for f in flows if verdict(f, rendered, router) in ("DROP", "REJECT")]
