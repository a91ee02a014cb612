"""DHCP end to end, on both transports: instances get exactly the API's
address, gateway and MTU from the dnsmasq of host1's DHCP agent, by a real
DHCP client (busybox udhcpc) in the instance namespace."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from neutrino.dataplane import netns as ns
from neutrino.dataplane.process import pid_cmdline
from tests.e2e.helpers import links, wait_for

pytestmark = pytest.mark.root


def dhcp_port(world, net_id: str) -> dict:
    return wait_for(lambda: next(iter(world.api.list("ports", network_id=net_id,
                                                     device_owner="network:dhcp")), None),
                    timeout=20, what="the DHCP port")


def dhcp_dir(lab, net_id: str) -> Path:
    return lab.state.host_dir("host1") / "dhcp" / net_id


def dnsmasq_pid(lab, net_id: str) -> int | None:
    try:
        pid = int((dhcp_dir(lab, net_id) / "pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    argv = pid_cmdline(pid)
    return pid if argv and argv[0].endswith("dnsmasq") else None


def serving(lab, net_id: str) -> int:
    return wait_for(lambda: dnsmasq_pid(lab, net_id), timeout=20, what="dnsmasq")


def assert_lease_is_the_api(world, inst, net: dict, subnet_gw: str | None):
    port = world.api.show("ports", inst.port_id)
    assert inst.lease["ip"] == port["fixed_ips"][0]["ip_address"]
    assert inst.mac == port["mac_address"]
    assert (inst.lease.get("router") or None) == subnet_gw
    assert int(inst.lease["mtu"]) == net["mtu"]
    # and the kernel of the instance has it too
    eth0 = links(inst.netns)["eth0"]
    assert eth0.mtu == net["mtu"] and eth0.mac == port["mac_address"]


def test_local_network_instance_gets_the_api_address(world, lab):
    net = world.network("dl", cidr="10.81.0.0/24", network_type="local")
    serving(lab, net["id"])
    a = world.instance("a", net, dhcp=True)
    assert_lease_is_the_api(world, a, net, "10.81.0.1")
    # SEED-SPEC §4: the namespace, the veth pair, the files
    port = dhcp_port(world, net["id"])
    qdhcp = f"{lab.state.prefix}host1-qdhcp-{net['id']}"
    assert ns.exists(qdhcp)
    inside = links(qdhcp)
    assert inside["ns-" + port["id"][:11]].mac == port["mac_address"]
    host = links(world.host_ns("host1"))
    assert host["tap" + port["id"][:11]].master == "brq" + net["id"][:11]
    ip = a.lease["ip"]
    hostfile = (dhcp_dir(lab, net["id"]) / "host").read_text()
    assert f"{a.mac},host-{ip.replace('.', '-')}.openstacklocal,{ip}\n" in hostfile
    argv = pid_cmdline(dnsmasq_pid(lab, net["id"]))
    assert any(a_.startswith("--dhcp-range=set:subnet-") and ",static,255.255.255.0,86400s"
               in a_ for a_ in argv)
    assert "--dhcp-option-force=option:mtu,1500" in argv
    assert world.ping(a, port["fixed_ips"][0]["ip_address"])      # the DHCP port answers


def test_vxlan_instance_on_another_host_gets_mtu_1450(world, lab):
    net = world.network("dv", cidr="10.82.0.0/24", network_type="vxlan")
    assert net["mtu"] == 1450
    serving(lab, net["id"])
    b = world.instance("b", net, host="host2", dhcp=True)     # across the tunnel
    assert_lease_is_the_api(world, b, net, "10.82.0.1")
    assert int(b.lease["mtu"]) == 1450


def test_flat_instance_gets_its_address(world, lab):
    net = world.network("df", cidr=None, network_type="flat", physical_network="physnet1")
    world.subnet(net["id"], "10.83.0.0/24", gateway_ip="10.83.0.254")
    serving(lab, net["id"])
    a = world.instance("a", net, host="host2", dhcp=True)
    assert_lease_is_the_api(world, a, net, "10.83.0.254")


def test_unknown_mac_gets_no_lease(world, lab):
    net = world.network("du", cidr="10.84.0.0/24", network_type="local")
    pid = serving(lab, net["id"])
    a = world.instance("a", net)                 # static addresses: a wired tap
    # Same wired tap, but a MAC the API never assigned (no port filtering in the lab).
    ns.run(["ip", "link", "set", "eth0", "address", "fa:16:3e:12:34:56"], netns=a.netns)
    ns.run(["ip", "addr", "flush", "dev", "eth0"], netns=a.netns)
    with pytest.raises(TimeoutError):
        lab.instances.dhcp(a, timeout=4, tries=2)
    assert dnsmasq_pid(lab, net["id"]) == pid


def test_port_added_later_is_served_without_restart(world, lab):
    net = world.network("dp", cidr="10.85.0.0/24", network_type="local")
    a = world.instance("a", net, dhcp=True)
    pid = dnsmasq_pid(lab, net["id"])
    b = world.instance("b", net, dhcp=True)
    assert_lease_is_the_api(world, b, net, "10.85.0.1")
    assert dnsmasq_pid(lab, net["id"]) == pid             # SIGHUP, not a restart
    assert world.ping(a, b.lease["ip"])


def test_killed_dnsmasq_is_restarted(world, lab):
    net = world.network("dk", cidr="10.86.0.0/24", network_type="local")
    pid = serving(lab, net["id"])
    os.kill(pid, signal.SIGKILL)
    new = wait_for(lambda: (p := dnsmasq_pid(lab, net["id"])) and p != pid and p,
                   timeout=10, what="a new dnsmasq")
    assert new != pid
    a = world.instance("a", net, dhcp=True)
    assert a.lease["ip"]


def test_network_without_dhcp_subnet_loses_namespace_and_process(world, lab):
    net = world.network("dn", cidr="10.87.0.0/24", network_type="local")
    pid = serving(lab, net["id"])
    subnet = world.api.list("subnets", network_id=net["id"])[0]
    world.api.update("subnets", subnet["id"], {"enable_dhcp": False})
    qdhcp = f"{lab.state.prefix}host1-qdhcp-{net['id']}"
    wait_for(lambda: not ns.exists(qdhcp), timeout=20, what="the namespace to go")
    assert pid_cmdline(pid) is None
    wait_for(lambda: not world.api.list("ports", network_id=net["id"],
                                        device_owner="network:dhcp"),
             timeout=10, what="the DHCP port to be released")


def test_agent_restart_adopts_dnsmasq(world, lab):
    net = world.network("dr", cidr="10.88.0.0/24", network_type="local")
    pid = serving(lab, net["id"])
    a = world.instance("a", net, dhcp=True)
    if lab.state.transport == "inproc":
        lab.kill_runtime()           # server and every agent of the lab
    else:
        lab.kill_dhcp_agent("host1")
    assert pid_cmdline(pid) is not None          # dnsmasq lives on and serves:
    ns.run(["ip", "addr", "flush", "dev", "eth0"], netns=a.netns)
    assert lab.instances.dhcp(a, timeout=10)["ip"] == a.lease["ip"]
    if lab.state.transport == "inproc":
        lab.start_runtime()
    else:
        lab.start_dhcp_agent("host1")
    lab.wait_dhcp_agents_alive(timeout=30)
    b = world.instance("b", net, dhcp=True)      # the restarted agent serves new ports
    assert b.lease["ip"]
    assert dnsmasq_pid(lab, net["id"]) == pid    # adopted, not restarted
