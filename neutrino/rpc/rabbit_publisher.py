"""The sending connection of the RabbitMQ transport (neutrino.rpc.rabbit),
shared by all sending threads under a lock. Before each send it handles the
frames the broker sent (a close after a restart), a keepalive thread does the
same and the heartbeats while it idles, and kombu's `ensure` retries a send
that fails.
"""
from __future__ import annotations

import logging
import select
import threading
from typing import TYPE_CHECKING

import kombu
from kombu.exceptions import OperationalError

from neutrino.rpc.bus import BrokerUnavailable
from neutrino.rpc.rabbit_connection import drain_ready, prepare, release

if TYPE_CHECKING:
    from neutrino.rpc.rabbit import RabbitTransport

LOG = logging.getLogger(__name__)

PUBLISH_RETRIES = 3  # then BrokerUnavailable; agents' periodic resync covers the rest
CONTENT_TYPE = "application/json"


class Publisher:
    """The sending connection, shared by all threads of a transport under a lock.

    Nobody reads a publisher's socket between sends, so a keepalive thread
    does, every heartbeat/4: it handles what the broker sent (heartbeats, a
    close) and sends our heartbeats. A silent broker is thus noticed even by
    an idle publisher, and the next send reconnects instead of writing into a
    dead connection."""

    def __init__(self, transport: "RabbitTransport"):
        self._transport = transport
        self._lock = threading.Lock()
        self._conn: kombu.Connection | None = None
        self._producer: kombu.Producer | None = None
        self._ever_connected = False
        self._stop = threading.Event()
        self._keepalive_thread: threading.Thread | None = None
        self._recoverable: tuple = ()
        self._declared: set[str] = set()  # work queues declared on this connection

    def publish(self, body: bytes, routing_key: str, exchange: kombu.Exchange | None = None,
                expiration: float | None = None, queue: kombu.Queue | None = None) -> None:
        """Send; `queue` (a work queue) is declared first, once per connection."""
        with self._lock:
            self._check_connection()
            try:
                producer = self._connected_producer()
                if queue is not None and queue.name not in self._declared:
                    # (kombu's own declaration cache skips expiring queues)
                    queue.bind(producer.channel).declare()
                    self._declared.add(queue.name)
                producer.publish(
                    body, routing_key=routing_key, exchange=exchange or "",
                    declare=[exchange] if exchange is not None else [],
                    content_type=CONTENT_TYPE, content_encoding="utf-8",
                    delivery_mode=1, expiration=expiration,
                    retry=True, retry_policy={
                        "max_retries": PUBLISH_RETRIES, "interval_start": 0,
                        "interval_step": 0.5, "interval_max": 1,
                        "on_revive": self._revived,
                    })
            except Exception as exc:
                recoverable = isinstance(exc, (OperationalError, OSError, *self._recoverable))
                self._discard()  # whatever failed, the next send starts on a fresh connection
                if not recoverable:
                    raise  # e.g. PreconditionFailed: a naming clash, not an outage
                where = routing_key or exchange.name
                raise BrokerUnavailable(f"cannot publish to {where!r}: {exc}") from exc

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._discard(graceful=True)

    def _connected_producer(self) -> kombu.Producer:
        if self._producer is None:
            conn = self._transport.new_connection("publisher", heartbeat=self._transport.heartbeat)
            try:
                conn.ensure_connection(max_retries=PUBLISH_RETRIES, interval_start=0,
                                       interval_step=0.5, interval_max=1)
            except Exception:
                release(conn, graceful=False)
                raise
            prepare(conn, self._transport.sync_timeout)
            self._conn, self._producer = conn, kombu.Producer(conn.default_channel)
            self._recoverable = conn.recoverable_connection_errors + conn.recoverable_channel_errors
            if self._ever_connected:
                self._transport.connection_reestablished("publisher")
            self._ever_connected = True
            if self._keepalive_thread is None and self._transport.heartbeat:
                self._keepalive_thread = threading.Thread(
                    target=self._keepalive, name="rpc-publisher-keepalive", daemon=True)
                self._keepalive_thread.start()
        return self._producer

    def _keepalive(self) -> None:
        while not self._stop.wait(self._transport.heartbeat / 4):
            # A busy lock means a send is under way: that is traffic enough.
            if self._lock.acquire(blocking=False):
                try:
                    self._check_connection()
                finally:
                    self._lock.release()

    def _check_connection(self) -> None:
        """Handle whatever the broker sent since we last looked, and heartbeats.

        Without this, the first message after the broker closed us (restart,
        forced close) would be written into a dead socket and silently lost."""
        if self._conn is None:
            return
        try:
            if not self._conn.connected:
                raise ConnectionError("connection marked closed")
            if select.select([self._conn.connection.sock], [], [], 0)[0]:
                drain_ready(self._conn)
            self._conn.heartbeat_check(rate=2)
        except Exception as exc:  # noqa: BLE001 - any failure here means: reconnect
            LOG.warning("publisher connection lost: %r; reconnecting", exc)
            self._discard()

    def _revived(self, channel) -> None:
        # kombu's ensure() reconnected inside publish().
        self._declared.clear()
        prepare(self._conn, self._transport.sync_timeout)
        self._transport.connection_reestablished("publisher")

    def _discard(self, graceful: bool = False) -> None:
        if self._conn is not None:
            release(self._conn, graceful)
        self._conn = self._producer = None
        self._declared.clear()
