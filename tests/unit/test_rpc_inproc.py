"""In-process transport: the same contract RabbitMQ gives, without a broker."""

import threading
import uuid

import pytest

from neutrino.rpc import RemoteError, make_transport
from neutrino.rpc.bus import decode, encode_reply, encode_request
from neutrino.rpc.inproc import InprocTransport


class Recorder:
    """Collects (method, payload, thread) and lets a test wait for a count."""

    def __init__(self):
        self.items = []
        self._cond = threading.Condition()

    def __call__(self, method, payload):
        with self._cond:
            self.items.append((method, payload, threading.current_thread()))
            self._cond.notify_all()

    def wait_for(self, count, timeout=5.0):
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.items) >= count, timeout), \
                f"got {len(self.items)} of {count} messages"
        return self.items

    @property
    def payloads(self):
        return [payload for _, payload, _ in self.items]


@pytest.fixture
def bus_url():
    return f"inproc://test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def transports(bus_url):
    made = []

    def make():
        transport = make_transport(bus_url)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


def echo(method, payload):
    if method == "fail":
        raise ValueError(f"cannot {payload.get('what')}")
    return {"method": method, "payload": payload}


def test_make_transport_returns_inproc(bus_url):
    transport = make_transport(bus_url)
    assert isinstance(transport, InprocTransport)
    transport.close()


def test_unknown_scheme_is_rejected():
    with pytest.raises(ValueError, match="unsupported"):
        make_transport("zmq://somewhere")


def test_call_round_trip(transports):
    server, client = transports(), transports()
    server.serve("q-plugin", echo)
    assert client.call("q-plugin", "get_devices", {"host": "h1"}) == {
        "method": "get_devices", "payload": {"host": "h1"}}


def test_call_of_handler_returning_none_gives_empty_dict(transports):
    server, client = transports(), transports()
    server.serve("q", lambda method, payload: None)
    assert client.call("q", "m", {}) == {}


def test_handler_runs_on_transport_thread_not_callers(transports):
    server, client = transports(), transports()
    seen = Recorder()
    server.serve("q", lambda m, p: seen(m, p) or {})
    client.call("q", "m", {})
    assert seen.items[0][2] is not threading.current_thread()


def test_cast_is_asynchronous_and_delivered(transports):
    server, client = transports(), transports()
    release = threading.Event()
    got = Recorder()

    def slow(method, payload):
        release.wait(5)
        got(method, payload)

    server.serve("q", slow)
    client.cast("q", "report", {"up": ["p1"]})  # returns while the handler blocks
    release.set()
    assert got.wait_for(1)[0][:2] == ("report", {"up": ["p1"]})


def test_remote_error_carries_type_and_message(transports):
    server, client = transports(), transports()
    server.serve("q", echo)
    with pytest.raises(RemoteError) as info:
        client.call("q", "fail", {"what": "bind"})
    assert info.value.exc_type == "ValueError"
    assert info.value.message == "cannot bind"


def test_handler_exception_does_not_kill_the_consumer(transports):
    server, client = transports(), transports()
    server.serve("q", echo)
    client.cast("q", "fail", {"what": "x"})
    with pytest.raises(RemoteError):
        client.call("q", "fail", {"what": "y"})
    assert client.call("q", "ok", {}) == {"method": "ok", "payload": {}}


def test_non_dict_reply_becomes_remote_error(transports):
    server, client = transports(), transports()
    server.serve("q", lambda method, payload: [1, 2])
    with pytest.raises(RemoteError, match="not dict"):
        client.call("q", "m", {})


def test_unserialisable_reply_becomes_remote_error(transports):
    server, client = transports(), transports()
    server.serve("q", lambda method, payload: {"when": object()})
    with pytest.raises(RemoteError) as info:
        client.call("q", "m", {})
    assert info.value.exc_type == "TypeError"


def test_call_without_server_times_out(transports):
    client = transports()
    with pytest.raises(TimeoutError, match="within 0.1s"):
        client.call("nobody", "m", {}, timeout=0.1)


def test_call_to_slow_handler_times_out_and_late_reply_is_ignored(transports):
    server, client = transports(), transports()
    release = threading.Event()
    server.serve("q", lambda m, p: release.wait(5) and {"late": True})
    with pytest.raises(TimeoutError):
        client.call("q", "m", {}, timeout=0.1)
    release.set()
    # The late reply arrives for a forgotten correlation id; the next call is unaffected.
    transports().serve("q2", lambda m, p: {"n": p["n"]})
    assert client.call("q2", "m", {"n": 7}) == {"n": 7}


def test_cast_without_server_is_dropped_silently(transports):
    transports().cast("nobody", "m", {})


def test_non_json_payload_fails_at_the_caller(transports):
    server, client = transports(), transports()
    server.serve("q", echo)
    with pytest.raises(TypeError):
        client.cast("q", "m", {"x": object()})
    with pytest.raises(TypeError):
        client.call("q", "m", ["not", "a", "dict"])
    with pytest.raises(TypeError):
        client.publish("topic", "m", {"x": {1, 2}})


def test_payload_is_copied_not_shared(transports):
    server, client = transports(), transports()
    got = Recorder()
    server.subscribe("t", got)
    payload = {"ports": ["p1"]}
    client.publish("t", "m", payload)
    payload["ports"].append("p2")
    assert got.wait_for(1)[0][1] == {"ports": ["p1"]}


def test_delivery_order_per_target_is_preserved(transports):
    server, client = transports(), transports()
    got = Recorder()
    server.serve("q", got)
    for i in range(500):
        client.cast("q", "m", {"i": i})
    got.wait_for(500)
    assert [p["i"] for p in got.payloads] == list(range(500))


def test_fanout_reaches_every_subscriber_in_order(transports):
    publisher = transports()
    recorders = [Recorder() for _ in range(3)]
    for recorder in recorders:
        transports().subscribe("port-update.host-a", recorder)
    for i in range(50):
        publisher.publish("port-update.host-a", "port_update", {"i": i})
    for recorder in recorders:
        recorder.wait_for(50)
        assert [p["i"] for p in recorder.payloads] == list(range(50))


def test_topic_isolation(transports):
    a, b, publisher = Recorder(), Recorder(), transports()
    transports().subscribe("port-update.host-a", a)
    transports().subscribe("port-update.host-b", b)
    publisher.publish("port-update.host-b", "m", {"for": "b"})
    publisher.publish("port-update.host-a", "m", {"for": "a"})
    assert a.wait_for(1) and b.wait_for(1)
    assert a.payloads == [{"for": "a"}] and b.payloads == [{"for": "b"}]


def test_publish_without_subscribers_is_fine(transports):
    transports().publish("nobody-listens", "m", {})


def test_unsubscribe_stops_delivery(transports):
    subscriber, publisher = transports(), transports()
    first, second = Recorder(), Recorder()
    subscriber.subscribe("t", first)
    publisher.publish("t", "m", {"n": 1})
    first.wait_for(1)
    subscriber.unsubscribe("t")
    publisher.publish("t", "m", {"n": 2})
    # A fresh subscriber on the same topic proves the second message was published.
    transports().subscribe("t", second)
    publisher.publish("t", "m", {"n": 3})
    second.wait_for(1)
    assert first.payloads == [{"n": 1}]
    subscriber.unsubscribe("never-subscribed")


def test_subscribe_again_replaces_handler(transports):
    subscriber, publisher = transports(), transports()
    old, new = Recorder(), Recorder()
    subscriber.subscribe("t", old)
    subscriber.subscribe("t", new)
    publisher.publish("t", "m", {})
    new.wait_for(1)
    assert old.items == []


def test_subscriber_handler_error_does_not_stop_later_messages(transports):
    subscriber, publisher = transports(), transports()
    got = Recorder()

    def flaky(method, payload):
        if payload["i"] == 0:
            raise RuntimeError("boom")
        got(method, payload)

    subscriber.subscribe("t", flaky)
    publisher.publish("t", "m", {"i": 0})
    publisher.publish("t", "m", {"i": 1})
    assert got.wait_for(1)[0][1] == {"i": 1}


def test_competing_consumers_share_the_work(transports):
    servers = [transports(), transports()]
    client = transports()
    handled_by = Recorder()
    for index, server in enumerate(servers):
        server.serve("q", lambda m, p, index=index: handled_by("m", {"server": index}) or {})
    for _ in range(20):
        client.call("q", "m", {})
    counts = [sum(1 for p in handled_by.payloads if p["server"] == i) for i in (0, 1)]
    assert counts == [10, 10]


def test_concurrent_calls_from_many_threads(transports):
    server, client = transports(), transports()
    server.serve("q", lambda m, p: {"n": p["n"] * 2}, threads=4)
    errors, results = [], {}

    def worker(thread_index):
        try:
            for i in range(100):
                n = thread_index * 1000 + i
                results[n] = client.call("q", "double", {"n": n})["n"]
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(results) == 1600 and all(v == k * 2 for k, v in results.items())


def test_handler_may_call_another_target(transports):
    a, b, client = transports(), transports(), transports()
    b.serve("inner", lambda m, p: {"inner": True})
    a.serve("outer", lambda m, p: {"outer": a.call("inner", "m", {})})
    assert client.call("outer", "m", {}) == {"outer": {"inner": True}}


def test_named_buses_are_isolated():
    one = make_transport(f"inproc://one-{uuid.uuid4().hex[:6]}")
    two = make_transport(f"inproc://two-{uuid.uuid4().hex[:6]}")
    try:
        one.serve("q", echo)
        with pytest.raises(TimeoutError):
            two.call("q", "m", {}, timeout=0.1)
    finally:
        one.close()
        two.close()


def test_same_name_shares_a_bus(bus_url):
    server, client = make_transport(bus_url), make_transport(bus_url)
    try:
        server.serve("q", echo)
        assert client.call("q", "m", {})["method"] == "m"
    finally:
        server.close()
        client.close()


def test_close_removes_servers_and_subscriptions(transports):
    server, client = transports(), transports()
    got = Recorder()
    server.serve("q", echo)
    server.subscribe("t", got)
    server.close()
    server.close()  # idempotent
    with pytest.raises(TimeoutError):
        client.call("q", "m", {}, timeout=0.1)
    client.publish("t", "m", {})
    with pytest.raises(ConnectionError):
        server.cast("q", "m", {})


def test_close_fails_pending_calls(transports):
    server, client = transports(), transports()
    release, started = threading.Event(), threading.Event()
    server.serve("q", lambda m, p: started.set() or release.wait(5) and {})
    failure = []

    def caller():
        try:
            client.call("q", "m", {}, timeout=5)
        except Exception as exc:  # noqa: BLE001
            failure.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(5)  # the call is pending now
    client.close()
    thread.join(5)
    release.set()
    assert len(failure) == 1 and isinstance(failure[0], ConnectionError)


def test_envelope_round_trip():
    request = decode(encode_request("m", {"a": [1]}, reply_to="r", correlation_id="c"))
    assert request["method"] == "m" and request["payload"] == {"a": [1]}
    assert request["reply_to"] == "r" and request["correlation_id"] == "c"
    assert len(request["msg_id"]) == 32
    assert "reply_to" not in decode(encode_request("m", {}))
    assert decode(encode_reply("c", {"x": 1})) == {"v": 1, "correlation_id": "c", "result": {"x": 1}}
    assert decode(encode_reply("c", error=("KeyError", "k")))["error"] == {"type": "KeyError", "message": "k"}
    with pytest.raises(ValueError):
        encode_request("m", {"x": float("nan")})
