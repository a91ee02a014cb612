"""A trunk's subport traffic reaches its VLAN network: the Linux bridge
agent's own plans (trunk subports, then the ordinary plan) applied to a
real kernel, run only inside vm-run (VM_RUN=1: this machine's kernel has no
802.1Q).

One simulated host: the instance's tap of the trunk's parent port (a veth
into an "instance" namespace) on network A, and a peer port's tap on
network B. The trunk carries network B's subport as VLAN 101. The agent
makes tap<subport> (VLAN 101 on tap<parent>) and puts it on network B's
bridge: the instance, tagging with VLAN 101, reaches the peer; tagging with
another VLAN it does not.
"""
from __future__ import annotations


import pytest

from neutrino.agent.l2.apply import Kernel
from neutrino.agent.l2.model import Desired, L2Conf, NetworkSpec, PortSpec, bridge_name, tap_name
from neutrino.agent.l2.plan import plan
from neutrino.agent.l2.trunk.plan import plan_subports
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink

pytestmark = pytest.mark.root

NET_A = "aaaaaaaa-1111-4111-8111-00000000000a"
NET_B = "bbbbbbbb-2222-4222-8222-00000000000b"
PARENT = "11111111-aaaa-4aaa-8aaa-000000000001"
SUB = "22222222-bbbb-4bbb-8bbb-000000000002"
PEER = "33333333-cccc-4ccc-8ccc-000000000003"
VID = 101


def _desired() -> Desired:
    return Desired(
        ports={PARENT: PortSpec(PARENT, NET_A, "fa:16:3e:00:00:01", subports=((SUB, VID),)),
               SUB: PortSpec(SUB, NET_B, "fa:16:3e:00:00:02"),
               PEER: PortSpec(PEER, NET_B, "fa:16:3e:00:00:03")},
        networks={NET_A: NetworkSpec(NET_A, "local", None, None, 1500),
                  NET_B: NetworkSpec(NET_B, "local", None, None, 1500)})


def _build(netns, vid_in_instance: int) -> tuple[str, str]:
    host, inst, peer = netns("host"), netns("inst"), netns("peer")
    with Netlink(host) as nl:
        nl.create_veth(tap_name(PARENT), "eth0", peer_netns=inst)
        nl.create_veth(tap_name(PEER), "eth0", peer_netns=peer)
    want = _desired()
    with Kernel(host) as kernel:      # one agent cycle, as LinuxBridgeAgent.sync
        kernel.apply(plan_subports(want, kernel.observe()))
        result = plan(want, kernel.observe(), L2Conf())
        assert not kernel.apply(result.ops).failed
        assert result.wired == {PARENT, SUB, PEER}
        again = kernel.observe()
        assert plan_subports(want, again) == [] and plan(want, again, L2Conf()).ops == []
        sub = again[tap_name(SUB)]
        assert (sub.kind, sub.vlan_parent, sub.vlan_id, sub.master) == (
            "vlan", tap_name(PARENT), VID, bridge_name(NET_B))
    with Netlink(inst) as nl:
        nl.set_up("eth0")
    ns.run(["ip", "link", "add", "link", "eth0", "name", "eth0.v", "type", "vlan", "id",
            str(vid_in_instance)], netns=inst)
    with Netlink(inst) as nl:
        nl.set_up("eth0.v")
        nl.add_address("eth0.v", "192.168.101.1/24")
    with Netlink(peer) as nl:
        nl.set_up("eth0")
        nl.add_address("eth0", "192.168.101.2/24")
    return inst, peer


def _ping(src: str, dst: str) -> bool:
    out = ns.run(["ping", "-c", "1", "-W", "1", dst], netns=src, check=False, timeout=15)
    return " 1 received" in out


def test_subport_vlan_reaches_its_network(netns):
    inst, _ = _build(netns, VID)
    assert _ping(inst, "192.168.101.2")


def test_other_vlan_does_not(netns):
    inst, _ = _build(netns, VID + 1)
    assert not _ping(inst, "192.168.101.2")
