"""The l2population part of the L2 agent's plan: flood list, per-MAC fdb
entries and ARP-responder neighbours of a vxlan device, diffed entry by
entry against what the kernel holds. Pure: plain values in, ops out."""
from __future__ import annotations

import dataclasses

from neutrino.agent.l2.model import (FLOOD_MAC, AddFdb, CreateVxlan, DelFdb, DelNeigh, Desired,
                                     Forwarding, L2Conf, NetworkSpec, PortSpec, RemotePort,
                                     SetNeigh, bridge_name, tap_name)
from neutrino.agent.l2.plan import plan
from neutrino.dataplane.netlink_model import Link

NET = "aaaaaaaa-1111-4111-8111-000000000001"
PORT = "11111111-aaaa-4aaa-8aaa-000000000001"
DEV = "vxlan-1001"
H2, H3 = "10.255.0.12", "10.255.0.13"
MAC2, MAC3 = "fa:16:3e:00:00:02", "fa:16:3e:00:00:03"

CONF = L2Conf(interface_mappings={"physnet1": "eth1"}, vxlan_enabled=True,
              local_ip="10.255.0.11", vxlan_group=None, udp_dstport=8472, vxlan_dev="eth0",
              l2_population=True, arp_responder=True)


def link(name, **kw):
    base = dict(name=name, index=abs(hash(name)) % 10000 + 10, kind=None, mtu=1500, mac=None,
                up=True, master=None)
    base.update(kw)
    return Link(**base)


def desired(vteps, ports):
    net = NetworkSpec(id=NET, network_type="vxlan", physical_network=None, segmentation_id=1001,
                      mtu=1450, remote_vteps=tuple(vteps), remote_ports=tuple(ports))
    return Desired(ports={PORT: PortSpec(id=PORT, network_id=NET, mac_address="fa:16:3e:00:00:01")},
                   networks={NET: net})


def kernel_with_vxlan(conf=CONF):
    """A host where the network's devices already exist, healthy."""
    bridge = bridge_name(NET)
    return {
        "eth0": link("eth0", kind="veth"),
        bridge: link(bridge, kind="bridge", mtu=1450),
        DEV: link(DEV, kind="vxlan", mtu=1450, master=bridge, vxlan_id=1001,
                  vxlan_local=conf.local_ip, vxlan_group=conf.vxlan_group, vxlan_port=8472,
                  vxlan_ttl=0, vxlan_tos=0,
                  vxlan_dev="eth0", vxlan_learning=not conf.l2_population,
                  vxlan_proxy=conf.arp_responder),
        tap_name(PORT): link(tap_name(PORT), kind="tun", mtu=1450, master=bridge),
    }


def fdb_ops(result):
    return [op for op in result.ops if isinstance(op, (AddFdb, DelFdb, SetNeigh, DelNeigh))]


def apply(current: Forwarding, ops) -> Forwarding:
    fdb, neigh = set(current.fdb), dict(current.neigh)
    for op in ops:
        if isinstance(op, AddFdb):
            fdb.add((op.mac, op.dst))
        elif isinstance(op, DelFdb):
            fdb.discard((op.mac, op.dst))
        elif isinstance(op, SetNeigh):
            neigh[op.ip] = op.mac
        elif isinstance(op, DelNeigh):
            neigh.pop(op.ip, None)
    return Forwarding(frozenset(fdb), tuple(sorted(neigh.items())))


def test_kernel_device_matches_fixture():
    # the fixture's vxlan device is what the plan wants: no link ops at all
    result = plan(desired([], []), kernel_with_vxlan(), CONF, {})
    assert result.ops == []


def test_new_device_gets_flood_list_macs_and_neighbours():
    observed = {"eth0": link("eth0", kind="veth"), tap_name(PORT): link(tap_name(PORT), kind="tun")}
    want = desired([H2, H3], [RemotePort(H2, MAC2, ("10.0.0.2", "fd00::2")),
                              RemotePort(H3, MAC3, ("10.0.0.3",))])
    result = plan(want, observed, CONF, {})
    (create,) = [op for op in result.ops if isinstance(op, CreateVxlan)]
    assert create.group is None and create.learning is False and create.proxy is True
    assert fdb_ops(result) == [
        AddFdb(DEV, FLOOD_MAC, H2), AddFdb(DEV, FLOOD_MAC, H3),
        AddFdb(DEV, MAC2, H2), AddFdb(DEV, MAC3, H3),
        SetNeigh(DEV, "10.0.0.2", MAC2), SetNeigh(DEV, "10.0.0.3", MAC3)]   # IPv4 only
    # forwarding entries come after the device exists and before the taps
    kinds = [type(op).__name__ for op in result.ops]
    assert kinds.index("CreateVxlan") < kinds.index("AddFdb")
    last_fdb = max(i for i, k in enumerate(kinds) if k in ("AddFdb", "SetNeigh"))
    tap_ops = [i for i, op in enumerate(result.ops) if getattr(op, "name", "") == tap_name(PORT)]
    assert tap_ops and min(tap_ops) > last_fdb


def test_entries_are_added_and_removed_precisely():
    want = desired([H2, H3], [RemotePort(H2, MAC2, ("10.0.0.2",)),
                              RemotePort(H3, MAC3, ("10.0.0.3",))])
    current = Forwarding()
    current = apply(current, fdb_ops(plan(want, kernel_with_vxlan(), CONF, {DEV: current})))
    # converged: a second plan is empty
    assert fdb_ops(plan(want, kernel_with_vxlan(), CONF, {DEV: current})) == []
    # h3's port goes away: its VTEP, MAC and neighbour go, nothing else is touched
    fewer = desired([H2], [RemotePort(H2, MAC2, ("10.0.0.2",))])
    ops = fdb_ops(plan(fewer, kernel_with_vxlan(), CONF, {DEV: current}))
    assert ops == [DelFdb(DEV, FLOOD_MAC, H3), DelFdb(DEV, MAC3, H3), DelNeigh(DEV, "10.0.0.3")]
    current = apply(current, ops)
    # h2's port moves to h3: old entry removed before the new one is added
    moved = desired([H3], [RemotePort(H3, MAC2, ("10.0.0.2",))])
    ops = fdb_ops(plan(moved, kernel_with_vxlan(), CONF, {DEV: current}))
    assert ops == [DelFdb(DEV, FLOOD_MAC, H2), DelFdb(DEV, MAC2, H2),
                   AddFdb(DEV, FLOOD_MAC, H3), AddFdb(DEV, MAC2, H3)]
    current = apply(current, ops)
    # a neighbour whose MAC changed is replaced in place
    relabeled = desired([H3], [RemotePort(H3, MAC3, ("10.0.0.2",))])
    ops = fdb_ops(plan(relabeled, kernel_with_vxlan(), CONF, {DEV: current}))
    assert SetNeigh(DEV, "10.0.0.2", MAC3) in ops and DelNeigh(DEV, "10.0.0.2") not in ops


def test_own_vtep_is_never_a_remote():
    want = desired([CONF.local_ip, H2], [RemotePort(CONF.local_ip, MAC3, ("10.0.0.3",))])
    ops = fdb_ops(plan(want, kernel_with_vxlan(), CONF, {}))
    assert ops == [AddFdb(DEV, FLOOD_MAC, H2)]


def test_without_arp_responder_no_neighbours_and_stale_ones_go():
    conf = dataclasses.replace(CONF, arp_responder=False)
    want = desired([H2], [RemotePort(H2, MAC2, ("10.0.0.2",))])
    stale = Forwarding(frozenset({(FLOOD_MAC, H2), (MAC2, H2)}), (("10.0.0.2", MAC2),))
    assert fdb_ops(plan(want, kernel_with_vxlan(conf), conf, {DEV: stale})) == [
        DelNeigh(DEV, "10.0.0.2")]


def test_without_l2_population_forwarding_is_left_to_the_kernel():
    conf = dataclasses.replace(CONF, l2_population=False, arp_responder=False,
                               vxlan_group="224.0.0.1")
    want = desired([H2], [RemotePort(H2, MAC2, ("10.0.0.2",))])
    result = plan(want, {"eth0": link("eth0", kind="veth")}, conf, None)
    (create,) = [op for op in result.ops if isinstance(op, CreateVxlan)]
    assert create.group == "224.0.0.1" and create.learning is True
    assert fdb_ops(result) == []


def test_recreated_device_gets_everything_again():
    # a vxlan device with the wrong identity (learning on) is recreated: its
    # entries went with it, so all are added whatever was observed before
    observed = kernel_with_vxlan(dataclasses.replace(CONF, l2_population=False))
    want = desired([H2], [RemotePort(H2, MAC2, ("10.0.0.2",))])
    held = Forwarding(frozenset({(FLOOD_MAC, H2), (MAC2, H2)}), (("10.0.0.2", MAC2),))
    result = plan(want, observed, CONF, {DEV: held})
    assert any(type(op).__name__ == "DeleteLink" and op.name == DEV for op in result.ops)
    assert fdb_ops(result) == [AddFdb(DEV, FLOOD_MAC, H2), AddFdb(DEV, MAC2, H2),
                               SetNeigh(DEV, "10.0.0.2", MAC2)]


def test_desired_from_wire():
    wire = {"ports": [], "networks": [{
        "id": NET, "network_type": "vxlan", "segmentation_id": 1001, "mtu": 1450,
        "l2pop": {"vteps": [H3, H2], "ports": [{"vtep": H2, "mac_address": MAC2.upper(),
                                                 "ips": ["10.0.0.2"]}]}}]}
    net = Desired.from_wire(wire).networks[NET]
    assert net.remote_vteps == (H2, H3)
    assert net.remote_ports == (RemotePort(H2, MAC2, ("10.0.0.2",)),)
    plain = Desired.from_wire({"networks": [{**wire["networks"][0], "l2pop": None}]})
    assert plain.networks[NET].remote_vteps is None


def test_partial_answer_without_the_table_of_a_held_network_keeps_it():
    """A port fetch names the networks whose table the agent holds; the
    server leaves those tables out and merging keeps the held ones (a
    network not named as held takes what came, even no table)."""
    table = {"vteps": [H2], "ports": [{"vtep": H2, "mac_address": MAC2, "ips": ["10.0.0.2"]}]}
    net = {"id": NET, "network_type": "vxlan", "segmentation_id": 1001, "mtu": 1450}
    port = {"id": "p1", "network_id": NET, "mac_address": "fa:16:3e:00:00:01"}
    have = Desired.from_wire({"ports": [port], "networks": [{**net, "l2pop": table}]})
    new_port = {**port, "id": "p2"}
    have.merge({"ports": [new_port], "networks": [net]}, {"p2"}, set(), tables_held={NET})
    assert set(have.ports) == {"p1", "p2"}
    assert have.networks[NET].remote_ports == (RemotePort(H2, MAC2, ("10.0.0.2",)),)
    have.merge({"ports": [new_port], "networks": [net]}, {"p2"}, set())
    assert have.networks[NET].remote_vteps is None
