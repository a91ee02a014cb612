"""plan_subports(desired, observed) -> [Op]: the devices of trunk subports,
as upstream's Linux bridge trunk driver made them. Pure, no I/O.

A subport's device is a VLAN subinterface of its parent's tap carrying the
subport's VLAN id, named as the subport's own tap (tap<subport[:11]>): the
ordinary plan (neutrino.agent.l2.plan) then sees the subport's "tap", puts
it on the subport network's bridge and the agent reports the subport
ACTIVE — nothing else knows about trunks. Rules:
* a subport device exists while its parent's tap exists (the hypervisor
  made it) and the parent is bound here with the subport in its trunk;
* a VLAN device on a tap that no trunk explains (subport removed, VLAN id
  changed, parent gone) is deleted; any other device is left alone (a tap
  of that name that is not a VLAN is the hypervisor's, not ours).
"""
from __future__ import annotations

from collections.abc import Mapping

from neutrino.agent.l2.model import CreateVlan, DeleteLink, Desired, Op, tap_name
from neutrino.dataplane.netlink_model import Link


def wanted_subports(desired: Desired, observed: Mapping[str, Link]) -> dict[str, tuple[str, int]]:
    """{subport device: (parent tap, VLAN id)} for the parents whose tap exists."""
    out: dict[str, tuple[str, int]] = {}
    for port in desired.ports.values():
        parent = tap_name(port.id)
        if parent not in observed:
            continue
        for sub_id, vid in port.subports:
            out[tap_name(sub_id)] = (parent, vid)
    return out


def is_subport_device(name: str, link: Link) -> bool:
    return (link.kind == "vlan" and name.startswith("tap")
            and bool(link.vlan_parent) and link.vlan_parent.startswith("tap"))


def plan_subports(desired: Desired, observed: Mapping[str, Link]) -> list[Op]:
    wanted = wanted_subports(desired, observed)
    ops: list[Op] = []
    gone = set()
    for name in sorted(observed):
        link = observed[name]
        if not is_subport_device(name, link):
            continue
        want = wanted.get(name)
        if want is None:
            ops.append(DeleteLink(name, "no trunk has this subport here"))
            gone.add(name)
        elif (link.vlan_parent, link.vlan_id) != want:
            ops.append(DeleteLink(name, "subport moved to another parent or VLAN"))
            gone.add(name)
    for name, (parent, vid) in sorted(wanted.items()):
        if name in observed and name not in gone:
            continue
        sub_id = next(pid for p in desired.ports.values() for pid, _ in p.subports
                      if tap_name(pid) == name)
        sub = desired.ports.get(sub_id)
        net = desired.networks.get(sub.network_id) if sub is not None else None
        parent_link = observed[parent]
        mtu = net.mtu if net is not None else parent_link.mtu
        if parent_link.mtu:
            mtu = min(mtu or parent_link.mtu, parent_link.mtu)
        ops.append(CreateVlan(name, parent, vid, mtu))
    return ops


def missing_subports(desired: Desired) -> set[str]:
    """Subports of the parents here that the agent has not fetched yet (a
    parent's binding brings its subports along in the same transaction)."""
    return {pid for p in desired.ports.values() for pid, _ in p.subports} - set(desired.ports)
