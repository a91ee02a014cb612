"""The L2 agent's hot paths over a raw rtnetlink socket: dumping every link,
batched link changes (master / MTU / up, delete) and link events.

Why not pyroute2 here: pyroute2 0.9 decodes every attribute of every link
(~1.1 ms per link on this machine, measured), so one dump of a host with
1,000 taps costs over a second, and each change is one synchronous round
trip through its event loop (~1.4 ms). A reconciler that rescans after every
tap event cannot afford that. This module parses only the attributes
`netlink_model.Link` carries, asks the kernel to skip statistics, and sends
many RTM_SETLINK/RTM_DELLINK requests in one sendmsg, collecting one ACK per
request. Creating bridges, vxlan and vlan devices (rare) stays on the
pyroute2 wrapper in netlink.py.

A socket belongs to the namespace it was opened in (the calling thread's, or
`netns`), whatever thread later uses it. One socket per object; an object is
used by one thread at a time.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from neutrino.dataplane import netns as _netns
from neutrino.dataplane.netlink_model import IFF_UP, Link

NETLINK_ROUTE = 0
RTMGRP_LINK = 0x1
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x2, 0x4, 0x300
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_EXT_MASK = 16, 18, 29
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
RTEXT_FILTER_SKIP_STATS = 1 << 3
NLA_TYPE_MASK = 0x3FFF
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_RTATTR = struct.Struct("=HH")
_ERRMSG = struct.Struct("=i")
_BATCH = 256            # requests per sendmsg: bounds the ACK backlog in the receive buffer
_RCVBUF = 4 << 20


class NetlinkSocketError(OSError):
    pass


@dataclass(frozen=True)
class LinkChange:
    """One RTM_SETLINK (or RTM_DELLINK if `delete`) on link `index`.
    `master`: None leaves it, 0 releases the link from its bridge."""
    index: int
    master: int | None = None
    mtu: int | None = None
    up: bool | None = None
    delete: bool = False


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attr(kind: int, payload: bytes) -> bytes:
    length = _RTATTR.size + len(payload)
    return _RTATTR.pack(length, kind) + payload + b"\0" * (_align(length) - length)


def _iter_attrs(buf: bytes | memoryview, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each rtattr in buf[start:end]."""
    while start + 4 <= end:
        length, kind = _RTATTR.unpack_from(buf, start)
        if length < 4:
            return
        yield kind & NLA_TYPE_MASK, start + 4, start + length
        start += _align(length)


def _cstr(buf, a: int, b: int) -> str:
    return bytes(buf[a:b]).split(b"\0", 1)[0].decode()


def _mac(buf, a: int, b: int) -> str:
    return ":".join(f"{x:02x}" for x in bytes(buf[a:b]))


def _ipv4(buf, a: int, b: int) -> str | None:
    return socket.inet_ntop(socket.AF_INET, bytes(buf[a:b])) if b - a == 4 else None


def encode_change(change: LinkChange, seq: int) -> bytes:
    if change.delete:
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, change.index, 0, 0)
        kind = RTM_DELLINK
    else:
        flags = change_mask = 0
        if change.up is not None:
            change_mask = IFF_UP
            flags = IFF_UP if change.up else 0
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, change.index, flags, change_mask)
        if change.mtu is not None:
            body += _attr(IFLA_MTU, struct.pack("=I", change.mtu))
        if change.master is not None:
            body += _attr(IFLA_MASTER, struct.pack("=I", change.master))
        kind = RTM_SETLINK
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK,
                          seq, 0) + body


def parse_link(buf, start: int, end: int) -> tuple[dict, int, int]:
    """Fields of one ifinfomsg at buf[start:end] -> (fields, link index of
    IFLA_LINK, vxlan lower index); names of related indexes are resolved by the caller."""
    _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(buf, start)
    f: dict = {"index": index, "up": bool(flags & IFF_UP), "kind": None, "mac": None,
               "master": 0, "oper_state": None, "mtu": 0, "name": ""}
    link_idx = vx_lower = 0
    data = None
    for kind, a, b in _iter_attrs(buf, start + _IFINFOMSG.size, end):
        if kind == IFLA_IFNAME:
            f["name"] = _cstr(buf, a, b)
        elif kind == IFLA_MTU:
            f["mtu"] = struct.unpack_from("=I", buf, a)[0]
        elif kind == IFLA_MASTER:
            f["master"] = struct.unpack_from("=I", buf, a)[0]
        elif kind == IFLA_ADDRESS:
            f["mac"] = _mac(buf, a, b)
        elif kind == IFLA_LINK:
            link_idx = struct.unpack_from("=i", buf, a)[0]
        elif kind == IFLA_OPERSTATE:
            state = buf[a]
            f["oper_state"] = OPERSTATES[state] if state < len(OPERSTATES) else str(state)
        elif kind == IFLA_LINKINFO:
            for k2, a2, b2 in _iter_attrs(buf, a, b):
                if k2 == IFLA_INFO_KIND:
                    f["kind"] = _cstr(buf, a2, b2)
                elif k2 == IFLA_INFO_DATA:
                    data = (a2, b2)
    if data is not None and f["kind"] == "vxlan":
        f.update(vxlan_ttl=0, vxlan_tos=0, vxlan_learning=False, vxlan_proxy=False,
                 vxlan_group=None, vxlan_local=None)
        for k, a, b in _iter_attrs(buf, *data):
            if k == 1:
                f["vxlan_id"] = struct.unpack_from("=I", buf, a)[0]
            elif k == 2:
                f["vxlan_group"] = _ipv4(buf, a, b)
            elif k == 3:
                vx_lower = struct.unpack_from("=I", buf, a)[0]
            elif k == 4:
                f["vxlan_local"] = _ipv4(buf, a, b)
            elif k == 5:
                f["vxlan_ttl"] = buf[a]
            elif k == 6:
                f["vxlan_tos"] = buf[a]
            elif k == 7:
                f["vxlan_learning"] = bool(buf[a])
            elif k == 11:
                f["vxlan_proxy"] = bool(buf[a])
            elif k == 15:
                f["vxlan_port"] = struct.unpack_from("!H", buf, a)[0]
    elif data is not None and f["kind"] == "vlan":
        for k, a, b in _iter_attrs(buf, *data):
            if k == 1:
                f["vlan_id"] = struct.unpack_from("=H", buf, a)[0]
    return f, link_idx, vx_lower


def _iter_messages(buf, size: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(type, flags, seq, payload start, payload end) of each nlmsg in buf[:size]."""
    off = 0
    while off + _NLMSGHDR.size <= size:
        length, kind, flags, seq, _pid = _NLMSGHDR.unpack_from(buf, off)
        if length < _NLMSGHDR.size:
            return
        yield kind, flags, seq, off + _NLMSGHDR.size, off + length
        off += _align(length)


def _open(netns: str | None, groups: int = 0) -> socket.socket:
    with _netns.in_netns(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                             NETLINK_ROUTE)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, 33, _RCVBUF)  # SO_RCVBUFFORCE (root)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        sock.bind((0, groups))
    except BaseException:
        sock.close()
        raise
    return sock


class FastLinks:
    """Dump links and apply batches of link changes in one namespace."""

    def __init__(self, netns: str | None = None):
        self.netns = netns
        self._sock = _open(netns)
        self._seq = 0
        self._buf = bytearray(1 << 20)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> FastLinks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0x7FFFFFFF or 1
        return self._seq

    def _recv(self) -> int:
        n = self._sock.recv_into(self._buf)
        if n <= 0:
            raise NetlinkSocketError(errno.EIO, "netlink socket closed")
        return n

    def existing(self, names: Iterable[str]) -> set[str]:
        """Which of `names` are links here: one RTM_GETLINK by name each,
        batched (a dump of a host with 5,000 taps costs ~100 ms of parsing)."""
        names = sorted(set(names))
        found: set[str] = set()
        for start in range(0, len(names), _BATCH):
            by_seq: dict[int, str] = {}
            out = bytearray()
            for name in names[start:start + _BATCH]:
                seq = self._next_seq()
                by_seq[seq] = name
                body = (_IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
                        + _attr(IFLA_IFNAME, name.encode() + b"\0")
                        + _attr(IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_SKIP_STATS)))
                out += _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_GETLINK,
                                      NLM_F_REQUEST, seq, 0) + body
            self._sock.send(out)
            while by_seq:
                n = self._recv()
                buf = memoryview(self._buf)
                for kind, _flags, seq, _a, _b in _iter_messages(buf, n):
                    name = by_seq.pop(seq, None)
                    if name is not None and kind == RTM_NEWLINK:
                        found.add(name)
                buf.release()
        return found

    def dump(self) -> list[Link]:
        """Every link of the namespace, as netlink_model.Link."""
        seq = self._next_seq()
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(
            IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_SKIP_STATS))
        self._sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_GETLINK,
                                       NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
        parsed = []
        done = False
        while not done:
            n = self._recv()
            buf = memoryview(self._buf)
            for kind, _flags, mseq, a, b in _iter_messages(buf, n):
                if mseq != seq:
                    continue
                if kind == NLMSG_DONE:
                    done = True
                    break
                if kind == NLMSG_ERROR:
                    err = -_ERRMSG.unpack_from(buf, a)[0]
                    if err == errno.EINTR:  # dump interrupted by a change: retry
                        return self.dump()
                    raise NetlinkSocketError(err, f"link dump: {os.strerror(err)}")
                if kind == RTM_NEWLINK:
                    parsed.append(parse_link(buf, a, b))
            buf.release()
        names = {f["index"]: f["name"] for f, _, _ in parsed}
        links = []
        for f, link_idx, vx_lower in parsed:
            f["master"] = names.get(f["master"]) if f["master"] else None
            if f["kind"] == "vlan":
                f["vlan_parent"] = names.get(link_idx)
            elif f["kind"] == "vxlan":
                f["vxlan_dev"] = names.get(vx_lower) if vx_lower else None
            links.append(Link(**f))
        return links

    def apply(self, changes: Iterable[LinkChange]) -> dict[int, int]:
        """Send the changes in order (batched); returns {position: errno} of
        those the kernel refused. ENODEV on delete counts as success."""
        changes = list(changes)
        errors: dict[int, int] = {}
        for start in range(0, len(changes), _BATCH):
            chunk = changes[start:start + _BATCH]
            by_seq: dict[int, int] = {}
            out = bytearray()
            for pos, change in enumerate(chunk, start):
                seq = self._next_seq()
                by_seq[seq] = pos
                out += encode_change(change, seq)
            self._sock.send(out)
            pending = set(by_seq)
            while pending:
                n = self._recv()
                buf = memoryview(self._buf)
                for kind, _flags, seq, a, _b in _iter_messages(buf, n):
                    if kind != NLMSG_ERROR or seq not in pending:
                        continue
                    pending.discard(seq)
                    err = -_ERRMSG.unpack_from(buf, a)[0]
                    pos = by_seq[seq]
                    if err and not (err == errno.ENODEV and changes[pos].delete):
                        errors[pos] = err
                buf.release()
        return errors


class LinkMonitor:
    """Calls `on_event(event, name)` for every link event in a namespace,
    event being 'new' or 'del'; `on_event('overrun', None)` when the kernel
    dropped events (the receiver must rescan). Runs its own thread."""

    def __init__(self, netns: str | None, on_event: Callable[[str, str | None], None]):
        self.netns = netns
        self.on_event = on_event
        self._sock = _open(netns, RTMGRP_LINK)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"linkmon-{netns or 'self'}",
                                        daemon=True)

    def start(self) -> LinkMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        self._sock.close()
        os.close(self._stop_r)
        os.close(self._stop_w)

    def _run(self) -> None:
        buf = bytearray(1 << 18)
        while True:
            ready, _, _ = select.select([self._sock, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                n = self._sock.recv_into(buf)
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.on_event("overrun", None)
                    continue
                return
            view = memoryview(buf)
            for kind, _flags, _seq, a, b in _iter_messages(view, n):
                if kind not in (RTM_NEWLINK, RTM_DELLINK):
                    continue
                name = None
                for k, x, y in _iter_attrs(view, a + _IFINFOMSG.size, b):
                    if k == IFLA_IFNAME:
                        name = _cstr(view, x, y)
                        break
                try:
                    self.on_event("new" if kind == RTM_NEWLINK else "del", name)
                except Exception:  # noqa: BLE001 - the monitor must outlive a bad callback
                    pass
            view.release()


RTM_GETADDR, RTM_NEWADDR = 22, 20
IFA_ADDRESS, IFA_LOCAL = 1, 2
_IFADDRMSG = struct.Struct("=BBBBI")


def ipv4_addresses(netns: str | None = None) -> list[tuple[int, str, int]]:
    """(ifindex, address, prefixlen) of every IPv4 address in a namespace."""
    sock = _open(netns)
    try:
        body = _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
        sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_GETADDR,
                                 NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body)
        out = []
        buf = bytearray(1 << 18)
        while True:
            n = sock.recv_into(buf)
            for kind, _flags, _seq, a, b in _iter_messages(buf, n):
                if kind == NLMSG_DONE:
                    return out
                if kind == NLMSG_ERROR:
                    err = -_ERRMSG.unpack_from(buf, a)[0]
                    raise NetlinkSocketError(err, f"address dump: {os.strerror(err)}")
                if kind != RTM_NEWADDR:
                    continue
                _fam, plen, _flags2, _scope, index = _IFADDRMSG.unpack_from(buf, a)
                addr = None
                for k, x, y in _iter_attrs(buf, a + _IFADDRMSG.size, b):
                    if k == IFA_LOCAL or (k == IFA_ADDRESS and addr is None):
                        addr = _ipv4(buf, x, y)
                if addr:
                    out.append((index, addr, plen))
    finally:
        sock.close()
