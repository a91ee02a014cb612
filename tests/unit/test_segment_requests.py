"""Pure parts of the segment features: multi-provider requests (validated
and deduplicated before any database work), the shared ranges' subtraction
of project ranges, and the host's segment of a multi-segment network."""
from __future__ import annotations

import pytest

from neutrino import config
from neutrino.api import faults
from neutrino.options import SERVER_SCHEMA
from neutrino.plugins.ml2.mech import segment_unservable
from neutrino.plugins.ml2.segments import SegmentManager
from neutrino.plugins.segments.ranges import _subtract

PT, PP, PS = "provider:network_type", "provider:physical_network", "provider:segmentation_id"


@pytest.fixture(scope="module")
def manager():
    cfg = config.load(SERVER_SCHEMA, [], {
        "ml2": {"type_drivers": "flat,vlan,vxlan", "tenant_network_types": "vxlan"},
        "ml2_type_vlan": {"network_vlan_ranges": "physnet1:100:200,physnet2"},
        "ml2_type_flat": {"flat_networks": "*"},
        "ml2_type_vxlan": {"vni_ranges": "1:1000"}})
    return SegmentManager(cfg)


def test_segments_request(manager):
    assert manager.segments_request({}) == [None]
    assert manager.segments_request({PT: "vxlan", PS: 7}) == [
        {"network_type": "vxlan", "physical_network": None, "segmentation_id": 7}]
    got = manager.segments_request({"segments": [{PT: "vlan", PP: "physnet1", PS: 150},
                                                 {PT: "flat", PP: "physnet2"}, {PT: "vxlan"},
                                                 {PT: "vxlan"}]})
    assert [s["network_type"] for s in got] == ["vlan", "flat", "vxlan", "vxlan"]


@pytest.mark.parametrize("body", [
    {"segments": [{PT: "vxlan"}], PT: "vxlan"},                       # both ways
    {"segments": [{PT: "vlan", PP: "physnet1", PS: 150}] * 2},        # duplicate
    {"segments": [{PT: "flat", PP: "physnet1"}] * 2},
    {"segments": [{PP: "physnet1"}]},                                 # no type
    {"segments": [{PT: "gre"}]},                                      # unknown type
    {"segments": [{PT: "vxlan", "name": "x"}]},                       # unknown key
    {"segments": ["vxlan"]},
])
def test_segments_request_refusals(manager, body):
    with pytest.raises(faults.InvalidInput):
        manager.segments_request(body)


def test_subtract():
    assert _subtract([(1, 10), (20, 30)], 5, 25) == [(1, 4), (26, 30)]
    assert _subtract([(1, 10)], 1, 10) == []
    assert _subtract([(1, 10)], 11, 20) == [(1, 10)]
    assert _subtract([(1, 10)], 3, 3) == [(1, 2), (4, 10)]


def test_host_mapping_decides_the_segment():
    conf = {"interface_mappings": {"physnet2": "eth2"}, "tunnel_types": []}
    vlan1 = {"network_type": "vlan", "physical_network": "physnet1", "segmentation_id": 5}
    vlan2 = {"network_type": "vlan", "physical_network": "physnet2", "segmentation_id": 5}
    assert segment_unservable(conf, vlan1) and segment_unservable(conf, vlan2) is None
