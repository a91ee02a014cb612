"""The simulated multi-host lab: what a user sees in and between its namespaces."""

from __future__ import annotations

import json

import pytest

from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink
from neutrino.lab.topology import Lab, LabTopology

from .helpers import ping

pytestmark = pytest.mark.root


def test_lab_namespaces_and_host_nics(lab):
    t = lab.topology
    existing = ns.list_netns()
    for name in (t.underlay_netns, t.outside_netns, lab.host_ns(1), lab.host_ns(2)):
        assert name.startswith(lab.prefix) and name in existing
    assert lab.host_ns(1) == f"{lab.prefix}host1"
    for i in (1, 2):
        with Netlink(lab.host_ns(i)) as nl:
            links = {link.name: link for link in nl.links()}
            assert set(links) == {"lo", "eth0", "eth1", "eth2"}
            assert all(links[n].up and links[n].kind == "veth" for n in ("eth0", "eth1", "eth2"))
            assert nl.addresses("eth0", 2) == [f"10.255.0.{10 + i}/24"]
        assert lab.host(i).physical_interface_mappings == "physnet1:eth1,external:eth2"
    with Netlink(t.underlay_netns) as nl:
        assert nl.bridge_ports("tunnel") == ["h1-eth0", "h2-eth0"]
        assert nl.bridge_ports("physnet1") == ["h1-eth1", "h2-eth1"]
        assert nl.bridge_ports("external") == ["h1-eth2", "h2-eth2", "out-eth0"]


def test_vteps_reach_each_other_over_tunnel_bridge(lab):
    assert ping(lab.host_ns(1), lab.host(2).vtep_ip)
    assert ping(lab.host_ns(2), lab.host(1).vtep_ip)


def test_outside_answers_ping_and_http_on_external_network(lab):
    with Netlink(lab.host_ns(1)) as nl:
        nl.add_address("eth2", "203.0.113.10/24")
    assert ping(lab.host_ns(1), "203.0.113.254")
    body = ns.run(["curl", "-s", "-m", "5", "http://203.0.113.254/"], netns=lab.host_ns(1))
    assert body == lab.topology.http_body
    who = ns.run(["curl", "-s", "-m", "5", "http://203.0.113.254/whoami"], netns=lab.host_ns(1))
    assert who.strip() == "203.0.113.10"
    assert lab.http_clients() == ["203.0.113.10", "203.0.113.10"]


def test_physnet1_is_a_shared_segment(lab):
    for i in (1, 2):
        with Netlink(lab.host_ns(i)) as nl:
            nl.add_address("eth1", f"192.0.2.{i}/24")
    assert ping(lab.host_ns(1), "192.0.2.2")
    # but the external segment is separate from physnet1
    assert not ping(lab.outside_ns, "192.0.2.1")


def test_topology_json_round_trip_and_state_file(lab):
    data = json.loads(lab.topology.to_json())
    assert data["hosts"][0]["physical_interface_mappings"] == "physnet1:eth1,external:eth2"
    assert data["outside_ip"] == "203.0.113.254"
    assert LabTopology.from_json(lab.topology.to_json()) == lab.topology
    loaded = Lab.load(lab.state_file)
    assert loaded.topology == lab.topology


def test_teardown_removes_exactly_what_it_made(tmp_path, netns):
    bystander = netns("bystander")  # not the lab's: must survive
    lab = Lab.build(1, state_dir=tmp_path / "lab")
    made = list(lab.topology.namespaces)
    pid = lab.http_daemon().pid
    assert pid is not None
    lab.teardown()
    lab.teardown()  # idempotent
    left = ns.list_netns()
    assert not [n for n in made if n in left]
    assert bystander in left
    from neutrino.dataplane.process import pid_cmdline
    assert pid_cmdline(pid) is None
    assert not (tmp_path / "lab").exists()


def test_failed_build_cleans_up(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_create = ns.create

    def flaky(name, exist_ok=False):
        calls["n"] += 1
        if calls["n"] == 3:
            raise ns.NetnsError(1, "injected failure")
        real_create(name, exist_ok)

    monkeypatch.setattr(ns, "create", flaky)
    before = set(ns.list_netns())
    with pytest.raises(ns.NetnsError, match="injected"):
        Lab.build(2, state_dir=tmp_path / "lab")
    assert set(ns.list_netns()) == before


def test_multicast_vxlan_between_hosts(lab, netns):
    """The question recorded in neutrino/lab/topology.py's docstring."""
    insts = []
    for i in (1, 2):
        h = lab.host(i)
        inst = netns(f"inst{i}")
        insts.append(inst)
        with Netlink(h.netns) as nl:
            nl.ensure_bridge("brq42", mtu=1450)
            nl.ensure_vxlan("vxlan-42", 42, h.vtep_ip, group="224.0.0.1", dstport=8472,
                            dev="eth0", mtu=1450)
            nl.set_master("vxlan-42", "brq42")
            nl.create_veth("tap42", "eth0", peer_netns=inst, mtu=1450)
            nl.set_master("tap42", "brq42")
            nl.set_up("tap42")
        with Netlink(inst) as nl:
            nl.set_up("eth0")
            nl.add_address("eth0", f"192.168.42.{i}/24")
    assert ping(insts[0], "192.168.42.2")
    with Netlink(insts[1]) as nl:
        inst2_mac = nl.link("eth0").mac
    with Netlink(lab.host_ns(1)) as nl:
        entries = nl.fdb_entries("vxlan-42")
    # only the multicast group was configured; host2's VTEP was learned from traffic
    assert [(e.dst, e.via) for e in entries if e.mac == "00:00:00:00:00:00"] == [("224.0.0.1", "eth0")]
    assert any(e.mac == inst2_mac and e.dst == lab.host(2).vtep_ip for e in entries)
