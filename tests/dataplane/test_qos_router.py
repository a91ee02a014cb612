"""Floating IP QoS (qos-fip) on a real kernel: the router namespace built as
the L3 agent builds it (RouterNamespace), an instance behind it with a
floating IP and an outside host on the external network; the L3 agent's
FipQos programs the limits of the floating IP's policy on the gateway
device, measured with iperf3 from both sides."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from neutrino.agent.l3.fip_qos import FipQos, ifb_of
from neutrino.dataplane import netns as ns
from tests.dataplane.conftest import have
from tests.dataplane.test_fwaas_router import EXT, FIP, World
from tests.machine import missing

pytestmark = pytest.mark.root


@pytest.fixture
def world(netns, tmp_path):
    w = World(netns, tmp_path, gateway=True)
    try:
        yield w
    finally:
        w.close()


def _iperf(client_ns: str, server_ns: str, server_ip: str, reverse: bool = False) -> float:
    server = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        argv = ["iperf3", "-c", server_ip, "-t", "5", "-O", "1", "-J"]
        if reverse:
            argv.append("-R")
        out = json.loads(ns.run(argv, netns=client_ns, timeout=30))
        assert "error" not in out, out["error"]
        return out["end"]["sum_received"]["bits_per_second"] / 1e6
    finally:
        server.kill()
        server.wait()


def _limit(kbps: int) -> dict:
    return {"max_kbps": kbps, "max_burst_kbps": 0}


def test_floating_ip_limits_hold_under_iperf3(world):
    if not have("iperf3"):
        missing("iperf3 is not installed (./bootstrap installs it)")
    w = world
    router = w.router()
    qos = FipQos()
    wire = [{"ip": FIP, "egress": _limit(10000), "ingress": _limit(20000)}]
    qos.converge(w.ns.name, router.qg, wire)
    outside = f"{EXT}.254"
    # from the instance out through its floating IP: the egress limit
    sent = _iperf(w.inst["a"], w.outside, outside)
    assert 9.0 <= sent <= 11.0, f"{sent:.2f} Mbit/s out of the floating IP"
    # from outside to the floating IP: the ingress limit
    received = _iperf(w.inst["a"], w.outside, outside, reverse=True)
    assert 18.0 <= received <= 22.0, f"{received:.2f} Mbit/s to the floating IP"
    # instance "b" has no floating IP (SNAT on the gateway address): not limited
    free = _iperf(w.inst["b"], w.outside, outside)
    assert free > 30, f"{free:.2f} Mbit/s through SNAT"

    # converging again changes nothing; a lost qdisc is put back
    qos.converge(w.ns.name, router.qg, wire)
    ns.run(["tc", "qdisc", "del", "dev", router.qg, "root"], netns=w.ns.name)
    qos.converge(w.ns.name, router.qg, wire)
    assert " htb " in ns.run(["tc", "qdisc", "show", "dev", router.qg], netns=w.ns.name)
    # the policy removed: no qdisc, no ifb left
    qos.converge(w.ns.name, router.qg, [])
    assert " htb " not in ns.run(["tc", "qdisc", "show", "dev", router.qg], netns=w.ns.name)
    assert ifb_of(router.qg) not in ns.run(["ip", "-br", "link"], netns=w.ns.name)
