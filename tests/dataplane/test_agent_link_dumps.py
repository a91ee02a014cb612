"""The L2 agent dumps the host's links only when they may have changed.

A cycle with no link event since the last dump (a port's notice, a burst of
deletes whose taps left before) plans against that dump; a link changed
behind the agent's back (here: a tap taken off its bridge) is heard, dumped
and put right. Real kernel, real server core, real agent, iptables."""
from __future__ import annotations

import time

import pytest

from neutrino.dataplane import netns as ns
from tests.dataplane.helpers import server_with_l2_agent
from tests.dataplane.test_firewall_agent_status import (_network, _plug, _port, _status,
                                                        _wait_status)

pytestmark = pytest.mark.root

HOST = "sthost"       # the host name the imported helpers bind ports to


def _master(host_ns: str, dev: str) -> str | None:
    out = ns.run(["ip", "-o", "link", "show", "dev", dev], netns=host_ns)
    words = out.split()
    return words[words.index("master") + 1] if "master" in words else None


def _settle(agent, quiet: float = 3.0, timeout: float = 30.0) -> None:
    """Until the agent has run no cycle and heard no link event for `quiet`
    seconds (a new bridge's IPv6 set-up sends events a while after it is up)."""
    def now():
        return agent.cycles, agent._link_events
    last, since = now(), time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if now() != last:
            last, since = now(), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError("the agent kept cycling")


def test_no_dump_without_a_link_event_and_a_changed_link_is_dumped_and_fixed(tmp_path, netns):
    # polling_interval far away: only events and notices wake the agent
    with server_with_l2_agent(tmp_path, netns, "dump", HOST, polling_interval=600) as (
            client, _core, host_ns, start):
        agent = start()
        net = _network(client)
        port = _port(client, net)
        _plug(host_ns, netns, port)
        _wait_status(client, [port["id"]], "ACTIVE")
        _settle(agent)
        dumps = []
        real_dump = agent.kernel.fast.dump
        agent.kernel.fast.dump = lambda: dumps.append(1) or real_dump()

        # a notice for the port (its name changed): a cycle, no link dumped
        cycles = agent.cycles
        r = client.put(f"/v2.0/ports/{port['id']}", json={"port": {"name": "renamed"}})
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 15
        while agent.cycles == cycles:
            assert time.monotonic() < deadline, "the notice woke no cycle"
            time.sleep(0.05)
        _settle(agent)
        assert dumps == []
        assert _status(client, port["id"]) == "ACTIVE"

        # the tap off its bridge behind the agent's back: heard, dumped, put back
        tap = "tap" + port["id"][:11]
        bridge = _master(host_ns, tap)
        assert bridge and bridge.startswith("brq")
        ns.run(["ip", "link", "set", "dev", tap, "nomaster"], netns=host_ns)
        deadline = time.monotonic() + 15
        while _master(host_ns, tap) != bridge:
            assert time.monotonic() < deadline, "the tap was not put back on its bridge"
            time.sleep(0.05)
        assert dumps, "the tap went back without a fresh dump of the links"
