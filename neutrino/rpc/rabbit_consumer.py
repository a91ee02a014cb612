"""The consuming connections of the RabbitMQ transport (neutrino.rpc.rabbit).

The listener (serve + subscribe) and the replies connection are each owned
by one thread that waits in select() on the socket and a wake-up pipe, so a
delivery is handled as soon as its bytes arrive (no polling interval, unlike
oslo.messaging's 0.5 s reply poll) and serve/subscribe from other threads
take effect at once. These threads send AMQP heartbeats, reconnect with
backoff, re-declare everything, then fire the on_reconnect callbacks.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
from typing import TYPE_CHECKING, Callable

import kombu
from amqp.exceptions import PreconditionFailed

from neutrino.rpc.rabbit_connection import drain_ready, prepare, release

if TYPE_CHECKING:
    from neutrino.rpc.rabbit import RabbitTransport

LOG = logging.getLogger(__name__)


class Binding:
    """A queue this process consumes: declared again on every new connection."""

    def __init__(self, key: str, make_queue: Callable[[], kombu.Queue],
                 on_body: Callable[[bytes], None]):
        self.key = key
        self.make_queue = make_queue
        self.on_body = on_body
        self.queue_name: str | None = None  # name on the current connection
        self.active = threading.Event()
        self.error: Exception | None = None

    def deliver(self, message) -> None:
        # Runs inside drain_events: an exception here would tear the connection down.
        try:
            self.on_body(message.body)
        except Exception:  # noqa: BLE001
            LOG.exception("dropping undeliverable message on %s", self.key)


class ConsumerLoop:
    """One consuming connection and the thread that owns it.

    Callers state which bindings they want (`set_binding`/`remove_binding`);
    the thread converges the broker to that set now and after every reconnect.
    """

    def __init__(self, transport: "RabbitTransport", role: str):
        self._transport = transport
        self.role = role
        self._cond = threading.Condition()
        self._desired: dict[str, Binding] = {}
        self._version = 0  # bumped by every change of _desired
        self._applied = 0  # the version the broker reflects
        self._active: dict[str, tuple[Binding, object]] = {}  # key -> (binding, channel)
        self._connected = False
        # A wait for the broker timed out, and it is still unreachable: later
        # set_binding calls do not wait again (a server starting during an
        # outage must not spend connect_wait per queue before serving HTTP),
        # and the first connection counts as a reconnect (the caller went on
        # as if subscribed: what was published meanwhile is lost).
        self._unreachable = False
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name=f"rpc-{role}", daemon=True)
        self._thread.start()

    # --- called from any thread -------------------------------------------

    def set_binding(self, binding: Binding, timeout: float) -> None:
        """Consume `binding` (replacing one with the same key); wait until the
        broker has it, or `timeout` (then it is declared once connected)."""
        with self._cond:
            self._desired[binding.key] = binding
            self._version += 1
            version = self._version
            if self._unreachable and not self._connected:
                timeout = 0
        self._wake()
        with self._cond:
            done = self._cond.wait_for(lambda: self._applied >= version or self._stop.is_set(),
                                       timeout)
            if not done and not self._connected:
                self._unreachable = True
        if not done:
            LOG.warning("%s: broker unreachable, %s will be consumed once connected",
                        self.role, binding.key)
        if binding.error is not None:
            with self._cond:
                if self._desired.get(binding.key) is binding:
                    del self._desired[binding.key]
            raise binding.error

    def remove_binding(self, key: str, timeout: float) -> None:
        with self._cond:
            if self._desired.pop(key, None) is None:
                return
            self._version += 1
            version = self._version
            connected = self._connected
        self._wake()  # even when disconnected: a reconnect may be reconciling right now
        if connected:  # else nothing is consumed, and waiting for a broker is pointless
            with self._cond:
                self._cond.wait_for(lambda: self._applied >= version or self._stop.is_set(),
                                    timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake()
        self._thread.join(timeout)
        with self._cond:
            self._cond.notify_all()
        if not self._thread.is_alive():  # never pull the fds from under a select()
            with self._cond:
                os.close(self._wake_r)
                os.close(self._wake_w)
                self._wake_w = -1  # the number may be reused by an unrelated file

    def _wake(self) -> None:
        with self._cond:
            if self._wake_w < 0:
                return
            try:
                os.write(self._wake_w, b"x")
            except BlockingIOError:
                pass  # pipe full: a wake-up is pending anyway

    # --- the owning thread ------------------------------------------------

    def _run(self) -> None:
        pause = 0.0
        generation = 0
        while not self._stop.is_set():
            conn = self._transport.new_connection(self.role, heartbeat=self._transport.heartbeat)
            connected_at = None
            try:
                conn.ensure_connection(
                    errback=self._log_connect_error, callback=self._raise_if_stopping,
                    interval_start=0.5, interval_step=1,
                    interval_max=self._transport.reconnect_interval_max)
                connected_at = time.monotonic()
                prepare(conn, self._transport.sync_timeout)
                LOG.info("%s connected to %s", self.role, conn.as_uri())
                self._active.clear()
                self._reconcile(conn)
                with self._cond:
                    self._connected = True
                    missed, self._unreachable = self._unreachable, False
                if generation or missed:
                    self._transport.connection_reestablished(self.role)
                generation += 1
                self._consume(conn)
            except _Stopping:
                break
            except Exception as exc:  # noqa: BLE001 - keep reconnecting whatever broke
                if self._stop.is_set():
                    break
                recoverable = isinstance(exc, conn.recoverable_connection_errors
                                         + conn.recoverable_channel_errors + (OSError,))
                LOG.log(logging.WARNING if recoverable else logging.ERROR,
                        "%s connection lost: %r; reconnecting", self.role, exc,
                        exc_info=not recoverable)
            finally:
                with self._cond:
                    self._connected = False
                for binding, _channel in self._active.values():
                    binding.active.clear()
                self._active.clear()
                release(conn, graceful=self._stop.is_set())
            # A connection that lived a while is retried at once; one that
            # keeps dying right after connecting backs off.
            lived = time.monotonic() - connected_at if connected_at else 0.0
            pause = 0.0 if lived > 30 else min(max(pause * 2, 0.25),
                                               self._transport.reconnect_interval_max)
            if pause and self._stop.wait(pause):
                break

    def _consume(self, conn: kombu.Connection) -> None:
        amqp_conn = conn.connection
        sock = amqp_conn.sock
        heartbeat = amqp_conn.heartbeat or 0
        tick = heartbeat / 4 if heartbeat else None
        next_tick = time.monotonic()
        while not self._stop.is_set():
            ready, _, _ = select.select([sock, self._wake_r], [], [], tick)
            if self._wake_r in ready:
                try:
                    while os.read(self._wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
                if self._stop.is_set():
                    return
                self._reconcile(conn)
            if sock in ready:
                drain_ready(conn)
            if heartbeat and time.monotonic() >= next_tick:
                conn.heartbeat_check(rate=2)  # raises if the broker went silent
                next_tick = time.monotonic() + tick

    def _reconcile(self, conn: kombu.Connection) -> None:
        with self._cond:
            desired = dict(self._desired)
            version = self._version
        for key, (binding, channel) in list(self._active.items()):
            if desired.get(key) is not binding:
                del self._active[key]
                binding.active.clear()
                # Closing the channel cancels its consumer; exclusive queues go with it.
                conn.maybe_close_channel(channel)
        for key, binding in desired.items():
            if key not in self._active:
                self._activate(conn, binding)
        with self._cond:
            self._applied = version
            self._cond.notify_all()

    def _activate(self, conn: kombu.Connection, binding: Binding) -> None:
        channel = conn.channel()  # one per binding: a channel error stays local to it
        try:
            queue = binding.make_queue()
            try:
                consumer = kombu.Consumer(channel, queues=[queue], on_message=binding.deliver,
                                          no_ack=True, auto_declare=True)
            except PreconditionFailed:
                # a fanout exchange declared otherwise by an older neutrino:
                # replace it if nobody is bound to it any more
                exchange = queue.exchange
                if exchange is None or exchange.type != "fanout":
                    raise
                conn.maybe_close_channel(channel)
                channel = conn.channel()
                channel.exchange_delete(exchange.name, if_unused=True)
                LOG.warning("%s: replaced the unused exchange %s left by an older version",
                            self.role, exchange.name)
                queue = binding.make_queue()
                consumer = kombu.Consumer(channel, queues=[queue], on_message=binding.deliver,
                                          no_ack=True, auto_declare=True)
            consumer.consume()
        except conn.channel_errors as exc:
            LOG.error("%s: cannot consume %s: %s", self.role, binding.key, exc)
            binding.error = exc
            conn.maybe_close_channel(channel)
            return
        binding.error = None
        binding.queue_name = queue.name
        self._active[binding.key] = (binding, channel)
        binding.active.set()

    def _log_connect_error(self, exc: Exception, interval: float) -> None:
        LOG.warning("%s cannot connect: %s; retrying in %.1fs", self.role, exc, interval)

    def _raise_if_stopping(self) -> None:
        if self._stop.is_set():
            raise _Stopping()


class _Stopping(Exception):
    pass
