"""plan(desired, observed) -> the ops converging one network. Pure.

Ops, in the order they must run:
  ("create_netns",)
  the port's ops (neutrino.agent.ns_port): delete_dev, delete_tap,
  create_veth, set_dev, address
  ("write", file_name, text)
  ("start", argv) | ("restart", argv) | ("reload",)
  ("proxy", "ensure"|"stop")           the metadata haproxy (isolated metadata)
  teardown: ("proxy", "stop"), ("stop",), ("delete_tap", tap), ("delete_netns",),
            ("remove_dir",)
The command line only changes with the subnets/MTU/interface: a host or
opts change is a SIGHUP, never a restart.
"""
from __future__ import annotations

from neutrino.agent import ns_port
from neutrino.agent.dhcp.model import NetDesired, NetObserved
from neutrino.dataplane.dnsmasq import DnsmasqConf

Op = tuple


def teardown(observed: NetObserved, network_id: str = "") -> list[Op]:
    ops: list[Op] = []
    if observed.proxy_running or observed.proxy_config is not None:
        ops.append(("proxy", "stop"))       # before its namespace goes
    if observed.pid is not None:
        ops.append(("stop",))
    ops += ns_port.teardown(observed.ns_devices, observed.taps)
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
    if not observed.netns_exists:
        ops.append(("create_netns",))
    ops += ns_port.plan(observed.ns_devices, observed.taps, observed.addresses,
                        dev=desired.interface(), tap=desired.tap(),
                        mac=desired.dhcp_port.mac_address, mtu=desired.network.mtu,
                        want=desired.cidrs())[0]
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
