"""plan(desired, observed, conf) -> Plan: the pure diff between the ports
bound to this host and the kernel's links. No I/O.

Rules (upstream linuxbridge agent semantics, level-triggered):
* a network with at least one port bound here gets its bridge
  brq<net[:11]> (or the operator's bridge from bridge_mappings) and uplink:
  local none, flat the mapped interface enslaved, vlan <if>.<vid>, vxlan
  vxlan-<vni>; every device we create carries the network MTU;
* the tap of an enabled port (tap<port[:11]>, made by the hypervisor) is
  enslaved, given the MTU and set up as soon as it exists; a disabled port's
  tap is taken out of the bridge;
* devices we own (brq*, vxlan-<n>, <mapped if>.<vid>) that no bound port
  needs are deleted; nothing else is ever deleted;
* a healthy device is never recreated: only fields that differ are changed
  (a vxlan or vlan device whose identity differs is the one exception, as
  those attributes cannot change in place).
* l2population (`[vxlan] l2_population`): a vxlan device has no group
  and no learning; its flood list (MAC 00:00:00:00:00:00) holds exactly the
  remote VTEPs with ACTIVE ports on the network, one entry per remote port's
  MAC points at its VTEP and, with arp_responder, one permanent neighbour
  entry per remote IPv4 address answers ARP locally (the device's `proxy`).
  Entries are diffed one by one: nothing healthy is rewritten.
Ops are ordered deletes, creates, then changes (uplinks, forwarding entries,
then taps, so a new instance's first ARP already has its flood list).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping

from neutrino.agent.l2.model import (FLOOD_MAC, RELEASE, AddFdb, CreateBridge, CreateVlan,
                                     CreateVxlan, DeleteLink, DelFdb, DelNeigh, Desired,
                                     Forwarding, L2Conf, NetworkSpec, Op, Plan, SetLink,
                                     SetNeigh, bridge_name, is_owned_bridge, is_owned_vxlan,
                                     tap_name, vlan_name, vxlan_name)
from neutrino.dataplane.netlink_model import Link, vxlan_differences


class _Uplink:
    """The device linking a network's bridge to the physical network."""

    def __init__(self, name: str, create: Op | None, mtu: int | None):
        self.name = name
        self.create = create    # how to make it if missing (None: must exist)
        self.mtu = mtu          # None: leave the operator's device MTU alone


def network_devices(net: NetworkSpec, conf: L2Conf) -> tuple[str, bool, _Uplink | None] | str:
    """(bridge, bridge is ours, uplink) for a network, or why this host cannot serve it."""
    physnet = net.physical_network or ""
    owned_bridge = bridge_name(net.id)
    if net.network_type == "local":
        return owned_bridge, True, None
    if net.network_type == "flat":
        if physnet in conf.bridge_mappings:
            return conf.bridge_mappings[physnet], False, None
        if physnet in conf.interface_mappings:
            return owned_bridge, True, _Uplink(conf.interface_mappings[physnet], None, None)
        return f"no mapping for physical network {physnet!r}"
    if net.network_type == "vlan":
        if physnet not in conf.interface_mappings:
            return f"no interface mapping for physical network {physnet!r} (vlan)"
        vid = int(net.segmentation_id or 0)
        if not 1 <= vid <= 4094:
            return f"invalid vlan id {net.segmentation_id}"
        parent = conf.interface_mappings[physnet]
        name = vlan_name(parent, vid)
        return owned_bridge, True, _Uplink(name, CreateVlan(name, parent, vid, net.mtu), net.mtu)
    if net.network_type == "vxlan":
        if not conf.vxlan_enabled:
            return "vxlan is disabled on this host (enable_vxlan and local_ip)"
        vni = int(net.segmentation_id or 0)
        if not 1 <= vni <= 16777215:
            return f"invalid VNI {net.segmentation_id}"
        name = vxlan_name(vni)
        create = CreateVxlan(name=name, vni=vni, local_ip=conf.local_ip,
                             group=conf.group_for(vni), dstport=conf.udp_dstport,
                             ttl=conf.ttl, tos=conf.tos, dev=conf.vxlan_dev,
                             learning=not conf.l2_population, proxy=conf.arp_responder,
                             mtu=net.mtu)
        return owned_bridge, True, _Uplink(name, create, net.mtu)
    return f"network type {net.network_type!r} is not supported by the Linux bridge agent"


def owned_devices(observed: Mapping[str, Link], conf: L2Conf) -> set[str]:
    """Links this agent would have created: the only ones it may delete."""
    parents = set(conf.interface_mappings.values())
    owned = set()
    for name, link in observed.items():
        if link.kind == "bridge" and is_owned_bridge(name):
            owned.add(name)
        elif link.kind == "vxlan" and is_owned_vxlan(name):
            owned.add(name)
        elif (link.kind == "vlan" and link.vlan_parent in parents and link.vlan_id
              and name == vlan_name(link.vlan_parent, link.vlan_id)):
            owned.add(name)
    return owned


def _identity_differs(create: Op, link: Link) -> bool:
    if isinstance(create, CreateVxlan):
        return bool(vxlan_differences(
            link, vni=create.vni, local_ip=create.local_ip, group=create.group,
            dstport=create.dstport, ttl=create.ttl, tos=create.tos, dev=create.dev,
            learning=create.learning, proxy=create.proxy))
    if isinstance(create, CreateVlan):
        return (link.kind != "vlan" or link.vlan_id != create.vid
                or link.vlan_parent != create.parent)
    return False


def _converge(name: str, link: Link | None, master: str | None, mtu: int | None,
              up: bool | None, port_id: str | None = None) -> SetLink | None:
    """The SetLink that brings `link` (None: about to be created) to the
    wanted master/MTU/up state, or None if it is already there."""
    cur_master = link.master if link else None
    cur_mtu = link.mtu if link else None
    cur_up = link.up if link else False
    want_master = None
    if master is not None and (cur_master or RELEASE) != master:
        want_master = master
    want_mtu = mtu if mtu is not None and cur_mtu != mtu else None
    want_up = up if up is not None and cur_up != up else None
    if want_master is None and want_mtu is None and want_up is None:
        return None
    return SetLink(name, master=want_master, mtu=want_mtu, up=want_up, port_id=port_id)


def _is_ipv4(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).version == 4
    except ValueError:
        return False


def plan_forwarding(net: NetworkSpec, dev: str, current: Forwarding, conf: L2Conf) -> list[Op]:
    """The fdb/neighbour ops that bring vxlan device `dev` of `net` from
    `current` to what l2population wants (deletes first: a MAC that moved
    to another VTEP loses its old entry before it gets the new one)."""
    remote = [p for p in net.remote_ports if p.vtep != conf.local_ip]
    want = {(FLOOD_MAC, v) for v in net.remote_vteps or () if v != conf.local_ip}
    want |= {(p.mac, p.vtep) for p in remote}
    ops: list[Op] = [DelFdb(dev, mac, dst) for mac, dst in sorted(current.fdb - want)]
    have_neigh = dict(current.neigh)
    want_neigh = ({ip: p.mac for p in remote for ip in p.ips if _is_ipv4(ip)}
                  if conf.arp_responder else {})
    ops += [DelNeigh(dev, ip) for ip in sorted(have_neigh) if ip not in want_neigh]
    ops += [AddFdb(dev, mac, dst) for mac, dst in sorted(want - current.fdb)]
    ops += [SetNeigh(dev, ip, mac) for ip, mac in sorted(want_neigh.items())
            if have_neigh.get(ip) != mac]
    return ops


def plan(desired: Desired, observed: Mapping[str, Link], conf: L2Conf,
         forwarding: Mapping[str, Forwarding] | None = None,
         blocked: Collection[str] = ()) -> Plan:
    """`forwarding`: the fdb/neighbour entries of the vxlan devices (needed
    only with l2_population; a device missing from it has none). `blocked`:
    ports whose data the firewall could not use: their taps stay off (or
    are taken off) the bridge and they are reported ERROR."""
    result = Plan()
    deletes: list[Op] = []
    creates: list[Op] = []
    uplink_changes: list[Op] = []
    fdb_changes: list[Op] = []
    tap_changes: list[Op] = []

    # --- networks: which bridges and uplinks must exist
    bridges: dict[str, str] = {}          # network id -> bridge
    wanted: set[str] = set()              # owned device names that must stay
    needed = sorted({p.network_id for p in desired.ports.values()})
    for net_id in needed:
        net = desired.networks.get(net_id)
        if net is None:
            result.problems[net_id] = "the server sent no network details"
            continue
        devices = network_devices(net, conf)
        if isinstance(devices, str):
            result.problems[net_id] = devices
            continue
        bridge, owned, uplink = devices
        if not owned and bridge not in observed:
            result.problems[net_id] = f"mapped bridge {bridge} does not exist"
            continue
        if uplink is not None and uplink.create is None and uplink.name not in observed:
            result.problems[net_id] = f"physical interface {uplink.name} does not exist"
            continue
        bridges[net_id] = bridge
        if owned:
            wanted.add(bridge)
            link = observed.get(bridge)
            if link is not None and link.kind != "bridge":
                deletes.append(DeleteLink(bridge, "not a bridge"))
                link = None
            if link is None:
                creates.append(CreateBridge(bridge))
            change = _converge(bridge, link, None, net.mtu, True)
            if change:
                uplink_changes.append(change)
        if uplink is None:
            continue
        link = observed.get(uplink.name)
        if uplink.create is not None:
            wanted.add(uplink.name)
            if link is not None and _identity_differs(uplink.create, link):
                deletes.append(DeleteLink(uplink.name, "parameters changed"))
                link = None
            if link is None:
                creates.append(uplink.create)
            if conf.l2_population and isinstance(uplink.create, CreateVxlan):
                current = Forwarding() if link is None else (forwarding or {}).get(
                    uplink.name, Forwarding())
                fdb_changes += plan_forwarding(net, uplink.name, current, conf)
        change = _converge(uplink.name, link, bridge, uplink.mtu, True)
        if change:
            uplink_changes.append(change)

    # --- stale devices we own
    deleted = set()
    for name in sorted(owned_devices(observed, conf) - wanted):
        deletes.append(DeleteLink(name, "no port bound here needs it"))
        deleted.add(name)
    deleted |= {op.name for op in deletes}

    # --- taps of bound ports
    our_bridges = ({n for n in observed if observed[n].kind == "bridge" and is_owned_bridge(n)}
                   | set(conf.bridge_mappings.values()) | set(bridges.values()))
    enabled_taps = set()
    for port in sorted(desired.ports.values(), key=lambda p: p.id):
        tap = tap_name(port.id)
        link = observed.get(tap)
        bridge = bridges.get(port.network_id)
        net = desired.networks.get(port.network_id)
        enabled = bridge is not None and port.admin_state_up and net.admin_state_up
        if port.id in blocked:
            result.failed.add(port.id)
            continue
        if link is None or not enabled:
            result.unwired.add(port.id)
            continue
        enabled_taps.add(tap)
        result.wired.add(port.id)
        change = _converge(tap, link, bridge, net.mtu, True, port.id)
        if change:
            tap_changes.append(change)

    # --- taps on our bridges that no enabled port explains: take them out
    for name in sorted(observed):
        link = observed[name]
        if (name.startswith("tap") and name not in enabled_taps and link.master in our_bridges
                and link.master not in deleted):
            port_id = next((p.id for p in desired.ports.values() if tap_name(p.id) == name), None)
            tap_changes.append(SetLink(name, master=RELEASE, port_id=port_id))

    result.ops = deletes + creates + uplink_changes + fdb_changes + tap_changes
    return result
