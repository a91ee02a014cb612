"""plan(desired, observed) -> the ops converging one network. Pure.

Ops, in the order they must run:
  ("create_netns",)
  ("delete_dev", name)                 stale ns- device in the namespace
  ("create_veth", tap, dev, mac, mtu)  (recreated whole if either end is missing)
  ("set_dev", dev, mac, mtu)           MAC/MTU drifted
  ("address", "add"|"del", dev, cidr)
  ("write", file_name, text)
  ("start", argv) | ("restart", argv) | ("reload",)
  ("proxy", "ensure"|"stop")           the metadata haproxy (isolated metadata)
  teardown: ("proxy", "stop"), ("stop",), ("delete_tap", tap), ("delete_netns",),
            ("remove_dir",)
The command line only changes with the subnets/MTU/interface: a host or
opts change is a SIGHUP, never a restart.
"""
from __future__ import annotations

from neutrino.agent.dhcp.model import NetDesired, NetObserved, tap_name
from neutrino.dataplane.dnsmasq import DnsmasqConf
from neutrino.dataplane.netlink_model import normalize_mac

Op = tuple


def teardown(observed: NetObserved, network_id: str = "") -> list[Op]:
    ops: list[Op] = []
    if observed.proxy_running or observed.proxy_config is not None:
        ops.append(("proxy", "stop"))       # before its namespace goes
    if observed.pid is not None:
        ops.append(("stop",))
    for dev in sorted(observed.ns_devices):
        tap = tap_name(dev[3:])       # ns-<11> <-> tap<11>
        if tap in observed.taps:
            ops.append(("delete_tap", tap))
    if observed.netns_exists:
        ops.append(("delete_netns",))
    if observed.has_state_dir:
        ops.append(("remove_dir",))
    return ops


def plan(desired: NetDesired | None, observed: NetObserved, conf: DnsmasqConf,
         proxy_config: str | None = None) -> list[Op]:
    """`proxy_config`: the metadata proxy's config text as it should be
    (None: the network needs no proxy)."""
    if desired is None or not desired.wanted or desired.dhcp_port is None:
        return teardown(observed)
    ops: list[Op] = []
    port = desired.dhcp_port
    dev, tap = desired.interface(), desired.tap()
    mtu = desired.network.mtu
    if not observed.netns_exists:
        ops.append(("create_netns",))
    for stale in sorted(set(observed.ns_devices) - {dev}):
        ops.append(("delete_dev", stale))
        if tap_name(stale[3:]) in observed.taps:
            ops.append(("delete_tap", tap_name(stale[3:])))
    have = observed.ns_devices.get(dev)
    addresses = observed.addresses
    if have is None or tap not in observed.taps:
        if tap in observed.taps:
            ops.append(("delete_tap", tap))
        ops.append(("create_veth", tap, dev, port.mac_address, mtu))
        addresses = set()
    elif have[0] != normalize_mac(port.mac_address) or have[1] != mtu or not have[2]:
        ops.append(("set_dev", dev, port.mac_address, mtu))
    want = desired.cidrs()
    for cidr in sorted(addresses - want):
        ops.append(("address", "del", dev, cidr))
    for cidr in sorted(want - addresses):
        ops.append(("address", "add", dev, cidr))
    changed = False
    for name, text in sorted(desired.files(conf).items()):
        if observed.files.get(name) != text:
            ops.append(("write", name, text))
            changed = True
    argv = desired.argv(conf)
    if observed.pid is None:
        ops.append(("start", argv))
    elif observed.cmdline != argv:
        ops.append(("restart", argv))
    elif changed:
        ops.append(("reload",))
    if desired.metadata_proxy and proxy_config is not None:
        if not observed.proxy_running or observed.proxy_config != proxy_config:
            ops.append(("proxy", "ensure"))      # after the address it binds
    elif observed.proxy_running or observed.proxy_config is not None:
        ops.append(("proxy", "stop"))
    return ops
