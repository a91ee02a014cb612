"""The DHCP agent's periodic resync at scale: the timer asks the server for
each network's digest and fetches only the networks not as last fetched;
every CHECKS_PER_FULL-th time (and on start, reconnect, error) a full pass.
At 5,000 ports a full fetch every 5 s was a steady load on the server and
the agent (issue #18). The agent runs for real with its client and driver
replaced by recorders."""
from __future__ import annotations

import threading
import time

from neutrino.agent import threads as threads_mod
from neutrino.agent.threads import AgentThreads, Triggers
from tests.unit.test_dhcp_delete_burst import Client, agent
from tests.unit.test_dhcp_plan import NET, wire


class DigestClient(Client):
    def __init__(self, network: dict):
        super().__init__({**network, "digest": "d1"})

    def get_dhcp_digests(self):
        return {self.network["id"]: self.network["digest"]}


def test_the_check_names_only_networks_not_as_last_fetched(tmp_path):
    a, _, _ = agent(tmp_path, wire())
    a.client = client = DigestClient(wire())
    a.sync(True)
    assert client.fetched == [None] and a.digests == {NET: "d1"}
    assert a.check() == set()                       # as fetched: nothing to do
    client.network = {**client.network, "digest": "d2"}
    assert a.check() == {NET}                       # changed on the server
    a.sync(False, {NET})
    assert client.fetched == [None, [NET]] and a.check() == set()
    client.get_dhcp_digests = lambda: {}            # no longer ours
    assert a.check() == {NET}


def test_the_timer_runs_the_check_and_every_nth_time_a_full_pass(monkeypatch):
    monkeypatch.setattr(threads_mod, "CHECKS_PER_FULL", 4)
    lifecycle = AgentThreads("h")
    triggers = Triggers(lifecycle.cond)
    triggers.full = False
    answers = iter([set(), {"n1"}, None])
    calls: list[tuple[bool, set]] = []
    done = threading.Event()

    def check():
        return next(answers, set())

    def sync(full, ids):
        calls.append((full, set(ids)))
        if len(calls) == 3:
            done.set()
    worker = threading.Thread(target=lifecycle.reconcile, args=(triggers, sync, 0.02, "T"),
                              kwargs={"check": check}, daemon=True)
    worker.start()
    try:
        assert done.wait(10), calls
    finally:
        lifecycle.stop()
    # timer 1: nothing stale, no pass; 2: n1 alone; 3: the server cannot
    # tell (None): full; 4: every 4th, full without asking
    assert calls[:3] == [(False, {"n1"}), (True, set()), (True, set())], calls
