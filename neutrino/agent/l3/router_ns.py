"""Converging one router namespace to its desired state (devices, addresses,
routes, NAT). Every step compares with what is there and changes only the
difference, so running it again -- after an agent restart, on a periodic
resync -- disturbs nothing that is already right.

An HA router's namespace gets the same devices plus its ha- device (with its
HA address), and the same NAT rules on every instance; its qr-/qg- addresses
and routes are keepalived's (neutrino.agent.l3.ha), so they are left alone
here, and IPv6 is off on its qr-/qg- devices so a standby sends nothing with
the router's MACs.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import threading
import time

from neutrino.agent.l3 import address_scopes, conntrack_helpers, metering
from neutrino.agent.l3.fwaas.model import FOREIGN_TO_L3
from neutrino.agent.l3.keepalived import PRIMARY_VIP_RANGE
from neutrino.agent.l3.model import (METADATA_MARK, METADATA_PORT, NS_PREFIX, Router,
                                     nat_tables)
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.iptables import IptablesManager
from neutrino.dataplane.netlink import Netlink

LOG = logging.getLogger(__name__)
OUR_DEVICES = ("qr-", "qg-", "ha-")
GARP_SPACING = 1.0      # seconds between gratuitous ARP rounds


def router_ns(prefix: str, router_id: str) -> str:
    return f"{prefix}{NS_PREFIX}{router_id}"


def garp(netns: str, dev: str, mac: str, ip: str, count: int) -> None:
    """Gratuitous ARP (a broadcast ARP request for our own address), so the
    neighbours update their caches at once (iputils arping is not needed)."""
    if count <= 0:
        return
    hw = bytes.fromhex(mac.replace(":", ""))
    addr = socket.inet_aton(ip)
    frame = (b"\xff" * 6 + hw + struct.pack("!H", 0x0806)
             + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + addr + b"\x00" * 6 + addr)
    try:
        with _netns.in_netns(netns):   # the socket belongs to the namespace it is made in
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
                sock.bind((dev, 0))
                for _ in range(count):
                    sock.send(frame)
    except OSError as exc:
        LOG.debug("gratuitous ARP for %s on %s failed: %s", ip, dev, exc)


class RouterNamespace:
    """One router's namespace. `host_netns`: where the tap ends go (the
    namespace of the Linux bridge agent; None: this process's)."""

    def __init__(self, router_id: str, prefix: str, host_netns: str | None = None,
                 garp_count: int = 3, metadata_port: int | None = METADATA_PORT,
                 metadata_mark: str = METADATA_MARK):
        self.router_id = router_id
        self.name = router_ns(prefix, router_id)
        self.host_netns = host_netns
        self.garp_count = garp_count
        self.metadata_port = metadata_port      # None: no metadata proxy, no rules
        self.metadata_mark = metadata_mark
        # FWaaS (neutrino.agent.l3.fwaas) writes FORWARD and its own chains
        # of the filter table: ours leave them alone.
        self.iptables = IptablesManager(self.name, foreign=FOREIGN_TO_L3 + (metering.PREFIX,))
        self.meter = metering.MeterTables(self.name)     # its own writer: counters kept

    def converge(self, router: Router, host_links: dict | None = None) -> bool:
        """Make the namespace match `router`; returns True if anything changed.
        `host_links`: a dump of the host's links (name -> Link) taken once per
        sync, so 100 routers do not each dump a host with hundreds of taps."""
        changed = False
        if not _netns.exists(self.name):
            _netns.create(self.name, exist_ok=True)
            changed = True
        forward = "1" if router.admin_state_up else "0"
        if _netns.sysctl_get("net.ipv4.ip_forward", self.name) != forward:
            _netns.sysctl_set("net.ipv4.ip_forward", forward, self.name)
        v6 = "1" if router.admin_state_up and router.has_ipv6 else "0"
        if _netns.sysctl_get("net.ipv6.conf.all.forwarding", self.name) != v6:
            _netns.sysctl_set("net.ipv6.conf.all.forwarding", v6, self.name)
        new_addrs: list[tuple[str, str, str]] = []
        self._dropped_fips: list[str] = []
        with Netlink(self.name) as rn:
            changed |= self._devices(rn, router, host_links)
            changed |= self._addresses(rn, router, new_addrs)
            changed |= self._routes(rn, router)
        changed |= bool(self.iptables.apply(nat_tables(router, self.metadata_port,
                                                       self.metadata_mark)
                                            + [conntrack_helpers.raw_table(router)]))
        changed |= self.meter.apply(router.metering_labels, router.qg, router.admin_state_up)
        changed |= address_scopes.converge_ipv6(self, router)   # IPv6 scopes (ip6tables)
        for ip in self._dropped_fips:
            # Established flows keep their NAT in conntrack after the rules
            # go: forget them, so a disassociated floating IP is unreachable
            # at once (as upstream does with conntrack -D).
            for flag in ("-d", "-q"):       # to the FIP; replies to it (SNAT)
                _netns.run(["conntrack", "-D", flag, ip], netns=self.name, check=False)
        if new_addrs:
            threading.Thread(target=self._announce, args=(new_addrs,), daemon=True).start()
        return changed

    def _announce(self, addrs) -> None:
        """`send_arp_for_ha` rounds, spaced as arping spaces them (about a
        second), every new address once per round: frames sent back to back
        all go before a just-wired tap forwards, or are lost together."""
        for n in range(self.garp_count):
            if n:
                time.sleep(GARP_SPACING)
            for dev, mac, ip in addrs:
                garp(self.name, dev, mac, ip, 1)

    def _devices(self, rn: Netlink, router: Router, host_links: dict | None) -> bool:
        changed = False
        wanted = router.all_devices()
        links = {link.name: link for link in rn.links()}
        for name in links:
            if name.startswith(OUR_DEVICES) and name not in wanted:
                rn.delete_link(name)     # its tap end in the host goes with it
                changed = True
        with Netlink(self.host_netns) as hn:
            for name, port in wanted.items():
                link = links.get(name)
                tap = (host_links.get(port.tap) if host_links is not None
                       else hn.link(port.tap))
                if link is None or tap is None:
                    hn.delete_link(port.tap)      # a half-made pair of an earlier life
                    rn.delete_link(name)
                    hn.create_veth(port.tap, name, peer_netns=self.name, peer_mac=port.mac,
                                   mtu=port.mtu)
                    if router.ha and name != router.ha_dev:
                        _netns.sysctl_set(f"net.ipv6.conf.{name}.disable_ipv6", "1", self.name)
                    changed = True
                    link, tap = rn.link(name), None
                elif link.mac != port.mac.lower():
                    rn.set_mac(name, port.mac)
                    changed = True
                if port.mtu and link.mtu != port.mtu:
                    rn.set_mtu(name, port.mtu)
                # A router that is administratively down keeps its devices,
                # down: its ports stay wired (ACTIVE), nothing is forwarded
                # or answered.
                if router.admin_state_up and not link.up:
                    rn.set_up(name)
                    changed = True
                elif not router.admin_state_up and link.up:
                    rn.set_down(name)
                    changed = True
                if tap is None or not tap.up:
                    hn.set_up(port.tap)
        return changed

    def _addresses(self, rn: Netlink, router: Router, new: list) -> bool:
        changed = False
        devices = router.all_devices()
        wanted = router.addresses()
        if router.ha:    # keepalived's: the VIPs; ours: the ha- device's own address
            wanted = {router.ha_dev: set(router.ha_port.cidrs)}
        vip_range = ipaddress.ip_network(PRIMARY_VIP_RANGE)
        for name, want in wanted.items():
            have = set(rn.addresses(name, socket.AF_INET)) | {
                c for c in rn.addresses(name, socket.AF_INET6)
                if not ipaddress.ip_interface(c).is_link_local}
            if router.ha:
                have = {c for c in have if ipaddress.ip_interface(c).ip not in vip_range}
            for cidr in sorted(have - want):
                rn.del_address(name, cidr)
                if name == router.qg and cidr.endswith("/32"):
                    self._dropped_fips.append(cidr[:-3])
                changed = True
            for cidr in sorted(want - have, key=lambda c: c.endswith("/32")):
                rn.add_address(name, cidr)
                if ":" not in cidr and not router.ha:   # IPv6: NDP; HA: keepalived
                    new.append((name, devices[name].mac, cidr.split("/")[0]))
                changed = True
        return changed

    def _routes(self, rn: Netlink, router: Router) -> bool:
        """Routes with a gateway are ours (default and extra routes); the
        connected routes come with the addresses. An HA router's are
        keepalived's virtual_routes."""
        changed = False
        if router.ha:
            return changed
        want = router.desired_routes()
        for route in rn.routes():
            if route.gateway and want.get(route.dst) != route.gateway:
                rn.del_route(route.dst, gateway=route.gateway)
                changed = True
        have = {r.dst: r.gateway for r in rn.routes() if r.gateway}
        connected = [ipaddress.ip_interface(c).network
                     for cidrs in router.addresses().values() for c in cidrs if ":" not in c]
        for dst, hop in want.items():
            if have.get(dst) == hop:
                continue
            if not any(ipaddress.ip_address(hop) in n for n in connected):
                LOG.warning("router %s: next hop %s of %s is not connected", router.id, hop,
                            dst)
                continue
            rn.add_route(dst, gateway=hop)
            changed = True
        return changed

    def destroy(self) -> None:
        """Remove the router: its devices (and so their tap ends), then the
        namespace."""
        if not _netns.exists(self.name):
            return
        with Netlink(self.name) as rn:
            for link in rn.links():
                if link.name.startswith(OUR_DEVICES):
                    rn.delete_link(link.name)
        _netns.delete(self.name)


def existing_routers(prefix: str) -> list[str]:
    """Ids of the router namespaces of this agent (by prefix)."""
    start = f"{prefix}{NS_PREFIX}"
    return [name[len(start):] for name in _netns.list_netns() if name.startswith(start)]
