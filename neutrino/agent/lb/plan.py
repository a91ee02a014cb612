"""plan(desired, observed) -> the ops converging one load balancer. Pure.

Ops, in the order they must run:
  ("create_netns",)                      (with its loopback up)
  ("delete_dev", name)                   stale ns- device in the namespace
  ("delete_tap", tap)
  ("create_veth", tap, dev, mac, mtu)    (recreated whole if either end is missing)
  ("set_dev", dev, mac, mtu)             MAC/MTU drifted, or down
  ("address", "add"|"del", dev, cidr)
  ("route", gateway|None, dst)           the default route (None: remove it)
  ("write_epoch", epoch)
  ("write_config", text)                 checked with haproxy -c first
  ("start",) | ("reload",)               haproxy master-worker; reload = SIGUSR2
  teardown: ("stop",), ("delete_tap", tap), ("delete_netns",), ("remove_dir",)
  ("stop_stray",) first: our haproxy outside its (deleted) namespace
A failover (a new epoch) tears everything down and builds it again.
"""
from __future__ import annotations

from dataclasses import replace

from neutrino.agent.lb.model import LbDesired, LbObserved, tap_name
from neutrino.dataplane.netlink_model import normalize_mac

Op = tuple


def teardown(observed: LbObserved) -> list[Op]:
    ops: list[Op] = []
    if observed.pid is not None:
        ops.append(("stop",))
    for dev in sorted(observed.ns_devices):
        tap = tap_name(dev[3:])          # ns-<11> <-> tap<11>
        if tap in observed.taps:
            ops.append(("delete_tap", tap))
    if observed.netns_exists:
        ops.append(("delete_netns",))
    if observed.has_dir:
        ops.append(("remove_dir",))
    return ops


def plan(desired: LbDesired | None, observed: LbObserved) -> list[Op]:
    if observed.stray_pid is not None:
        # its namespace was deleted under it: stop it, then start from there
        return [("stop_stray",)] + plan(desired, replace(observed, stray_pid=None))
    if desired is None or not desired.wanted:
        return teardown(observed)
    if observed.epoch is not None and observed.epoch != desired.epoch:
        # failover: rebuild from scratch (the taps stay known: they are the host's)
        return teardown(observed) + plan(desired, LbObserved(taps=observed.taps - {
            tap_name(dev[3:]) for dev in observed.ns_devices}))
    vip = desired.vip
    ops: list[Op] = []
    dev, tap = vip.dev, vip.tap
    if not observed.netns_exists:
        ops.append(("create_netns",))
    for stale in sorted(set(observed.ns_devices) - {dev}):
        ops.append(("delete_dev", stale))
        if tap_name(stale[3:]) in observed.taps:
            ops.append(("delete_tap", tap_name(stale[3:])))
    have = observed.ns_devices.get(dev)
    addresses, gateway = observed.addresses, observed.default_gw
    if have is None or tap not in observed.taps:
        if tap in observed.taps:
            ops.append(("delete_tap", tap))
        ops.append(("create_veth", tap, dev, vip.mac_address, vip.mtu))
        addresses, gateway = set(), None
    elif have[0] != normalize_mac(vip.mac_address) or have[1] != vip.mtu or not have[2]:
        ops.append(("set_dev", dev, vip.mac_address, vip.mtu))
    want = {vip.cidr}
    for cidr in sorted(addresses - want):
        ops.append(("address", "del", dev, cidr))
    for cidr in sorted(want - addresses):
        ops.append(("address", "add", dev, cidr))
    if gateway != vip.gateway_ip:
        ops.append(("route", vip.gateway_ip, vip.default_dst))
    if observed.epoch != desired.epoch:
        ops.append(("write_epoch", desired.epoch))
    changed = observed.config != desired.config
    if changed:
        ops.append(("write_config", desired.config))
    if observed.pid is None:
        ops.append(("start",))
    elif changed:
        ops.append(("reload",))
    return ops
