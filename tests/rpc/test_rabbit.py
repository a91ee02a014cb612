"""RabbitMQ transport against the real broker (NEUTRINO_TEST_RABBIT_URL, default local guest).

Every queue, topic and connection name carries a random suffix, so tests
neither see nor disturb anything else on the broker. Reconnection is tested
by closing only our own connections: broker-side with `rabbitmqctl
close_connection` on connections whose client-provided name we chose, and by
a TCP proxy of ours that plays a crashing and restarting broker.
"""

import json
import os
import shutil
import statistics
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import kombu
import pytest

from neutrino.rpc import BrokerUnavailable, RemoteError, make_transport
from neutrino.rpc.rabbit import (RabbitTransport, fanout_exchange, parse_transport_url,
                                  work_queue)
from tests.machine import missing
from tests.rpc.tcp_proxy import TcpProxy

RABBIT_URL = os.environ.get("NEUTRINO_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")


def _broker_unreachable_reason() -> str | None:
    kombu_url = parse_transport_url(RABBIT_URL)[0][0]
    try:
        with kombu.Connection(kombu_url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure means: cannot test here
        return f"RabbitMQ unreachable at {RABBIT_URL}: {exc!r}"
    return None


_unreachable = _broker_unreachable_reason()
pytestmark = pytest.mark.missing(_unreachable is not None, reason=_unreachable or "")


class Recorder:
    def __init__(self):
        self.payloads = []
        self._cond = threading.Condition()

    def __call__(self, method, payload):
        with self._cond:
            self.payloads.append(payload)
            self._cond.notify_all()

    def wait_for(self, count, timeout=10.0):
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.payloads) >= count, timeout), \
                f"got {len(self.payloads)} of {count} messages"
        return self.payloads


@pytest.fixture
def suffix():
    return uuid.uuid4().hex[:10]


@pytest.fixture
def topic(suffix):
    """Topic names for one test; their fanout exchanges (which outlive
    subscribers by design) are deleted afterwards."""
    used = []

    def make(name):
        used.append(f"{name}.{suffix}")
        return used[-1]

    yield make
    with kombu.Connection(parse_transport_url(RABBIT_URL)[0][0]) as connection:
        channel = connection.channel()
        for name in used:
            channel.exchange_delete(fanout_exchange(name).name)


@pytest.fixture
def transports(suffix):
    made = []

    def make(url=RABBIT_URL, **options):
        options.setdefault("client_name", f"neutrino-test-{suffix}-{len(made)}")
        transport = make_transport(url, **options)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def proxy():
    """A TCP proxy to the broker; list it before `transports` so it outlives them."""
    host, port = urlsplit(parse_transport_url(RABBIT_URL)[0][0]).netloc.rsplit("@", 1)[1].rsplit(":", 1)
    tcp_proxy = TcpProxy(host.strip("[]"), int(port))
    tcp_proxy.start()
    yield tcp_proxy
    tcp_proxy.stop()


def proxied_url(tcp_proxy, query=""):
    """RABBIT_URL (first host) rewritten to go through `tcp_proxy`."""
    parts = urlsplit(RABBIT_URL)
    credentials = parts.netloc.split(",")[0].rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, f"{credentials}127.0.0.1:{tcp_proxy.port}",
                       parts.path or "/", query, ""))


def echo(method, payload):
    if method == "fail":
        raise KeyError(payload.get("key"))
    return {"method": method, "payload": payload}


def test_make_transport_gives_rabbit(transports):
    assert isinstance(transports(), RabbitTransport)


def test_call_round_trip(transports, suffix):
    server, client = transports(), transports()
    server.serve(f"q-{suffix}", echo)
    assert client.call(f"q-{suffix}", "get_devices", {"host": "h1"}) == {
        "method": "get_devices", "payload": {"host": "h1"}}


def test_remote_error(transports, suffix):
    server, client = transports(), transports()
    server.serve(f"q-{suffix}", echo)
    with pytest.raises(RemoteError) as info:
        client.call(f"q-{suffix}", "fail", {"key": "port-1"})
    assert info.value.exc_type == "KeyError" and "port-1" in info.value.message
    assert client.call(f"q-{suffix}", "ok", {})["method"] == "ok"  # consumer survived


def test_timeout_without_server(transports, suffix):
    client = transports()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.call(f"nobody-{suffix}", "m", {}, timeout=0.3)
    assert time.monotonic() - started < 2


def test_messages_sent_before_any_server_wait_for_it(transports, suffix):
    """A sender that is back before the servers (after a broker restart, or
    while they restart) is not dropped: its call is answered once a server
    consumes, within the call's timeout, and its casts are delivered."""
    client = transports()
    got = Recorder()
    client.cast(f"late-{suffix}", "report_state", {"n": 1})
    answer = {}
    caller = threading.Thread(target=lambda: answer.update(
        r=client.call(f"late-{suffix}", "get_devices", {"host": "h1"}, timeout=10)))
    caller.start()
    time.sleep(1.0)
    server = transports()
    server.serve(f"late-{suffix}",
                 lambda m, p: got(m, p) if m == "report_state" else echo(m, p))
    caller.join(10)
    assert answer.get("r") == {"method": "get_devices", "payload": {"host": "h1"}}
    assert got.wait_for(1) == [{"n": 1}]


def test_timeout_with_slow_server(transports, suffix):
    server, client = transports(), transports()
    release = threading.Event()
    server.serve(f"q-{suffix}", lambda m, p: release.wait(5) and {"late": True})
    with pytest.raises(TimeoutError):
        client.call(f"q-{suffix}", "m", {}, timeout=0.3)
    release.set()


def test_cast_is_delivered_in_order(transports, suffix):
    server, client = transports(), transports()
    got = Recorder()
    server.serve(f"q-{suffix}", got)
    for i in range(200):
        client.cast(f"q-{suffix}", "report", {"i": i})
    assert [p["i"] for p in got.wait_for(200)] == list(range(200))


def test_fanout_to_two_subscribers(transports, topic):
    host_a_topic = topic("port-update.host-a")
    first, second = Recorder(), Recorder()
    transports().subscribe(host_a_topic, first)
    transports().subscribe(host_a_topic, second)
    publisher = transports()
    for i in range(20):
        publisher.publish(host_a_topic, "port_update", {"i": i})
    for recorder in (first, second):
        assert [p["i"] for p in recorder.wait_for(20)] == list(range(20))


def test_topic_isolation(transports, topic):
    host_a_topic = topic("port-update.host-a")
    host_b_topic = topic("port-update.host-b")
    host_a, host_b = Recorder(), Recorder()
    transports().subscribe(host_a_topic, host_a)
    transports().subscribe(host_b_topic, host_b)
    publisher = transports()
    publisher.publish(host_b_topic, "m", {"for": "b"})
    publisher.publish(host_a_topic, "m", {"for": "a"})
    host_a.wait_for(1)
    host_b.wait_for(1)
    # A marker published after them arrives after them: nothing else is in flight.
    publisher.publish(host_a_topic, "m", {"for": "marker"})
    host_a.wait_for(2)
    assert host_a.payloads == [{"for": "a"}, {"for": "marker"}]
    assert host_b.payloads == [{"for": "b"}]


def test_publish_without_subscribers_then_subscribe(transports, topic):
    lonely_topic = topic("lonely")
    publisher, subscriber = transports(), transports()
    publisher.publish(lonely_topic, "m", {"n": 0})  # no error, nobody hears it
    got = Recorder()
    subscriber.subscribe(lonely_topic, got)
    publisher.publish(lonely_topic, "m", {"n": 1})
    assert got.wait_for(1) == [{"n": 1}]


def test_unsubscribe_and_resubscribe(transports, topic):
    topic_name = topic("t")
    subscriber, publisher = transports(), transports()
    first, second = Recorder(), Recorder()
    subscriber.subscribe(topic_name, first)
    publisher.publish(topic_name, "m", {"n": 1})
    first.wait_for(1)
    subscriber.unsubscribe(topic_name)
    publisher.publish(topic_name, "m", {"n": 2})
    subscriber.subscribe(topic_name, second)
    publisher.publish(topic_name, "m", {"n": 3})
    assert second.wait_for(1) == [{"n": 3}]
    assert first.payloads == [{"n": 1}]


def test_a_notice_to_a_vanished_exchange_costs_no_later_notice(transports, topic):
    """Host exchanges are declared before every publish (they are
    auto-delete, so no declaration can be cached): a host whose agents all
    left (its exchange gone) gets its exchange back, and the notices that
    follow on the same channel to live hosts all arrive."""
    gone_topic, live_topic = topic("gone"), topic("live")
    subscriber, publisher = transports(), transports()
    live = Recorder()
    subscriber.subscribe(gone_topic, Recorder())
    subscriber.subscribe(live_topic, live)
    publisher.publish(gone_topic, "m", {"n": -1})
    subscriber.unsubscribe(gone_topic)            # its exchange goes with its queue
    time.sleep(0.2)
    for i in range(50):
        publisher.publish(gone_topic, "m", {"n": i})
        publisher.publish(live_topic, "m", {"n": i})
    assert [p["n"] for p in live.wait_for(50)] == list(range(50))


def test_competing_consumers_with_two_servers(transports, suffix):
    handled = Recorder()
    for index in range(2):
        transports().serve(f"q-{suffix}", lambda m, p, index=index: handled(m, {"server": index}) or {})
    client = transports()
    for _ in range(40):
        client.call(f"q-{suffix}", "m", {})
    assert len(handled.payloads) == 40  # each call handled exactly once
    per_server = [sum(1 for p in handled.payloads if p["server"] == i) for i in (0, 1)]
    assert min(per_server) >= 10, per_server  # the broker round-robins between them


def test_concurrent_calls_from_8_threads(transports, suffix):
    server, client = transports(), transports()
    server.serve(f"q-{suffix}", lambda m, p: {"n": p["n"] * 2}, threads=4)
    errors, results = [], {}

    def worker(thread_index):
        try:
            for i in range(100):
                n = thread_index * 1000 + i
                results[n] = client.call(f"q-{suffix}", "double", {"n": n})["n"]
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == 800 and all(v == k * 2 for k, v in results.items())


def test_1000_calls_answer_in_milliseconds(transports, suffix):
    server, client = transports(), transports()
    server.serve(f"q-{suffix}", echo)
    client.call(f"q-{suffix}", "warmup", {})
    latencies = []
    for i in range(1000):
        started = time.perf_counter()
        assert client.call(f"q-{suffix}", "m", {"i": i})["payload"] == {"i": i}
        latencies.append(time.perf_counter() - started)
    p50 = statistics.median(latencies) * 1000
    # oslo.messaging's 0.5 s reply polling would put p50 near 500 ms.
    assert p50 < 20, f"p50 {p50:.2f} ms"


# --- reconnection -------------------------------------------------------------

def _rabbitmqctl_unusable() -> str | None:
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl not installed"
    try:
        result = subprocess.run(["rabbitmqctl", "-q", "list_connections", "pid"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"rabbitmqctl failed: {exc!r}"
    if result.returncode != 0:
        return f"rabbitmqctl list_connections failed: {result.stderr.strip()[:200]}"
    return None


def _close_connections_named(prefix: str) -> int:
    """Close, from the broker side, only the connections whose client-provided name starts with prefix."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties"],
        capture_output=True, text=True, timeout=30, check=True)
    closed = 0
    for line in listing.stdout.splitlines():
        pid, _, properties = line.partition("\t")
        if f'{{"connection_name","{prefix}' in properties:
            subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "neutrino reconnect test"],
                           capture_output=True, timeout=30, check=True)
            closed += 1
    return closed


def _reconnect_signal(transport) -> threading.Event:
    fired = threading.Event()
    transport.on_reconnect(fired.set)
    return fired


def _assert_serve_and_subscribe_work(client, suffix, topic_name, got, expected_count):
    assert client.call(f"q-{suffix}", "after", {}, timeout=10)["method"] == "after"
    client.publish(topic_name, "m", {"n": expected_count})
    assert got.wait_for(expected_count)[-1] == {"n": expected_count}


def test_reconnect_after_broker_closes_our_connections(transports, suffix, topic):
    topic_name = topic("t")
    unusable = _rabbitmqctl_unusable()
    if unusable:
        missing(unusable)
    server, client = transports(), transports()
    got = Recorder()
    server.serve(f"q-{suffix}", echo)
    server.subscribe(topic_name, got)
    _assert_serve_and_subscribe_work(client, suffix, topic_name, got, 1)
    server_reconnected, client_reconnected = _reconnect_signal(server), _reconnect_signal(client)

    # listener + publisher of the server, replies + publisher of the client
    assert _close_connections_named(f"neutrino-test-{suffix}-") == 4

    assert server_reconnected.wait(15), "server listener did not reconnect"
    assert client_reconnected.wait(15), "client reply consumer did not reconnect"
    _assert_serve_and_subscribe_work(client, suffix, topic_name, got, 2)


def test_reconnect_after_broker_outage(proxy, transports, suffix, topic):
    topic_name = topic("t")
    server = transports(proxied_url(proxy), reconnect_interval_max=1.0)
    client = transports(proxied_url(proxy), reconnect_interval_max=1.0)
    got = Recorder()
    server.serve(f"q-{suffix}", echo)
    server.subscribe(topic_name, got)
    _assert_serve_and_subscribe_work(client, suffix, topic_name, got, 1)
    server_reconnected, client_reconnected = _reconnect_signal(server), _reconnect_signal(client)

    proxy.stop()  # the "broker" dies: connections dropped, new ones refused
    with pytest.raises(BrokerUnavailable):
        client.cast(f"q-{suffix}", "lost", {})
    with pytest.raises(TimeoutError):
        client.call(f"q-{suffix}", "lost", {}, timeout=0.5)
    proxy.start()  # ... and comes back on the same address

    assert server_reconnected.wait(15), "server listener did not reconnect"
    assert client_reconnected.wait(15), "client did not reconnect"
    _assert_serve_and_subscribe_work(client, suffix, topic_name, got, 2)


def test_heartbeats_notice_a_silent_broker(proxy, transports, suffix, topic):
    topic_name = topic("t")
    server = transports(proxied_url(proxy, "heartbeat=1"))
    client = transports(proxied_url(proxy, "heartbeat=1"))
    assert server.heartbeat == 1
    got = Recorder()
    server.serve(f"q-{suffix}", echo)
    server.subscribe(topic_name, got)
    _assert_serve_and_subscribe_work(client, suffix, topic_name, got, 1)
    server_reconnected, client_reconnected = _reconnect_signal(server), _reconnect_signal(client)

    proxy.blackhole()  # connections stay open but nothing gets through
    started = time.monotonic()
    assert server_reconnected.wait(15), "server listener did not notice the silent broker"
    assert client_reconnected.wait(15), "client reply consumer did not notice the silent broker"
    assert time.monotonic() - started < 6  # ~2 heartbeat intervals, not TCP timeouts
    # The idle publishers noticed as well (their keepalive ticks at the same
    # rate but may lag the consumers by a tick): the next sends reconnect.
    deadline = time.monotonic() + 5
    while client._publisher._conn is not None or server._publisher._conn is not None:
        assert time.monotonic() < deadline, "publisher kept a silent connection"
        time.sleep(0.05)
    _assert_serve_and_subscribe_work(client, suffix, topic_name, got, 2)


def test_subscribe_while_broker_down_takes_effect_once_it_is_up(proxy, transports, topic):
    topic_name = topic("t")
    proxy.stop()  # keeps its port; nothing listens there now
    subscriber = transports(proxied_url(proxy), connect_wait=0.5, reconnect_interval_max=1.0)
    got = Recorder()
    started = time.monotonic()
    subscriber.subscribe(topic_name, got)  # returns after connect_wait
    assert time.monotonic() - started < 3
    proxy.start()
    publisher = transports()
    # The subscription appears once the listener connects; publish until it hears.
    deadline = time.monotonic() + 15
    while not got.payloads and time.monotonic() < deadline:
        publisher.publish(topic_name, "m", {"n": 1})
        time.sleep(0.1)
    assert got.payloads and got.payloads[0] == {"n": 1}


def test_server_starting_during_an_outage_waits_for_the_broker_once(proxy, transports, suffix,
                                                                    topic):
    """A server serves several targets at start-up: while the broker is
    down it waits connect_wait once, not once per target, then works as
    soon as the broker is back."""
    topic_name = topic("t")
    proxy.stop()
    server = transports(proxied_url(proxy), connect_wait=2.0, reconnect_interval_max=1.0)
    got = Recorder()
    started = time.monotonic()
    server.serve(f"a-{suffix}", echo)
    server.serve(f"b-{suffix}", echo)
    server.serve(f"c-{suffix}", echo)
    server.subscribe(topic_name, got)
    assert time.monotonic() - started < 5, "waited for the broker more than once"
    proxy.start()
    client = transports()
    for target in ("a", "b", "c"):
        assert client.call(f"{target}-{suffix}", "m", {}, timeout=15)["method"] == "m"


def test_first_connection_after_a_missed_subscribe_counts_as_a_reconnect(proxy, transports,
                                                                        topic):
    """subscribe() returned while the broker was down: what was published
    until the subscription took effect is lost, so the transport tells its
    user to resync, as after any reconnect."""
    proxy.stop()
    subscriber = transports(proxied_url(proxy), connect_wait=0.5, reconnect_interval_max=1.0)
    subscriber.subscribe(topic("t"), Recorder())
    reconnected = _reconnect_signal(subscriber)
    proxy.start()
    assert reconnected.wait(15), "no on_reconnect after the missed subscribe took effect"


def test_envelope_on_the_wire_is_plain_json(transports, suffix):
    """Other tools (and other languages) can read what we send."""
    kombu_url = parse_transport_url(RABBIT_URL)[0][0]
    with kombu.Connection(kombu_url) as connection:
        queue = work_queue(f"raw-{suffix}")   # as a server of that target declares it
        queue(connection.default_channel).declare()
        transports().cast(f"raw-{suffix}", "report_state", {"agent": "h1"})
        simple = connection.SimpleQueue(queue)
        message = simple.get(timeout=5)
        envelope = json.loads(message.body)
        simple.close()
        queue(connection.default_channel).delete()
    assert message.content_type == "application/json"
    assert envelope["method"] == "report_state" and envelope["payload"] == {"agent": "h1"}
    assert envelope["v"] == 1 and len(envelope["msg_id"]) == 32
