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

Connections: neutrino.rpc.rabbit_publisher (sending, shared under a lock)
and neutrino.rpc.rabbit_consumer (consuming, one owning thread each).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
import uuid
from typing import Callable

import kombu

from neutrino.rpc.bus import (BrokerUnavailable, Handler, HandlerWorkers, NotificationHandler,
                              PendingCalls, decode, encode_request, handle_request,
                              parse_transport_url, run_callbacks)
from neutrino.rpc.rabbit_connection import CONNECT_TIMEOUT
from neutrino.rpc.rabbit_consumer import Binding, ConsumerLoop
from neutrino.rpc.rabbit_publisher import Publisher

LOG = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 20  # seconds; a dead broker is noticed after ~2x this
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
        self._publisher = Publisher(self)
        self._listener: ConsumerLoop | None = None
        self._reply_loop: ConsumerLoop | None = None
        self._reply_binding: Binding | None = None
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
        binding = Binding(key, make_queue, workers.submit)
        with self._lock:
            if self._closed:
                workers.stop()
                raise ConnectionError("transport is closed")
            if self._listener is None:
                self._listener = ConsumerLoop(self, "listener")
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

    def _reply_queue(self) -> Binding:
        with self._lock:
            if self._closed:
                raise ConnectionError("transport is closed")
            if self._reply_loop is not None:
                return self._reply_binding
            self._reply_binding = binding = Binding(
                "replies",
                lambda: kombu.Queue(f"reply.{self.client_name}.{uuid.uuid4().hex[:8]}",
                                    exchange=kombu.Exchange(""), durable=False,
                                    exclusive=True, auto_delete=True),
                self._on_reply)
            self._reply_loop = loop = ConsumerLoop(self, "replies")
        loop.set_binding(binding, self.connect_wait)
        return binding

    def _on_reply(self, body: bytes) -> None:
        self._pending.resolve(decode(body))

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionError("transport is closed")
