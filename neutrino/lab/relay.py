"""Broker relay: makes the message broker reachable from inside a simulated
host's namespace without any link into the root namespace.

Agents run inside their host namespace, where 127.0.0.1:5672 is the
namespace's own loopback. The relay opens a listening socket *inside* the
host namespace (a socket keeps the namespace it was created in) and, for each
connection, a socket to the real broker from the root namespace, then copies
bytes both ways. Only loopback traffic and our own sockets are involved.
"""
from __future__ import annotations

import contextlib
import logging
import socket
import threading

from neutrino.dataplane import netns as _netns

LOG = logging.getLogger(__name__)


class BrokerRelay:
    def __init__(self, netns: str, listen: tuple[str, int], upstream: tuple[str, int]):
        self.netns = netns
        self.listen = listen
        self.upstream = upstream
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._stopped = False

    def start(self) -> BrokerRelay:
        with _netns.in_netns(self.netns):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(self.listen)
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, name=f"relay-{self.netns}", daemon=True).start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            conns, self._conns = self._conns, []
        if self._listener is not None:
            _shut(self._listener)
        for sock in conns:
            _shut(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError as exc:
                LOG.warning("relay %s: broker %s unreachable: %s", self.netns, self.upstream, exc)
                _shut(client)
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._stopped:
                    _shut(client)
                    _shut(upstream)
                    return
                self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shut(src)
            _shut(dst)
            with self._lock:
                self._conns = [s for s in self._conns if s not in (src, dst)]


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
