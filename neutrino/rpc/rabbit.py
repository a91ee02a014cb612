"""RabbitMQ transport (kombu over py-amqp).

Topology, all transient (agents resync, nothing needs to survive a broker restart):

* `serve(target)`: queue named `target` on the default exchange, shared by
  every server of the target (competing consumers). `cast`/`call` publish to
  the default exchange with routing key `target`, and declare the queue
  first (once per connection), like the servers do: a message sent while no
  server consumes (all restarting, or a sender that reconnected to a
  restarted broker before the servers did) waits in the queue instead of
  being dropped, so a call right after a broker restart is answered as
  soon as a server is back rather than timing out. The queue expires after
  WORK_QUEUE_EXPIRES without consumers, so nothing piles up for ever; calls
  expire with their caller's timeout, casts after CAST_EXPIRES.
* `subscribe(topic)`: fanout exchange `<topic>_fanout`, auto-delete (as
  oslo.messaging's): it goes when its last subscriber's queue goes, so a
  stopped agent leaves nothing on the broker; publishers declare it on
  every send (kombu does not cache auto-delete entities), so a send after
  that recreates it instead of failing. One exclusive auto-delete queue per
  subscriber is bound to it. An exchange of the same name left by an older
  neutrino (not auto-delete) is replaced when nothing is bound to it.
* replies: one exclusive queue per transport connection, consumed by its own
  thread, which resolves the waiting `call` by correlation id.

Connections (kombu/py-amqp connections are not thread-safe, so each has one
owner):

* publisher: shared by all sending threads under a lock; before each send
  it handles frames the broker sent (a close after a restart), a keepalive
  thread does the same and the heartbeats while it idles, and kombu's
  `ensure` retries a send that fails.
* listener (serve + subscribe) and replies: each owned by one thread that
  waits in select() on the socket and a wake-up pipe, so a delivery is
  handled as soon as its bytes arrive (no polling interval, unlike
  oslo.messaging's 0.5 s reply poll) and serve/subscribe from other threads
  take effect at once. These threads send AMQP heartbeats, reconnect with
  backoff, re-declare everything, then fire the on_reconnect callbacks.
"""

from __future__ import annotations

import itertools
import logging
import os
import select
import socket
import threading
import time
import uuid
from typing import Callable

import kombu
from amqp.exceptions import PreconditionFailed
from kombu.exceptions import OperationalError

from neutrino.rpc.bus import (BrokerUnavailable, Handler, HandlerWorkers, NotificationHandler,
                              PendingCalls, decode, encode_request, handle_request,
                              parse_transport_url, run_callbacks)

LOG = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 20  # seconds; a dead broker is noticed after ~2x this
CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0  # for the close handshake of a connection we give up
PUBLISH_RETRIES = 3  # then BrokerUnavailable; agents' periodic resync covers the rest
CONTENT_TYPE = "application/json"
WORK_QUEUE_EXPIRES = 300  # seconds a work queue outlives its last consumer
# A cast waiting for a server is dropped after this long: a heartbeat or a
# status report from minutes ago would only mislead (the agents' periodic
# full resync re-reports statuses anyway).
CAST_EXPIRES = 60.0


def work_queue(target: str) -> kombu.Queue:
    """The queue of `target`, declared alike by its servers and its senders."""
    return kombu.Queue(target, exchange=kombu.Exchange(""), routing_key=target,
                       durable=False, auto_delete=False,
                       queue_arguments={"x-expires": WORK_QUEUE_EXPIRES * 1000})


def fanout_exchange(topic: str) -> kombu.Exchange:
    return kombu.Exchange(f"{topic}_fanout", type="fanout", durable=False, auto_delete=True)


def _prepare(conn: kombu.Connection, sync_timeout: float) -> None:
    """Settings every fresh connection of ours needs."""
    transport = conn.connection.transport
    # drain_events(timeout=0) must raise socket.timeout when nothing is
    # pending, not spin on EAGAIN (py-amqp's default, set explicitly).
    transport.raise_on_initial_eintr = True
    # py-amqp leaves the socket blocking forever: a broker that hangs in the
    # middle of a synchronous method (declare, close) would hang our thread.
    transport.sock.settimeout(sync_timeout)


def _drain_ready(conn: kombu.Connection) -> None:
    """Handle every frame already received, without blocking for more."""
    while True:
        try:
            conn.drain_events(timeout=0)
        except socket.timeout:
            return


class _Binding:
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


class _ConsumerLoop:
    """One consuming connection and the thread that owns it.

    Callers state which bindings they want (`set_binding`/`remove_binding`);
    the thread converges the broker to that set now and after every reconnect.
    """

    def __init__(self, transport: "RabbitTransport", role: str):
        self._transport = transport
        self.role = role
        self._cond = threading.Condition()
        self._desired: dict[str, _Binding] = {}
        self._version = 0  # bumped by every change of _desired
        self._applied = 0  # the version the broker reflects
        self._active: dict[str, tuple[_Binding, object]] = {}  # key -> (binding, channel)
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

    def set_binding(self, binding: _Binding, timeout: float) -> None:
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
                _prepare(conn, self._transport.sync_timeout)
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
                _release(conn, graceful=self._stop.is_set())
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
                _drain_ready(conn)
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

    def _activate(self, conn: kombu.Connection, binding: _Binding) -> None:
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


def _release(conn: kombu.Connection, graceful: bool) -> None:
    """Close a connection: with the AMQP handshake when it is healthy, else
    just drop the socket (a close handshake with a dead broker never ends)."""
    try:
        if graceful:
            if conn.connected:  # (.connection on a dead kombu Connection reconnects)
                conn.connection.sock.settimeout(CLOSE_TIMEOUT)
            conn.release()
        else:
            conn.collect()
    except Exception:  # noqa: BLE001 - the connection is being thrown away anyway
        LOG.debug("error releasing connection", exc_info=True)


class _Publisher:
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
                _release(conn, graceful=False)
                raise
            _prepare(conn, self._transport.sync_timeout)
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
                _drain_ready(self._conn)
            self._conn.heartbeat_check(rate=2)
        except Exception as exc:  # noqa: BLE001 - any failure here means: reconnect
            LOG.warning("publisher connection lost: %r; reconnecting", exc)
            self._discard()

    def _revived(self, channel) -> None:
        # kombu's ensure() reconnected inside publish().
        self._declared.clear()
        _prepare(self._conn, self._transport.sync_timeout)
        self._transport.connection_reestablished("publisher")

    def _discard(self, graceful: bool = False) -> None:
        if self._conn is not None:
            _release(self._conn, graceful)
        self._conn = self._producer = None
        self._declared.clear()


class RabbitTransport:
    """Transport over RabbitMQ; see the module docstring for the topology."""

    _keys = itertools.count()

    def __init__(self, url: str, *, client_name: str | None = None, heartbeat: int | None = None,
                 connect_wait: float = 10.0, reconnect_interval_max: float = 10.0):
        """client_name prefixes the connection names the broker shows
        (`rabbitmqctl list_connections client_properties`); connect_wait bounds
        how long serve/subscribe wait for an unreachable broker."""
        self._urls, options = parse_transport_url(url)
        if heartbeat is None:
            heartbeat = int(options.get("heartbeat", DEFAULT_HEARTBEAT))
        self.heartbeat = heartbeat
        self.connect_timeout = float(options.get("connect_timeout", CONNECT_TIMEOUT))
        # Longest wait for the broker's answer to a synchronous method.
        self.sync_timeout = max(2.0 * self.heartbeat, 10.0)
        self.client_name = client_name or (
            f"neutrino:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
        self.connect_wait = connect_wait
        self.reconnect_interval_max = reconnect_interval_max
        self._lock = threading.Lock()
        self._publisher = _Publisher(self)
        self._listener: _ConsumerLoop | None = None
        self._reply_loop: _ConsumerLoop | None = None
        self._reply_binding: _Binding | None = None
        self._pending = PendingCalls()
        self._workers: dict[str, HandlerWorkers] = {}
        self._reconnect_callbacks: list[Callable[[], None]] = []
        self._closed = False

    def new_connection(self, role: str, heartbeat: int) -> kombu.Connection:
        return kombu.Connection(
            list(self._urls), heartbeat=heartbeat, connect_timeout=self.connect_timeout,
            failover_strategy="round-robin",
            transport_options={"client_properties": {
                "connection_name": f"{self.client_name}:{role}"}})

    # --- work queues ------------------------------------------------------

    def serve(self, target: str, handler: Handler, threads: int = 1) -> None:
        """Consume `target`'s work queue. threads > 1 handles messages in parallel (unordered)."""
        self._check_open()
        where = f"target {target!r}"

        def work(body: bytes) -> None:
            envelope = decode(body)
            reply = handle_request(handler, envelope, where)
            if reply is not None:
                try:
                    self._publisher.publish(reply, routing_key=envelope["reply_to"])
                except BrokerUnavailable as exc:
                    LOG.warning("reply to %s lost: %s", envelope.get("method"), exc)

        key = f"serve:{target}:{next(self._keys)}"
        self._consume(key, lambda: work_queue(target),
                      HandlerWorkers(f"serve-{target}", work, threads))

    def cast(self, target: str, method: str, payload: dict) -> None:
        self._check_open()
        self._publisher.publish(encode_request(method, payload), routing_key=target,
                                expiration=CAST_EXPIRES, queue=work_queue(target))

    def call(self, target: str, method: str, payload: dict, timeout: float = 10.0) -> dict:
        self._check_open()
        deadline = time.monotonic() + timeout
        reply_binding = self._reply_queue()
        if not reply_binding.active.wait(timeout):
            raise TimeoutError(f"no reply queue for {method} on {target!r}: broker unreachable")
        correlation_id, future = self._pending.expect()
        try:
            body = encode_request(method, payload, reply_to=reply_binding.queue_name,
                                  correlation_id=correlation_id)
            # Expire the request with the caller's patience: nobody waits for a late answer.
            self._publisher.publish(body, routing_key=target, expiration=timeout,
                                    queue=work_queue(target))
        except Exception:
            self._pending.forget(correlation_id)
            raise
        remaining = max(deadline - time.monotonic(), 0.0)
        return self._pending.wait(correlation_id, future, remaining,
                                  f"{method} on {target!r} within {timeout:g}s")

    # --- fanout -----------------------------------------------------------

    def subscribe(self, topic: str, handler: NotificationHandler) -> None:
        """Subscribe to `topic`; subscribing again replaces the handler."""
        self._check_open()
        where = f"topic {topic!r}"
        exchange = fanout_exchange(topic)

        def make_queue() -> kombu.Queue:
            # A new name per connection: the previous exclusive queue may not be gone yet.
            name = f"{topic}.{self.client_name}.{uuid.uuid4().hex[:8]}"
            return kombu.Queue(name, exchange=exchange, routing_key="", durable=False,
                               exclusive=True, auto_delete=True)

        def work(body: bytes) -> None:
            handle_request(handler, decode(body), where)

        self._consume(f"topic:{topic}", make_queue, HandlerWorkers(f"topic-{topic}", work))

    def unsubscribe(self, topic: str) -> None:
        key = f"topic:{topic}"
        with self._lock:
            workers = self._workers.pop(key, None)
            listener = self._listener
        if listener is not None:
            listener.remove_binding(key, self.connect_wait)
        if workers is not None:
            workers.stop()

    def publish(self, topic: str, method: str, payload: dict) -> None:
        self._check_open()
        self._publisher.publish(encode_request(method, payload), routing_key="",
                                exchange=fanout_exchange(topic))

    # --- lifecycle --------------------------------------------------------

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self._reconnect_callbacks.append(callback)

    def connection_reestablished(self, role: str) -> None:
        LOG.info("%s connection re-established", role)
        run_callbacks(self._reconnect_callbacks, f"{role} reconnected")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loops = [loop for loop in (self._listener, self._reply_loop) if loop is not None]
            workers, self._workers = list(self._workers.values()), {}
        for loop in loops:
            loop.stop()
        for worker in workers:
            worker.stop()
        self._publisher.close()
        self._pending.fail_all(ConnectionError("transport closed"))

    def __enter__(self) -> "RabbitTransport":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- internals --------------------------------------------------------

    def _consume(self, key: str, make_queue: Callable[[], kombu.Queue],
                 workers: HandlerWorkers) -> None:
        binding = _Binding(key, make_queue, workers.submit)
        with self._lock:
            if self._closed:
                workers.stop()
                raise ConnectionError("transport is closed")
            if self._listener is None:
                self._listener = _ConsumerLoop(self, "listener")
            listener = self._listener
            previous, self._workers[key] = self._workers.get(key), workers
        try:
            listener.set_binding(binding, self.connect_wait)
        except Exception:
            with self._lock:
                if self._workers.get(key) is workers:
                    del self._workers[key]
            workers.stop()
            raise
        finally:
            if previous is not None:
                previous.stop()

    def _reply_queue(self) -> _Binding:
        with self._lock:
            if self._closed:
                raise ConnectionError("transport is closed")
            if self._reply_loop is not None:
                return self._reply_binding
            self._reply_binding = binding = _Binding(
                "replies",
                lambda: kombu.Queue(f"reply.{self.client_name}.{uuid.uuid4().hex[:8]}",
                                    exchange=kombu.Exchange(""), durable=False,
                                    exclusive=True, auto_delete=True),
                self._on_reply)
            self._reply_loop = loop = _ConsumerLoop(self, "replies")
        loop.set_binding(binding, self.connect_wait)
        return binding

    def _on_reply(self, body: bytes) -> None:
        self._pending.resolve(decode(body))

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionError("transport is closed")
