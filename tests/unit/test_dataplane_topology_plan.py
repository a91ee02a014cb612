"""Lab topology planning and serialization (pure; no namespaces created)."""

from __future__ import annotations

import json

import pytest

from neutrino.dataplane.netns import validate_name
from neutrino.lab.topology import LabTopology, new_prefix, plan_topology


def test_plan_names_and_addresses():
    t = plan_topology(3, "nlabc123-", "/tmp/x")
    assert t.underlay_netns == "nlabc123-underlay"
    assert t.outside_netns == "nlabc123-outside"
    assert [h.netns for h in t.hosts] == ["nlabc123-host1", "nlabc123-host2", "nlabc123-host3"]
    assert [h.vtep_cidr for h in t.hosts] == ["10.255.0.11/24", "10.255.0.12/24", "10.255.0.13/24"]
    assert t.hosts[0].physical_interface_mappings == "physnet1:eth1,external:eth2"
    assert t.hosts[0].tunnel_interface == "eth0"
    assert t.bridges == {"physnet1": "physnet1", "external": "external", "tunnel": "tunnel"}
    assert t.outside_ip == "203.0.113.254" and t.external_cidr == "203.0.113.0/24"


def test_plan_bounds():
    with pytest.raises(ValueError):
        plan_topology(0, "p-", "/tmp/x")
    t = plan_topology(200, "p-", "/tmp/x")
    assert t.hosts[-1].vtep_ip == "10.255.0.210"
    assert len(f"h{t.hosts[-1].index}-eth0") <= 15  # IFNAMSIZ


def test_prefix_is_random_and_valid():
    a, b = new_prefix(), new_prefix()
    assert a != b and a.startswith("nl") and a.endswith("-")
    validate_name(f"{a}underlay")


def test_json_round_trip():
    t = plan_topology(2, "nlabc123-", "/run/neutrino-lab/nlabc123")
    t.namespaces = ["nlabc123-underlay", "nlabc123-host1"]
    text = t.to_json()
    data = json.loads(text)
    assert data["hosts"][1]["physical_interface_mappings"] == "physnet1:eth1,external:eth2"
    assert LabTopology.from_json(text) == t
