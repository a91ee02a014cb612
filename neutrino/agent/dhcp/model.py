"""What the DHCP agent wants for one network (from the server) and what it
finds (in the kernel, on disk, in /proc), in plain values for `plan`."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from neutrino.dataplane import dnsmasq
from neutrino.dataplane.dnsmasq import DhcpNetwork, DnsmasqConf, Port, Subnet
from neutrino.rpc.dhcp_handlers import DHCP_OWNER, dhcp_device_id


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def ns_dev_name(port_id: str) -> str:
    return "ns-" + port_id[:11]


def namespace(prefix: str, network_id: str) -> str:
    return f"{prefix}qdhcp-{network_id}"


def _port(wire: dict) -> Port:
    return Port(id=wire["id"], mac_address=wire["mac_address"],
                fixed_ips=tuple((f["subnet_id"], f["ip_address"]) for f in wire["fixed_ips"]),
                device_owner=wire.get("device_owner", ""))


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

    @classmethod
    def from_wire(cls, wire: dict, host: str) -> NetDesired:
        mine = dhcp_device_id(host, wire["id"])
        ports = tuple(_port(p) for p in wire["ports"])
        ours = next((_port(p) for p in wire["ports"]
                     if p["device_owner"] == DHCP_OWNER and p["device_id"] == mine), None)
        net = DhcpNetwork(id=wire["id"], mtu=wire["mtu"] or 1500,
                          subnets=tuple(_subnet(s) for s in wire["subnets"]), ports=ports)
        return cls(network=net, dhcp_port=ours, admin_state_up=wire.get("admin_state_up", True))

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
