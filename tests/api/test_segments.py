"""Segments (/v2.0/segments), multi-provider networks, subnets on segments
(routed provider networks: segment-aware IPAM, deferred allocation,
l2_adjacency), subnet service types and the service providers list."""
from __future__ import annotations

import pytest

from tests.api.helpers import UUID_RE, expect, next_vlan, rand

PT, PP, PS = "provider:network_type", "provider:physical_network", "provider:segmentation_id"


def vlan_net(api, physnet="physnet1", **attrs) -> dict:
    return api.admin.network(**{PT: "vlan", PP: physnet, PS: next_vlan()}, **attrs)


def add_segment(api, net_id, physnet="physnet2", **attrs) -> dict:
    body = {"network_id": net_id, "network_type": "vlan", "physical_network": physnet,
            "segmentation_id": next_vlan(), **attrs}
    return expect(api.admin.post("segments", {"segment": body}), 201)["segment"]


def test_segment_crud_and_network_views(api):
    net = vlan_net(api)
    segs = api.admin.list("segments", {"network_id": net["id"]})
    assert len(segs) == 1
    first = segs[0]
    assert {k: first[k] for k in ("network_id", "network_type", "physical_network",
                                  "segmentation_id", "name", "description")} == {
        "network_id": net["id"], "network_type": "vlan", "physical_network": "physnet1",
        "segmentation_id": net[PS], "name": None, "description": ""}
    assert first["created_at"] and first["revision_number"] >= 0
    second = add_segment(api, net["id"], name="rack2", description="second rack")
    assert UUID_RE.fullmatch(second["id"])
    assert (second["name"], second["description"], second["physical_network"]) == (
        "rack2", "second rack", "physnet2")
    # several segments: `segments` instead of provider:*
    shown = api.admin.show("networks", net["id"])
    assert PT not in shown and PS not in shown
    assert shown["segments"] == [
        {PT: "vlan", PP: "physnet1", PS: net[PS]},
        {PT: "vlan", PP: "physnet2", PS: second["segmentation_id"]}]
    assert shown["revision_number"] > net["revision_number"]
    up = api.admin.update("segments", second["id"], name="rack-2", description="")
    assert (up["name"], up["description"]) == ("rack-2", "")
    assert up["revision_number"] > second["revision_number"]
    expect(api.admin.put(f"segments/{second['id']}", {"segment": {"segmentation_id": 5}}),
           400)
    # the same VLAN on the same physnet is taken
    expect(api.admin.post("segments", {"segment": {
        "network_id": net["id"], "network_type": "vlan", "physical_network": "physnet2",
        "segmentation_id": second["segmentation_id"]}}), 409, "VlanIdInUse")
    api.admin.remove("segments", second["id"])
    expect(api.admin.get(f"segments/{second['id']}"), 404, "SegmentNotFound",
           f"Segment {second['id']} could not be found.")
    shown = api.admin.show("networks", net["id"])
    assert (shown[PT], shown[PS]) == ("vlan", net[PS]) and "segments" not in shown
    # the network's segments go with it
    api.admin.remove("networks", net["id"])
    assert api.admin.list("segments", {"network_id": net["id"]}) == []


def test_segments_are_admin_only(api):
    net = vlan_net(api)
    seg = api.admin.list("segments", {"network_id": net["id"]})[0]
    m = api.member_a
    assert m.list("segments") == []
    expect(m.get(f"segments/{seg['id']}"), 404)
    expect(m.post("segments", {"segment": {"network_id": net["id"], "network_type": "vlan",
                                           "physical_network": "physnet2"}}), 403)
    expect(m.delete(f"segments/{seg['id']}"), 404)
    assert api.admin.show("segments", seg["id"])["id"] == seg["id"]


def test_segment_bad_input(api):
    net = vlan_net(api)
    base = {"network_id": net["id"], "network_type": "vlan", "physical_network": "physnet2"}
    expect(api.admin.post("segments", {"segment": {**base, "network_type": "gre"}}), 400)
    expect(api.admin.post("segments", {"segment": {**base, "physical_network": "nope",
                                                   "segmentation_id": 5}}), 400)
    expect(api.admin.post("segments", {"segment": {**base, "segmentation_id": 5000}}), 400)
    expect(api.admin.post("segments", {"segment": {**base, "network_id": rand("x")}}), 400)
    missing = "6e1b27c5-0d76-4c1c-9c1d-000000000000"
    expect(api.admin.post("segments", {"segment": {**base, "network_id": missing,
                                                   "segmentation_id": 5}}), 404,
           "NetworkNotFound")
    assert len(api.admin.list("segments", {"network_id": net["id"]})) == 1


def test_multi_provider_create(api):
    a, b = next_vlan(), next_vlan()
    net = api.admin.network(segments=[{PT: "vlan", PP: "physnet1", PS: a},
                                      {PT: "vlan", PP: "physnet2", PS: b}])
    assert net["segments"] == [{PT: "vlan", PP: "physnet1", PS: a},
                               {PT: "vlan", PP: "physnet2", PS: b}]
    assert PT not in net
    assert net["l2_adjacency"] is True
    # members see neither the segments nor provider:*
    shared = api.admin.network(shared=True, segments=[
        {PT: "vlan", PP: "physnet1", PS: next_vlan()}, {PT: "vxlan"}])
    seen = api.member_a.show("networks", shared["id"])
    assert "segments" not in seen and PT not in seen
    assert shared["segments"][1][PT] == "vxlan" and shared["segments"][1][PS] is not None
    # both ways at once, duplicates, members: refused, nothing written
    before = len(api.admin.list("networks"))
    expect(api.admin.post("networks", {"network": {
        "segments": [{PT: "vlan", PP: "physnet1", PS: a}], PT: "vxlan"}}), 400)
    expect(api.admin.post("networks", {"network": {
        "segments": [{PT: "vlan", PP: "physnet2", PS: 77}, {PT: "vlan", PP: "physnet2",
                                                          PS: 77}]}}), 400)
    expect(api.admin.post("networks", {"network": {"segments": [{PT: "vlan", PP: "physnet1",
                                                                 PS: a}]}}), 409,
           "VlanIdInUse")
    expect(api.member_a.post("networks", {"network": {"segments": [{PT: "vxlan"}]}}), 403)
    assert len(api.admin.list("networks")) == before


def routed_network(api):
    """A network with a segment on physnet1 and one on physnet2, a subnet on each."""
    net = vlan_net(api)
    seg1 = api.admin.list("segments", {"network_id": net["id"]})[0]
    seg2 = add_segment(api, net["id"])
    s1 = api.admin.subnet(net["id"], "10.1.0.0/24", segment_id=seg1["id"])
    s2 = api.admin.subnet(net["id"], "10.2.0.0/24", segment_id=seg2["id"])
    return net, seg1, seg2, s1, s2


def test_subnets_on_segments(api):
    net, seg1, seg2, s1, s2 = routed_network(api)
    assert (s1["segment_id"], s2["segment_id"]) == (seg1["id"], seg2["id"])
    assert api.admin.show("networks", net["id"])["l2_adjacency"] is False
    assert [s["id"] for s in api.admin.list("subnets", {"segment_id": seg2["id"]})] == [s2["id"]]
    # all on segments or none
    expect(api.admin.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                                 "cidr": "10.3.0.0/24"}}), 400,
           "SubnetsNotAllAssociatedWithSegments")
    other = vlan_net(api)
    expect(api.admin.post("subnets", {"subnet": {"network_id": other["id"], "ip_version": 4,
                                                 "cidr": "10.3.0.0/24",
                                                 "segment_id": seg1["id"]}}), 400,
           "NetworkIdsDontMatch")
    # a segment with subnets stays; moving a subnet off its segment is refused
    expect(api.admin.delete(f"segments/{seg2['id']}"), 409, "SegmentInUse")
    expect(api.admin.put(f"subnets/{s2['id']}", {"subnet": {"segment_id": seg1["id"]}}), 400,
           "SubnetSegmentAssociationChangeNotAllowed")
    api.admin.remove("subnets", s2["id"])
    api.admin.remove("segments", seg2["id"])


def test_peer_subnet_host_routes(api):
    net, seg1, seg2, s1, s2 = routed_network(api)
    assert s1["host_routes"] == [] and s2["host_routes"] == [
        {"destination": "10.1.0.0/24", "nexthop": "10.2.0.1"}]
    first = api.admin.show("subnets", s1["id"])
    assert first["host_routes"] == [{"destination": "10.2.0.0/24", "nexthop": "10.1.0.1"}]
    assert first["revision_number"] > s1["revision_number"]
    # another subnet on segment 1: routes to segment 2 only
    s3 = api.admin.subnet(net["id"], "10.3.0.0/24", segment_id=seg1["id"])
    assert s3["host_routes"] == [{"destination": "10.2.0.0/24", "nexthop": "10.3.0.1"}]
    assert sorted(r["destination"] for r in api.admin.show("subnets", s2["id"])[
        "host_routes"]) == ["10.1.0.0/24", "10.3.0.0/24"]
    api.admin.remove("subnets", s2["id"])
    assert api.admin.show("subnets", s1["id"])["host_routes"] == []
    assert api.admin.show("subnets", s3["id"])["host_routes"] == []


def test_subnet_segment_id_writable(api):
    net, sub = api.admin.net_with_subnet("10.9.0.0/24", net=vlan_net(api))
    assert sub["segment_id"] is None
    seg = api.admin.list("segments", {"network_id": net["id"]})[0]
    up = api.admin.update("subnets", sub["id"], segment_id=seg["id"])
    assert up["segment_id"] == seg["id"]
    assert up["revision_number"] > sub["revision_number"]
    net2 = vlan_net(api)
    api.admin.subnet(net2["id"], "10.8.0.0/24")
    sub2 = api.admin.subnet(net2["id"], "10.7.0.0/24")
    seg2 = api.admin.list("segments", {"network_id": net2["id"]})[0]
    expect(api.admin.put(f"subnets/{sub2['id']}", {"subnet": {"segment_id": seg2["id"]}}),
           400, "SubnetsNotAllAssociatedWithSegments")
    # only admins see it (a member may set it, as upstream, which does not enforce
    # update_subnet:segment_id; the segment must be its network's)
    m_net, m_sub = api.member_a.net_with_subnet("10.6.0.0/24")
    assert "segment_id" not in m_sub and "service_types" in m_sub
    expect(api.member_a.put(f"subnets/{m_sub['id']}", {"subnet": {"segment_id": seg["id"]}}),
           400, "NetworkIdsDontMatch")


def test_routed_network_ports_take_their_hosts_segment(api):
    net, seg1, seg2, s1, s2 = routed_network(api)
    host1 = api.register_agent(interface_mappings={"physnet1": "eth1"})
    host2 = api.register_agent(interface_mappings={"physnet2": "eth2"})
    p1 = api.admin.port(net["id"], **{"binding:host_id": host1})
    p2 = api.admin.port(net["id"], **{"binding:host_id": host2})
    assert [f["subnet_id"] for f in p1["fixed_ips"]] == [s1["id"]]
    assert [f["subnet_id"] for f in p2["fixed_ips"]] == [s2["id"]]
    assert p2["binding:vif_type"] == "bridge"
    # unbound: no address until bound, then its host's segment's
    p3 = api.admin.port(net["id"])
    assert p3["fixed_ips"] == []
    bound = api.admin.update("ports", p3["id"], **{"binding:host_id": host2})
    assert [f["subnet_id"] for f in bound["fixed_ips"]] == [s2["id"]]
    # a port with an address on segment 2 cannot move to a host of segment 1
    expect(api.admin.put(f"ports/{p2['id']}", {"port": {"binding:host_id": host1}}), 409,
           "HostNotCompatibleWithFixedIps")
    host2b = api.register_agent(interface_mappings={"physnet2": "eth9"})
    assert api.admin.update("ports", p2["id"], **{"binding:host_id": host2b})[
        "binding:vif_type"] == "bridge"
    # a host on neither segment; addresses from two segments
    lost = api.register_agent(interface_mappings={"physnet3": "eth3"})
    expect(api.admin.post("ports", {"port": {"network_id": net["id"],
                                             "binding:host_id": lost}}), 409,
           "HostNotConnectedToAnySegment")
    expect(api.admin.post("ports", {"port": {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": s1["id"]}, {"subnet_id": s2["id"]}]}}), 400,
        "FixedIpsSubnetsNotOnSameSegment")


def test_agent_gets_the_segment_of_its_host(api):
    from neutrino.rpc.server_handlers import host_state
    net, seg1, seg2, s1, s2 = routed_network(api)
    host2 = api.register_agent(interface_mappings={"physnet2": "eth2"})
    api.admin.port(net["id"], **{"binding:host_id": host2})
    state = api.core.db.read(lambda conn: host_state(conn, host2))
    mine = [n for n in state["networks"] if n["id"] == net["id"]]
    assert [(n["physical_network"], n["segmentation_id"]) for n in mine] == [
        ("physnet2", seg2["segmentation_id"])]


def test_subnet_service_types(api):
    net = api.admin.network()
    plain = api.admin.subnet(net["id"], "10.20.0.0/24")
    gw = api.admin.subnet(net["id"], "10.21.0.0/24", service_types=["network:router_gateway"])
    assert (plain["service_types"], gw["service_types"]) == ([], ["network:router_gateway"])
    vm = api.admin.port(net["id"], device_owner="compute:nova")
    assert [f["subnet_id"] for f in vm["fixed_ips"]] == [plain["id"]]
    # asking for the gateway subnet as a VM: not one of its subnets
    expect(api.admin.post("ports", {"port": {"network_id": net["id"],
                                             "device_owner": "compute:nova",
                                             "fixed_ips": [{"subnet_id": gw["id"]}]}}), 400)
    up = api.admin.update("subnets", plain["id"], service_types=["compute:nova"])
    assert up["service_types"] == ["compute:nova"]
    expect(api.admin.post("ports", {"port": {"network_id": net["id"],
                                             "device_owner": "network:foo"}}), 400,
           "IpAddressGenerationFailureNoMatchingSubnet")
    expect(api.admin.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                                 "cidr": "10.22.0.0/24",
                                                 "service_types": ["bogus"]}}), 400)
    # members set them on their subnets (upstream does not enforce its rules for them)
    mine = api.member_a.subnet(api.member_a.network()["id"], "10.0.0.0/24",
                               service_types=["test:type_1"])
    assert mine["service_types"] == ["test:type_1"]


def test_subnet_router_external_filter(api):
    ext = api.admin.network(**{"router:external": True})
    es = api.admin.subnet(ext["id"], "192.0.2.0/24")
    _, ps = api.admin.net_with_subnet("10.30.0.0/24")
    ids = {s["id"] for s in api.admin.list("subnets", {"router:external": "true"})}
    assert es["id"] in ids and ps["id"] not in ids
    ids = {s["id"] for s in api.admin.list("subnets", {"router:external": "false"})}
    assert ps["id"] in ids and es["id"] not in ids


def test_service_providers(api):
    body = expect(api.member_a.get("service-providers"), 200)
    types = {p["service_type"] for p in body["service_providers"]}
    assert {"L3_ROUTER_NAT", "FIREWALL_V2", "LOADBALANCERV2"} <= types
    assert all(set(p) == {"service_type", "name", "default"} for p in body["service_providers"])
    only = api.member_a.list("service-providers", {"service_type": "FIREWALL_V2"})
    assert [p["service_type"] for p in only] == ["FIREWALL_V2"]
    assert api.member_a.list("service-providers", {"fields": "name"})[0].keys() == {"name"}
    expect(api.member_a.post("service-providers", {"service_provider": {}}), 405)
    paged = api.member_a.list("service-providers", {"limit": "1", "marker": "x"})
    assert len(paged) == len(body["service_providers"])     # one page: no ids to page by


@pytest.mark.parametrize("alias", ["segment", "standard-attr-segment", "multi-provider",
                                   "network-segment-range", "subnet-segmentid-writable",
                                   "l2_adjacency", "service-type",
                                   "segments-peer-subnet-host-routes", "subnet-service-types",
                                   "subnet-external-network"])
def test_extensions_listed(api, alias):
    expect(api.member_a.get(f"extensions/{alias}"), 200)


def test_routed_network_update_and_delete(api):
    net, seg1, seg2, s1, s2 = routed_network(api)
    up = api.admin.update("networks", net["id"], name="renamed")
    assert up["name"] == "renamed" and len(up["segments"]) == 2
    expect(api.admin.put(f"networks/{net['id']}", {"network": {
        "provider:segmentation_id": 5}}), 400)
    api.admin.remove("networks", net["id"])
    assert api.admin.list("segments", {"network_id": net["id"]}) == []
    assert api.admin.list("subnets", {"network_id": net["id"]}) == []


def test_dhcp_port_serves_its_hosts_segment(api):
    from neutrino.plugins.ports import PortPlugin
    from neutrino.rpc.dhcp_handlers import DhcpRpc
    net, seg1, seg2, s1, s2 = routed_network(api)
    dhcp = DhcpRpc(api.core, PortPlugin(api.core))
    host2 = api.register_agent(interface_mappings={"physnet2": "eth2"})
    port = dhcp.ensure_dhcp_port(host2, net["id"])
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [s2["id"]]
    assert port["binding:vif_type"] == "bridge"
    assert dhcp.ensure_dhcp_port(host2, net["id"])["id"] == port["id"]      # stable
    # a host on none of its segments serves none of its subnets
    lost = api.register_agent(interface_mappings={"physnet3": "eth3"})
    assert dhcp.ensure_dhcp_port(lost, net["id"]) is None
