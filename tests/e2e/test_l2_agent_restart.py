"""Killing the L2 agent (SIGKILL) and starting it again while two instances
ping each other: not one ping lost, no healthy device recreated, and the
stale devices the agent owns -- and only those -- are removed.

inproc labs run the agents inside the all-in-one runtime process, so there
the whole runtime (server included) is killed and restarted; rabbit labs kill
one host's agent process.
"""
from __future__ import annotations

import signal
import time

import pytest

from neutrino.dataplane.netlink import Netlink
from tests.e2e.helpers import PingCounter, links, wait_for

pytestmark = pytest.mark.root

STALE_BRIDGE = "brqdeadbeef-00"      # named like ours: no port needs it
STALE_VXLAN = "vxlan-16000001"
FOREIGN = ("keep-veth0", "keep-veth1", "brq-not-ours")


def test_agent_sigkill_and_restart_loses_no_ping(world, lab):
    net = world.network("restart", network_type="vxlan")
    a = world.instance("a", net, host="host1")
    b = world.instance("b", net, host="host2")
    assert world.ping(a, b.ip)
    host_ns = world.host_ns("host1")
    watched = ["brq" + net["id"][:11], f"vxlan-{net['provider:segmentation_id']}", a.tap]
    before = {name: links(host_ns)[name].index for name in watched}

    # a port whose binding fails while host1's agent is disabled, to be
    # rebound when the agent comes back (start_flag)
    agent_id = next(x["id"] for x in lab.agents() if x["host"] == "host1")
    lab.api.update("agents", agent_id, {"admin_state_up": False})
    late = world.instance("late", net, host="host1", wait=False)
    assert lab.api.show("ports", late.port_id)["binding:vif_type"] == "binding_failed"
    lab.api.update("agents", agent_id, {"admin_state_up": True})

    pinger = PingCounter(a.netns, b.ip, count=500, interval=0.02)   # ~10 s
    try:
        time.sleep(1.0)
        if lab.state.transport == "inproc":
            lab.kill_runtime(signal.SIGKILL)
        else:
            lab.kill_agent("host1", signal.SIGKILL)
        with Netlink(host_ns) as nl:      # while it is dead: leftovers of an older life
            nl.ensure_bridge(STALE_BRIDGE)
            nl.ensure_vxlan(STALE_VXLAN, 16000001, dstport=8472, dev="eth0")
            nl.set_master(STALE_VXLAN, STALE_BRIDGE)
            nl.ensure_bridge(FOREIGN[2])
            nl.create_veth(FOREIGN[0], FOREIGN[1])
        if lab.state.transport == "inproc":
            lab.start_runtime()
        else:
            lab.start_agent("host1")
        wait_for(lambda: STALE_BRIDGE not in links(host_ns)
                 and STALE_VXLAN not in links(host_ns), timeout=20,
                 what="stale devices removed by the restarted agent")
        transmitted, received = pinger.result(timeout=60)
        after = links(host_ns)
    finally:
        pinger.kill()
        with Netlink(host_ns) as nl:
            for name in (FOREIGN[0], FOREIGN[2], STALE_BRIDGE, STALE_VXLAN):
                nl.delete_link(name)
    assert transmitted == 500
    assert received == transmitted, f"{transmitted - received} ping(s) lost"
    assert {name: after[name].index for name in watched} == before   # nothing recreated
    assert all(name in after for name in FOREIGN)                    # not ours: untouched
    # the port whose binding failed is bound and wired now
    lab.wait_port_status(late.port_id, "ACTIVE", timeout=20)
    assert lab.api.show("ports", late.port_id)["binding:vif_type"] == "bridge"
    assert world.ping(a, b.ip) and world.ping(a, late.ip)
