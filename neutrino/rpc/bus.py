"""The messaging interface between server and agents, and what both transports share.

Two patterns carry everything neutrino sends:

* work queues (`serve` / `cast` / `call`): one consumer out of all servers of a
  target gets each message (competing consumers); `call` waits for a reply.
* fanout topics (`subscribe` / `publish`): every subscriber gets every message.
  Server -> agent notifications go to a per-host topic so only the hosts
  concerned hear about a change.

Agents are level-triggered, so delivery is at-most-once: a lost or duplicated
notification only changes when a resync happens, never what it converges to.

Messages are JSON dicts wrapped in an envelope (see `encode_request`). Both
transports serialise on the sender's thread (a non-JSON payload fails at the
caller, not in a consumer) and run handlers on their own worker threads.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import uuid
from concurrent.futures import Future
from typing import Any, Callable, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlsplit

LOG = logging.getLogger(__name__)

ENVELOPE_VERSION = 1

Handler = Callable[[str, dict], "dict | None"]
NotificationHandler = Callable[[str, dict], None]


class RemoteError(Exception):
    """The remote handler of a `call` raised; carries its exception type name and message."""

    def __init__(self, exc_type: str, message: str):
        super().__init__(exc_type, message)
        self.exc_type = exc_type
        self.message = message

    def __str__(self) -> str:
        return f"{self.exc_type}: {self.message}"


class BrokerUnavailable(ConnectionError):
    """The message could not be handed to the broker, even after retrying."""


class Transport(Protocol):
    def serve(self, target: str, handler: Handler, threads: int = 1) -> None:
        """Consume the work queue shared by all servers of `target`.

        handler(method, payload) runs on a transport worker thread; its return
        value is the reply payload when the message was a `call`. One thread
        keeps delivery order; more handle messages in parallel."""

    def cast(self, target: str, method: str, payload: dict) -> None:
        """One-way message to one consumer of `target`."""

    def call(self, target: str, method: str, payload: dict, timeout: float = 10.0) -> dict:
        """Request/reply. Raises RemoteError if the handler raised, TimeoutError if no reply."""

    def subscribe(self, topic: str, handler: NotificationHandler) -> None:
        """Every subscriber of `topic` gets every message published to it."""

    def unsubscribe(self, topic: str) -> None:
        """Stop receiving `topic`; a no-op if not subscribed."""

    def publish(self, topic: str, method: str, payload: dict) -> None:
        """Fanout publish; no error if nobody listens."""

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Run `callback` (on a short-lived thread) after the transport
        re-established a lost connection: messages may have been lost, so
        level-triggered users resync."""

    def close(self) -> None: ...


def make_transport(url: str, **options: Any) -> Transport:
    """Transport for an upstream-style transport_url.

    inproc://        the process-wide default in-process bus
    inproc://name    a named in-process bus (isolated from other names)
    rabbit://user:pass@host:port[,user:pass@host2:port]/vhost   RabbitMQ (kombu)
    """
    scheme = urlsplit(url).scheme
    if scheme == "inproc":
        from neutrino.rpc.inproc import InprocTransport

        return InprocTransport(url, **options)
    if scheme in ("rabbit", "amqp"):
        from neutrino.rpc.rabbit import RabbitTransport

        return RabbitTransport(url, **options)
    raise ValueError(f"unsupported transport url scheme {scheme!r} in {url!r}")


def parse_transport_url(url: str) -> tuple[list[str], dict[str, str]]:
    """Split an oslo-style rabbit transport_url into amqp:// URLs, one per broker host.

    rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost?heartbeat=30
    A host without credentials reuses the previous host's (as oslo does).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("rabbit", "amqp"):
        raise ValueError(f"not a rabbit url: {url!r}")
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    user, password = "guest", "guest"
    urls = []
    for host_part in (parts.netloc or "localhost").split(","):
        if "@" in host_part:
            credentials, host_part = host_part.rsplit("@", 1)
            user, _, password = credentials.partition(":")
            user, password = unquote(user), unquote(password)
        host, port = _split_host_port(host_part)
        urls.append(f"amqp://{quote(user, safe='')}:{quote(password, safe='')}"
                    f"@{host}:{port}/{quote(vhost, safe='')}")
    return urls, dict(parse_qsl(parts.query))


def _split_host_port(host_part: str) -> tuple[str, int]:
    if host_part.startswith("["):  # [ipv6]:port
        host, _, rest = host_part[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return f"[{host}]", int(port or 5672)
    host, _, port = host_part.partition(":")
    return host or "localhost", int(port or 5672)


# --- envelope -------------------------------------------------------------

def new_id() -> str:
    return uuid.uuid4().hex


def encode_request(
    method: str,
    payload: dict,
    reply_to: str | None = None,
    correlation_id: str | None = None,
) -> bytes:
    """Serialise a cast/call/publish envelope; raises TypeError for non-JSON payloads."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, not {type(method).__name__}")
    if not isinstance(payload, dict):
        raise TypeError(f"payload must be a dict, not {type(payload).__name__}")
    envelope: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "msg_id": new_id(),
        "method": method,
        "payload": payload,
    }
    if reply_to is not None:
        envelope["reply_to"] = reply_to
        envelope["correlation_id"] = correlation_id
    return _dumps(envelope)


def encode_reply(correlation_id: str, result: dict | None = None,
                 error: tuple[str, str] | None = None) -> bytes:
    envelope: dict[str, Any] = {"v": ENVELOPE_VERSION, "correlation_id": correlation_id}
    if error is not None:
        envelope["error"] = {"type": error[0], "message": error[1]}
    else:
        envelope["result"] = {} if result is None else result
    return _dumps(envelope)


def decode(body: bytes | str) -> dict:
    envelope = json.loads(body)
    if not isinstance(envelope, dict):
        raise ValueError("envelope is not a JSON object")
    return envelope


def _dumps(obj: dict) -> bytes:
    # allow_nan=False: NaN is not JSON and other languages' parsers reject it.
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


# --- running handlers -------------------------------------------------------

def handle_request(handler: Handler, envelope: dict, where: str) -> bytes | None:
    """Run `handler` for one request envelope; return the encoded reply for calls.

    A raising handler never escapes: it is logged, and for a call the caller
    gets a RemoteError instead of a timeout."""
    method = envelope.get("method", "")
    is_call = envelope.get("reply_to") is not None
    try:
        result = handler(method, envelope.get("payload") or {})
    except Exception as exc:  # noqa: BLE001 - the consumer must survive any handler bug
        LOG.exception("handler for %s method %r raised", where, method)
        if not is_call:
            return None
        return encode_reply(envelope.get("correlation_id"), error=(type(exc).__name__, str(exc)))
    if not is_call:
        return None
    if result is not None and not isinstance(result, dict):
        return encode_reply(envelope["correlation_id"], error=(
            "TypeError", f"handler returned {type(result).__name__}, not dict"))
    try:
        return encode_reply(envelope["correlation_id"], result)
    except (TypeError, ValueError) as exc:
        LOG.error("reply of %s method %r is not JSON: %s", where, method, exc)
        return encode_reply(envelope["correlation_id"], error=(type(exc).__name__, str(exc)))


class HandlerWorkers:
    """Threads that run one target's (or topic's) handler off the consumer thread.

    With one thread (the default) messages are handled in delivery order; more
    threads trade that order for parallelism (e.g. a server answering many
    agents' state fetches)."""

    _names = itertools.count()

    def __init__(self, name: str, work: Callable[[Any], None], threads: int = 1):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.name = name
        self._work = work
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._run, name=f"rpc-{name}-{next(self._names)}", daemon=True)
            for _ in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, item: Any) -> None:
        if not self._stopped:
            self._inbox.put(item)

    def stop(self, wait: float = 2.0) -> None:
        """Stop after the item being handled; queued items are dropped."""
        self._stopped = True
        for _ in self._threads:
            self._inbox.put(_STOP)
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(wait)

    def _run(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP or self._stopped:
                return
            try:
                self._work(item)
            except Exception:  # noqa: BLE001 - keep the worker alive whatever happens
                LOG.exception("rpc worker %s failed", self.name)


_STOP = object()


class PendingCalls:
    """Outstanding `call`s of one transport, resolved by correlation id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[str, Future] = {}

    def expect(self) -> tuple[str, Future]:
        correlation_id = new_id()
        future: Future = Future()
        with self._lock:
            self._futures[correlation_id] = future
        return correlation_id, future

    def forget(self, correlation_id: str) -> None:
        with self._lock:
            self._futures.pop(correlation_id, None)

    def resolve(self, reply: dict) -> None:
        with self._lock:
            future = self._futures.pop(reply.get("correlation_id"), None)
        if future is None:
            # The caller timed out already, or a duplicate: harmless.
            LOG.debug("reply for unknown correlation id %s", reply.get("correlation_id"))
            return
        error = reply.get("error")
        if error is not None:
            future.set_exception(
                RemoteError(error.get("type", "Exception"), error.get("message", "")))
        else:
            future.set_result(reply.get("result") or {})

    def wait(self, correlation_id: str, future: Future, timeout: float, what: str) -> dict:
        try:
            return future.result(timeout)
        except TimeoutError:
            raise TimeoutError(f"no reply to {what}") from None
        finally:
            self.forget(correlation_id)

    def fail_all(self, exc: Exception) -> None:
        with self._lock:
            futures, self._futures = self._futures, {}
        for future in futures.values():
            future.set_exception(exc)


def run_callbacks(callbacks: list[Callable[[], None]], why: str) -> None:
    """Run reconnect callbacks on their own thread so a slow or re-entrant
    callback (one that casts, say) cannot block or deadlock the transport."""
    def run() -> None:
        for callback in list(callbacks):
            try:
                callback()
            except Exception:  # noqa: BLE001
                LOG.exception("on_reconnect callback %r failed", callback)

    if callbacks:
        LOG.info("running %d reconnect callback(s): %s", len(callbacks), why)
        threading.Thread(target=run, name="rpc-on-reconnect", daemon=True).start()
