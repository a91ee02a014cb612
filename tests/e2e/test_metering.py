"""Metering end to end: a label made through the API meters its project's
router; traffic from the outside host to a floating IP behind it shows up
in the report of the router's L3 agent (<state_path>/metering/report.json
on its host, written at each heartbeat), and traffic the label excludes
does not."""
from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import wait_for
from tests.e2e.l3_helpers import OUTSIDE, outside_ping, router_ready

pytestmark = pytest.mark.root


@pytest.fixture
def l3(l3, lab):
    """conftest's l3, and the metering labels a test made are deleted first."""
    labels: list[str] = []
    l3.labels = labels
    yield l3
    for label_id in labels:
        lab.api.request("DELETE", f"/v2.0/metering/metering-labels/{label_id}")


def report(lab, host: str) -> dict:
    path = lab.state.host_dir(host) / "metering" / "report.json"
    try:
        return json.loads(path.read_text())["labels"]
    except (OSError, ValueError, KeyError):
        return {}


def label(lab, l3, name, *rules) -> str:
    lab_ = lab.api.request("POST", "/v2.0/metering/metering-labels", {
        "metering_label": {"name": f"{name}-{l3.tag}"}})["metering_label"]
    l3.labels.append(lab_["id"])
    for direction, excluded, prefix in rules:
        lab.api.request("POST", "/v2.0/metering/metering-label-rules", {
            "metering_label_rule": {"metering_label_id": lab_["id"], "direction": direction,
                                    "excluded": excluded, "remote_ip_prefix": prefix}})
    return lab_["id"]


def test_label_traffic_reported_by_the_l3_agent(l3, lab):
    ext = l3.external()
    net, sub = l3.tenant("mt", "10.85.1.0/24", network_type="vxlan")
    router = l3.router("r", ext=ext)
    l3.add_interface(router, sub)
    host = l3.router_host(router)
    inst = l3.instance("a", net, host=host)
    l3.allow_ingress(inst, {"protocol": "icmp"})
    fip = l3.fip(ext, inst.port_id)
    fip_ip = fip["floating_ip_address"]
    counted = label(lab, l3, "in", ("ingress", False, "0.0.0.0/0"))
    excluded = label(lab, l3, "ex", ("ingress", False, "0.0.0.0/0"),
                     ("ingress", True, f"{OUTSIDE}/32"))
    router_ready(l3, router, "10.85.1.1", fip_ip)
    assert wait_for(lambda: outside_ping(lab, fip_ip), timeout=30, what="ping the FIP")

    def reported() -> bool:
        # pinging on: the labels' chains may come after the floating IP
        outside_ping(lab, fip_ip)
        return report(lab, host).get(counted, {}).get("pkts", 0) >= 5
    assert wait_for(reported, timeout=60, interval=0.5,
                    what="the label's packets in the agent's report")
    entry = report(lab, host)[counted]
    assert entry["bytes"] >= 5 * 84 and entry["host"] == host
    assert report(lab, host).get(excluded, {}).get("pkts", 0) == 0
