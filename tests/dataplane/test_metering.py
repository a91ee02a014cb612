"""Metering on a real kernel: a router namespace converged by RouterNamespace
as the L3 agent does (World of test_fwaas_router with its gateway, the
outside host and floating IP 203.0.113.20 -> instance a), with metering
labels in the router's wire form. What is asserted is what the kernel
counted for each label (the agent's report reads the same counters):
traffic in and out through the gateway, excluded prefixes not counted,
counters kept across a rewrite of the router's other tables."""
from __future__ import annotations

import pytest

from neutrino.agent.l3.meter_report import MeterReport
from neutrino.agent.l3.metering import MeterLabel
from neutrino.agent.l3.model import nat_tables
from tests.dataplane.test_fwaas_router import EXT, FIP, World, tcp

pytestmark = pytest.mark.root


def label(label_id, *rules):
    return {"id": label_id, "project_id": "p", "rules": [
        {"direction": d, "excluded": ex, "remote_ip_prefix": remote,
         "source_ip_prefix": src, "destination_ip_prefix": dst}
        for d, ex, remote, src, dst in rules]}


class MeterWorld(World):
    labels: list[dict] = []
    snat = True

    def router(self):
        router = super().router()
        router.enable_snat = self.snat
        router.metering_labels = [MeterLabel.from_wire(lab) for lab in self.labels]
        return router


@pytest.fixture
def world_meter(netns, tmp_path):
    w = MeterWorld(netns, tmp_path, gateway=True)
    try:
        yield w
    finally:
        w.close()


def test_labels_count_gateway_traffic(world_meter, tmp_path):
    w = world_meter
    w.labels = [
        label("in-all-0000000000", ("ingress", False, f"{EXT}.0/24", None, None)),
        label("out-all-000000000", ("egress", False, None, None, f"{EXT}.0/24")),
        # all ingress but from the outside host: nothing
        label("in-excl-000000000", ("ingress", False, "0.0.0.0/0", None, None),
              ("ingress", True, f"{EXT}.254/32", None, None)),
    ]
    w.converge()
    report = MeterReport("host-x", w.prefix, str(tmp_path))
    routers = {w.rid: w.router()}
    assert all(v["pkts"] == 0 for v in report.collect(routers).values())  # nothing yet
    for _ in range(3):
        assert tcp(w.outside, FIP, 80) == "ok"    # in through qg-, to a (DNAT)
    counts = w.ns.meter.counters()
    chain = {lab["id"]: MeterLabel.from_wire(lab).count_chain for lab in w.labels}
    pk_in, by_in = counts[chain["in-all-0000000000"]]
    pk_out, by_out = counts[chain["out-all-000000000"]]
    assert pk_in >= 9 and by_in > 0               # 3 connections, >= 3 packets each
    assert pk_out >= 6 and by_out > 0             # the answers went out
    assert counts[chain["in-excl-000000000"]] == (0, 0)
    got = report.collect(routers)
    assert got["in-all-0000000000"]["pkts"] == pk_in
    assert got["in-all-0000000000"]["bytes"] == by_in
    assert got["in-all-0000000000"]["host"] == "host-x"
    # a rewrite of the router's nat/mangle tables keeps the counters
    w.snat = False
    assert "nat" in w.ns.iptables.apply(nat_tables(w.router()))    # the nat table rewritten
    assert w.ns.meter.counters()[chain["in-all-0000000000"]][0] >= pk_in
    assert report.collect(routers)["in-all-0000000000"]["pkts"] == 0   # nothing new
    assert tcp(w.outside, FIP, 80) == "ok"
    assert report.collect(routers)["in-all-0000000000"]["pkts"] >= 3
    assert report.totals["in-all-0000000000"]["pkts"] >= pk_in + 3
    # labels gone: their chains go
    w.labels = []
    w.converge()
    assert w.ns.meter.counters() == {}
