"""What FWaaS enforces on one router: the firewall group of each router port,
as frozen values parsed from the `firewall_group` dict get_routers puts on
each router port (neutrino.rpc.l3_handlers), and the kernel names of
upstream's v2 iptables driver. No I/O.

A group whose data cannot be parsed is not guessed at: it keeps its id and
version, carries the reason, and is enforced like an administratively down
group (everything through its ports dropped) while it is reported ERROR.
"""
from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any

WRAP = "neutron-l3-agent"                 # upstream's wrap name of the L3 agent's chains
FORWARD_CHAIN = f"{WRAP}-FORWARD"
ACCEPTED = f"{WRAP}-accepted"
DROPPED = f"{WRAP}-dropped"
REJECTED = f"{WRAP}-rejected"
DEFAULT_CHAIN = f"{WRAP}-fwaas-defau"     # "fwaas-default-policy" cut to 11, as upstream
ACTION_CHAINS = {"allow": ACCEPTED, "deny": DROPPED, "reject": REJECTED}
OWN_CHAINS = (FORWARD_CHAIN, ACCEPTED, DROPPED, REJECTED, DEFAULT_CHAIN)
GROUP_PREFIXES = tuple(f"{WRAP}-{d}v{v}" for d in "io" for v in (4, 6))
# What the L3 agent's own iptables writer must leave alone in the filter table.
FOREIGN_TO_L3 = ("FORWARD",) + OWN_CHAINS + GROUP_PREFIXES
FAMILIES = (4, 6)
ACTIONS = ("allow", "deny", "reject")
PROTO_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58}
MAX_TAG = 11 - 3                          # chain name: wrap + "-" + 11 characters


def is_ours(chain: str) -> bool:
    return chain in OWN_CHAINS or chain.startswith(GROUP_PREFIXES)


def group_chain(tag: str, version: int, direction: str) -> str:
    """Upstream's per-group chain: i|o, v4|v6, the group id, 11 characters."""
    return f"{WRAP}-{'i' if direction == 'ingress' else 'o'}v{version}{tag}"[:len(WRAP) + 12]


def chain_tags(group_ids) -> dict[str, str]:
    """Group id -> the part of its chain names after i/o v4/v6: its first 8
    characters as upstream; a second group with the same 8 gets a hash."""
    tags: dict[str, str] = {}
    used: set[str] = set()
    for gid in sorted(group_ids):
        tag = gid[:MAX_TAG]
        if tag in used:
            tag = hashlib.sha1(gid.encode()).hexdigest()[:MAX_TAG]
        used.add(tag)
        tags[gid] = tag
    return tags


def parse_ports(text: str | None) -> tuple[int, int] | None:
    """"N" or "N:M" -> (N, M)."""
    if text is None:
        return None
    lo, sep, hi = str(text).partition(":")
    low = int(lo)
    high = int(hi) if sep else low
    if not (0 <= low <= high <= 65535):
        raise ValueError(f"bad port range {text!r}")
    return low, high


def parse_protocol(protocol: str | None, version: int) -> int | None:
    if protocol is None:
        return None
    text = str(protocol).strip().lower()
    number = PROTO_NAMES[text] if text in PROTO_NAMES else int(text)
    if not 0 <= number <= 255:
        raise ValueError(f"bad protocol {protocol!r}")
    if number in (1, 58):          # "icmp" of an IPv6 rule is ICMPv6, as upstream
        number = 58 if version == 6 else 1
    return number


def parse_net(address: str | None, version: int):
    if address is None:
        return None
    net = ipaddress.ip_network(str(address), strict=False)
    if net.version != version:
        raise ValueError(f"{address} is not an IPv{version} address")
    return net


@dataclass(frozen=True)
class FwRule:
    id: str
    enabled: bool
    ip_version: int
    action: str
    protocol: int | None = None            # number; None: any
    source: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    destination: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    source_port: tuple[int, int] | None = None
    destination_port: tuple[int, int] | None = None

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> FwRule:
        version = int(d.get("ip_version") or 4)
        if version not in FAMILIES:
            raise ValueError(f"bad ip_version {version!r}")
        action = d.get("action")
        if action not in ACTIONS:
            raise ValueError(f"bad action {action!r}")
        return cls(id=str(d["id"]), enabled=bool(d.get("enabled", True)), ip_version=version,
                   action=action, protocol=parse_protocol(d.get("protocol"), version),
                   source=parse_net(d.get("source_ip_address"), version),
                   destination=parse_net(d.get("destination_ip_address"), version),
                   source_port=parse_ports(d.get("source_port")),
                   destination_port=parse_ports(d.get("destination_port")))

    @property
    def has_ports(self) -> bool:
        """Ports only mean something for TCP and UDP (upstream ignores them otherwise)."""
        return self.protocol in (6, 17) and (self.source_port is not None
                                             or self.destination_port is not None)


@dataclass(frozen=True)
class FirewallGroup:
    id: str
    admin_state_up: bool = True
    version: str = ""
    ingress: tuple[FwRule, ...] | None = None     # None: no ingress policy
    egress: tuple[FwRule, ...] | None = None
    error: str | None = None                      # data we could not parse

    @classmethod
    def from_wire(cls, d: dict[str, Any], memo: dict | None = None) -> FirewallGroup:
        """`memo` (one per router): the server sends the group on each of
        its ports; parse it once per (id, version)."""
        gid, version = str(d.get("id")), str(d.get("version", ""))
        if memo is None or not version:
            return cls._parse(d, gid, version)
        key = (gid, version)
        if key not in memo:
            memo[key] = cls._parse(d, gid, version)
        return memo[key]

    @classmethod
    def _parse(cls, d: dict[str, Any], gid: str, version: str) -> FirewallGroup:
        try:
            def rules(key):
                raw = d.get(key)
                return None if raw is None else tuple(FwRule.from_wire(r) for r in raw)
            return cls(id=gid, admin_state_up=bool(d.get("admin_state_up", True)),
                       version=version, ingress=rules("ingress"), egress=rules("egress"))
        except (KeyError, TypeError, ValueError) as exc:
            return cls(id=gid, admin_state_up=bool(d.get("admin_state_up", True)),
                       version=version, error=f"unusable firewall data: {exc}")

    @property
    def enforcing(self) -> bool:
        """Its policies are enforced (else only the default drop)."""
        return self.admin_state_up and self.error is None

    def rules(self, direction: str) -> tuple[FwRule, ...]:
        """The rules of a direction; a direction without a policy has none
        (so, as upstream, only established flows pass that way)."""
        return (self.ingress if direction == "ingress" else self.egress) or ()
