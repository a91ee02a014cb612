"""What a port's QoS looks like in the kernel, as pure functions.

Directions are the instance's, as upstream: "egress" is what the instance
sends (it enters the host on the tap), "ingress" what it receives (it
leaves the host through the tap).

- ingress limit: a token bucket (tbf) as the tap's root qdisc, as
  upstream's linuxbridge driver;
- egress limit: the tap's ingress traffic is redirected (tc mirred) to an
  ifb device "qos<port id[:11]>" whose root qdisc is the token bucket —
  upstream polices on the tap's ingress qdisc instead; this kernel has no
  police action, and shaping drops less than policing (a deviation);
- DSCP mark: rules in the nftables table `bridge neutrino-qos` set the
  DSCP field of the IPv4 and IPv6 packets a tap sends, as the bridge
  receives them (upstream uses an iptables mangle chain per port).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NFT_TABLE = "neutrino-qos"
LATENCY = "50ms"
MIN_BURST_BYTES = 3000      # at least two full frames, whatever the rate


@dataclass(frozen=True)
class Limit:
    max_kbps: int
    max_burst_kbps: int

    def tbf(self) -> list[str]:
        """tbf arguments: burst as given, else 80 % of a second's worth
        (upstream's default burst), never below two frames."""
        burst_kbit = self.max_burst_kbps or int(self.max_kbps * 0.8)
        burst = max(burst_kbit * 125, MIN_BURST_BYTES)
        return ["tbf", "rate", f"{max(self.max_kbps, 1)}kbit", "burst", f"{burst}b",
                "latency", LATENCY]


@dataclass(frozen=True)
class QosSpec:
    egress: Limit | None = None
    ingress: Limit | None = None
    dscp_mark: int | None = None

    @classmethod
    def from_wire(cls, d: dict[str, Any] | None) -> QosSpec | None:
        if not d:
            return None
        spec = cls(egress=_limit(d.get("egress")), ingress=_limit(d.get("ingress")),
                   dscp_mark=d.get("dscp_mark"))
        return spec if spec != cls() else None

    def qdiscs(self) -> set[str]:
        """The qdisc kinds the tap must show ("tbf" root, "ingress")."""
        kinds = set()
        if self.ingress:
            kinds.add("tbf")
        if self.egress:
            kinds.add("ingress")
        return kinds


def _limit(d: dict | None) -> Limit | None:
    if not d:
        return None
    return Limit(int(d["max_kbps"]), int(d.get("max_burst_kbps") or 0))


def ifb_name(port_id: str) -> str:
    return "qos" + port_id[:11]


def plan(wanted: dict[str, QosSpec | None], applied: dict[str, QosSpec | None],
         broken: set[str] = frozenset()) -> dict[str, QosSpec | None]:
    """{tap: spec to program (None: remove)} for the taps whose programmed
    QoS (`applied`; a tap not in it has none of ours) differs from the
    wanted one, or that were found `broken`."""
    out: dict[str, QosSpec | None] = {}
    for tap in set(wanted) | set(applied):
        want = wanted.get(tap)
        if tap in broken or (want != applied.get(tap) and (want or tap in applied)):
            out[tap] = want
    return out


def clear_commands(tap: str, ifb: str) -> list[tuple[list[str], bool]]:
    """(argv, must succeed) removing whatever QoS the tap had."""
    return [(["tc", "qdisc", "del", "dev", tap, "root"], False),
            (["tc", "qdisc", "del", "dev", tap, "ingress"], False),
            (["ip", "link", "del", ifb], False)]


def set_commands(tap: str, ifb: str, spec: QosSpec) -> list[tuple[list[str], bool]]:
    """(argv, must succeed) programming `spec` on a tap without QoS."""
    cmds: list[tuple[list[str], bool]] = []
    if spec.ingress:
        cmds.append((["tc", "qdisc", "replace", "dev", tap, "root", *spec.ingress.tbf()], True))
    if spec.egress:
        cmds += [(["ip", "link", "add", ifb, "type", "ifb"], True),
                 (["ip", "link", "set", ifb, "up"], True),
                 (["tc", "qdisc", "replace", "dev", ifb, "root", *spec.egress.tbf()], True),
                 (["tc", "qdisc", "add", "dev", tap, "ingress"], True),
                 (["tc", "filter", "add", "dev", tap, "parent", "ffff:", "protocol", "all",
                   "prio", "1", "u32", "match", "u32", "0", "0", "action", "mirred", "egress",
                   "redirect", "dev", ifb], True)]
    return cmds


def nft_script(marks: dict[str, int]) -> str:
    """The whole table: the bridge's prerouting hook marks what each
    marked tap sends ({tap: mark}). The bridge family, not the tap's netdev
    ingress hook: an egress limit hands the tap's traffic to the ifb, whose
    re-injection skips the tap's ingress hooks but not the bridge's."""
    lines = [f"table bridge {NFT_TABLE} {{}}", f"delete table bridge {NFT_TABLE}",
             f"table bridge {NFT_TABLE} {{", "  chain prerouting {",
             "    type filter hook prerouting priority filter;"]
    for tap, mark in sorted(marks.items()):
        lines += [f'    iifname "{tap}" ip dscp set {mark}',
                  f'    iifname "{tap}" ip6 dscp set {mark}']
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
