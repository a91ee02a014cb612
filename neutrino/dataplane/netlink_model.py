"""Plain values read from rtnetlink (links, routes, fdb and neighbour
entries) and the pure helpers that build and compare them. No I/O here, so
everything is unit-testable without a kernel; neutrino.dataplane.netlink
re-exports all of it."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

IFF_UP = 0x1
FLOOD_MAC = "00:00:00:00:00:00"
MAIN_TABLE = 254


@dataclass(frozen=True)
class Link:
    name: str
    index: int
    kind: str | None          # None for physical/loopback; 'bridge', 'veth', ...
    mtu: int
    mac: str | None
    up: bool                  # administratively up (IFF_UP)
    master: str | None = None
    vxlan_id: int | None = None
    vxlan_local: str | None = None
    vxlan_group: str | None = None
    vxlan_port: int | None = None
    vxlan_ttl: int | None = None
    vxlan_tos: int | None = None
    vxlan_dev: str | None = None
    vlan_id: int | None = None
    vlan_parent: str | None = None
    vxlan_learning: bool | None = None
    vxlan_proxy: bool | None = None
    oper_state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Route:
    dst: str                  # CIDR; default route is 0.0.0.0/0 or ::/0
    gateway: str | None = None
    dev: str | None = None
    table: int = MAIN_TABLE
    metric: int | None = None
    scope: int = 0
    proto: int = 0


@dataclass(frozen=True)
class FdbEntry:
    mac: str
    dev: str
    dst: str | None = None    # remote VTEP for vxlan entries
    via: str | None = None    # underlay device (multicast group entries)
    master: str | None = None
    vni: int | None = None
    port: int | None = None
    flags: frozenset[str] = field(default_factory=frozenset)   # 'self', 'master', ...
    state: frozenset[str] = field(default_factory=frozenset)   # 'permanent', ...

    @property
    def permanent(self) -> bool:
        return "permanent" in self.state


@dataclass(frozen=True)
class Neighbour:
    ip: str
    mac: str | None
    dev: str
    state: frozenset[str]

    @property
    def permanent(self) -> bool:
        return "permanent" in self.state


# ---------------------------------------------------------------- pure helpers

def normalize_mac(mac: str) -> str:
    """'FA-16-3E-0:1:2' style input -> 'fa:16:3e:00:01:02'."""
    parts = mac.replace("-", ":").lower().split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        raise ValueError(f"invalid MAC address {mac!r}")
    try:
        return ":".join(f"{int(p, 16):02x}" for p in parts)
    except ValueError:
        raise ValueError(f"invalid MAC address {mac!r}") from None


def parse_cidr(cidr: str) -> tuple[str, int, int]:
    """'10.0.0.1/24' -> ('10.0.0.1', 24, AF_INET). A bare address is a host."""
    iface = ipaddress.ip_interface(cidr)
    family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
    return str(iface.ip), iface.network.prefixlen, family


def normalize_route_dst(dst: str) -> tuple[str, int, int]:
    """'default' / '10.1.0.0/16' / '10.1.2.3' -> (network, prefixlen, family)."""
    if dst in ("default", "0.0.0.0/0"):
        return "0.0.0.0", 0, socket.AF_INET
    if dst == "::/0":
        return "::", 0, socket.AF_INET6
    net = ipaddress.ip_network(dst, strict=False)
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    return str(net.network_address), net.prefixlen, family


def decode_bits(value: int, table: dict[str, int]) -> frozenset[str]:
    """Names of the bits set in `value` according to a pyroute2 name->bit map."""
    return frozenset(name for name, bit in table.items() if bit and value & bit == bit
                     and bin(bit).count("1") == 1)


def vxlan_differences(link: Link, *, vni: int, local_ip: str | None, group: str | None,
                      dstport: int, ttl: int | None, tos: int | None, dev: str | None,
                      learning: bool, proxy: bool) -> list[str]:
    """Attributes of an existing vxlan link that differ from the wanted ones.
    Most of them cannot be changed in place, so any difference means recreate."""
    want = {"vxlan_id": vni, "vxlan_local": local_ip, "vxlan_group": group,
            "vxlan_port": dstport, "vxlan_ttl": ttl or 0, "vxlan_tos": tos or 0,
            "vxlan_dev": dev, "vxlan_learning": learning, "vxlan_proxy": proxy}
    diffs = [k for k, v in want.items() if getattr(link, k) != v]
    if link.kind != "vxlan":
        diffs.insert(0, "kind")
    return diffs


def _attr_chain(msg: Any, *names: str) -> Any:
    for name in names:
        if msg is None:
            return None
        msg = msg.get_attr(name)
    return msg


def link_from_msg(msg: Any, names: dict[int, str]) -> Link:
    """Build a Link from a pyroute2 ifinfmsg; `names` maps ifindex -> name in
    the same namespace (for master / lower devices)."""
    info = msg.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    master_idx = msg.get_attr("IFLA_MASTER")
    fields: dict[str, Any] = {}
    if kind == "vxlan" and data is not None:
        lower = data.get_attr("IFLA_VXLAN_LINK")
        fields.update(
            vxlan_id=data.get_attr("IFLA_VXLAN_ID"),
            vxlan_local=data.get_attr("IFLA_VXLAN_LOCAL"),
            vxlan_group=data.get_attr("IFLA_VXLAN_GROUP"),
            vxlan_port=data.get_attr("IFLA_VXLAN_PORT"),
            vxlan_ttl=data.get_attr("IFLA_VXLAN_TTL"),
            vxlan_tos=data.get_attr("IFLA_VXLAN_TOS"),
            vxlan_dev=names.get(lower) if lower else None,
            vxlan_learning=bool(data.get_attr("IFLA_VXLAN_LEARNING")),
            vxlan_proxy=bool(data.get_attr("IFLA_VXLAN_PROXY")),
        )
    elif kind == "vlan" and data is not None:
        parent = msg.get_attr("IFLA_LINK")
        fields.update(vlan_id=data.get_attr("IFLA_VLAN_ID"),
                      vlan_parent=names.get(parent) if parent else None)
    return Link(
        name=msg.get_attr("IFLA_IFNAME"),
        index=msg["index"],
        kind=kind,
        mtu=msg.get_attr("IFLA_MTU"),
        mac=msg.get_attr("IFLA_ADDRESS"),
        up=bool(msg["flags"] & IFF_UP),
        master=names.get(master_idx) if master_idx else None,
        oper_state=msg.get_attr("IFLA_OPERSTATE"),
        **fields,
    )
