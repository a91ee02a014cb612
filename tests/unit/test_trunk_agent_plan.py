"""The Linux bridge agent's trunk plan (neutrino.agent.l2.trunk.plan) with
the ordinary plan after it, against the fake kernel of test_agent_plan:
a subport becomes a VLAN subinterface of its parent's tap, named as its own
tap, on its own network's bridge; removed subports' devices go; nothing
else is touched; a second pass has nothing to do."""
from __future__ import annotations

from neutrino.agent.l2.model import (CreateVlan, DeleteLink, Desired, NetworkSpec, PortSpec,
                                     bridge_name, tap_name)
from neutrino.agent.l2.plan import plan
from neutrino.agent.l2.trunk.plan import missing_subports, plan_subports
from tests.unit.test_agent_plan import CONF, NET_A, NET_B, PORT_1, PORT_2, PORT_3, FakeKernel, link

NET_C = "cccccccc-3333-4333-8333-000000000003"


def desired(subports=((PORT_2, 101), (PORT_3, 102)), with_subports=True) -> Desired:
    nets = {NET_A: NetworkSpec(NET_A, "vxlan", None, 1001, 1450),
            NET_B: NetworkSpec(NET_B, "vlan", "physnet1", 101, 1400),
            NET_C: NetworkSpec(NET_C, "vlan", "physnet1", 102, 1450)}
    ports = {PORT_1: PortSpec(PORT_1, NET_A, "fa:16:3e:00:00:01", subports=tuple(subports))}
    if with_subports:
        ports[PORT_2] = PortSpec(PORT_2, NET_B, "fa:16:3e:00:00:02")
        ports[PORT_3] = PortSpec(PORT_3, NET_C, "fa:16:3e:00:00:03")
    return Desired(ports=ports, networks=nets)


def converge(kernel: FakeKernel, want: Desired):
    """One agent cycle: trunk ops, then the plan on the fresh kernel."""
    trunk_ops = plan_subports(want, kernel.links)
    kernel.apply(trunk_ops)
    result = plan(want, kernel.links, CONF)
    kernel.apply(result.ops)
    return trunk_ops, result


def test_subports_become_vlan_devices_of_the_parent_tap_on_their_bridges():
    kernel = FakeKernel.host(link(tap_name(PORT_1), kind="tun", mtu=1450))
    trunk_ops, result = converge(kernel, desired())
    assert trunk_ops == [CreateVlan(tap_name(PORT_2), tap_name(PORT_1), 101, 1400),
                         CreateVlan(tap_name(PORT_3), tap_name(PORT_1), 102, 1450)]
    sub2, sub3 = kernel.links[tap_name(PORT_2)], kernel.links[tap_name(PORT_3)]
    assert (sub2.kind, sub2.vlan_parent, sub2.vlan_id, sub2.master, sub2.up) == (
        "vlan", tap_name(PORT_1), 101, bridge_name(NET_B), True)
    assert (sub3.vlan_id, sub3.master) == (102, bridge_name(NET_C))
    assert kernel.links[tap_name(PORT_1)].master == bridge_name(NET_A)
    assert result.wired == {PORT_1, PORT_2, PORT_3}     # every subport reported ACTIVE
    # idempotent
    trunk_ops, result = converge(kernel, desired())
    assert trunk_ops == [] and result.ops == []


def test_no_parent_tap_no_subport_devices():
    kernel = FakeKernel.host()
    trunk_ops, result = converge(kernel, desired())
    assert trunk_ops == []
    assert result.wired == set() and result.unwired == {PORT_1, PORT_2, PORT_3}


def test_removed_or_moved_subports_lose_their_devices():
    kernel = FakeKernel.host(link(tap_name(PORT_1), kind="tun", mtu=1450))
    converge(kernel, desired())
    # PORT_3 left the trunk (and was unbound); PORT_2's VLAN changed
    want = desired(subports=((PORT_2, 150),))
    del want.ports[PORT_3]
    trunk_ops = plan_subports(want, kernel.links)
    assert trunk_ops == [DeleteLink(tap_name(PORT_2), "subport moved to another parent or VLAN"),
                         DeleteLink(tap_name(PORT_3), "no trunk has this subport here"),
                         CreateVlan(tap_name(PORT_2), tap_name(PORT_1), 150, 1400)]
    kernel.apply(trunk_ops)
    kernel.apply(plan(want, kernel.links, CONF).ops)
    assert tap_name(PORT_3) not in kernel.links
    assert kernel.links[tap_name(PORT_2)].vlan_id == 150
    assert kernel.links[tap_name(PORT_2)].master == bridge_name(NET_B)


def test_foreign_devices_are_left_alone():
    kernel = FakeKernel.host(link(tap_name(PORT_1), kind="tun", mtu=1450),
                             link("eth1.300", kind="vlan", vlan_parent="eth1", vlan_id=300),
                             link("tapforeign12", kind="tun"))
    assert plan_subports(desired(subports=()), kernel.links) == []


def test_subports_not_yet_fetched():
    want = desired(with_subports=False)
    assert missing_subports(want) == {PORT_2, PORT_3}
    assert missing_subports(desired()) == set()
