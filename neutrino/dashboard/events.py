"""Change events for the dashboard: "a <resource> changed", pushed to every
open page as server-sent events.

Sources: the change notifications the plugins send the agents
(core.notifier.resource_changed, teed here) and every successful API write
(a middleware: creations that concern no agent, e.g. a router without
gateway, notify no one). With a bus (rabbit, or the lab's inproc bus) each
event is published on the fanout topic `<prefix>.dashboard` and every API
worker delivers what it hears to its own pages, so a page sees changes made
through any worker. Without a bus (a server with no agents: inproc://, its
workers separate processes) the workers of one server reach each other
through Unix datagram sockets in a directory of their own (SocketFanout).
Publishing is batched (BATCH_S) on a thread of its own, one message per
batch: an API write pays a list append, not a thread switch or a publish
(benchmarks/README.md, apibench and l2_scale sections).

An event names only the resource type, never an id: the page re-reads
through the API with its own token, so it learns nothing policy would hide.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)
# Events are published in batches: under a write load the sender thread
# wakes 20 times a second, not twice a write.
BATCH_S = 0.05
# ...each batch in messages of at most this many events (~50 bytes each: a
# datagram of SocketFanout holds 64 KiB)
BATCH_MAX = 500


class EventHub:
    def __init__(self, transport=None, prefix: str = "neutrino"):
        self.transport = transport
        self.topic = f"{prefix}.dashboard"
        self._clients: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._lock = threading.Lock()
        self._pending: list[dict] = []      # events since the last batch
        self._wake = threading.Event()
        self._sender: threading.Thread | None = None
        self._subscribed = False

    # --- producing --------------------------------------------------------------
    def changed(self, resource: str) -> None:
        """Called on API threads (twice a write: the notifier tee and the
        middleware): an append, nothing more. A thread of its own publishes
        the events of each BATCH_S, after the API calls answered; only the
        first event of a batch wakes it."""
        event = {"resource": resource, "at": time.time()}
        if self.transport is None:
            if self._clients:
                self.deliver(event)
            return
        with self._lock:
            self._pending.append(event)
            if len(self._pending) > 1:
                return
            if self._sender is None:
                self._sender = threading.Thread(target=self._send, name="dashboard-events",
                                                daemon=True)
                self._sender.start()
            self._wake.set()

    def _send(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(BATCH_S)
            with self._lock:
                self._wake.clear()
                batch, self._pending = self._pending, []
            # one message per batch: a burst of writes costs the broker (and
            # the sender) a publish per BATCH_S, not one per change
            for start in range(0, len(batch), BATCH_MAX):
                events = batch[start:start + BATCH_MAX]
                try:
                    self.transport.publish(self.topic, "dashboard_batch", {"events": events})
                except Exception:  # noqa: BLE001 - a page resyncs on its next event or poll
                    LOG.warning("%d dashboard event(s) not published", len(events),
                                exc_info=True)

    # --- consuming ----------------------------------------------------------------
    def _on_bus(self, method: str, payload: dict) -> None:
        if method == "dashboard_batch":
            for event in payload.get("events") or ():
                if isinstance(event, dict):
                    self.deliver(event)
        elif method == "dashboard_changed":      # one event (a worker of an earlier release)
            self.deliver(payload)

    def deliver(self, event: dict) -> None:
        with self._lock:
            clients = list(self._clients)
        for loop, q in clients:
            try:
                loop.call_soon_threadsafe(q.put_nowait, event)
            except RuntimeError:      # the page's loop is gone
                self.remove((loop, q))

    def add(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        """A new page listening (on the running event loop)."""
        if self.transport is not None and not self._subscribed:
            with self._lock:
                if not self._subscribed:
                    try:
                        self.transport.subscribe(self.topic, self._on_bus)
                    except Exception:  # noqa: BLE001 - pages of this worker still hear its own
                        LOG.warning("dashboard events: cannot listen on %s; pages see this "
                                    "worker's changes only", self.topic, exc_info=True)
                        self.transport = None
                    self._subscribed = True
        client = (asyncio.get_running_loop(), asyncio.Queue(maxsize=1000))
        with self._lock:
            self._clients.add(client)
        return client

    def remove(self, client) -> None:
        with self._lock:
            self._clients.discard(client)

    @property
    def listeners(self) -> int:
        return len(self._clients)


class SocketFanout:
    """publish/subscribe between the worker processes of one server, for
    servers without a bus: each subscriber binds a datagram socket in a
    directory named after the server's state_path; a publish sends to every
    socket there (a socket nobody reads any more is removed)."""

    def __init__(self, key: str):
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        # short: a Unix socket path has at most 107 bytes
        self.dir = Path(tempfile.gettempdir()) / f"neutrino-dash-{os.getuid()}-{digest}"
        self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._out.setblocking(False)
        self._lock = threading.Lock()

    def _ours(self) -> bool:
        """The directory is ours alone (in a shared /tmp anyone could have
        made it first)."""
        st = self.dir.lstat()
        return self.dir.is_dir() and st.st_uid == os.getuid() and st.st_mode & 0o077 == 0

    def subscribe(self, topic: str, handler) -> None:
        self.dir.mkdir(mode=0o700, exist_ok=True)     # made by the first page's worker
        if not self._ours():
            raise PermissionError(f"{self.dir} is not this user's own directory")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = self.dir / f"{os.getpid()}-{id(self)}.sock"
        path.unlink(missing_ok=True)
        sock.bind(str(path))

        def run():
            while True:
                data = sock.recv(65536)
                try:
                    msg = json.loads(data)
                    handler(msg["method"], msg["payload"])
                except Exception:  # noqa: BLE001 - a bad datagram never stops the reader
                    LOG.debug("dashboard datagram dropped", exc_info=True)
        threading.Thread(target=run, name="dashboard-fanout", daemon=True).start()

    def publish(self, topic: str, method: str, payload: dict) -> None:
        if not self.dir.is_dir() or not self._ours():
            return                                    # no page open on any worker yet
        data = json.dumps({"method": method, "payload": payload}).encode()
        for path in self.dir.glob("*.sock"):
            try:
                with self._lock:
                    self._out.sendto(data, str(path))
            except (ConnectionRefusedError, FileNotFoundError):
                path.unlink(missing_ok=True)      # its process is gone
            except BlockingIOError:
                pass                              # a reader far behind: it re-reads anyway


class TeeNotifier:
    """Wraps core.notifier: the agents get every notification as before,
    and the dashboard hears of it too. Attribute reads and writes go to the
    wrapped notifier (attach_bus and the L3 RPC set hooks on it)."""

    def __init__(self, inner, hub: EventHub):
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_hub", hub)

    def resource_changed(self, resource: str, resource_id: str, revision: int,
                         hosts=None, **extra: Any) -> None:
        self._inner.resource_changed(resource, resource_id, revision, hosts, **extra)
        try:
            self._hub.changed(resource)
        except Exception:  # noqa: BLE001 - never fail the API call for the dashboard
            LOG.exception("dashboard event for %s not queued", resource)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._inner, name, value)


_WRITE = {"POST", "PUT", "DELETE", "PATCH"}
_API_PREFIXES = ("/v2.0/", "/v2/lbaas/", "/v2/")


def resource_of(path: str) -> str:
    """'/v2.0/routers/x/add_router_interface' -> 'routers'."""
    for prefix in ("/v2.0/", "/v2/lbaas/", "/v2/"):
        if path.startswith(prefix):
            rest = path[len(prefix):].split("/")
            return rest[0] or "unknown"
    return "unknown"


class WriteEvents:
    """ASGI middleware: a successful write under /v2.0 (or Octavia's /v2)
    is an event, whatever resource it touched (the extensions' too)."""

    def __init__(self, app, hub: EventHub):
        self.app = app
        self.hub = hub

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in _WRITE \
                or not scope.get("path", "").startswith(_API_PREFIXES):
            await self.app(scope, receive, send)
            return
        status = {}

        async def watch(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status.get("code", 500) < 400:
            self.hub.changed(resource_of(scope["path"]))
