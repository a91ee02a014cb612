"""The raw rtnetlink codec behind the agent's fast paths (no kernel needed):
requests are encoded as the kernel expects, link messages decode into the
same Link values the pyroute2 wrapper produces."""
from __future__ import annotations

import socket
import struct

from neutrino.dataplane.rtnl_fast import (IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_DATA,
                                          IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU,
                                          IFLA_OPERSTATE, NLM_F_ACK, NLM_F_REQUEST, RTM_DELLINK,
                                          RTM_SETLINK, LinkChange, _attr, _iter_messages,
                                          encode_change, parse_link)

IFINFO = struct.Struct("=BxHiII")


def _decode_request(raw: bytes):
    (kind, flags, seq, a, b), = list(_iter_messages(raw, len(raw)))
    family, _, index, ifflags, change = IFINFO.unpack_from(raw, a)
    attrs = {}
    off = a + IFINFO.size
    while off < b:
        length, atype = struct.unpack_from("=HH", raw, off)
        attrs[atype] = struct.unpack_from("=I", raw, off + 4)[0]
        off += (length + 3) & ~3
    return kind, flags, seq, index, ifflags, change, attrs


def test_setlink_carries_only_what_changes():
    kind, flags, seq, index, ifflags, change, attrs = _decode_request(
        encode_change(LinkChange(7, master=3, mtu=1450, up=True), seq=42))
    assert (kind, flags, seq, index) == (RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, 42, 7)
    assert (ifflags, change) == (1, 1)
    assert attrs == {IFLA_MTU: 1450, IFLA_MASTER: 3}
    *_, ifflags, change, attrs = _decode_request(encode_change(LinkChange(7, master=0), seq=1))
    assert (ifflags, change, attrs) == (0, 0, {IFLA_MASTER: 0})    # nomaster, state untouched


def test_delete():
    kind, _, _, index, _, _, attrs = _decode_request(
        encode_change(LinkChange(9, delete=True), seq=5))
    assert (kind, index, attrs) == (RTM_DELLINK, 9, {})


def _vxlan_msg() -> bytes:
    data = (_attr(1, struct.pack("=I", 5000)) + _attr(2, socket.inet_aton("224.0.0.1"))
            + _attr(3, struct.pack("=I", 2)) + _attr(4, socket.inet_aton("10.255.0.11"))
            + _attr(5, b"\x08") + _attr(6, b"\x00") + _attr(7, b"\x01") + _attr(11, b"\x00")
            + _attr(15, struct.pack("!H", 8472)))
    linkinfo = _attr(IFLA_INFO_KIND, b"vxlan\0") + _attr(IFLA_INFO_DATA | 0x8000, data)
    return (IFINFO.pack(0, 1, 12, 0x1, 0) + _attr(IFLA_IFNAME, b"vxlan-5000\0")
            + _attr(IFLA_MTU, struct.pack("=I", 1450)) + _attr(IFLA_MASTER, struct.pack("=I", 4))
            + _attr(IFLA_ADDRESS, bytes.fromhex("fa163e000001"))
            + _attr(IFLA_OPERSTATE, b"\x06") + _attr(IFLA_LINKINFO | 0x8000, linkinfo))


def test_parse_vxlan_link():
    raw = _vxlan_msg()
    fields, link_idx, lower = parse_link(raw, 0, len(raw))
    assert fields["name"] == "vxlan-5000" and fields["index"] == 12 and fields["up"]
    assert fields["mtu"] == 1450 and fields["master"] == 4 and lower == 2
    assert fields["mac"] == "fa:16:3e:00:00:01" and fields["oper_state"] == "UP"
    assert (fields["kind"], fields["vxlan_id"], fields["vxlan_group"], fields["vxlan_local"],
            fields["vxlan_port"], fields["vxlan_ttl"], fields["vxlan_learning"]) == (
        "vxlan", 5000, "224.0.0.1", "10.255.0.11", 8472, 8, True)
