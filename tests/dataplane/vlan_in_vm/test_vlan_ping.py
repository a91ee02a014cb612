"""802.1Q through Netlink.ensure_vlan, run only inside vm-run (VM_RUN=1).

Two simulated hosts share a physnet1 segment (a bridge in an underlay
namespace). Each host has `eth1.<vid>` on its eth1, enslaved to a network
bridge with a veth into an instance namespace, as the linuxbridge agent
builds a vlan network. Same vid: the instances ping; different vids: they
do not. Kept small: every syscall and fork is several times slower in UML.
"""

from __future__ import annotations


import pytest

from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink

pytestmark = pytest.mark.root


def _build(netns, vids: tuple[int, int]) -> list[str]:
    under = netns("underlay")
    with Netlink(under) as u:
        u.ensure_bridge("physnet1")
        insts = []
        for i, vid in zip((1, 2), vids):
            host, inst = netns(f"host{i}"), netns(f"inst{i}")
            insts.append(inst)
            u.create_veth(f"h{i}-eth1", "eth1", peer_netns=host)
            u.set_master(f"h{i}-eth1", "physnet1")
            u.set_up(f"h{i}-eth1")
            with Netlink(host) as nl:
                nl.set_up("eth1")
                sub = nl.ensure_vlan(f"eth1.{vid}", "eth1", vid)
                assert (sub.kind, sub.vlan_id, sub.vlan_parent, sub.up) == ("vlan", vid, "eth1", True)
                assert nl.ensure_vlan(f"eth1.{vid}", "eth1", vid).index == sub.index  # idempotent
                nl.ensure_bridge("brqnet")
                nl.set_master(f"eth1.{vid}", "brqnet")
                nl.create_veth("tapport", "eth0", peer_netns=inst)
                nl.set_master("tapport", "brqnet")
                nl.set_up("tapport")
            with Netlink(inst) as nl:
                nl.set_up("eth0")
                nl.add_address("eth0", f"192.168.100.{i}/24")
    return insts


def _ping(src: str, dst: str) -> bool:
    out = ns.run(["ping", "-c", "1", "-W", "1", dst], netns=src, check=False, timeout=15)
    return " 1 received" in out


def test_same_vid_pings(netns):
    inst1, _ = _build(netns, (100, 100))
    host1 = f"{netns.prefix}host1"
    assert "vlan protocol 802.1Q id 100" in ns.run(["ip", "-d", "link", "show", "eth1.100"],
                                                   netns=host1)
    assert _ping(inst1, "192.168.100.2")


def test_different_vids_do_not_ping(netns):
    inst1, _ = _build(netns, (100, 101))
    assert not _ping(inst1, "192.168.100.2")
