"""The dashboard's event plumbing (#15) on the in-process bus: the notifier
tee, delivery from one API worker to the pages of another through the
bus's fanout topic, and the under-the-hood call's answer when a host's
agent is silent."""
from __future__ import annotations

import asyncio
import secrets

from neutrino.dashboard.events import EventHub, TeeNotifier
from neutrino.dashboard.inspect import Inspector, serve
from neutrino.rpc.bus import make_transport


class Recorder:
    def __init__(self):
        self.calls = []
        self.hook = None

    def resource_changed(self, resource, resource_id, revision, hosts=None, **extra):
        self.calls.append((resource, resource_id, revision, hosts, extra))


def test_tee_keeps_the_agents_notifications_and_their_hooks():
    inner = Recorder()
    seen = []
    hub = EventHub()
    hub.changed = seen.append
    tee = TeeNotifier(inner, hub)
    tee.resource_changed("port", "p1", 3, ("host1",), security_groups=["g"])
    assert inner.calls == [("port", "p1", 3, ("host1",), {"security_groups": ["g"]})]
    assert seen == ["port"]
    tee.hook = "set later by the L3 RPC"          # attribute writes reach the notifier
    assert inner.hook == "set later by the L3 RPC" and tee.hook == inner.hook


def test_tee_never_fails_the_api_call():
    inner = Recorder()
    hub = EventHub()

    def broken(resource):
        raise RuntimeError("bus down")
    hub.changed = broken
    TeeNotifier(inner, hub).resource_changed("network", "n1", 1)
    assert inner.calls and inner.calls[0][0] == "network"


def test_an_event_reaches_the_pages_of_another_worker():
    url = f"inproc://dash-{secrets.token_hex(4)}"
    worker_a, worker_b = make_transport(url), make_transport(url)
    try:
        hub_a, hub_b = EventHub(worker_a, "t"), EventHub(worker_b, "t")

        async def scenario():
            page_b = hub_b.add()          # a page served by worker B
            page_a = hub_a.add()          # and one by worker A
            await asyncio.sleep(0.05)
            hub_a.changed("router")       # a change made through worker A
            got_b = await asyncio.wait_for(page_b[1].get(), 2)
            got_a = await asyncio.wait_for(page_a[1].get(), 2)
            hub_b.remove(page_b)
            return got_a, got_b
        got_a, got_b = asyncio.run(scenario())
        assert got_a["resource"] == got_b["resource"] == "router"
        assert set(got_b) == {"resource", "at"}      # no ids
        assert hub_b.listeners == 0
    finally:
        worker_a.close()
        worker_b.close()


def test_a_burst_of_changes_travels_in_few_messages_and_every_one_reaches_the_page():
    """300 writes in a burst: a handful of bus messages (one per BATCH_S),
    and the page of another worker still gets 300 events, in order."""
    url = f"inproc://dash-{secrets.token_hex(4)}"
    worker_a, worker_b = make_transport(url), make_transport(url)
    sent = []
    publish = worker_a.publish
    worker_a.publish = lambda topic, method, payload: (sent.append(method),
                                                       publish(topic, method, payload))
    try:
        hub_a, hub_b = EventHub(worker_a, "t"), EventHub(worker_b, "t")

        async def scenario():
            page = hub_b.add()
            await asyncio.sleep(0.05)
            for i in range(300):
                hub_a.changed(f"r{i}")
            return [(await asyncio.wait_for(page[1].get(), 5))["resource"] for _ in range(300)]
        got = asyncio.run(scenario())
        assert got == [f"r{i}" for i in range(300)]
        assert 1 <= len(sent) <= 5 and set(sent) == {"dashboard_batch"}, sent
    finally:
        worker_a.close()
        worker_b.close()


def test_without_a_bus_events_stay_in_the_process():
    hub = EventHub()

    async def scenario():
        page = hub.add()
        hub.changed("subnet")
        return await asyncio.wait_for(page[1].get(), 1)
    assert asyncio.run(scenario())["resource"] == "subnet"


def test_a_silent_host_is_reported_not_waited_for():
    url = f"inproc://dash-{secrets.token_hex(4)}"
    server, agent = make_transport(url), make_transport(url)
    try:
        serve(agent, "host1", None, "t")              # host1 answers; host2 has no agent
        answers = Inspector(server, "t", 3).ask(["host1", "host2"],
                                                  {"kind": "volume"})
        by_host = {a.get("host"): a for a in answers}
        assert "unknown kind" in by_host["host1"]["error"]
        assert "did not answer within 3 s" in by_host["host2"]["error"]
        assert Inspector(None, "t", 1).ask(["h"], {})[0]["error"].startswith("no message bus")
    finally:
        server.close()
        agent.close()


def test_workers_without_a_bus_reach_each_other_over_unix_sockets(tmp_path):
    import threading
    from neutrino.dashboard.events import SocketFanout
    key = str(tmp_path / "state")
    a, b = SocketFanout(key), SocketFanout(key)     # two workers of one server
    other = SocketFanout(str(tmp_path / "another-server"))
    got, done = [], threading.Event()
    b.subscribe("t.dashboard", lambda method, payload: (got.append((method, payload)),
                                                        done.set()))
    other.publish("t.dashboard", "dashboard_changed", {"resource": "elsewhere"})
    a.publish("t.dashboard", "dashboard_changed", {"resource": "port"})
    assert done.wait(2)
    assert got == [("dashboard_changed", {"resource": "port"})]
    assert a.dir == b.dir != other.dir and a.dir.stat().st_mode & 0o777 == 0o700
