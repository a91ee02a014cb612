"""VLAN networks end to end, run only inside vm-run (VM_RUN=1): this
machine's kernel has no 802.1Q.

A 2-host lab with server and agents in this process (inproc bus; starting
more interpreters is slow in UML), so the agents' real plan/apply build
`eth1.<vid>` devices. Two instances on a vlan network on different hosts
ping each other across the physnet1 underlay, which only the tagged
`eth1.<vid>` devices connect them to; an instance on another vlan id with the
same addresses cannot reach them.
"""
from __future__ import annotations

import secrets

import pytest

from neutrino.dataplane.rtnl_fast import FastLinks

pytestmark = pytest.mark.root


def _links(netns):
    with FastLinks(netns) as fl:
        return {link.name: link for link in fl.dump()}


@pytest.fixture
def lab(tmp_path):
    from neutrino.lab.control import LabControl
    # the VLAN dataplane is the point; the UML VM is slow enough without
    # a firewall (security groups have their own tests)
    ctl = LabControl.up(hosts=2, transport="inproc", in_process=True, firewall=False,
                        lab_dir=tmp_path / f"lab-{secrets.token_hex(2)}", timeout=300)
    try:
        yield ctl
    finally:
        ctl.down()


def test_vlan_instances_ping_over_tagged_devices_and_other_vid_cannot(lab):
    api, inst = lab.api, lab.instances
    n100 = api.create_network("v100", network_type="vlan", physical_network="physnet1",
                              segmentation_id=100)
    n101 = api.create_network("v101", network_type="vlan", physical_network="physnet1",
                              segmentation_id=101)
    for net in (n100, n101):
        api.create_subnet(net["id"], "10.60.0.0/24")
    a = inst.create("a", n100["id"], host="host1", fixed_ips=[{"ip_address": "10.60.0.10"}])
    b = inst.create("b", n100["id"], host="host2", fixed_ips=[{"ip_address": "10.60.0.11"}])
    c = inst.create("c", n101["id"], host="host2", fixed_ips=[{"ip_address": "10.60.0.12"}])
    for vm in (a, b, c):
        lab.wait_port_status(vm.port_id, "ACTIVE", timeout=120)
    for host, vid, net in (("host1", 100, n100), ("host2", 100, n100), ("host2", 101, n101)):
        dev = _links(lab.state.host_netns(host))[f"eth1.{vid}"]
        assert (dev.kind, dev.vlan_id, dev.vlan_parent) == ("vlan", vid, "eth1")
        assert dev.master == "brq" + net["id"][:11] and dev.up
    assert inst.ping("a", b.ip, count=2, wait=2)
    assert inst.ping("b", a.ip, wait=2)
    assert not inst.ping("c", a.ip, count=2, wait=1)
    assert not inst.ping("a", c.ip, count=2, wait=1)
    # the last port of vlan 101 on host2 goes: its bridge and eth1.101 go, eth1 stays
    inst.delete("c")
    host2 = lab.state.host_netns("host2")
    import time
    deadline = time.monotonic() + 60
    while "eth1.101" in _links(host2) and time.monotonic() < deadline:
        time.sleep(0.2)
    links = _links(host2)
    assert "eth1.101" not in links and "brq" + n101["id"][:11] not in links
    assert "eth1" in links and "eth1.100" in links
