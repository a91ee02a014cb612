"""plan(desired, observed) -> the ops converging one load balancer. Pure.

Ops, in the order they must run:
  ("create_netns",)                      (with its loopback up)
  the VIP port's ops (neutrino.agent.ns_port): delete_dev, delete_tap,
  create_veth, set_dev, address
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

from neutrino.agent import ns_port
from neutrino.agent.lb.model import LbDesired, LbObserved

Op = tuple


def teardown(observed: LbObserved) -> list[Op]:
    ops: list[Op] = []
    if observed.pid is not None:
        ops.append(("stop",))
    ops += ns_port.teardown(observed.ns_devices, observed.taps)
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
            ns_port.tap_of(dev) for dev in observed.ns_devices}))
    vip = desired.vip
    ops: list[Op] = []
    if not observed.netns_exists:
        ops.append(("create_netns",))
    port_ops, fresh = ns_port.plan(observed.ns_devices, observed.taps, observed.addresses,
                                   dev=vip.dev, tap=vip.tap, mac=vip.mac_address,
                                   mtu=vip.mtu, want={vip.cidr})
    ops += port_ops
    gateway = None if fresh else observed.default_gw    # a new veth has no route
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
