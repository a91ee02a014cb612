"""l2population on a real kernel: two "hosts" (namespaces joined by a veth
underlay), each running the L2 agent's plan/apply with the other host's
port in its forwarding table. Checks what `bridge fdb` and `ip neigh` show,
that instances talk with no multicast group and no learning, that an ARP
request is answered on the local host (nothing ARP crosses the tunnel),
and that entries go away precisely."""
from __future__ import annotations

import subprocess
import time

import pytest

from neutrino.agent.l2.apply import Kernel
from neutrino.agent.l2.model import Desired, L2Conf, NetworkSpec, PortSpec, RemotePort, tap_name
from neutrino.agent.l2.plan import plan
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink
from tests.dataplane.helpers import ping

pytestmark = pytest.mark.root

NET = "aaaaaaaa-1111-4111-8111-00000000000a"
VNI = 4242
DEV = f"vxlan-{VNI}"
PORTS = {"a": "11111111-aaaa-4aaa-8aaa-00000000000a", "b": "22222222-bbbb-4bbb-8bbb-00000000000b"}
MACS = {"a": "fa:16:3e:aa:00:01", "b": "fa:16:3e:bb:00:02"}
IPS = {"a": "192.0.2.1", "b": "192.0.2.2"}
VTEPS = {"a": "198.51.100.1", "b": "198.51.100.2"}


def conf(side, arp_responder=True):
    return L2Conf(vxlan_enabled=True, local_ip=VTEPS[side], vxlan_group=None, udp_dstport=8472,
                  vxlan_dev="ul0", l2_population=True, arp_responder=arp_responder)


def desired(side, remote: bool):
    other = "b" if side == "a" else "a"
    ports = (RemotePort(VTEPS[other], MACS[other], (IPS[other],)),) if remote else ()
    net = NetworkSpec(id=NET, network_type="vxlan", physical_network=None, segmentation_id=VNI,
                      mtu=1450, remote_vteps=(VTEPS[other],) if remote else (),
                      remote_ports=ports)
    return Desired(ports={PORTS[side]: PortSpec(PORTS[side], NET, MACS[side])},
                   networks={NET: net})


def converge(host_ns, side, remote=True, arp_responder=True):
    c = conf(side, arp_responder)
    with Kernel(host_ns) as kernel:
        observed = kernel.observe()
        result = plan(desired(side, remote), observed, c, kernel.observe_forwarding(observed))
        outcome = kernel.apply(result.ops)
        assert outcome.ok, outcome.failed
        observed = kernel.observe()
        again = plan(desired(side, remote), observed, c, kernel.observe_forwarding(observed))
        assert again.ops == [], again.ops       # idempotent on the real kernel
    return result


@pytest.fixture
def two_hosts(netns):
    hosts = {s: netns(f"h{s}") for s in "ab"}
    vms = {s: netns(f"vm{s}") for s in "ab"}
    with Netlink(hosts["a"]) as nl:
        nl.create_veth("ul0", "ul0", peer_netns=hosts["b"])
    for s in "ab":
        with Netlink(hosts[s]) as nl:
            nl.set_up("ul0")
            nl.add_address("ul0", VTEPS[s] + "/24")
            nl.create_veth(tap_name(PORTS[s]), "eth0", peer_netns=vms[s], peer_mac=MACS[s])
        with Netlink(vms[s]) as nl:
            nl.add_address("eth0", IPS[s] + "/24")
            nl.set_up("eth0")
    return hosts, vms


def fdb(host_ns):
    return ns.run(["bridge", "fdb", "show", "dev", DEV], netns=host_ns)


def neigh(host_ns):
    return ns.run(["ip", "neigh", "show", "dev", DEV], netns=host_ns)


def test_l2pop_entries_traffic_and_local_arp(two_hosts):
    hosts, vms = two_hosts
    for s in "ab":
        converge(hosts[s], s)
    details = ns.run(["ip", "-d", "link", "show", DEV], netns=hosts["a"])
    assert "nolearning" in details and " proxy " in details and " group 2" not in details
    out = fdb(hosts["a"])
    assert f"00:00:00:00:00:00 dst {VTEPS['b']} self permanent" in out
    assert f"{MACS['b']} dst {VTEPS['b']} self permanent" in out
    assert f"{IPS['b']} lladdr {MACS['b']} PERMANENT" in neigh(hosts["a"])

    # capture the tunnel while instance a resolves and pings b
    cap = subprocess.Popen(["ip", "netns", "exec", hosts["a"], "tcpdump", "-l", "-nn", "-e",
                            "-i", "ul0", "-T", "vxlan", "udp", "port", "8472"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(1.0)
        assert ping(vms["a"], IPS["b"], count=2)
        time.sleep(0.5)
    finally:
        cap.terminate()
        captured = cap.communicate(timeout=5)[0]
    assert "ICMP echo request" in captured            # traffic did cross the tunnel
    assert "ARP" not in captured, captured             # but no ARP did: answered locally
    arp = ns.run(["ip", "neigh", "show", IPS["b"]], netns=vms["a"])
    assert MACS["b"] in arp

    # b's port leaves: a's flood entry, MAC entry and neighbour go, nothing else
    result = converge(hosts["a"], "a", remote=False)
    assert len(result.ops) == 3
    assert VTEPS["b"] not in fdb(hosts["a"]) and IPS["b"] not in neigh(hosts["a"])
    assert not ping(vms["a"], IPS["b"])


def test_without_arp_responder_arp_crosses_by_head_end_replication(two_hosts):
    hosts, vms = two_hosts
    for s in "ab":
        converge(hosts[s], s, arp_responder=False)
    assert " proxy " not in ns.run(["ip", "-d", "link", "show", DEV], netns=hosts["a"])
    assert neigh(hosts["a"]).strip() == ""
    cap = subprocess.Popen(["ip", "netns", "exec", hosts["a"], "tcpdump", "-l", "-nn", "-e",
                            "-i", "ul0", "-T", "vxlan", "udp", "port", "8472"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(1.0)
        assert ping(vms["a"], IPS["b"])
        time.sleep(0.5)
    finally:
        cap.terminate()
        captured = cap.communicate(timeout=5)[0]
    # the broadcast went unicast to b's VTEP (flood list), not to a group
    assert f"> {VTEPS['b']}.8472" in captured and "ARP" in captured
