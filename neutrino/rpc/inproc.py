"""In-process transport: the all-in-one deployment and the fast unit tests.

It mirrors the broker's semantics rather than calling handlers directly:
messages are JSON-encoded on the sender's thread and decoded per receiver (no
shared mutable dicts), handlers run on worker threads, a cast to a target with
no server is dropped, a call to one times out. Transports created for the same
bus name share queues and topics, so a server and several agent threads in one
process talk exactly as they would over RabbitMQ.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from typing import Callable
from urllib.parse import urlsplit

from neutrino.rpc.bus import (
    Handler,
    HandlerWorkers,
    NotificationHandler,
    PendingCalls,
    decode,
    encode_request,
    handle_request,
)

LOG = logging.getLogger(__name__)


class _Server:
    """One `serve()` registration: a consumer competing for its target's messages."""

    def __init__(self, owner: "InprocTransport", target: str, handler: Handler, threads: int):
        self.owner = owner
        self.target = target
        self.handler = handler
        self.workers = HandlerWorkers(f"serve-{target}", self._handle, threads)

    def _handle(self, body: bytes) -> None:
        envelope = decode(body)
        reply = handle_request(self.handler, envelope, f"target {self.target!r}")
        if reply is not None:
            self.owner.bus.deliver_reply(envelope["reply_to"], reply)


class _Subscription:
    def __init__(self, topic: str, handler: NotificationHandler):
        self.topic = topic
        self.handler = handler
        self.workers = HandlerWorkers(f"topic-{topic}", self._handle)

    def _handle(self, body: bytes) -> None:
        envelope = decode(body)
        handle_request(self.handler, envelope, f"topic {self.topic!r}")


class InprocBus:
    """Queues and topics shared by every transport of one bus name."""

    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._servers: dict[str, list[_Server]] = {}
        self._next_server: dict[str, itertools.count] = {}
        self._subscriptions: dict[str, dict[int, _Subscription]] = {}
        # reply_to address -> pending calls of that transport
        self._reply_boxes: dict[str, PendingCalls] = {}

    def add_server(self, server: _Server) -> None:
        with self._lock:
            self._servers.setdefault(server.target, []).append(server)
            self._next_server.setdefault(server.target, itertools.count())

    def remove_servers(self, owner: "InprocTransport") -> list[_Server]:
        removed = []
        with self._lock:
            for target, servers in self._servers.items():
                removed += [s for s in servers if s.owner is owner]
                servers[:] = [s for s in servers if s.owner is not owner]
        return removed

    def send(self, target: str, body: bytes) -> bool:
        """Hand `body` to one server of `target` (round robin); False if none."""
        with self._lock:
            servers = self._servers.get(target)
            if not servers:
                return False
            server = servers[next(self._next_server[target]) % len(servers)]
            # Submitting under the lock keeps one sender's messages in order.
            server.workers.submit(body)
        return True

    def set_subscription(self, owner_id: int, subscription: _Subscription) -> _Subscription | None:
        with self._lock:
            subscribers = self._subscriptions.setdefault(subscription.topic, {})
            previous = subscribers.get(owner_id)
            subscribers[owner_id] = subscription
        return previous

    def remove_subscription(self, owner_id: int, topic: str) -> _Subscription | None:
        with self._lock:
            subscribers = self._subscriptions.get(topic, {})
            removed = subscribers.pop(owner_id, None)
            if not subscribers:
                self._subscriptions.pop(topic, None)
        return removed

    def fanout(self, topic: str, body: bytes) -> int:
        with self._lock:
            subscribers = list(self._subscriptions.get(topic, {}).values())
            for subscription in subscribers:
                subscription.workers.submit(body)
        return len(subscribers)

    def open_reply_box(self, address: str, pending: PendingCalls) -> None:
        with self._lock:
            self._reply_boxes[address] = pending

    def close_reply_box(self, address: str) -> None:
        with self._lock:
            self._reply_boxes.pop(address, None)

    def deliver_reply(self, address: str, body: bytes) -> None:
        with self._lock:
            pending = self._reply_boxes.get(address)
        if pending is None:
            LOG.debug("reply to closed transport %s dropped", address)
            return
        pending.resolve(decode(body))


_buses: "weakref.WeakValueDictionary[str, InprocBus]" = weakref.WeakValueDictionary()
_buses_lock = threading.Lock()


def get_bus(name: str) -> InprocBus:
    """The bus called `name`, created on first use; it lives while a transport holds it."""
    with _buses_lock:
        bus = _buses.get(name)
        if bus is None:
            bus = _buses[name] = InprocBus(name)
        return bus


class InprocTransport:
    """Transport over a named in-process bus ("inproc://" or "inproc://name")."""

    _addresses = itertools.count()

    def __init__(self, url: str = "inproc://"):
        parts = urlsplit(url)
        if parts.scheme != "inproc":
            raise ValueError(f"not an inproc url: {url!r}")
        self.bus = get_bus(parts.netloc + parts.path)
        self._id = id(self)
        self._address = f"reply-{next(self._addresses)}"
        self._pending = PendingCalls()
        self._lock = threading.Lock()
        self._subscriptions: dict[str, _Subscription] = {}
        self._closed = False
        self.bus.open_reply_box(self._address, self._pending)

    # --- work queues ------------------------------------------------------

    def serve(self, target: str, handler: Handler, threads: int = 1) -> None:
        self._check_open()
        self.bus.add_server(_Server(self, target, handler, threads))

    def cast(self, target: str, method: str, payload: dict) -> None:
        self._check_open()
        if not self.bus.send(target, encode_request(method, payload)):
            LOG.debug("cast %s to %r dropped: no server", method, target)

    def call(self, target: str, method: str, payload: dict, timeout: float = 10.0) -> dict:
        self._check_open()
        correlation_id, future = self._pending.expect()
        try:
            body = encode_request(method, payload, reply_to=self._address,
                                  correlation_id=correlation_id)
        except Exception:
            self._pending.forget(correlation_id)
            raise
        self.bus.send(target, body)  # no server: like RabbitMQ, the caller times out
        return self._pending.wait(correlation_id, future, timeout,
                                  f"{method} on {target!r} within {timeout:g}s")

    # --- fanout -----------------------------------------------------------

    def subscribe(self, topic: str, handler: NotificationHandler) -> None:
        """Subscribe to `topic`; subscribing again replaces the handler."""
        self._check_open()
        subscription = _Subscription(topic, handler)
        with self._lock:
            self._subscriptions[topic] = subscription
        previous = self.bus.set_subscription(self._id, subscription)
        if previous is not None:
            previous.workers.stop()

    def unsubscribe(self, topic: str) -> None:
        with self._lock:
            self._subscriptions.pop(topic, None)
        removed = self.bus.remove_subscription(self._id, topic)
        if removed is not None:
            removed.workers.stop()

    def publish(self, topic: str, method: str, payload: dict) -> None:
        self._check_open()
        self.bus.fanout(topic, encode_request(method, payload))

    # --- lifecycle --------------------------------------------------------

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Accepted for interface parity: an in-process bus never disconnects."""

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            topics = list(self._subscriptions)
        for topic in topics:
            self.unsubscribe(topic)
        for server in self.bus.remove_servers(self):
            server.workers.stop()
        self.bus.close_reply_box(self._address)
        self._pending.fail_all(ConnectionError("transport closed"))

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionError("transport is closed")

    def __enter__(self) -> "InprocTransport":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
