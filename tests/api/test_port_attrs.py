"""The port attribute extensions (neutrino.plugins.port_attrs) through the
API: defaults, create/update, validation (400, nothing written), policy
(data_plane_status, resource_request), MAC regeneration, ip_allocation
and its filter, agents' resources_synced and quotas' check_limit."""
from __future__ import annotations

import re

from tests.api.helpers import expect

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def test_defaults_and_create(api):
    m = api.project()
    net = m.network()
    p = m.port(net["id"])
    assert {k: p[k] for k in ("numa_affinity_policy", "device_profile", "data_plane_status",
                              "propagate_uplink_status", "ip_allocation")} == {
        "numa_affinity_policy": None, "device_profile": None, "data_plane_status": None,
        "propagate_uplink_status": True, "ip_allocation": "immediate"}
    assert "resource_request" not in p            # admin only
    assert api.admin.show("ports", p["id"])["resource_request"] is None
    q = m.port(net["id"], numa_affinity_policy="socket", device_profile="dp1",
               propagate_uplink_status=False, fixed_ips=[])
    assert (q["numa_affinity_policy"], q["device_profile"], q["propagate_uplink_status"],
            q["ip_allocation"], q["fixed_ips"]) == ("socket", "dp1", False, "none", [])
    assert m.show("ports", q["id"]) == q
    for bad in ({"numa_affinity_policy": "sometimes"}, {"propagate_uplink_status": "maybe"},
                {"device_profile": "x" * 256}, {"data_plane_status": "ACTIVE"},
                {"ip_allocation": "none"}, {"resource_request": {}}):
        expect(m.post("ports", {"port": {"network_id": net["id"], **bad}}), 400)
    assert len(m.list("ports")) == 2
    ids = {x["id"] for x in m.list("ports", params={"ip_allocation": "none"})}
    assert ids == {q["id"]}
    ids = {x["id"] for x in m.list("ports", params={"ip_allocation": "immediate"})}
    assert ids == {p["id"]}


def test_updates_and_policy(api):
    m = api.project()
    p = m.port(m.network()["id"])
    up = m.update("ports", p["id"], numa_affinity_policy="required")
    assert up["numa_affinity_policy"] == "required" and up["revision_number"] > p[
        "revision_number"]
    assert m.update("ports", p["id"], numa_affinity_policy=None)["numa_affinity_policy"] is None
    expect(m.put(f"ports/{p['id']}", {"port": {"numa_affinity_policy": "bad"}}), 400)
    for ro in ({"device_profile": "x"}, {"propagate_uplink_status": False}):
        expect(m.put(f"ports/{p['id']}", {"port": ro}), 400)
    # data_plane_status: admins and data plane integrators only
    expect(m.put(f"ports/{p['id']}", {"port": {"data_plane_status": "DOWN"}}), 403)
    assert api.admin.update("ports", p["id"], data_plane_status="DOWN")[
        "data_plane_status"] == "DOWN"
    integrator = api.as_project(m, "member,data_plane_integrator")
    assert integrator.update("ports", p["id"], data_plane_status="ACTIVE")[
        "data_plane_status"] == "ACTIVE"
    expect(api.admin.put(f"ports/{p['id']}", {"port": {"data_plane_status": "UP"}}), 400)
    assert m.show("ports", p["id"])["data_plane_status"] == "ACTIVE"


def test_mac_regenerate(api):
    m = api.project()
    p = m.port(m.network()["id"])
    expect(m.put(f"ports/{p['id']}", {"port": {"mac_address": None}}), 403)   # admin only
    new = api.admin.update("ports", p["id"], mac_address=None)["mac_address"]
    assert MAC_RE.match(new) and new != p["mac_address"]
    assert m.show("ports", p["id"])["mac_address"] == new
    host = api.register_agent()
    api.admin.update("ports", p["id"], **{"binding:host_id": host})
    expect(api.admin.put(f"ports/{p['id']}", {"port": {"mac_address": None}}), 409)
    assert m.show("ports", p["id"])["mac_address"] == new


def test_agents_resources_synced(api):
    api.register_agent()
    agents = api.admin.list("agents")
    assert agents and all(a["resources_synced"] is None for a in agents)


def test_quota_check_limit(api):
    m = api.project()
    for _ in range(2):
        m.network()
    path = f"quotas/{m.project_id}"
    expect(api.admin.put(path, {"quota": {"network": 1, "check_limit": True}}), 400)
    expect(api.admin.put(path, {"quota": {"network": 1, "check_limit": True, "force": True}}),
           400)
    expect(api.admin.put(path, {"quota": {"network": 1, "check_limit": "nope"}}), 400)
    assert expect(api.admin.put(path, {"quota": {"network": 1, "check_limit": False,
                                                 "force": True}}), 200)["quota"]["network"] == 1
    assert expect(api.admin.put(path, {"quota": {"network": 5, "check_limit": True}}),
                  200)["quota"]["network"] == 5


def test_extensions_listed(api):
    aliases = {e["alias"] for e in expect(api.admin.get("extensions"), 200)["extensions"]}
    assert {"trunk", "trunk-details", "port-mac-address-regenerate", "port-mac-override",
            "port-numa-affinity-policy", "port-numa-affinity-policy-socket",
            "port-device-profile", "port-resource-request", "port-resource-request-groups",
            "data-plane-status", "uplink-status-propagation", "ip_allocation",
            "agent-resources-synced", "quota-check-limit", "binding-extended"} <= aliases


def test_resource_request_from_qos_minimum_rules(api):
    admin = api.admin
    policy = expect(admin.post("qos/policies", {"policy": {"name": "min", "shared": True}}),
                    201)["policy"]
    for direction, kbps in (("egress", 1000), ("ingress", 2000)):
        expect(admin.post(f"qos/policies/{policy['id']}/minimum_bandwidth_rules",
                          {"minimum_bandwidth_rule": {"direction": direction,
                                                      "min_kbps": kbps}}), 201)
    expect(admin.post(f"qos/policies/{policy['id']}/minimum_packet_rate_rules",
                      {"minimum_packet_rate_rule": {"direction": "any", "min_kpps": 500}}), 201)
    net = admin.network(**{"provider:network_type": "vlan",
                           "provider:physical_network": "physnet1"})
    port = admin.port(net["id"], qos_policy_id=policy["id"])
    request = admin.show("ports", port["id"])["resource_request"]
    assert request == port["resource_request"]
    groups = {tuple(g["required"]): g for g in request["request_groups"]}
    assert groups[("CUSTOM_PHYSNET_PHYSNET1", "CUSTOM_VNIC_TYPE_NORMAL")]["resources"] == {
        "NET_BW_EGR_KILOBIT_PER_SEC": 1000, "NET_BW_IGR_KILOBIT_PER_SEC": 2000}
    assert groups[("CUSTOM_VNIC_TYPE_NORMAL",)]["resources"] == {
        "NET_PACKET_RATE_KILOPACKET_PER_SEC": 500}
    assert sorted(request["same_subtree"]) == sorted(g["id"] for g in groups.values())
    assert admin.update("ports", port["id"], qos_policy_id=None)["resource_request"] is None
    # the network's policy counts for the ports that have none of their own
    admin.update("networks", net["id"], qos_policy_id=policy["id"])
    other = admin.port(net["id"])
    assert admin.show("ports", other["id"])["resource_request"]["request_groups"]


def test_binding_extended(api):
    admin, m = api.admin, api.project()
    h1, h2 = api.register_agent(), api.register_agent()
    p = m.port(m.network()["id"])
    path = f"ports/{p['id']}/bindings"
    assert expect(admin.get(path), 200) == {"bindings": []}
    expect(m.get(path), 403)                                   # admin only
    expect(admin.get("ports/00000000-0000-4000-8000-000000000000/bindings"), 404,
           "PortNotFound")
    # an unbound port: the first binding is its active one
    b1 = expect(admin.post(path, {"binding": {"host": h1}}), 201)["binding"]
    assert (b1["host"], b1["status"], b1["vif_type"], b1["vnic_type"]) == (
        h1, "ACTIVE", "bridge", "normal")
    assert admin.show("ports", p["id"])["binding:host_id"] == h1
    expect(admin.post(path, {"binding": {"host": h1}}), 409, "PortBindingAlreadyExists")
    b2 = expect(admin.post(path, {"binding": {"host": h2, "profile": {"a": 1}}}),
                201)["binding"]
    assert (b2["status"], b2["vif_type"], b2["profile"]) == ("INACTIVE", "bridge", {"a": 1})
    assert admin.show("ports", p["id"])["binding:host_id"] == h1
    listed = expect(admin.get(path), 200)["bindings"]
    assert [(b["host"], b["status"]) for b in listed] == [(h1, "ACTIVE"), (h2, "INACTIVE")]
    assert [b["host"] for b in expect(admin.get(path, params={"status": "INACTIVE"}),
                                      200)["bindings"]] == [h2]
    assert expect(admin.get(f"{path}/{h2}"), 200)["binding"] == b2
    for bad in ({"binding": {}}, {"binding": {"host": h2, "vnic_type": "x"}}, {"nope": 1},
                {"binding": {"host": "h", "vif_type": "ovs"}}):
        expect(admin.post(path, bad), 400)
    # live migration: activate the target host's binding
    expect(admin.put(f"{path}/{h1}/activate"), 409, "PortBindingAlreadyActive")
    expect(admin.put(f"{path}/nohost/activate"), 404, "PortBindingNotFound")
    expect(m.put(f"{path}/{h2}/activate"), 403)
    act = expect(admin.put(f"{path}/{h2}/activate"), 200)["binding"]
    assert (act["host"], act["status"], act["profile"]) == (h2, "ACTIVE", {"a": 1})
    port = admin.show("ports", p["id"])
    assert (port["binding:host_id"], port["status"]) == (h2, "DOWN")
    assert expect(admin.get(f"{path}/{h1}"), 200)["binding"]["status"] == "INACTIVE"
    expect(admin.delete(f"{path}/{h1}"), 204)
    expect(admin.delete(f"{path}/{h1}"), 404, "PortBindingNotFound")
    assert [b["host"] for b in expect(admin.get(path), 200)["bindings"]] == [h2]


def test_ip_allocation_deferred_on_routed_networks(api):
    from tests.api.test_segments import routed_network
    net, _, _, _, s2 = routed_network(api)
    host2 = api.register_agent(interface_mappings={"physnet2": "eth2"})
    bound = api.admin.port(net["id"], **{"binding:host_id": host2})
    assert bound["ip_allocation"] == "immediate"
    p = api.admin.port(net["id"])
    assert (p["fixed_ips"], p["ip_allocation"]) == ([], "deferred")
    assert api.admin.show("ports", p["id"])["ip_allocation"] == "deferred"
    ids = {x["id"] for x in api.admin.list("ports", params={"ip_allocation": "deferred",
                                                            "network_id": net["id"]})}
    assert ids == {p["id"]}
    up = api.admin.update("ports", p["id"], **{"binding:host_id": host2})
    assert [f["subnet_id"] for f in up["fixed_ips"]] == [s2["id"]]
    assert up["ip_allocation"] == "immediate"
    assert api.admin.show("ports", p["id"])["ip_allocation"] == "immediate"
