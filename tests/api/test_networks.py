"""Networks: defaults, attributes, MTU, revisions, timestamps, updates, delete."""
from __future__ import annotations

import datetime as dt
import time

from tests.api.helpers import ISO_RE, expect, is_uuid, rand

NETWORK_KEYS = {
    "id", "name", "tenant_id", "project_id", "admin_state_up", "mtu", "status", "subnets",
    "shared", "port_security_enabled", "router:external", "provider:network_type",
    "provider:physical_network", "provider:segmentation_id", "is_default",
    "availability_zone_hints", "availability_zones", "ipv4_address_scope",
    "ipv6_address_scope", "description", "tags", "created_at", "updated_at",
    "revision_number", "dns_domain",
    "l2_adjacency",
}
NETWORK_KEYS |= {"qos_policy_id"}    # qos (neutrino.plugins.qos)
PROVIDER = {"provider:network_type", "provider:physical_network", "provider:segmentation_id"}


def test_network_defaults(api):
    name = rand("net")
    net = expect(api.member_a.post("networks", {"network": {"name": name}}), 201)["network"]
    assert set(net) == NETWORK_KEYS - PROVIDER  # a member does not see provider:*
    assert is_uuid(net["id"])
    assert net["name"] == name
    assert net["project_id"] == net["tenant_id"] == api.project_a
    assert net["admin_state_up"] is True
    assert net["status"] == "ACTIVE"
    assert net["subnets"] == []
    assert net["shared"] is False
    assert net["router:external"] is False
    assert net["port_security_enabled"] is True
    assert net["mtu"] == 1450  # tenant networks are vxlan here
    assert net["is_default"] is False
    assert net["availability_zone_hints"] == []
    assert net["availability_zones"] == []
    assert net["ipv4_address_scope"] is None and net["ipv6_address_scope"] is None
    assert net["description"] == ""
    assert net["tags"] == []
    assert net["revision_number"] == 1
    assert api.member_a.show("networks", net["id"]) == net


def test_admin_sees_provider_attributes(api):
    net = api.member_a.network()
    seen = api.admin.show("networks", net["id"])
    assert set(seen) == NETWORK_KEYS
    assert seen["provider:network_type"] == "vxlan"
    assert seen["provider:physical_network"] is None
    assert 1000 <= seen["provider:segmentation_id"] <= 99999


def test_name_and_empty_body_defaults(api):
    net = expect(api.member_a.post("networks", {"network": {}}), 201)["network"]
    assert net["name"] == ""
    api.member_a.remove("networks", net["id"])


def test_project_id_and_tenant_id(api):
    # project-id extension: both keys, same value; admin may create for others.
    other = api.project()
    net = api.admin.network(project_id=other.project_id)
    assert net["project_id"] == net["tenant_id"] == other.project_id
    net2 = api.admin.network(tenant_id=other.project_id)
    assert net2["project_id"] == other.project_id
    assert {n["id"] for n in other.list("networks")} >= {net["id"], net2["id"]}
    listed = api.admin.list("networks", params={"project_id": other.project_id})
    assert {n["id"] for n in listed} == {net["id"], net2["id"]}
    listed = api.admin.list("networks", params={"tenant_id": other.project_id})
    assert {n["id"] for n in listed} == {net["id"], net2["id"]}
    expect(api.admin.post("networks", {"network": {"project_id": "a" * 32,
                                                   "tenant_id": "b" * 32}}), 400,
           "HTTPBadRequest")
    # A member cannot create in another project.
    expect(api.member_a.post("networks", {"network": {"project_id": api.project_b}}),
           400, "HTTPBadRequest",
           "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
           "in request requires admin privileges")


def test_mtu_by_network_type(make_api):
    api = make_api()
    vx = api.admin.network(**{"provider:network_type": "vxlan"})
    assert vx["mtu"] == 1450
    flat = api.admin.network(**{"provider:network_type": "flat",
                                "provider:physical_network": rand("phys")})
    assert flat["mtu"] == 1500
    vlan = api.admin.network(**{"provider:network_type": "vlan",
                                "provider:physical_network": "physnet1"})
    assert vlan["mtu"] == 1500
    local = api.admin.network(**{"provider:network_type": "local"})
    assert local["mtu"] == 1500
    # global_physnet_mtu drives both.
    jumbo = make_api({"DEFAULT": {"global_physnet_mtu": "9000"}})
    assert jumbo.admin.network(**{"provider:network_type": "vxlan"})["mtu"] == 8950
    assert jumbo.admin.network(**{"provider:network_type": "local"})["mtu"] == 9000


def test_mtu_writable(api):
    net = api.member_a.network(mtu=1400)
    assert net["mtu"] == 1400
    assert api.member_a.update("networks", net["id"], mtu=1300)["mtu"] == 1300
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {"mtu": 1451}}), 400,
           "InvalidInput", "Invalid input for operation: Requested MTU is too big, "
           "maximum is 1450.")
    expect(api.member_a.post("networks", {"network": {"mtu": 9000}}), 400, "InvalidInput",
           "Invalid input for operation: Requested MTU is too big, maximum is 1450.")
    expect(api.member_a.post("networks", {"network": {"mtu": "abc"}}), 400, "InvalidInput")
    assert api.member_a.show("networks", net["id"])["mtu"] == 1300


def test_revision_number_increments(api):
    net = api.member_a.network()
    assert net["revision_number"] == 1
    r2 = api.member_a.update("networks", net["id"], name=rand())
    assert r2["revision_number"] == 2
    r3 = api.member_a.update("networks", net["id"], description="d")
    assert r3["revision_number"] == 3
    # Adding a subnet changes what the network shows: its revision moves.
    api.member_a.subnet(net["id"])
    assert api.member_a.show("networks", net["id"])["revision_number"] == 4


def test_timestamps_format(api):
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
    net = api.member_a.network()
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for key in ("created_at", "updated_at"):
        assert ISO_RE.match(net[key]), net[key]
        when = dt.datetime.strptime(net[key], "%Y-%m-%dT%H:%M:%SZ")
        assert before - dt.timedelta(seconds=1) <= when <= after
    assert net["created_at"] == net["updated_at"]
    time.sleep(1.05)
    updated = api.member_a.update("networks", net["id"], name=rand())
    assert updated["created_at"] == net["created_at"]
    assert updated["updated_at"] > net["updated_at"]
    # timestamps filter (standard-attr-timestamp): exact match on created_at.
    listed = api.member_a.list("networks", params={"created_at": net["created_at"]})
    assert net["id"] in {n["id"] for n in listed}


def test_description_everywhere(api):
    net = api.member_a.network(description="net d")
    assert net["description"] == "net d"
    sub = api.member_a.subnet(net["id"], description="sub d")
    assert sub["description"] == "sub d"
    port = api.member_a.port(net["id"], description="port d")
    assert port["description"] == "port d"
    sg = api.member_a.create("security-groups", name=rand("sg"), description="sg d")
    assert sg["description"] == "sg d"
    rule = api.member_a.create("security-group-rules", security_group_id=sg["id"],
                               direction="ingress", description="rule d")
    assert rule["description"] == "rule d"
    assert api.member_a.update("ports", port["id"], description="x")["description"] == "x"
    expect(api.member_a.post("networks", {"network": {"description": "x" * 256}}), 400,
           "HTTPBadRequest")


def test_update_network_attributes(api):
    net = api.member_a.network()
    up = api.member_a.update("networks", net["id"], name="renamed", admin_state_up=False,
                             port_security_enabled=False)
    assert (up["name"], up["admin_state_up"], up["port_security_enabled"]) == (
        "renamed", False, False)
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {"id": net["id"]}}), 400,
           "HTTPBadRequest", "Cannot update read-only attribute id")
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {"status": "DOWN"}}), 400,
           "HTTPBadRequest", "Cannot update read-only attribute status")
    expect(api.member_a.put(f"networks/{net['id']}",
                            {"network": {"admin_state_up": "maybe"}}), 400, "InvalidInput",
           "Invalid input for operation: 'maybe' cannot be converted to boolean.")


def test_admin_cannot_change_segment(api):
    net = api.admin.network(**{"provider:network_type": "vxlan"})
    expect(api.admin.put(f"networks/{net['id']}",
                         {"network": {"provider:segmentation_id": 1}}), 400, "InvalidInput")
    # Same value: accepted, no change.
    same = api.admin.update("networks", net["id"], **{
        "provider:segmentation_id": net["provider:segmentation_id"]})
    assert same["provider:segmentation_id"] == net["provider:segmentation_id"]


def test_delete_network(api):
    net = api.member_a.network()
    api.member_a.subnet(net["id"])
    api.member_a.remove("networks", net["id"])  # subnets without ports go with it
    expect(api.member_a.get(f"networks/{net['id']}"), 404, "NetworkNotFound",
           f"Network {net['id']} could not be found.")
    expect(api.member_a.delete(f"networks/{net['id']}"), 404, "NetworkNotFound")


def test_delete_network_with_ports_409(api):
    net, sub = api.member_a.net_with_subnet()
    port = api.member_a.port(net["id"])
    expect(api.member_a.delete(f"networks/{net['id']}"), 409, "NetworkInUse",
           f"Unable to complete operation on network {net['id']}. There are one or more "
           f"ports still in use on the network, id for these ports is: {port['id']}.")
    api.member_a.remove("ports", port["id"])
    api.member_a.remove("networks", net["id"])


def test_delete_network_removes_dhcp_ports(api):
    net, sub = api.admin.net_with_subnet()
    dhcp = api.admin.port(net["id"], device_owner="network:dhcp")
    api.admin.remove("networks", net["id"])
    expect(api.admin.get(f"ports/{dhcp['id']}"), 404, "PortNotFound")
    expect(api.admin.get(f"subnets/{sub['id']}"), 404, "SubnetNotFound")


def test_network_subnets_listed(api):
    net = api.member_a.network()
    s1 = api.member_a.subnet(net["id"], "10.1.0.0/24")
    s2 = api.member_a.subnet(net["id"], "10.2.0.0/24")
    shown = api.member_a.show("networks", net["id"])
    assert sorted(shown["subnets"]) == sorted([s1["id"], s2["id"]])
    listed = api.member_a.list("networks", params={"subnets": s2["id"]})
    assert [n["id"] for n in listed] == [net["id"]]
