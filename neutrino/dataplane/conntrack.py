"""Connection tracking entries of one namespace: forget the flows a removed
security-group allow (or a removed remote-group member, or a deleted port)
had let through, so established connections stop too.

Over a raw ctnetlink socket (NETLINK_NETFILTER), for the same reason as
rtnl_fast.py: pyroute2 0.9's Conntrack decodes every attribute of every
entry and does one synchronous round trip per delete through its event
loop, and its `delete()` sends no zone (so it only ever reaches zone 0,
while every security-group flow lives in its network's zone). One `clean()`
dumps the table once per IP version, matches the entries against all the
filters of the batch in memory (zone plus original source and/or
destination, the semantics of `conntrack -D -w ZONE -s SRC -d DST`) and
deletes only those that exist, many deletes per sendmsg, each naming the
entry's own tuple, zone and id (an entry re-created since the dump is left
alone).

`Cleaner` runs batches on its own thread so a reconciler never waits for
them; `Cleaner(background=False)` runs each batch at once (tests, tools).
"""
from __future__ import annotations

import errno
import functools
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from neutrino.dataplane import netns as _netns

LOG = logging.getLogger(__name__)

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW, IPCTNL_MSG_CT_GET, IPCTNL_MSG_CT_DELETE = 0, 1, 2
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF
CTA_TUPLE_ORIG, CTA_ID, CTA_ZONE = 1, 12, 18
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST, CTA_IP_V6_SRC, CTA_IP_V6_DST = 1, 2, 3, 4
CTA_PROTO_NUM = 1
AF = {4: socket.AF_INET, 6: socket.AF_INET6}

_NLMSGHDR = struct.Struct("=IHHII")
_NFGENMSG = struct.Struct("=BBH")
_NLA = struct.Struct("=HH")
_ERRMSG = struct.Struct("=i")
_BATCH = 256            # deletes per sendmsg: bounds the ACK backlog
_RCVBUF = 4 << 20


class ConntrackError(OSError):
    pass


@dataclass(frozen=True)
class Flow:
    """One conntrack entry as dumped: enough to match it and delete exactly it."""
    version: int
    zone: int
    proto: int
    src: str            # original direction
    dst: str
    entry_id: int | None
    tuple_orig: bytes   # the CTA_TUPLE_ORIG attribute as the kernel sent it


def _align(n: int) -> int:
    return (n + 3) & ~3


def _nla(kind: int, payload: bytes) -> bytes:
    length = _NLA.size + len(payload)
    return _NLA.pack(length, kind) + payload + b"\0" * (_align(length) - length)


def _attrs(buf, start: int, end: int):
    """(type, payload start, payload end, attribute start) of each nla in buf[start:end]."""
    while start + 4 <= end:
        length, kind = _NLA.unpack_from(buf, start)
        if length < 4:
            return
        yield kind & NLA_TYPE_MASK, start + 4, start + length, start
        start += _align(length)


def _messages(buf, size: int):
    off = 0
    while off + _NLMSGHDR.size <= size:
        length, kind, flags, seq, _pid = _NLMSGHDR.unpack_from(buf, off)
        if length < _NLMSGHDR.size:
            return
        yield kind, seq, off + _NLMSGHDR.size, off + length
        off += _align(length)


def parse_flow(version: int, buf, a: int, b: int) -> Flow | None:
    """One IPCTNL_MSG_CT_NEW of a dump (payload buf[a:b], nfgenmsg first)."""
    zone, entry_id, tuple_orig = 0, None, None
    src = dst = None
    proto = 0
    for kind, pa, pb, start in _attrs(buf, a + _NFGENMSG.size, b):
        if kind == CTA_ZONE:
            zone = struct.unpack_from("!H", buf, pa)[0]
        elif kind == CTA_ID:
            entry_id = struct.unpack_from("!I", buf, pa)[0]
        elif kind == CTA_TUPLE_ORIG:
            tuple_orig = bytes(buf[start:pb])
            for tk, ta, tb, _ in _attrs(buf, pa, pb):
                if tk == CTA_TUPLE_IP:
                    for ik, ia, ib, _ in _attrs(buf, ta, tb):
                        if ik in (CTA_IP_V4_SRC, CTA_IP_V6_SRC):
                            src = socket.inet_ntop(AF[version], bytes(buf[ia:ib]))
                        elif ik in (CTA_IP_V4_DST, CTA_IP_V6_DST):
                            dst = socket.inet_ntop(AF[version], bytes(buf[ia:ib]))
                elif tk == CTA_TUPLE_PROTO:
                    for pk, xa, _xb, _ in _attrs(buf, ta, tb):
                        if pk == CTA_PROTO_NUM:
                            proto = buf[xa]
    if tuple_orig is None or src is None or dst is None:
        return None
    return Flow(version, zone, proto, src, dst, entry_id, tuple_orig)


@functools.lru_cache(maxsize=1 << 16)   # a batch names the same few thousand addresses
def _canonical(address: str | None) -> str | None:
    if not address:
        return None
    address = address.split("/")[0]
    try:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return socket.inet_ntop(family, socket.inet_pton(family, address))
    except OSError:
        return address


def select(flows: Iterable[Flow], filters: Iterable[tuple[int, int | None, str | None, str | None]]
           ) -> list[Flow]:
    """The flows any filter (version, zone, src, dst) names; None matches
    anything (a filter with neither address names a whole zone). Pure."""
    keys = {(v, z, _canonical(s), _canonical(d)) for v, z, s, d in filters}
    out = []
    for f in flows:
        for z in (f.zone, None):
            if ((f.version, z, f.src, f.dst) in keys or (f.version, z, f.src, None) in keys
                    or (f.version, z, None, f.dst) in keys or (f.version, z, None, None) in keys):
                out.append(f)
                break
    return out


class CtNetlink:
    """A ctnetlink socket in one namespace (opened there; usable from any thread,
    one at a time)."""

    def __init__(self, netns: str | None = None):
        with _netns.in_netns(netns):
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                 NETLINK_NETFILTER)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, 33, _RCVBUF)  # SO_RCVBUFFORCE (root)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            sock.bind((0, 0))
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._seq = 0
        self._buf = bytearray(1 << 20)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> CtNetlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0x7FFFFFFF or 1
        return self._seq

    def _recv(self) -> int:
        n = self._sock.recv_into(self._buf)
        if n <= 0:
            raise ConntrackError(errno.EIO, "netlink socket closed")
        return n

    def dump(self, version: int) -> list[Flow]:
        """Every entry of one IP version, all zones."""
        seq = self._next_seq()
        body = _NFGENMSG.pack(AF[version], 0, 0)
        kind = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET
        self._sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind,
                                       NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
        flows: list[Flow] = []
        while True:
            n = self._recv()
            buf = memoryview(self._buf)
            try:
                for mkind, mseq, a, b in _messages(buf, n):
                    if mseq != seq:
                        continue
                    if mkind == NLMSG_DONE:
                        return flows
                    if mkind == NLMSG_ERROR:
                        err = -_ERRMSG.unpack_from(buf, a)[0]
                        if err == errno.EINTR:
                            return self.dump(version)
                        if err == 0:
                            continue
                        raise ConntrackError(err, f"conntrack dump: {os.strerror(err)}")
                    if mkind & 0xFF == IPCTNL_MSG_CT_NEW:
                        flow = parse_flow(version, buf, a, b)
                        if flow is not None:
                            flows.append(flow)
            finally:
                buf.release()

    def delete(self, flows: Iterable[Flow]) -> int:
        """Delete exactly these entries (tuple, zone, id); batched. Returns how
        many the kernel deleted (one already gone is not an error)."""
        flows = list(flows)
        deleted = 0
        kind = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE
        for start in range(0, len(flows), _BATCH):
            out = bytearray()
            pending: set[int] = set()
            for f in flows[start:start + _BATCH]:
                seq = self._next_seq()
                pending.add(seq)
                body = _NFGENMSG.pack(AF[f.version], 0, 0) + f.tuple_orig
                if f.zone:
                    body += _nla(CTA_ZONE, struct.pack("!H", f.zone))
                if f.entry_id is not None:
                    body += _nla(CTA_ID, struct.pack("!I", f.entry_id))
                out += _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind,
                                      NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body
            self._sock.send(out)
            while pending:
                n = self._recv()
                buf = memoryview(self._buf)
                try:
                    for mkind, seq, a, _b in _messages(buf, n):
                        if mkind != NLMSG_ERROR or seq not in pending:
                            continue
                        pending.discard(seq)
                        err = -_ERRMSG.unpack_from(buf, a)[0]
                        if err == 0:
                            deleted += 1
                        elif err != errno.ENOENT:
                            LOG.warning("conntrack delete refused: %s", os.strerror(err))
                finally:
                    buf.release()
        return deleted

    def clean(self, filters: Iterable[tuple[int, int | None, str | None, str | None]]) -> int:
        """Delete every existing entry a filter names: one dump per IP version
        named, one batched delete. Returns the number deleted."""
        filters = list(filters)
        deleted = 0
        for version in sorted({f[0] for f in filters}):
            doomed = select(self.dump(version), [f for f in filters if f[0] == version])
            if doomed:
                deleted += self.delete(doomed)
        return deleted


class Cleaner:
    """Conntrack deletions off the caller's thread: `submit()` queues a batch
    and returns; the worker coalesces everything queued, then runs one
    `clean()` over one socket. Order is kept: a batch submitted after a
    restore runs after it. `background=False` cleans inside `submit()`."""

    def __init__(self, netns: str | None, background: bool = True, name: str = "conntrack"):
        self.netns = netns
        self.background = background
        self.name = name
        self.deleted = 0           # entries deleted so far (tests, benchmarks)
        self.batches = 0
        self.last_seconds = 0.0
        self._nl: CtNetlink | None = None
        self._cond = threading.Condition()
        self._queue: list[tuple[int, int | None, str | None, str | None]] = []
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    def _socket(self) -> CtNetlink:
        if self._nl is None:
            self._nl = CtNetlink(self.netns)
        return self._nl

    def submit(self, filters: Iterable[tuple[int, int | None, str | None, str | None]]) -> None:
        filters = list(filters)
        if not filters:
            return
        if not self.background:
            self._run(filters)
            return
        with self._cond:
            if self._stopped:
                return
            self._queue += filters
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once everything submitted so far has been cleaned."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        if self._nl is not None:
            self._nl.close()
            self._nl = None

    def _run(self, filters) -> None:
        t0 = time.monotonic()
        try:
            self.deleted += self._socket().clean(filters)
        except OSError as exc:
            # a broken socket: the next batch opens a new one
            LOG.warning("conntrack cleanup of %d filter(s) failed: %s", len(filters), exc)
            if self._nl is not None:
                self._nl.close()
                self._nl = None
        self.batches += 1
        self.last_seconds = time.monotonic() - t0

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                batch, self._queue = list(dict.fromkeys(self._queue)), []
                self._busy = True
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


def entries(netns: str | None, version: int = 4) -> list[str]:
    """`conntrack -L` lines (tests, `neutrino show`)."""
    out = _netns.run(["conntrack", "-L", "-f", "ipv6" if version == 6 else "ipv4"],
                     netns=netns, check=False)
    return [line for line in out.splitlines() if line.strip()]
