"""plan(desired, observed, conf) of the Linux bridge agent, against a fake kernel.

Every scenario also checks idempotence: the plan applied to the fake kernel
leaves nothing for a second plan to do.
"""
from __future__ import annotations

import dataclasses
import itertools

import pytest

from neutrino.agent.l2.model import (RELEASE, CreateBridge, CreateVlan, CreateVxlan, DeleteLink,
                                     Desired, L2Conf, NetworkSpec, PortSpec, SetLink,
                                     bridge_name, tap_name, vlan_name)
from neutrino.agent.l2.plan import owned_devices, plan
from neutrino.dataplane.netlink_model import Link

NET_A = "aaaaaaaa-1111-4111-8111-000000000001"
NET_B = "bbbbbbbb-2222-4222-8222-000000000002"
PORT_1 = "11111111-aaaa-4aaa-8aaa-000000000001"
PORT_2 = "22222222-bbbb-4bbb-8bbb-000000000002"
PORT_3 = "33333333-cccc-4ccc-8ccc-000000000003"

CONF = L2Conf(interface_mappings={"physnet1": "eth1", "external": "eth2"},
              bridge_mappings={"provider": "br-prov"}, vxlan_enabled=True,
              local_ip="10.255.0.11", vxlan_group="224.0.0.1", udp_dstport=8472,
              vxlan_dev="eth0")


class FakeKernel:
    """Links by name; applies ops the way the kernel would."""

    _index = itertools.count(100)

    def __init__(self, *links: Link):
        self.links = {link.name: link for link in links}

    @classmethod
    def host(cls, *extra: Link) -> "FakeKernel":
        base = [link("lo", kind=None, mtu=65536, up=True), link("eth0", kind="veth", up=True),
                link("eth1", kind="veth", up=True), link("eth2", kind="veth", up=True)]
        return cls(*base, *extra)

    def apply(self, ops) -> None:
        for op in ops:
            if isinstance(op, DeleteLink):
                assert op.name in self.links, f"delete of missing {op.name}"
                del self.links[op.name]
                for name, l in list(self.links.items()):
                    if l.master == op.name:
                        self.links[name] = dataclasses.replace(l, master=None)
            elif isinstance(op, CreateBridge):
                assert op.name not in self.links
                self.links[op.name] = link(op.name, kind="bridge", mtu=1500, up=False)
            elif isinstance(op, CreateVxlan):
                assert op.name not in self.links
                self.links[op.name] = link(
                    op.name, kind="vxlan", mtu=op.mtu, up=False, vxlan_id=op.vni,
                    vxlan_local=op.local_ip, vxlan_group=op.group, vxlan_port=op.dstport,
                    vxlan_ttl=op.ttl or 0, vxlan_tos=op.tos or 0, vxlan_dev=op.dev,
                    vxlan_learning=op.learning, vxlan_proxy=op.proxy)
            elif isinstance(op, CreateVlan):
                assert op.name not in self.links and op.parent in self.links
                self.links[op.name] = link(op.name, kind="vlan", mtu=op.mtu, up=False,
                                           vlan_id=op.vid, vlan_parent=op.parent)
            elif isinstance(op, SetLink):
                cur = self.links[op.name]
                changes = {}
                if op.master is not None:
                    assert op.master == RELEASE or self.links[op.master].kind == "bridge"
                    changes["master"] = op.master or None
                if op.mtu is not None:
                    changes["mtu"] = op.mtu
                if op.up is not None:
                    changes["up"] = op.up
                self.links[op.name] = dataclasses.replace(cur, **changes)
            else:
                raise AssertionError(f"unknown op {op!r}")


def link(name, kind="veth", mtu=1500, up=False, master=None, **kw) -> Link:
    return Link(name=name, index=next(FakeKernel._index), kind=kind, mtu=mtu,
                mac="fa:16:3e:00:00:01", up=up, master=master, **kw)


def net(net_id=NET_A, network_type="local", physnet=None, seg=None, mtu=1500, up=True):
    return NetworkSpec(net_id, network_type, physnet, seg, mtu, up)


def port(port_id=PORT_1, net_id=NET_A, up=True, status="DOWN"):
    return PortSpec(port_id, net_id, "fa:16:3e:00:00:01", up, (), "compute:lab", status)


def desired(*items) -> Desired:
    d = Desired()
    for item in items:
        if isinstance(item, NetworkSpec):
            d.networks[item.id] = item
        else:
            d.ports[item.id] = item
    return d


def converge(d: Desired, kernel: FakeKernel, conf: L2Conf = CONF):
    """Plan, apply, and check that a second plan is empty."""
    first = plan(d, kernel.links, conf)
    kernel.apply(first.ops)
    second = plan(d, kernel.links, conf)
    assert second.ops == [], f"not idempotent: {second.ops}"
    assert second.wired == first.wired
    return first


# ---------------------------------------------------------------- basics

def test_nothing_bound_nothing_to_do():
    p = plan(Desired(), FakeKernel.host().links, CONF)
    assert p.ops == [] and p.wired == set() and p.problems == {}


def test_local_network_bridge_created_with_first_port_before_its_tap():
    k = FakeKernel.host()
    p = converge(desired(net(), port()), k)
    br = bridge_name(NET_A)
    assert p.ops[0] == CreateBridge(br)
    assert p.ops[1] == SetLink(br, mtu=1500, up=True)
    assert p.unwired == {PORT_1} and p.wired == set()
    assert k.links[br].up and k.links[br].kind == "bridge"


def test_tap_enslaved_with_mtu_and_up():
    tap = tap_name(PORT_1)
    k = FakeKernel.host(link(tap, mtu=1500))
    p = converge(desired(net(mtu=1450), port()), k)
    br = bridge_name(NET_A)
    assert SetLink(tap, master=br, mtu=1450, up=True, port_id=PORT_1) in p.ops
    assert p.wired == {PORT_1} and p.touching_ports == {PORT_1}
    assert k.links[tap].master == br and k.links[br].mtu == 1450


def test_healthy_host_yields_empty_plan():
    br, tap = bridge_name(NET_A), tap_name(PORT_1)
    k = FakeKernel.host(link(br, kind="bridge", up=True),
                        link(tap, master=br, up=True))
    p = plan(desired(net(), port()), k.links, CONF)
    assert p.ops == [] and p.wired == {PORT_1}


def test_only_differing_fields_are_changed():
    br, tap = bridge_name(NET_A), tap_name(PORT_1)
    k = FakeKernel.host(link(br, kind="bridge", up=True), link(tap, master=br, up=False))
    p = plan(desired(net(), port()), k.links, CONF)
    assert p.ops == [SetLink(tap, up=True, port_id=PORT_1)]


def test_tap_on_the_wrong_bridge_moves():
    br, tap = bridge_name(NET_A), tap_name(PORT_1)
    other = bridge_name(NET_B)
    k = FakeKernel.host(link(br, kind="bridge", up=True), link(other, kind="bridge", up=True),
                        link(tap, master=other, up=True))
    p = converge(desired(net(), port()), k)
    assert SetLink(tap, master=br, port_id=PORT_1) in p.ops
    assert DeleteLink(other, "no port bound here needs it") in p.ops


def test_ops_are_ordered_deletes_creates_uplinks_taps():
    k = FakeKernel.host(link("brqdeadbeef-00", kind="bridge"), link(tap_name(PORT_1)))
    p = plan(desired(net(network_type="vxlan", seg=5000, mtu=1450), port()), k.links, CONF)
    kinds = [type(op).__name__ for op in p.ops]
    assert kinds == ["DeleteLink", "CreateBridge", "CreateVxlan", "SetLink", "SetLink", "SetLink"]
    assert p.ops[-1].name == tap_name(PORT_1)


# ---------------------------------------------------------------- network types

def test_flat_enslaves_the_mapped_interface_without_touching_its_mtu():
    k = FakeKernel.host(link(tap_name(PORT_1)))
    p = converge(desired(net(network_type="flat", physnet="physnet1"), port()), k)
    assert SetLink("eth1", master=bridge_name(NET_A)) in p.ops
    assert k.links["eth1"].mtu == 1500 and k.links["eth1"].master == bridge_name(NET_A)


def test_flat_missing_interface_is_a_problem_not_an_op():
    k = FakeKernel(link("lo", kind=None, up=True))
    p = plan(desired(net(network_type="flat", physnet="physnet1"), port()), k.links, CONF)
    assert p.ops == [] and "eth1 does not exist" in p.problems[NET_A]
    assert p.unwired == {PORT_1}


def test_flat_unmapped_physnet_is_a_problem():
    p = plan(desired(net(network_type="flat", physnet="nowhere"), port()),
             FakeKernel.host().links, CONF)
    assert "no mapping" in p.problems[NET_A] and p.ops == []


def test_flat_on_bridge_mapping_uses_the_operator_bridge_and_never_deletes_it():
    tap = tap_name(PORT_1)
    k = FakeKernel.host(link("br-prov", kind="bridge", up=True), link(tap))
    p = converge(desired(net(network_type="flat", physnet="provider"), port()), k)
    assert p.ops == [SetLink(tap, master="br-prov", up=True, port_id=PORT_1)]
    # last port gone: the tap is released, the bridge stays
    p = converge(desired(), k)
    assert p.ops == [SetLink(tap, master=RELEASE)]
    assert "br-prov" in k.links


def test_flat_on_missing_mapped_bridge_is_a_problem():
    p = plan(desired(net(network_type="flat", physnet="provider"), port()),
             FakeKernel.host().links, CONF)
    assert "br-prov does not exist" in p.problems[NET_A]


def test_vlan_device_on_the_mapped_interface():
    k = FakeKernel.host(link(tap_name(PORT_1)))
    p = converge(desired(net(network_type="vlan", physnet="physnet1", seg=100), port()), k)
    br = bridge_name(NET_A)
    assert CreateVlan("eth1.100", "eth1", 100, 1500) in p.ops
    assert SetLink("eth1.100", master=br, mtu=1500, up=True) in p.ops
    assert k.links["eth1.100"].master == br and k.links["eth1.100"].vlan_id == 100


def test_vlan_with_other_id_under_our_name_is_recreated():
    br = bridge_name(NET_A)
    k = FakeKernel.host(link(br, kind="bridge", up=True),
                        link("eth1.100", kind="vlan", vlan_id=101, vlan_parent="eth1",
                             master=br, up=True))
    p = converge(desired(net(network_type="vlan", physnet="physnet1", seg=100), port()), k)
    assert p.ops[0] == DeleteLink("eth1.100", "parameters changed")
    assert CreateVlan("eth1.100", "eth1", 100, 1500) in p.ops


def test_vlan_invalid_id_and_bridge_mapping_only():
    p = plan(desired(net(network_type="vlan", physnet="physnet1", seg=5000), port()),
             FakeKernel.host().links, CONF)
    assert "invalid vlan id" in p.problems[NET_A]
    p = plan(desired(net(network_type="vlan", physnet="provider", seg=10), port()),
             FakeKernel.host().links, CONF)
    assert "no interface mapping" in p.problems[NET_A]


def test_vlan_name_fits_ifnamsiz():
    assert vlan_name("eth1", 100) == "eth1.100"
    assert vlan_name("enp0s31f6verylong", 4094) == "enp0s31f6v.4094"
    assert len(vlan_name("enp0s31f6verylong", 4094)) == 15


def test_vxlan_device_attributes():
    k = FakeKernel.host(link(tap_name(PORT_1)))
    p = converge(desired(net(network_type="vxlan", seg=20016, mtu=1450), port()), k)
    create = next(op for op in p.ops if isinstance(op, CreateVxlan))
    assert create == CreateVxlan("vxlan-20016", 20016, "10.255.0.11", "224.0.0.1", 8472, None,
                                 None, "eth0", True, False, 1450)
    vx = k.links["vxlan-20016"]
    assert vx.master == bridge_name(NET_A) and vx.mtu == 1450 and vx.up
    assert k.links[bridge_name(NET_A)].mtu == 1450 and k.links[tap_name(PORT_1)].mtu == 1450


def test_vxlan_config_change_recreates_only_the_vxlan_device():
    k = FakeKernel.host(link(tap_name(PORT_1)))
    d = desired(net(network_type="vxlan", seg=7, mtu=1450), port())
    converge(d, k)
    conf = dataclasses.replace(CONF, udp_dstport=4789, ttl=8)
    p = converge(d, k, conf)
    assert p.ops[0] == DeleteLink("vxlan-7", "parameters changed")
    assert not any(isinstance(op, (CreateBridge, DeleteLink)) and op.name.startswith("brq")
                   for op in p.ops)
    assert k.links["vxlan-7"].vxlan_port == 4789 and k.links["vxlan-7"].vxlan_ttl == 8


def test_vxlan_disabled_is_a_problem():
    conf = dataclasses.replace(CONF, vxlan_enabled=False)
    p = plan(desired(net(network_type="vxlan", seg=7), port()), FakeKernel.host().links, conf)
    assert "vxlan is disabled" in p.problems[NET_A] and p.ops == []


def test_vxlan_group_cidr_spreads_vnis_and_l2pop_mode():
    conf = dataclasses.replace(CONF, vxlan_group="239.1.0.0/16")
    assert conf.group_for(5) == "239.1.0.5" and conf.group_for(65537) == "239.1.0.1"
    l2pop = dataclasses.replace(CONF, vxlan_group=None, l2_population=True, arp_responder=True)
    k = FakeKernel.host()
    p = converge(desired(net(network_type="vxlan", seg=9, mtu=1450), port()), k, l2pop)
    create = next(op for op in p.ops if isinstance(op, CreateVxlan))
    assert create.group is None and create.learning is False and create.proxy is True


def test_unsupported_type():
    p = plan(desired(net(network_type="gre", seg=3), port()), FakeKernel.host().links, CONF)
    assert "not supported" in p.problems[NET_A]


def test_missing_network_details():
    p = plan(desired(port()), FakeKernel.host().links, CONF)
    assert "no network details" in p.problems[NET_A] and p.unwired == {PORT_1}


# ---------------------------------------------------------------- removal and ownership

def test_last_port_gone_removes_bridge_and_uplink_but_never_the_tap():
    k = FakeKernel.host(link(tap_name(PORT_1)))
    converge(desired(net(network_type="vxlan", seg=42, mtu=1450), port()), k)
    p = converge(desired(), k)
    assert {op.name for op in p.ops if isinstance(op, DeleteLink)} == {bridge_name(NET_A),
                                                                      "vxlan-42"}
    assert not any(isinstance(op, SetLink) for op in p.ops)   # deleting the bridge frees the tap
    assert tap_name(PORT_1) in k.links and k.links[tap_name(PORT_1)].master is None


def test_flat_interface_survives_its_bridge():
    k = FakeKernel.host()
    converge(desired(net(network_type="flat", physnet="physnet1"), port()), k)
    converge(desired(), k)
    assert "eth1" in k.links and k.links["eth1"].master is None


def test_only_owned_stale_devices_are_deleted():
    k = FakeKernel.host(
        link("brq0123456789a", kind="bridge"),          # ours, stale
        link("vxlan-77", kind="vxlan", vxlan_id=77),    # ours, stale
        link("eth1.300", kind="vlan", vlan_id=300, vlan_parent="eth1"),   # ours, stale
        link("eth9.300", kind="vlan", vlan_id=300, vlan_parent="eth9"),   # unmapped parent
        link("eth9", kind="veth"),
        link("br-prov", kind="bridge"),                 # operator's
        link("brq-short", kind="bridge"),               # not our naming
        link("vxlan-custom", kind="vxlan", vxlan_id=1),
        link("keep0", kind="dummy"),
        link("tapdeadbeef00", kind="tun"),              # taps are never deleted
    )
    assert owned_devices(k.links, CONF) == {"brq0123456789a", "vxlan-77", "eth1.300"}
    p = converge(Desired(), k)
    assert sorted(op.name for op in p.ops) == ["brq0123456789a", "eth1.300", "vxlan-77"]
    assert all(isinstance(op, DeleteLink) for op in p.ops)


def test_bridge_name_taken_by_another_kind_is_replaced():
    br = bridge_name(NET_A)
    k = FakeKernel.host(link(br, kind="dummy"))
    p = converge(desired(net(), port()), k)
    assert p.ops[0] == DeleteLink(br, "not a bridge") and CreateBridge(br) in p.ops


# ---------------------------------------------------------------- port states

def test_disabled_port_is_taken_out_of_the_bridge():
    br, tap = bridge_name(NET_A), tap_name(PORT_1)
    k = FakeKernel.host(link(br, kind="bridge", up=True), link(tap, master=br, up=True))
    p = converge(desired(net(), port(up=False)), k)
    assert p.ops == [SetLink(tap, master=RELEASE, port_id=PORT_1)]
    assert p.unwired == {PORT_1}
    assert br in k.links   # the port is still bound: its bridge stays


def test_disabled_network_unwires_its_ports():
    br, tap = bridge_name(NET_A), tap_name(PORT_1)
    k = FakeKernel.host(link(br, kind="bridge", up=True), link(tap, master=br, up=True))
    p = converge(desired(net(up=False), port()), k)
    assert p.unwired == {PORT_1} and SetLink(tap, master=RELEASE, port_id=PORT_1) in p.ops


def test_unknown_tap_on_our_bridge_is_released_foreign_bridge_untouched():
    br = bridge_name(NET_A)
    k = FakeKernel.host(link(br, kind="bridge", up=True),
                        link(tap_name(PORT_1), master=br, up=True),
                        link("tapstranger00", master=br, up=True),
                        link("br-other", kind="bridge"),
                        link("tapelsewhere0", master="br-other", up=True))
    p = converge(desired(net(), port()), k)
    assert p.ops == [SetLink("tapstranger00", master=RELEASE)]
    assert k.links["tapelsewhere0"].master == "br-other"


def test_mtu_change_reaches_bridge_uplink_and_taps():
    k = FakeKernel.host(link(tap_name(PORT_1)), link(tap_name(PORT_2)))
    converge(desired(net(network_type="vxlan", seg=3, mtu=1450), port(), port(PORT_2)), k)
    p = converge(desired(net(network_type="vxlan", seg=3, mtu=1400), port(), port(PORT_2)), k)
    assert {op.name for op in p.ops} == {bridge_name(NET_A), "vxlan-3", tap_name(PORT_1),
                                         tap_name(PORT_2)}
    assert all(isinstance(op, SetLink) and op.mtu == 1400 for op in p.ops)


def test_two_networks_two_bridges():
    k = FakeKernel.host(*(link(tap_name(p)) for p in (PORT_1, PORT_2, PORT_3)))
    d = desired(net(), net(NET_B, network_type="vlan", physnet="physnet1", seg=7),
                port(), port(PORT_2), port(PORT_3, NET_B))
    p = converge(d, k)
    assert p.wired == {PORT_1, PORT_2, PORT_3}
    assert k.links[tap_name(PORT_3)].master == bridge_name(NET_B)
    assert k.links[tap_name(PORT_1)].master == bridge_name(NET_A)
    # one network's ports leave: only its devices go
    d2 = desired(net(), port(), port(PORT_2))
    p = converge(d2, k)
    assert {op.name for op in p.ops} == {bridge_name(NET_B), "eth1.7"}


@pytest.mark.parametrize("n", [1, 50])
def test_many_ports_one_plan(n):
    ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(n)]
    k = FakeKernel.host(*(link(tap_name(i)) for i in ids))
    p = converge(desired(net(network_type="vxlan", seg=100, mtu=1450), *(port(i) for i in ids)),
                 k)
    assert p.wired == set(ids) and len(p.ops) == n + 4


# ---------------------------------------------------------------- desired-state cache

def test_merge_replaces_only_what_was_asked_for():
    d = desired(net(), net(NET_B), port(), port(PORT_2), port(PORT_3, NET_B))
    # PORT_1 re-fetched and still bound; PORT_2 asked for and gone
    d.merge({"ports": [{"id": PORT_1, "network_id": NET_A, "mac_address": "fa:16:3e:00:00:09",
                        "status": "ACTIVE"}],
             "networks": [{"id": NET_A, "network_type": "local", "mtu": 1400}]},
            {PORT_1, PORT_2}, set())
    assert set(d.ports) == {PORT_1, PORT_3}
    assert d.ports[PORT_1].mac_address == "fa:16:3e:00:00:09"
    assert d.networks[NET_A].mtu == 1400
    # all of NET_B's ports re-fetched: none left, the network is forgotten
    d.merge({"ports": [], "networks": []}, set(), {NET_B})
    assert set(d.ports) == {PORT_1} and set(d.networks) == {NET_A}


def test_agent_configurations_for_binding():
    assert CONF.agent_configurations()["tunnel_types"] == ["vxlan"]
    off = dataclasses.replace(CONF, vxlan_enabled=False)
    assert off.agent_configurations()["tunnel_types"] == []
    assert CONF.agent_configurations()["interface_mappings"] == {"physnet1": "eth1",
                                                                "external": "eth2"}
