"""Attribute policies of routers, subnets and floating IPs as upstream
(neutron/conf/policies/{router,subnet,floatingip}.py, 2024.2), with the
403 naming the rules the way neutron.policy builds them."""
from __future__ import annotations

from tests.api.helpers import expect


def test_member_gateway_rules_nest_sub_attributes(api):
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    before = {r["id"] for r in api.member_a.list("routers")}
    expect(api.member_a.post("routers", {"router": {"name": "r", "external_gateway_info": {
        "network_id": ext["id"], "enable_snat": False}}}), 403, "PolicyNotAuthorized",
        "(rule:create_router and (rule:create_router:external_gateway_info and "
        "(rule:create_router:external_gateway_info:network_id and "
        "rule:create_router:external_gateway_info:enable_snat))) is disallowed by policy")
    assert {r["id"] for r in api.member_a.list("routers")} == before
    router = api.member_a.create("routers", name="r",
                                 external_gateway_info={"network_id": ext["id"]})
    expect(api.member_a.put(f"routers/{router['id']}", {"router": {"external_gateway_info": {
        "network_id": ext["id"], "external_fixed_ips": [{"ip_address": "198.51.100.77"}]}}}),
        403, "PolicyNotAuthorized",
        "(rule:update_router and (rule:update_router:external_gateway_info and "
        "(rule:update_router:external_gateway_info:network_id and "
        "rule:update_router:external_gateway_info:external_fixed_ips))) "
        "is disallowed by policy")
    after = api.member_a.show("routers", router["id"])
    assert after["external_gateway_info"] == router["external_gateway_info"]


def test_subnet_service_types_not_enforced(api):
    # upstream registers create_subnet:service_types (admin) but never checks
    # it: neutron-lib's subnet-service-types attribute is not enforce_policy
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "10.250.0.0/24", service_types=["compute:nova"])
    assert sub["service_types"] == ["compute:nova"]


def test_floating_ip_address_for_admins_and_managers(api):
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    expect(api.member_a.post("floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "floating_ip_address": "198.51.100.50"}}), 403,
        "PolicyNotAuthorized",
        "(rule:create_floatingip and rule:create_floatingip:floating_ip_address) is "
        "disallowed by policy")
    manager = api.as_project(api.member_a, "manager")
    fip = manager.create("floatingips", floating_network_id=ext["id"],
                         floating_ip_address="198.51.100.50")
    assert fip["floating_ip_address"] == "198.51.100.50"
    assert fip["project_id"] == api.project_a
