"""`openstack network qos policy|rule|rule type ...` (python-openstackclient
through openstacksdk's /v2.0/qos/... resources) against a real
`neutrino-server` subprocess: what a user types and reads."""
from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.api.test_openstackclient import OPENSTACK, Osc

pytestmark = pytest.mark.missing(not OPENSTACK.exists(),
                                reason=f"python-openstackclient not installed ({OPENSTACK})")


@pytest.fixture(scope="module")
def osc(server_factory):
    server = server_factory({"DEFAULT": {"api_workers": "1"}})
    home = tempfile.mkdtemp(prefix="osc-qos-home-")
    yield Osc(server.url, home)
    shutil.rmtree(home, ignore_errors=True)


def test_policy_rules_and_port(osc):
    pol = osc.json("network", "qos", "policy", "create", "--share", "--description", "gold",
                   "gold")
    assert (pol["name"], pol["shared"], pol["description"]) == ("gold", True, "gold")
    bw = osc.json("network", "qos", "rule", "create", "--type", "bandwidth-limit",
                  "--max-kbps", "10000", "--max-burst-kbits", "8000", "--egress", "gold")
    assert (bw["max_kbps"], bw["max_burst_kbps"], bw["direction"]) == (10000, 8000, "egress")
    osc.json("network", "qos", "rule", "create", "--type", "dscp-marking", "--dscp-mark", "26",
             "gold")
    rules = osc.json("network", "qos", "rule", "list", "gold")
    assert sorted(r["Type"] for r in rules) == ["bandwidth_limit", "dscp_marking"]
    types = osc.json("network", "qos", "rule", "type", "list")
    assert sorted(t["Type"] for t in types) == ["bandwidth_limit", "dscp_marking"]
    detail = osc.json("network", "qos", "rule", "type", "show", "bandwidth_limit")
    assert detail["drivers"][0]["name"] == "linuxbridge"
    net = osc.json("network", "create", "--qos-policy", "gold", "n1")
    assert net["qos_policy_id"] == pol["id"]
    port = osc.json("port", "create", "--network", "n1", "--qos-policy", "gold", "p1")
    assert port["qos_policy_id"] == pol["id"]
    failed = osc.run("network", "qos", "policy", "delete", "gold", check=False)
    assert failed.returncode != 0 and "is used by network" in failed.stderr, failed.stderr
    osc.run("port", "unset", "--qos-policy", "p1")
    osc.run("network", "set", "--no-qos-policy", "n1")
    osc.run("network", "qos", "policy", "delete", "gold")
    assert osc.json("network", "qos", "policy", "list") == []
