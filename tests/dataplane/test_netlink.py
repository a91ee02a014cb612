"""Netlink wrapper against real kernel objects in throwaway namespaces,
checked both through pyroute2 and through what `ip`/`bridge` print."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from pyroute2 import IPRoute

from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import FLOOD_MAC, LinkNotFound, Netlink, NetlinkOpError

from .helpers import ip_d_link, ping

pytestmark = pytest.mark.root


def _pyroute2_link(netns_name: str, ifname: str):
    with IPRoute(netns=netns_name, flags=0) as ipr:  # independent view of the kernel
        (msg,) = ipr.get_links(ifname=ifname)
        return msg


def test_bridge_is_created_once_with_mtu_and_up(netns):
    name = netns()
    with Netlink(name) as nl:
        first = nl.ensure_bridge("brq1234", mtu=1450)
        again = nl.ensure_bridge("brq1234", mtu=1450)
        assert first.index == again.index
        assert (again.kind, again.mtu, again.up) == ("bridge", 1450, True)
        nl.ensure_bridge("brq1234", mtu=1400)
        assert nl.link("brq1234").mtu == 1400
    msg = _pyroute2_link(name, "brq1234")
    assert msg.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_KIND") == "bridge"
    out = ip_d_link(name, "brq1234")
    assert "mtu 1400" in out and "forward_delay 0" in out and "stp_state 0" in out
    assert "<BROADCAST,MULTICAST,UP" in out


def test_ensure_bridge_refuses_other_kind(netns):
    name = netns()
    with Netlink(name) as nl:
        nl.create_veth("br0", "br0p")
        with pytest.raises(NetlinkOpError, match="is a veth"):
            nl.ensure_bridge("br0")


def test_vxlan_attributes_and_flags(netns):
    name = netns()
    with Netlink(name) as nl:
        nl.create_veth("eth0", "eth0p")
        nl.add_address("eth0", "10.255.0.11/24")
        nl.ensure_bridge("brqnet")
        link = nl.ensure_vxlan("vxlan-20016", 20016, local_ip="10.255.0.11", group="224.0.0.1",
                               dstport=8472, ttl=8, tos=0, dev="eth0", mtu=1450,
                               learning=False, proxy=True)
        nl.set_master("vxlan-20016", "brqnet")
        link = nl.link("vxlan-20016")
        assert link.kind == "vxlan"
        assert (link.vxlan_id, link.vxlan_local, link.vxlan_group) == (20016, "10.255.0.11", "224.0.0.1")
        assert (link.vxlan_port, link.vxlan_ttl, link.vxlan_tos, link.vxlan_dev) == (8472, 8, 0, "eth0")
        assert (link.vxlan_learning, link.vxlan_proxy) == (False, True)
        assert (link.mtu, link.master, link.up) == (1450, "brqnet", True)
        # same spec: untouched; different spec: recreated and re-enslaved
        assert nl.ensure_vxlan("vxlan-20016", 20016, "10.255.0.11", "224.0.0.1", 8472, ttl=8,
                               tos=0, dev="eth0", mtu=1450, learning=False,
                               proxy=True).index == link.index
        relearn = nl.ensure_vxlan("vxlan-20016", 20016, "10.255.0.11", None, 8472, dev="eth0",
                                  mtu=1450, learning=True, proxy=False)
        assert relearn.index != link.index
        assert (relearn.vxlan_group, relearn.vxlan_learning, relearn.master) == (None, True, "brqnet")
    data = _pyroute2_link(name, "vxlan-20016").get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
    assert data.get_attr("IFLA_VXLAN_ID") == 20016
    assert data.get_attr("IFLA_VXLAN_LEARNING") == 1
    out = ip_d_link(name, "vxlan-20016")
    assert "vxlan id 20016 local 10.255.0.11 dev eth0" in out
    assert "dstport 8472" in out and "nolearning" not in out and "master brqnet" in out


def test_vxlan_nolearning_proxy_as_ip_shows_it(netns):
    name = netns()
    with Netlink(name) as nl:
        nl.ensure_vxlan("vxlan-7", 7, "10.255.0.1", dstport=4789, learning=False, proxy=True)
    out = ip_d_link(name, "vxlan-7")
    assert "vxlan id 7 local 10.255.0.1" in out
    assert "dstport 4789" in out and "nolearning" in out and " proxy " in out


def test_veth_pair_across_namespaces_with_macs_and_mtu(netns):
    host, inst = netns("host"), netns("inst")
    with Netlink(host) as nl:
        tap = nl.create_veth("tap12345678-9a", "eth0", peer_netns=inst, mac="FA:16:3E:00:00:01",
                             peer_mac="fa:16:3e:b5:73:0d", mtu=1450)
        assert (tap.kind, tap.mac, tap.mtu) == ("veth", "fa:16:3e:00:00:01", 1450)
        assert nl.create_veth("tap12345678-9a", "eth0", peer_netns=inst).index == tap.index
        assert not nl.exists("eth0")
    with Netlink(inst) as nl:
        peer = nl.link("eth0")
    assert (peer.kind, peer.mac, peer.mtu) == ("veth", "fa:16:3e:b5:73:0d", 1450)
    assert "link/ether fa:16:3e:b5:73:0d" in ip_d_link(inst, "eth0")


def test_bridge_two_namespaces_and_ping(netns):
    host, a, b = netns("host"), netns("a"), netns("b")
    with Netlink(host) as nl:
        nl.ensure_bridge("brq")
        for peer, tap in ((a, "tapa"), (b, "tapb")):
            nl.create_veth(tap, "eth0", peer_netns=peer)
            nl.set_master(tap, "brq")
            nl.set_up(tap)
        assert nl.bridge_ports("brq") == ["tapa", "tapb"]
    for peer, ip in ((a, "192.168.50.1/24"), (b, "192.168.50.2/24")):
        with Netlink(peer) as nl:
            nl.set_up("eth0")
            nl.add_address("eth0", ip)
            nl.add_address("eth0", ip)  # idempotent
            assert nl.addresses("eth0", socket.AF_INET) == [ip]
    assert ping(a, "192.168.50.2")
    shown = ns.run(["ip", "-br", "link", "show", "master", "brq"], netns=host)
    assert [line.split("@")[0] for line in shown.splitlines()] == ["tapa", "tapb"]
    with Netlink(host) as nl:
        nl.set_master("tapb", None)
        assert nl.bridge_ports("brq") == ["tapa"]
    assert not ping(a, "192.168.50.2")


def test_link_setters_and_delete(netns):
    name = netns()
    with Netlink(name) as nl:
        nl.create_veth("v0", "v1")
        nl.set_mtu("v0", 1400)
        nl.set_mac("v0", "02:00:00:00:00:aa")
        nl.set_up("v0")
        link = nl.link("v0")
        assert (link.mtu, link.mac, link.up) == (1400, "02:00:00:00:00:aa", True)
        nl.set_down("v0")
        assert not nl.link("v0").up
        nl.delete_link("v0")
        assert not nl.exists("v0") and not nl.exists("v1")  # peer goes with it
        nl.delete_link("v0")
        with pytest.raises(LinkNotFound):
            nl.delete_link("v0", missing_ok=False)
        with pytest.raises(LinkNotFound):
            nl.set_up("nope")


def test_move_link_to_netns(netns):
    a, b = netns("a"), netns("b")
    with Netlink(a) as nl:
        nl.create_veth("x0", "x1")
        nl.move_link_to_netns("x1", b, new_name="qr-19c418e2-0b")
        assert not nl.exists("x1")
    with Netlink(b) as nl:
        assert nl.link("qr-19c418e2-0b").kind == "veth"


def test_addresses_and_routes(netns):
    name = netns()
    with Netlink(name) as nl:
        nl.create_veth("qg-1", "qg-1p")
        nl.set_up("qg-1")
        nl.add_address("qg-1", "203.0.113.5/24")
        nl.add_address("qg-1", "203.0.113.77/32")
        assert sorted(nl.addresses("qg-1", socket.AF_INET)) == ["203.0.113.5/24", "203.0.113.77/32"]
        nl.add_route("default", gateway="203.0.113.1")
        nl.add_route("default", gateway="203.0.113.1")
        nl.add_route("10.9.0.0/16", gateway="203.0.113.2", metric=100)
        routes = {r.dst: r for r in nl.routes()}
        assert routes["0.0.0.0/0"].gateway == "203.0.113.1"
        assert routes["0.0.0.0/0"].dev == "qg-1"
        assert (routes["10.9.0.0/16"].gateway, routes["10.9.0.0/16"].metric) == ("203.0.113.2", 100)
        assert "203.0.113.0/24" in routes
        nl.del_route("10.9.0.0/16", gateway="203.0.113.2", metric=100)
        nl.del_route("10.9.0.0/16")
        assert "10.9.0.0/16" not in {r.dst for r in nl.routes()}
        nl.del_address("qg-1", "203.0.113.77/32")
        nl.del_address("qg-1", "203.0.113.77/32")
        assert nl.addresses("qg-1", socket.AF_INET) == ["203.0.113.5/24"]
    out = ns.run(["ip", "route"], netns=name)
    assert "default via 203.0.113.1 dev qg-1" in out


def test_fdb_flood_list_and_unicast_entries(netns):
    name = netns()
    with Netlink(name) as nl:
        nl.ensure_bridge("brq")
        nl.ensure_vxlan("vxlan-100", 100, "10.255.0.11", learning=False, proxy=True)
        nl.set_master("vxlan-100", "brq")
        for vtep in ("10.255.0.12", "10.255.0.13", "10.255.0.12"):
            nl.fdb_append("vxlan-100", FLOOD_MAC, vtep)
        nl.fdb_append("vxlan-100", "fa:16:3e:aa:bb:cc", "10.255.0.13")
        entries = [e for e in nl.fdb_entries("vxlan-100") if "self" in e.flags]
        flood = sorted(e.dst for e in entries if e.mac == FLOOD_MAC)
        assert flood == ["10.255.0.12", "10.255.0.13"]
        (uni,) = [e for e in entries if e.mac == "fa:16:3e:aa:bb:cc"]
        assert uni.dst == "10.255.0.13" and uni.permanent
        shown = ns.run(["bridge", "fdb", "show", "dev", "vxlan-100"], netns=name)
        assert "00:00:00:00:00:00 dst 10.255.0.12 self permanent" in shown
        assert "fa:16:3e:aa:bb:cc dst 10.255.0.13 self permanent" in shown
        nl.fdb_delete("vxlan-100", FLOOD_MAC, "10.255.0.13")
        nl.fdb_delete("vxlan-100", FLOOD_MAC, "10.255.0.13")  # idempotent
        nl.fdb_delete("vxlan-100", "fa:16:3e:aa:bb:cc")
        left = [(e.mac, e.dst) for e in nl.fdb_entries("vxlan-100") if "self" in e.flags]
        assert left == [(FLOOD_MAC, "10.255.0.12")]


def test_multicast_group_entry_is_visible(netns):
    name = netns()
    with Netlink(name) as nl:
        nl.create_veth("eth0", "eth0p")
        nl.ensure_vxlan("vxlan-5", 5, "10.255.0.11", group="224.0.0.1", dev="eth0")
        (grp,) = [e for e in nl.fdb_entries("vxlan-5") if e.mac == FLOOD_MAC]
        assert (grp.dst, grp.via) == ("224.0.0.1", "eth0")


def test_permanent_neighbours_for_arp_responder(netns):
    name = netns()
    with Netlink(name) as nl:
        nl.ensure_vxlan("vxlan-100", 100, "10.255.0.11", learning=False, proxy=True)
        nl.neigh_add("vxlan-100", "192.168.1.5", "fa:16:3e:00:00:05")
        nl.neigh_add("vxlan-100", "192.168.1.5", "fa:16:3e:00:00:06")  # replace
        (n,) = [n for n in nl.neighbours("vxlan-100") if n.ip == "192.168.1.5"]
        assert n.mac == "fa:16:3e:00:00:06" and n.permanent
        shown = ns.run(["ip", "neigh", "show", "dev", "vxlan-100"], netns=name)
        assert "192.168.1.5 lladdr fa:16:3e:00:00:06 PERMANENT" in shown
        nl.neigh_delete("vxlan-100", "192.168.1.5")
        nl.neigh_delete("vxlan-100", "192.168.1.5")
        assert not [n for n in nl.neighbours("vxlan-100") if n.ip == "192.168.1.5"]


def test_netlink_is_bound_to_its_namespace_from_any_thread(netns):
    name = netns()
    with Netlink(name) as nl:
        nl.ensure_bridge("only-here")
        seen: list[list[str]] = []
        t = threading.Thread(target=lambda: seen.append([link.name for link in nl.links()]))
        t.start()
        t.join()
        assert seen == [["lo", "only-here"]]
        # a thread that is itself in another namespace still gets ours
        other = netns("other")

        def elsewhere():
            with ns.in_netns(other):
                seen.append([link.name for link in nl.links()])

        t = threading.Thread(target=elsewhere)
        t.start()
        t.join()
        assert seen[-1] == ["lo", "only-here"]


def test_netlink_refuses_running_event_loop(netns):
    name = netns()

    async def main():
        with Netlink(name) as nl:
            with pytest.raises(RuntimeError, match="to_thread"):
                nl.links()
            return await asyncio.to_thread(lambda: [link.name for link in nl.links()])

    assert asyncio.run(main()) == ["lo"]


def test_missing_namespace_is_an_error_not_a_new_namespace():
    from neutrino.dataplane.netns import NetnsError

    with pytest.raises(NetnsError):
        Netlink("nt-does-not-exist-xyz")
    assert "nt-does-not-exist-xyz" not in ns.list_netns()


def test_fast_links_existing_names_the_links_that_are_there(netns):
    """FastLinks.existing: a lookup by name each (the DHCP agent's partial
    sync asks for its own taps only, not a dump of a host's VM taps)."""
    from neutrino.dataplane.rtnl_fast import FastLinks
    name = netns()
    with Netlink(name) as nl:
        for i in range(300):            # more than one batch of requests
            nl.ensure_bridge(f"brx{i}")
    wanted = [f"brx{i}" for i in range(300)] + ["tapmissing", "brx300"]
    with FastLinks(name) as fl:
        assert fl.existing(wanted) == {f"brx{i}" for i in range(300)}
        assert fl.existing(["brx7", "brx300"]) == {"brx7"}
        assert fl.existing([]) == set()
