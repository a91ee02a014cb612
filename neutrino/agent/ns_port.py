"""A Neutron port plugged into a namespace by a veth whose host end (tap<11>)
the Linux bridge agent wires to the network's bridge, its namespace end
(ns-<11>) holding the port's MAC and addresses: the DHCP and the load
balancer agents' ports. Its pure plan and the apply of those ops.

Ops, in the order they must run:
  ("delete_dev", name)                   stale ns- device in the namespace
  ("delete_tap", tap)
  ("create_veth", tap, dev, mac, mtu)    (recreated whole if either end is missing)
  ("set_dev", dev, mac, mtu)             MAC/MTU drifted, or down
  ("address", "add"|"del", dev, cidr)
"""
from __future__ import annotations

import socket

from neutrino.dataplane.netlink import Netlink
from neutrino.dataplane.netlink_model import normalize_mac
from neutrino.dataplane.rtnl_fast import FastLinks, ipv4_addresses

Op = tuple
PORT_OPS = frozenset({"delete_dev", "delete_tap", "create_veth", "set_dev", "address"})


def tap_of(dev: str) -> str:
    return "tap" + dev[3:14]        # ns-<11> <-> tap<11>


def teardown(ns_devices, taps: set[str]) -> list[Op]:
    """The host ends of the namespace's veths (deleting the namespace takes
    the other ends)."""
    return [("delete_tap", tap_of(dev)) for dev in sorted(ns_devices) if tap_of(dev) in taps]


def host_taps(host_netns: str | None) -> set[str]:
    """Every tap in the host's namespace (ours or a VM's: the plan keys on names)."""
    with FastLinks(host_netns) as fl:
        return {link.name for link in fl.dump() if link.name.startswith("tap")}


def observe(ns: str, dev: str | None, v6: bool = False) -> tuple[dict, set[str], bool]:
    """The namespace's ns- devices {name: (mac, mtu, up)}, `dev`'s addresses
    (its global IPv6 ones too if `v6`) and whether `dev` is there."""
    # raw netlink dumps: a restarted agent observes every namespace, and
    # pyroute2 costs tens of ms per namespace
    with FastLinks(ns) as fl:
        links = fl.dump()
    ns_devices, addresses, index = {}, set(), None
    for link in links:
        if link.name.startswith("ns-"):
            ns_devices[link.name] = (link.mac, link.mtu, link.up)
            if link.name == dev:
                index = link.index
    if index is not None:
        addresses = {f"{ip}/{plen}" for idx, ip, plen in ipv4_addresses(ns) if idx == index}
        if v6:
            with Netlink(ns) as nl:
                addresses |= {a for a in nl.addresses(dev, socket.AF_INET6)
                              if not a.startswith("fe80:")}
    return ns_devices, addresses, index is not None


def plan(ns_devices: dict, taps: set[str], addresses: set[str], *, dev: str, tap: str,
         mac: str, mtu: int, want: set[str]) -> tuple[list[Op], bool]:
    """The ops converging the port; and whether its veth is (re)created (then
    whatever else the old namespace end held is gone too)."""
    ops: list[Op] = []
    for stale in sorted(set(ns_devices) - {dev}):
        ops.append(("delete_dev", stale))
        if tap_of(stale) in taps:
            ops.append(("delete_tap", tap_of(stale)))
    have = ns_devices.get(dev)
    fresh = have is None or tap not in taps
    if fresh:
        if tap in taps:
            ops.append(("delete_tap", tap))
        ops.append(("create_veth", tap, dev, mac, mtu))
        addresses = set()
    elif have[0] != normalize_mac(mac) or have[1] != mtu or not have[2]:
        ops.append(("set_dev", dev, mac, mtu))
    for cidr in sorted(addresses - want):
        ops.append(("address", "del", dev, cidr))
    for cidr in sorted(want - addresses):
        ops.append(("address", "add", dev, cidr))
    return ops, fresh


def apply(op: Op, ns: str, host_netns: str | None) -> None:
    """One of PORT_OPS; `host_netns`: where the taps (and the bridges) are."""
    kind = op[0]
    if kind == "delete_dev":
        with Netlink(ns) as nl:
            nl.delete_link(op[1])
    elif kind == "delete_tap":
        with Netlink(host_netns) as nl:
            nl.delete_link(op[1])
    elif kind == "create_veth":
        _, tap, dev, mac, mtu = op
        with Netlink(host_netns) as nl:
            # the tap gets the port's MAC with fe: like a VIF; the Linux
            # bridge agent enslaves it to the network's bridge
            nl.create_veth(tap, dev, peer_netns=ns, mac="fe" + mac[2:],
                           peer_mac=mac, mtu=mtu)
            nl.set_up(tap)
        with Netlink(ns) as nl:
            nl.set_up(dev)
    elif kind == "set_dev":
        _, dev, mac, mtu = op
        with Netlink(ns) as nl:
            nl.set_mac(dev, mac)
            nl.set_mtu(dev, mtu)
            nl.set_up(dev)
    elif kind == "address":
        _, action, dev, cidr = op
        with Netlink(ns) as nl:
            (nl.add_address if action == "add" else nl.del_address)(dev, cidr)
    else:
        raise ValueError(f"not a port op: {op!r}")
