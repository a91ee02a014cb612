"""The multi-host shape inside vm-run (VM_RUN=1), where the kernel has
802.1Q: a 3-host lab with l2population (server and agents in this process,
inproc bus: the VM has no network, so no RabbitMQ or PostgreSQL -- the
dataplane does not depend on either). A vlan network spans host1 and host3
through the physnet1 underlay on `eth1.<vid>`; a vxlan network on the same
hosts gets its l2population entries on this (older, 6.1) kernel too.
"""
from __future__ import annotations

import secrets
import time

import pytest

from neutrino.dataplane import netns as ns
from neutrino.dataplane.rtnl_fast import FastLinks

pytestmark = pytest.mark.root


@pytest.fixture
def lab(tmp_path):
    from neutrino.lab.control import LabControl
    # the VLAN dataplane is the point; the UML VM is slow enough without
    # a firewall (security groups have their own tests)
    ctl = LabControl.up(hosts=3, transport="inproc", in_process=True, firewall=False, l2pop=True,
                        lab_dir=tmp_path / f"lab-{secrets.token_hex(2)}", timeout=300)
    try:
        yield ctl
    finally:
        ctl.down()


def _wait(pred, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_vlan_across_hosts_and_l2pop_vxlan(lab):
    api, inst = lab.api, lab.instances
    vlan = api.create_network("v120", network_type="vlan", physical_network="physnet1",
                              segmentation_id=120)
    vx = api.create_network("vx", network_type="vxlan")
    api.create_subnet(vlan["id"], "10.61.0.0/24", enable_dhcp=False)
    api.create_subnet(vx["id"], "10.62.0.0/24", enable_dhcp=False)
    a = inst.create("a", vlan["id"], host="host1")
    c = inst.create("c", vlan["id"], host="host3")
    x = inst.create("x", vx["id"], host="host1")
    z = inst.create("z", vx["id"], host="host3")
    for vm in (a, c, x, z):
        lab.wait_port_status(vm.port_id, "ACTIVE", timeout=120)
    for host in ("host1", "host3"):
        with FastLinks(lab.state.host_netns(host)) as fl:
            dev = {link.name: link for link in fl.dump()}["eth1.120"]
        assert (dev.kind, dev.vlan_id, dev.master) == ("vlan", 120, "brq" + vlan["id"][:11])
    assert inst.ping("a", c.ip, count=2, wait=2)
    # vxlan with l2population: host1 floods to host3 only, and knows z's MAC
    vni = vx["provider:segmentation_id"]
    vteps = {h: lab.state.host_info(h).vtep_ip for h in lab.state.host_names()}

    def fdb():
        return ns.run(["bridge", "fdb", "show", "dev", f"vxlan-{vni}"],
                      netns=lab.state.host_netns("host1"))
    _wait(lambda: f"{z.mac} dst {vteps['host3']}" in fdb())
    assert f"00:00:00:00:00:00 dst {vteps['host3']}" in fdb()
    assert vteps["host2"] not in fdb()
    assert inst.ping("x", z.ip, count=2, wait=2)
    inst.delete("z")
    _wait(lambda: vteps["host3"] not in fdb())
