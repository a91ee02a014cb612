"""Pure helpers of neutrino.dataplane.netlink_model (no kernel needed)."""

from __future__ import annotations

import socket

import pytest

from neutrino.dataplane.netlink_model import (
    Link,
    decode_bits,
    link_from_msg,
    normalize_mac,
    normalize_route_dst,
    parse_cidr,
    vxlan_differences,
)


@pytest.mark.parametrize("raw,want", [
    ("FA:16:3E:B5:73:0D", "fa:16:3e:b5:73:0d"),
    ("fa-16-3e-0-1-2", "fa:16:3e:00:01:02"),
    ("00:00:00:00:00:00", "00:00:00:00:00:00"),
])
def test_normalize_mac(raw, want):
    assert normalize_mac(raw) == want


@pytest.mark.parametrize("bad", ["", "fa:16:3e", "fa:16:3e:00:00:0g", "fa:16:3e:00:00:001"])
def test_normalize_mac_rejects(bad):
    with pytest.raises(ValueError):
        normalize_mac(bad)


def test_parse_cidr():
    assert parse_cidr("10.0.0.1/24") == ("10.0.0.1", 24, socket.AF_INET)
    assert parse_cidr("203.0.113.7") == ("203.0.113.7", 32, socket.AF_INET)
    assert parse_cidr("2001:db8::1/64") == ("2001:db8::1", 64, socket.AF_INET6)


def test_normalize_route_dst():
    assert normalize_route_dst("default") == ("0.0.0.0", 0, socket.AF_INET)
    assert normalize_route_dst("10.1.2.3/16") == ("10.1.0.0", 16, socket.AF_INET)
    assert normalize_route_dst("::/0") == ("::", 0, socket.AF_INET6)
    assert normalize_route_dst("192.0.2.9") == ("192.0.2.9", 32, socket.AF_INET)


def test_decode_bits_ignores_zero_and_multi_bit_names():
    table = {"none": 0, "self": 2, "master": 4, "both": 6}
    assert decode_bits(6, table) == frozenset({"self", "master"})
    assert decode_bits(0, table) == frozenset()


def _vx(**kw):
    base = dict(name="vxlan-1", index=5, kind="vxlan", mtu=1450, mac=None, up=True,
                vxlan_id=1, vxlan_local="10.0.0.1", vxlan_group=None, vxlan_port=8472,
                vxlan_ttl=0, vxlan_tos=0, vxlan_dev=None, vxlan_learning=True,
                vxlan_proxy=False)
    base.update(kw)
    return Link(**base)


WANT = dict(vni=1, local_ip="10.0.0.1", group=None, dstport=8472, ttl=None, tos=None,
            dev=None, learning=True, proxy=False)


def test_vxlan_differences_none_when_equal():
    assert vxlan_differences(_vx(), **WANT) == []


def test_vxlan_differences_lists_changed_attributes():
    assert vxlan_differences(_vx(vxlan_learning=False, vxlan_proxy=True), **WANT) == [
        "vxlan_learning", "vxlan_proxy"]
    assert vxlan_differences(_vx(), **{**WANT, "group": "224.0.0.1", "ttl": 4}) == [
        "vxlan_group", "vxlan_ttl"]
    assert vxlan_differences(_vx(kind="bridge"), **WANT)[0] == "kind"


class _Msg(dict):
    """Stand-in for a pyroute2 nlmsg: get_attr() on a flat attribute dict."""

    def __init__(self, header=None, **attrs):
        super().__init__(header or {})
        self.attrs = attrs

    def get_attr(self, name):
        return self.attrs.get(name)


def test_link_from_msg_vxlan():
    data = _Msg(IFLA_VXLAN_ID=100, IFLA_VXLAN_LOCAL="10.255.0.11", IFLA_VXLAN_GROUP="224.0.0.1",
                IFLA_VXLAN_PORT=8472, IFLA_VXLAN_TTL=0, IFLA_VXLAN_TOS=0, IFLA_VXLAN_LINK=2,
                IFLA_VXLAN_LEARNING=0, IFLA_VXLAN_PROXY=1)
    info = _Msg(IFLA_INFO_KIND="vxlan", IFLA_INFO_DATA=data)
    msg = _Msg({"index": 7, "flags": 0x1}, IFLA_IFNAME="vxlan-100", IFLA_MTU=1450,
               IFLA_ADDRESS="aa:bb:cc:dd:ee:ff", IFLA_MASTER=3, IFLA_LINKINFO=info,
               IFLA_OPERSTATE="UNKNOWN")
    link = link_from_msg(msg, {2: "eth0", 3: "brq1"})
    assert link == Link(name="vxlan-100", index=7, kind="vxlan", mtu=1450, mac="aa:bb:cc:dd:ee:ff",
                        up=True, master="brq1", vxlan_id=100, vxlan_local="10.255.0.11",
                        vxlan_group="224.0.0.1", vxlan_port=8472, vxlan_ttl=0, vxlan_tos=0,
                        vxlan_dev="eth0", vxlan_learning=False, vxlan_proxy=True,
                        oper_state="UNKNOWN")
    assert link.to_dict()["vxlan_id"] == 100


def test_link_from_msg_vlan_and_plain():
    info = _Msg(IFLA_INFO_KIND="vlan", IFLA_INFO_DATA=_Msg(IFLA_VLAN_ID=100))
    msg = _Msg({"index": 9, "flags": 0}, IFLA_IFNAME="eth1.100", IFLA_MTU=1500, IFLA_LINK=4,
               IFLA_LINKINFO=info)
    link = link_from_msg(msg, {4: "eth1"})
    assert (link.kind, link.vlan_id, link.vlan_parent, link.up) == ("vlan", 100, "eth1", False)
    lo = link_from_msg(_Msg({"index": 1, "flags": 1}, IFLA_IFNAME="lo", IFLA_MTU=65536), {})
    assert (lo.kind, lo.master, lo.vxlan_id) == (None, None, None)
