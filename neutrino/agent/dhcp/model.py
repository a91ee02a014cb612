"""What the DHCP agent wants for one network (from the server) and what it
finds (in the kernel, on disk, in /proc), in plain values for `plan`."""
from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field

from neutrino.dataplane import dnsmasq
from neutrino.dataplane.dnsmasq import DhcpNetwork, DnsmasqConf, Port, Subnet
from neutrino.rpc.dhcp_handlers import DHCP_OWNER, dhcp_device_id

METADATA_IP = "169.254.169.254"
METADATA_CIDR = f"{METADATA_IP}/32"
METADATA_SUBNET = ipaddress.ip_network("169.254.0.0/16")
ROUTER_INTERFACE_OWNERS = ("network:router_interface", "network:ha_router_replicated_interface",
                           "network:router_interface_distributed")


@dataclass(frozen=True)
class MetadataFlags:
    """dhcp_agent.ini's metadata options."""
    enable_isolated_metadata: bool = False
    force_metadata: bool = False
    enable_metadata_network: bool = False

    @property
    def address_on_port(self) -> bool:
        """Upstream puts 169.254.169.254/32 on the DHCP port whenever either is set."""
        return self.enable_isolated_metadata or self.force_metadata


def isolated_subnets(subnets, ports) -> set[str]:
    """Subnets no router serves: none of its interface ports holds the
    subnet's gateway address (upstream's definition)."""
    gateways = {s.id: s.gateway_ip for s in subnets}
    routed = {sid for p in ports if p.device_owner in ROUTER_INTERFACE_OWNERS
              for sid, ip in p.fixed_ips if gateways.get(sid) and gateways[sid] == ip}
    return {s.id for s in subnets} - routed


def should_enable_metadata(flags: MetadataFlags, subnets, ports) -> bool:
    """Does the network get a metadata proxy in its DHCP namespace?"""
    dhcp = [s for s in subnets if s.enable_dhcp]
    if not dhcp:
        return False
    if flags.force_metadata:
        return True
    if not flags.enable_isolated_metadata:
        return False
    if flags.enable_metadata_network and any(
            ipaddress.ip_network(s.cidr, strict=False).subnet_of(METADATA_SUBNET)
            for s in subnets if s.ip_version == 4):
        return True
    isolated = isolated_subnets(subnets, ports)
    return any(s.id in isolated for s in dhcp)


def with_metadata_routes(subnets, ports, dhcp_port: Port | None,
                         flags: MetadataFlags) -> tuple[Subnet, ...]:
    """The subnets with upstream's host route to 169.254.169.254 added: via
    the DHCP port where the DHCP namespace serves metadata (force_metadata,
    or an isolated subnet with enable_isolated_metadata), else via the
    gateway of a subnet a router serves."""
    isolated = isolated_subnets(subnets, ports)
    dhcp_ips = dict(dhcp_port.fixed_ips) if dhcp_port else {}
    out = []
    for s in subnets:
        hop = None
        if s.ip_version == 4 and s.enable_dhcp:
            if flags.force_metadata or (s.id in isolated and flags.enable_isolated_metadata):
                hop = dhcp_ips.get(s.id)
            elif s.id not in isolated and s.gateway_ip:
                hop = s.gateway_ip
        if hop and not any(d == METADATA_CIDR for d, _ in s.host_routes):
            s = dataclasses.replace(s, host_routes=s.host_routes + ((METADATA_CIDR, hop),))
        out.append(s)
    return tuple(out)


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def ns_dev_name(port_id: str) -> str:
    return "ns-" + port_id[:11]


def namespace(prefix: str, network_id: str) -> str:
    return f"{prefix}qdhcp-{network_id}"


def _port(wire: dict) -> Port:
    return Port(id=wire["id"], mac_address=wire["mac_address"],
                fixed_ips=tuple((f["subnet_id"], f["ip_address"]) for f in wire["fixed_ips"]),
                device_owner=wire.get("device_owner", ""),
                names=tuple((a["ip_address"], a["hostname"], a["fqdn"])
                            for a in wire.get("dns_assignment", ())),
                options=tuple((o["opt_name"], o["opt_value"], o["ip_version"])
                              for o in wire.get("extra_dhcp_opts", ())))


def _subnet(wire: dict) -> Subnet:
    return Subnet(id=wire["id"], cidr=wire["cidr"], ip_version=wire["ip_version"],
                  gateway_ip=wire.get("gateway_ip"), enable_dhcp=wire["enable_dhcp"],
                  ipv6_address_mode=wire.get("ipv6_address_mode"),
                  dns_nameservers=tuple(wire.get("dns_nameservers", ())),
                  host_routes=tuple((r["destination"], r["nexthop"])
                                    for r in wire.get("host_routes", ())))


@dataclass(frozen=True)
class NetDesired:
    network: DhcpNetwork
    dhcp_port: Port | None        # None until the server made ours
    admin_state_up: bool = True
    metadata_address: bool = False    # 169.254.169.254/32 on our port
    metadata_proxy: bool = False      # haproxy on 169.254.169.254:80 in the namespace

    @classmethod
    def from_wire(cls, wire: dict, host: str,
                  metadata: MetadataFlags = MetadataFlags()) -> NetDesired:
        mine = dhcp_device_id(host, wire["id"])
        ports = tuple(_port(p) for p in wire["ports"])
        ours = next((_port(p) for p in wire["ports"]
                     if p["device_owner"] == DHCP_OWNER and p["device_id"] == mine), None)
        subnets = tuple(_subnet(s) for s in wire["subnets"])
        net = DhcpNetwork(id=wire["id"], mtu=wire["mtu"] or 1500,
                          subnets=with_metadata_routes(subnets, ports, ours, metadata),
                          ports=ports)
        return cls(network=net, dhcp_port=ours, admin_state_up=wire.get("admin_state_up", True),
                   metadata_address=metadata.address_on_port,
                   metadata_proxy=should_enable_metadata(metadata, subnets, ports))

    def without(self, port_ids) -> NetDesired | None:
        """This network less some deleted ports, worked out here: a burst of
        deletes costs no fetch. None when only the server can say (ours, or
        a router's port: the metadata routes and proxy depend on those)."""
        gone = set(port_ids)
        if not gone & {p.id for p in self.network.ports}:
            return self
        if any(p.id in gone and (p.device_owner.startswith("network:")
                                 or (self.dhcp_port and p.id == self.dhcp_port.id))
               for p in self.network.ports):
            return None
        kept = tuple(p for p in self.network.ports if p.id not in gone)
        return dataclasses.replace(self, network=dataclasses.replace(self.network, ports=kept))

    @property
    def wanted(self) -> bool:
        """Serve it at all? (DHCP subnets on an enabled network.)"""
        return self.admin_state_up and bool(self.network.dhcp_subnets)

    @property
    def port_complete(self) -> bool:
        """Our port has an address in every DHCP subnet (else ask the server)."""
        if self.dhcp_port is None:
            return False
        have = {sid for sid, _ in self.dhcp_port.fixed_ips}
        return all(s.id in have for s in self.network.dhcp_subnets)

    def cidrs(self) -> set[str]:
        subnets = {s.id: s for s in self.network.subnets}
        out = set()
        for sid, ip in (self.dhcp_port.fixed_ips if self.dhcp_port else ()):
            if sid in subnets:
                plen = ipaddress.ip_network(subnets[sid].cidr, strict=False).prefixlen
                out.add(f"{ip}/{plen}")
        if self.metadata_address and self.dhcp_port is not None:
            out.add(METADATA_CIDR)
        return out

    def interface(self) -> str:
        return ns_dev_name(self.dhcp_port.id)

    def tap(self) -> str:
        return tap_name(self.dhcp_port.id)

    def argv(self, conf: DnsmasqConf) -> list[str]:
        return dnsmasq.argv(self.network, conf, self.interface())

    def files(self, conf: DnsmasqConf) -> dict[str, str]:
        return dnsmasq.files(self.network, conf, self.dhcp_port)


@dataclass
class NetObserved:
    netns_exists: bool = False
    # ns-* devices in the namespace: name -> (mac, mtu, up)
    ns_devices: dict[str, tuple[str | None, int, bool]] = field(default_factory=dict)
    addresses: set[str] = field(default_factory=set)       # on the wanted ns- device
    taps: set[str] = field(default_factory=set)            # tap* in the agent's netns
    files: dict[str, str | None] = field(default_factory=dict)
    pid: int | None = None
    cmdline: list[str] | None = None
    has_state_dir: bool = False
    proxy_running: bool = False                # the metadata haproxy
    proxy_config: str | None = None            # its config file, if any
