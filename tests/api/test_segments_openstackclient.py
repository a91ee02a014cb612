"""The real openstack CLI on segments, routed networks, segment ranges and
service providers against a `neutrino-server` subprocess (see
test_openstackclient.py for how OSC reaches a noauth server)."""
from __future__ import annotations

import pytest

from tests.api.test_openstackclient import OPENSTACK, Osc

pytestmark = pytest.mark.missing(not OPENSTACK.exists(),
                                reason=f"python-openstackclient not installed ({OPENSTACK})")


@pytest.fixture(scope="module")
def osc(server_factory, tmp_path_factory):
    server = server_factory({
        "ml2": {"tenant_network_types": "vxlan", "type_drivers": "flat,vlan,vxlan"},
        "ml2_type_vxlan": {"vni_ranges": "1000:1999"},
        "ml2_type_vlan": {"network_vlan_ranges": "physnet1:100:199,physnet2:100:199"},
        "DEFAULT": {"api_workers": "1"}})
    return Osc(server.url, str(tmp_path_factory.mktemp("osc-home")))


def test_routed_network_with_the_cli(osc):
    net = osc.json("network", "create", "--provider-network-type", "vlan",
                   "--provider-physical-network", "physnet1", "--provider-segment", "150",
                   "routed")
    segs = osc.json("network", "segment", "list", "--network", "routed")
    assert [(s["Network Type"], s["Segment"]) for s in segs] == [("vlan", 150)]
    seg2 = osc.json("network", "segment", "create", "--network", "routed",
                    "--network-type", "vlan", "--physical-network", "physnet2",
                    "--segment", "151", "rack2")
    assert (seg2["name"], seg2["segmentation_id"]) == ("rack2", 151)
    shown = osc.json("network", "show", "routed")
    assert shown["id"] == net["id"] and len(shown["segments"]) == 2
    sub = osc.json("subnet", "create", "--network", "routed", "--network-segment", "rack2",
                   "--subnet-range", "10.5.0.0/24", "rack2-v4")
    assert sub["segment_id"] == seg2["id"]
    osc.run("network", "segment", "set", "--name", "rack-2", "rack2")
    assert osc.json("network", "segment", "show", seg2["id"])["name"] == "rack-2"
    proc = osc.run("network", "segment", "delete", seg2["id"], check=False)
    assert proc.returncode != 0 and "cannot be deleted" in proc.stderr, proc.stderr


def test_segment_ranges_and_providers_with_the_cli(osc):
    rng = osc.json("network", "segment", "range", "create", "--network-type", "vxlan",
                   "--minimum", "5000", "--maximum", "5009", "--shared", "ten")
    assert (rng["minimum"], rng["maximum"], rng["shared"]) == (5000, 5009, True)
    names = {r["Name"] for r in osc.json("network", "segment", "range", "list")}
    assert "ten" in names
    osc.run("network", "segment", "range", "set", "--minimum", "5000", "--maximum", "5019",
            "ten")
    assert osc.json("network", "segment", "range", "show", "ten")["maximum"] == 5019
    osc.run("network", "segment", "range", "delete", "ten")
    providers = osc.json("network", "service", "provider", "list")
    assert {p["Service Type"] for p in providers} >= {"L3_ROUTER_NAT", "FIREWALL_V2"}


def test_get_me_a_network_with_the_cli(osc):
    osc.run("network", "create", "--external", "--provider-network-type", "flat",
            "--provider-physical-network", "physnet1", "public")
    osc.run("subnet", "create", "--network", "public", "--subnet-range", "198.51.100.0/24",
            "public-v4")
    osc.run("network", "set", "--default", "public")
    assert osc.json("network", "show", "public")["is_default"] is True
    osc.run("subnet", "pool", "create", "--default", "--share", "--pool-prefix",
            "10.200.0.0/16", "--default-prefix-length", "26", "default-v4")
    project = ["--project", "0" * 32]      # noauth: OSC has no project of its own
    topo = osc.json("network", "auto", "allocated", "topology", "create", *project)
    net = osc.json("network", "show", topo["id"])
    assert net["name"] == "auto_allocated_network"
    assert osc.json("network", "auto", "allocated", "topology", "create",
                    *project)["id"] == topo["id"]
    osc.run("network", "auto", "allocated", "topology", "delete", *project)
    assert osc.run("network", "show", topo["id"], check=False).returncode != 0
