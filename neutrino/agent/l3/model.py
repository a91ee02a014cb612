"""What one router should look like in its namespace: pure functions of the
server's router dict (neutrino.rpc.l3_handlers), no kernel access.

The NAT table is SEED-SPEC §6-7 exactly (names, rules, order); the mangle
table adds upstream's mark on packets entering through qg-, which the
`-m mark ! --mark 0x2/0xffff` SNAT rule relies on so that traffic from
outside to a floating IP keeps its source address.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from neutrino.agent.l3 import address_scopes
from neutrino.agent.l3.fwaas.model import FirewallGroup
from neutrino.agent.l3.keepalived import HaInstance
from neutrino.agent.l3.metering import MeterLabel
from neutrino.dataplane.iptables import Table

NS_PREFIX = "qrouter-"
WRAP = "neutron-l3-agent"
BOTTOM = "neutron-postrouting-bottom"
METADATA_IP = "169.254.169.254"
METADATA_PORT = 9697
METADATA_MARK = "0x1"          # upstream's metadata_access_mark
EXTERNAL_MARK = "0x2/0xffff"


def dev_name(prefix: str, port_id: str) -> str:
    return f"{prefix}{port_id[:11]}"


@dataclass(frozen=True)
class Port:
    id: str
    mac: str
    cidrs: tuple[str, ...]     # "10.0.0.1/24": this router's addresses on the port
    mtu: int | None
    firewall_group: FirewallGroup | None = None     # FWaaS v2 (neutrino.agent.l3.fwaas)
    # (("4", scope id or None), ("6", ...)): neutrino.agent.l3.address_scopes
    address_scopes: tuple = ()

    @property
    def tap(self) -> str:
        return dev_name("tap", self.id)


@dataclass(frozen=True)
class PortForward:
    """A floating IP port forwarding: protocol and external port range of
    `fip` to the internal address and port range (one internal port: all
    external ports go to it; same sizes: port by port)."""
    id: str
    fip: str
    protocol: str
    external: tuple[int, int]
    internal_ip: str
    internal: tuple[int, int]
    fip_id: str = ""            # the floating IP's id (its status is reported)

    @classmethod
    def from_wire(cls, d: dict) -> PortForward:
        return cls(d["id"], d["floating_ip_address"], d["protocol"],
                   (d["external_port_start"], d["external_port_end"]),
                   d["internal_ip_address"], (d["internal_port_start"], d["internal_port_end"]),
                   d.get("floatingip_id", ""))

    def dnat_rule(self) -> str:
        """The rule in the router's fip-pf chain. A range to a range keeps
        the offset (DNAT's /base port form), so external port N goes to
        internal port N - external start + internal start."""
        (elo, ehi), (ilo, ihi) = self.external, self.internal
        dport = str(elo) if elo == ehi else f"{elo}:{ehi}"
        to = f"{self.internal_ip}:{ilo}" if ilo == ihi else f"{self.internal_ip}:{ilo}-{ihi}/{elo}"
        return (f"-d {self.fip}/32 -p {self.protocol} -m {self.protocol} --dport {dport} "
                f"-j DNAT --to-destination {to}")


@dataclass
class Router:
    id: str
    admin_state_up: bool = True
    enable_snat: bool = True
    interfaces: list[Port] = field(default_factory=list)
    gw: Port | None = None
    gw_gateway: str | None = None        # the external subnet's gateway (default route)
    routes: list[tuple[str, str]] = field(default_factory=list)   # (destination, nexthop)
    fips: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (fip, fixed)
    # l3-ha: this host's ha- port, the router's VRID (see neutrino.agent.l3.ha)
    ha: bool = False
    ha_port: Port | None = None
    ha_vr_id: int | None = None
    port_forwards: list[PortForward] = field(default_factory=list)
    # l3-conntrack-helper: (protocol, port, helper) (neutrino.agent.l3.conntrack_helpers)
    conntrack_helpers: list[tuple[str, int, str]] = field(default_factory=list)
    # metering: the labels metering this router (neutrino.agent.l3.metering)
    metering_labels: list[MeterLabel] = field(default_factory=list)

    @classmethod
    def from_wire(cls, d: dict) -> Router:
        groups: dict = {}

        def port(p: dict) -> Port:
            fwg = p.get("firewall_group")
            return Port(p["id"], p["mac_address"],
                        tuple(f"{f['ip_address']}/{f['prefixlen']}" for f in p["fixed_ips"]),
                        p.get("mtu"), FirewallGroup.from_wire(fwg, groups) if fwg else None,
                        tuple(sorted((p.get("address_scopes") or {}).items())))
        gw = d.get("gw_port")
        gw_gateway = None
        if gw:
            gw_gateway = next((f["gateway_ip"] for f in gw["fixed_ips"]
                               if f.get("gateway_ip") and ":" not in f["gateway_ip"]), None)
        return cls(id=d["id"], admin_state_up=d.get("admin_state_up", True),
                   enable_snat=d.get("enable_snat", True),
                   interfaces=[port(p) for p in d.get("interfaces", ()) if p["fixed_ips"]],
                   gw=port(gw) if gw and gw["fixed_ips"] else None, gw_gateway=gw_gateway,
                   routes=[(r["destination"], r["nexthop"]) for r in d.get("routes", ())],
                   fips={f["id"]: (f["floating_ip_address"], f["fixed_ip_address"])
                         for f in d.get("floating_ips", ())},
                   ha=bool(d.get("ha")) and bool(d.get("ha_port")) and bool(d.get("ha_vr_id")),
                   ha_port=port(d["ha_port"]) if d.get("ha_port") else None,
                   ha_vr_id=d.get("ha_vr_id"),
                   port_forwards=[PortForward.from_wire(p)
                                  for p in d.get("port_forwardings", ())],
                   conntrack_helpers=[(c["protocol"], c["port"], c["helper"])
                                      for c in d.get("conntrack_helpers", ())],
                   metering_labels=[MeterLabel.from_wire(m)
                                    for m in d.get("metering_labels", ())])

    @property
    def qg(self) -> str | None:
        return dev_name("qg-", self.gw.id) if self.gw else None

    @property
    def gw_ip(self) -> str | None:
        """The gateway's IPv4 address (the SNAT source)."""
        v4 = [c for c in self.gw.cidrs if ":" not in c] if self.gw else []
        return v4[0].split("/")[0] if v4 else None

    @property
    def has_ipv6(self) -> bool:
        return any(":" in c for p in self.devices().values() for c in p.cidrs)

    def devices(self) -> dict[str, Port]:
        """Namespace-side device name -> port."""
        out = {dev_name("qr-", p.id): p for p in self.interfaces}
        if self.gw:
            out[self.qg] = self.gw
        return out

    @property
    def ha_dev(self) -> str | None:
        return dev_name("ha-", self.ha_port.id) if self.ha and self.ha_port else None

    def all_devices(self) -> dict[str, Port]:
        """devices() and, for an HA router, its ha- device."""
        out = self.devices()
        if self.ha_dev:
            out[self.ha_dev] = self.ha_port
        return out

    def ha_instance(self) -> HaInstance | None:
        """What keepalived moves for an HA router (None: not HA, or down)."""
        if not self.ha_dev or not self.admin_state_up:
            return None
        # IPv4 only: IPv6 is off on an HA router's qr-/qg- (see router_ns)
        vips = [(c, dev) for dev, cidrs in sorted(self.addresses().items())
                for c in sorted(cidrs) if ":" not in c]
        routes = [(dest, hop, self.qg if dest == "0.0.0.0/0" else None)
                  for dest, hop in sorted(self.desired_routes().items())]
        return HaInstance(self.id, self.ha_vr_id, self.ha_dev, tuple(vips), tuple(routes))

    def addresses(self) -> dict[str, set[str]]:
        """Device -> the addresses it must carry (floating IPs as /32 on qg-)."""
        out = {name: set(p.cidrs) for name, p in self.devices().items()}
        if self.gw:
            out[self.qg] |= {f"{fip}/32" for fip, _ in self.active_fips().values()}
            out[self.qg] |= {f"{pf.fip}/32" for pf in self.active_port_forwards()}
        return out

    def active_fips(self) -> dict[str, tuple[str, str]]:
        """The floating IPs this router can serve: it is up, has a gateway
        and an interface on the fixed address's subnet."""
        if not self.gw or not self.admin_state_up:
            return {}
        nets = [ipaddress.ip_interface(c).network for p in self.interfaces for c in p.cidrs]
        return {fid: (fip, fixed) for fid, (fip, fixed) in self.fips.items()
                if any(ipaddress.ip_address(fixed) in n for n in nets)}

    def active_port_forwards(self) -> list[PortForward]:
        """The port forwardings this router can serve (as active_fips)."""
        if not self.gw or not self.admin_state_up:
            return []
        nets = [ipaddress.ip_interface(c).network for p in self.interfaces for c in p.cidrs]
        return [pf for pf in self.port_forwards
                if any(ipaddress.ip_address(pf.internal_ip) in n for n in nets)]

    def desired_routes(self) -> dict[str, str]:
        """destination -> gateway: the default route and the extra routes
        (none while the router is down: its devices are down)."""
        out = {}
        if not self.admin_state_up:
            return out
        if self.gw and self.gw_gateway:
            out["0.0.0.0/0"] = self.gw_gateway
        for dest, hop in self.routes:
            net = ipaddress.ip_network(dest, strict=False)
            if net.version == 4:     # IPv6 extra routes: not yet (docs/user-guide.md)
                out[str(net)] = hop
        return out


def nat_tables(router: Router, metadata_port: int | None = METADATA_PORT,
               metadata_mark: str = METADATA_MARK) -> list[Table]:
    """The nat and mangle tables of the router's namespace, and with the
    metadata proxy (`metadata_port`; None: no proxy, no metadata rules)
    upstream's filter rules: only requests redirected from qr- devices
    (marked in mangle) reach the proxy's port."""
    nat = Table("nat")
    w = WRAP
    for chain in ("PREROUTING", "OUTPUT", "POSTROUTING"):
        nat.add(chain, f"-j {w}-{chain}")
    nat.add("POSTROUTING", f"-j {BOTTOM}")
    for chain in ("OUTPUT", "POSTROUTING", "PREROUTING", "float-snat", "snat"):
        nat.chain(f"{w}-{chain}")
    nat.chain(BOTTOM)
    qg = router.qg if router.gw_ip else None      # NAT is IPv4: a v4 gateway address
    if qg and router.enable_snat:     # upstream adds it with the SNAT rules only
        nat.add(f"{w}-POSTROUTING",
                f"! -i {qg} ! -o {qg} -m conntrack ! --ctstate DNAT -j ACCEPT")
    if metadata_port is not None:
        nat.add(f"{w}-PREROUTING", f"-d {METADATA_IP}/32 -i qr-+ -p tcp -m tcp --dport 80 "
                                   f"-j REDIRECT --to-ports {metadata_port}")
    for fid, (fip, fixed) in sorted(router.active_fips().items(), key=lambda kv: kv[1]):
        nat.add(f"{w}-PREROUTING", f"-d {fip}/32 -j DNAT --to-destination {fixed}")
        nat.add(f"{w}-OUTPUT", f"-d {fip}/32 -j DNAT --to-destination {fixed}")
        nat.add(f"{w}-float-snat", f"-s {fixed}/32 -j SNAT --to-source {fip}")
    forwards = sorted(router.active_port_forwards(), key=lambda pf: (pf.fip, pf.id))
    if forwards:    # upstream's port forwarding chain, before the 1:1 floating IPs' DNAT
        nat.chain(f"{w}-fip-pf")
        for chain in ("PREROUTING", "OUTPUT"):
            nat.chains[f"{w}-{chain}"].insert(0, f"-j {w}-fip-pf")
        for pf in forwards:
            nat.add(f"{w}-fip-pf", pf.dnat_rule())
    nat.add(f"{w}-snat", f"-j {w}-float-snat")
    if qg and router.enable_snat:
        gw_ip = router.gw_ip
        nat.add(f"{w}-snat", f"-o {qg} -j SNAT --to-source {gw_ip}")
        nat.add(f"{w}-snat", f"-m mark ! --mark {EXTERNAL_MARK} -m conntrack --ctstate DNAT "
                             f"-j SNAT --to-source {gw_ip}")
    nat.add(BOTTOM, '-m comment --comment "Perform source NAT on outgoing traffic." '
                    f"-j {w}-snat")
    mangle = Table("mangle")
    mangle.add("PREROUTING", f"-j {w}-PREROUTING")
    mangle.add(f"{w}-PREROUTING", f"-j {w}-mark")
    mangle.chain(f"{w}-mark")
    if qg:
        mangle.add(f"{w}-mark", f"-i {qg} -j MARK --set-xmark {EXTERNAL_MARK}")
    address_scopes.add_rules(router, nat, mangle)
    if metadata_port is None:
        return [nat, mangle]
    mark = f"{metadata_mark}/0xffff"
    mangle.add(f"{w}-PREROUTING", f"-d {METADATA_IP}/32 -i qr-+ -p tcp -m tcp --dport 80 "
                                  f"-j MARK --set-xmark {mark}")
    filt = Table("filter")
    filt.add("INPUT", f"-j {w}-INPUT")
    filt.add(f"{w}-INPUT", f"-m mark --mark {mark} -j ACCEPT")
    filt.add(f"{w}-INPUT", f"-p tcp -m tcp --dport {metadata_port} -j DROP")
    return [nat, mangle, filt]
