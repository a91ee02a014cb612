"""What the Linux bridge reconciler works on: the desired state of one host
(from the server), the agent's own configuration, the operations a plan
consists of, and the kernel device names. Plain frozen values, no I/O."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from neutrino.agent_options import parse_mappings

IFNAMSIZ = 15
DEFAULT_VXLAN_GROUP = "224.0.0.1"
FLOOD_MAC = "00:00:00:00:00:00"   # a vxlan fdb entry for this MAC is a flood-list member
_VXLAN_RE = re.compile(r"^vxlan-\d+$")


def bridge_name(network_id: str) -> str:
    # Same names as neutrino.plugins.ml2.mech (the agent does not import the server).
    return "brq" + network_id[:11]


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def vxlan_name(vni: int) -> str:
    return f"vxlan-{vni}"


def vlan_name(interface: str, vid: int) -> str:
    """`<interface>.<vid>`, the interface part shortened to fit IFNAMSIZ."""
    suffix = f".{vid}"
    return interface[:IFNAMSIZ - len(suffix)] + suffix


def is_owned_bridge(name: str) -> bool:
    return name.startswith("brq") and len(name) == 14


def is_owned_vxlan(name: str) -> bool:
    return bool(_VXLAN_RE.match(name))


# ---------------------------------------------------------------- desired

@dataclass(frozen=True)
class RemotePort:
    """An ACTIVE port of this network bound on another host (l2population)."""
    vtep: str
    mac: str
    ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkSpec:
    id: str
    network_type: str
    physical_network: str | None
    segmentation_id: int | None
    mtu: int
    admin_state_up: bool = True
    # l2population: remote VTEPs with ACTIVE ports here (the flood list), and
    # those ports; None when the server sent none (no l2population driver).
    remote_vteps: tuple[str, ...] | None = None
    remote_ports: tuple[RemotePort, ...] = ()

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> NetworkSpec:
        fdb = d.get("l2pop")
        return cls(id=d["id"], network_type=d["network_type"],
                   physical_network=d.get("physical_network"),
                   segmentation_id=d.get("segmentation_id"), mtu=int(d["mtu"]),
                   admin_state_up=bool(d.get("admin_state_up", True)),
                   remote_vteps=None if fdb is None else tuple(sorted(fdb["vteps"])),
                   remote_ports=() if fdb is None else tuple(
                       RemotePort(p["vtep"], p["mac_address"].lower(), tuple(p["ips"]))
                       for p in fdb["ports"]))


@dataclass(frozen=True)
class PortSpec:
    id: str
    network_id: str
    mac_address: str
    admin_state_up: bool = True
    fixed_ips: tuple[tuple[str, str], ...] = ()    # (subnet_id, ip_address)
    device_owner: str = ""
    status: str = "DOWN"                          # the server's view when fetched
    # a trunk's parent: its subports as (port id, VLAN id) (neutrino.agent.l2.trunk)
    subports: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> PortSpec:
        return cls(id=d["id"], network_id=d["network_id"], mac_address=d["mac_address"],
                   admin_state_up=bool(d.get("admin_state_up", True)),
                   fixed_ips=tuple((f["subnet_id"], f["ip_address"])
                                   for f in d.get("fixed_ips", ())),
                   device_owner=d.get("device_owner", ""), status=d.get("status", "DOWN"),
                   subports=tuple((s["port_id"], int(s["segmentation_id"]))
                                  for s in d.get("trunk_subports", ())))


@dataclass
class Desired:
    """This host's bound ports and their networks (the agent's cache)."""
    ports: dict[str, PortSpec] = field(default_factory=dict)
    networks: dict[str, NetworkSpec] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, state: dict[str, Any]) -> Desired:
        return cls(ports={p["id"]: PortSpec.from_wire(p) for p in state.get("ports", ())},
                   networks={n["id"]: NetworkSpec.from_wire(n)
                             for n in state.get("networks", ())})

    def merge(self, state: dict[str, Any], port_ids: set[str], network_ids: set[str],
              tables_held: set[str] = frozenset()) -> None:
        """Fold in a partial answer that covers `port_ids` and every port of
        `network_ids`: what it does not return is no longer bound here. The
        networks of `tables_held` came without their l2population table
        (asked for so): the one held is kept."""
        fresh = Desired.from_wire(state)
        for pid, port in list(self.ports.items()):
            if pid in port_ids or port.network_id in network_ids:
                del self.ports[pid]
        self.ports.update(fresh.ports)
        for nid, spec in fresh.networks.items():
            held = self.networks.get(nid)
            if nid in tables_held and held is not None and spec.remote_vteps is None:
                spec = dataclasses.replace(spec, remote_vteps=held.remote_vteps,
                                           remote_ports=held.remote_ports)
            self.networks[nid] = spec
        used = {p.network_id for p in self.ports.values()}
        for nid in list(self.networks):
            if nid not in used:
                del self.networks[nid]


# ---------------------------------------------------------------- config

@dataclass(frozen=True)
class L2Conf:
    """The agent configuration the plan depends on."""
    interface_mappings: dict[str, str] = field(default_factory=dict)
    bridge_mappings: dict[str, str] = field(default_factory=dict)
    vxlan_enabled: bool = False            # enable_vxlan and a usable local_ip
    local_ip: str | None = None
    vxlan_group: str | None = DEFAULT_VXLAN_GROUP
    udp_dstport: int = 8472
    ttl: int | None = None
    tos: int | None = None
    vxlan_dev: str | None = None           # the interface holding local_ip
    l2_population: bool = False
    arp_responder: bool = False

    @classmethod
    def from_config(cls, cfg, vxlan_dev: str | None = None) -> L2Conf:
        vx = cfg.vxlan
        enabled = bool(vx.enable_vxlan and vx.local_ip)
        group = None if vx.l2_population else (vx.vxlan_group or DEFAULT_VXLAN_GROUP)
        return cls(interface_mappings=parse_mappings(cfg.linux_bridge.physical_interface_mappings),
                   bridge_mappings=parse_mappings(cfg.linux_bridge.bridge_mappings),
                   vxlan_enabled=enabled, local_ip=vx.local_ip or None,
                   vxlan_group=group, udp_dstport=vx.udp_dstport or 8472,
                   ttl=vx.ttl, tos=vx.tos, vxlan_dev=vxlan_dev,
                   l2_population=vx.l2_population,
                   arp_responder=bool(vx.l2_population and vx.arp_responder))

    def group_for(self, vni: int) -> str | None:
        """A CIDR vxlan_group spreads VNIs over its addresses (as upstream)."""
        if not self.vxlan_group or "/" not in self.vxlan_group:
            return self.vxlan_group
        import ipaddress
        net = ipaddress.ip_network(self.vxlan_group, strict=False)
        return str(net.network_address + (vni % net.num_addresses))

    def agent_configurations(self) -> dict[str, Any]:
        """What the server's mechanism driver reads to decide bindings."""
        return {"interface_mappings": dict(self.interface_mappings),
                "bridge_mappings": dict(self.bridge_mappings),
                "tunnel_types": ["vxlan"] if self.vxlan_enabled else [],
                "tunneling_ip": self.local_ip or "",
                "l2_population": self.l2_population}


# ---------------------------------------------------------------- operations

RELEASE = ""   # SetLink.master value meaning "no master"


@dataclass(frozen=True)
class DeleteLink:
    name: str
    reason: str = ""


@dataclass(frozen=True)
class CreateBridge:
    name: str


@dataclass(frozen=True)
class CreateVxlan:
    name: str
    vni: int
    local_ip: str | None
    group: str | None
    dstport: int
    ttl: int | None
    tos: int | None
    dev: str | None
    learning: bool
    proxy: bool
    mtu: int


@dataclass(frozen=True)
class CreateVlan:
    name: str
    parent: str
    vid: int
    mtu: int


@dataclass(frozen=True)
class SetLink:
    """Change an existing (or just created) device: None leaves a field
    alone; master=RELEASE takes it out of its bridge. `port_id` names the
    port a tap belongs to (for status reporting)."""
    name: str
    master: str | None = None
    mtu: int | None = None
    up: bool | None = None
    port_id: str | None = None


@dataclass(frozen=True)
class AddFdb:
    """`bridge fdb append MAC dev DEV dst VTEP` (self, permanent)."""
    dev: str
    mac: str
    dst: str


@dataclass(frozen=True)
class DelFdb:
    dev: str
    mac: str
    dst: str


@dataclass(frozen=True)
class SetNeigh:
    """`ip neigh replace IP lladdr MAC dev DEV nud permanent` (ARP responder)."""
    dev: str
    ip: str
    mac: str


@dataclass(frozen=True)
class DelNeigh:
    dev: str
    ip: str


Op = (DeleteLink | CreateBridge | CreateVxlan | CreateVlan | SetLink | AddFdb | DelFdb
      | SetNeigh | DelNeigh)
FdbOp = AddFdb | DelFdb | SetNeigh | DelNeigh


@dataclass(frozen=True)
class Forwarding:
    """What the kernel holds for one vxlan device: its own (self) fdb
    entries with a remote, and its permanent IPv4 neighbour entries."""
    fdb: frozenset[tuple[str, str]] = frozenset()      # (mac, dst)
    neigh: tuple[tuple[str, str], ...] = ()            # (ip, mac), sorted


@dataclass
class Plan:
    ops: list[Op] = field(default_factory=list)
    wired: set[str] = field(default_factory=set)        # ports ACTIVE once ops are applied
    unwired: set[str] = field(default_factory=set)      # ports DOWN (no tap, disabled, error)
    failed: set[str] = field(default_factory=set)       # ports ERROR (bad data): taps unwired
    problems: dict[str, str] = field(default_factory=dict)   # network id -> why unservable

    @property
    def touching_ports(self) -> set[str]:
        return {op.port_id for op in self.ops if isinstance(op, SetLink) and op.port_id}
