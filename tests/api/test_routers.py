"""Routers, as far as the extension list goes: router (CRUD, interfaces),
ext-gw-mode (enable_snat), extraroute (routes) and l3_agent_scheduler.
The L3 owner's own tests go deeper; these keep every listed alias exercised."""
from __future__ import annotations

from tests.api.helpers import expect, rand


def external_net(api, cidr):
    net = api.admin.network(**{"router:external": True})
    sub = api.admin.subnet(net["id"], cidr)
    return net, sub


def test_router_crud_and_interfaces(api):
    member = api.project()
    net, sub = member.net_with_subnet("10.150.0.0/24")
    router = member.create("routers", name=rand("r"))
    assert router["project_id"] == member.project_id
    assert router["admin_state_up"] is True
    assert router["external_gateway_info"] is None
    assert router["routes"] == []
    body = expect(member.put(f"routers/{router['id']}/add_router_interface",
                             {"subnet_id": sub["id"]}), 200)
    assert body["id"] == router["id"] and body["subnet_id"] == sub["id"]
    port = member.show("ports", body["port_id"])
    assert port["device_owner"] == "network:router_interface"
    assert port["device_id"] == router["id"]
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.150.0.1"}]
    # The interface keeps the subnet and the router busy.
    expect(member.delete(f"subnets/{sub['id']}"), 409)
    expect(member.delete(f"routers/{router['id']}"), 409)
    assert expect(member.put(f"routers/{router['id']}/remove_router_interface",
                             {"subnet_id": sub["id"]}), 200)["port_id"] == body["port_id"]
    expect(member.get(f"ports/{body['port_id']}"), 404, "PortNotFound")
    up = member.update("routers", router["id"], name="renamed")
    assert up["name"] == "renamed"
    member.remove("routers", router["id"])
    expect(member.get(f"routers/{router['id']}"), 404, "RouterNotFound")
    expect(api.member_b.get(f"routers/{up['id']}"), 404)


def test_router_gateway_enable_snat(api):
    ext, ext_sub = external_net(api, "172.30.0.0/24")
    member = api.project()
    router = member.create("routers", name=rand("r"),
                           external_gateway_info={"network_id": ext["id"]})
    info = router["external_gateway_info"]
    assert info["network_id"] == ext["id"]
    assert info["enable_snat"] is True
    assert info["external_fixed_ips"][0]["subnet_id"] == ext_sub["id"]
    # enable_snat is the admin's to change (ext-gw-mode).
    expect(member.put(f"routers/{router['id']}", {"router": {"external_gateway_info": {
        "network_id": ext["id"], "enable_snat": False}}}), 403, "PolicyNotAuthorized")
    up = api.admin.update("routers", router["id"], external_gateway_info={
        "network_id": ext["id"], "enable_snat": False})
    assert up["external_gateway_info"]["enable_snat"] is False
    # Clearing the gateway.
    cleared = member.update("routers", router["id"], external_gateway_info={})
    assert cleared["external_gateway_info"] is None


def test_router_extra_routes(api):
    member = api.project()
    net, sub = member.net_with_subnet("10.151.0.0/24")
    router = member.create("routers", name=rand("r"))
    expect(member.put(f"routers/{router['id']}/add_router_interface",
                       {"subnet_id": sub["id"]}), 200)
    routes = [{"destination": "192.168.77.0/24", "nexthop": "10.151.0.50"}]
    assert member.update("routers", router["id"], routes=routes)["routes"] == routes
    assert member.show("routers", router["id"])["routes"] == routes
    expect(member.put(f"routers/{router['id']}", {"router": {"routes": [
        {"destination": "192.168.78.0/24", "nexthop": "10.250.0.1"}]}}), 400, "InvalidRoutes")
    assert member.update("routers", router["id"], routes=[])["routes"] == []


def test_router_l3_agents(api):
    router = api.admin.create("routers", name=rand("r"))
    body = expect(api.admin.get(f"routers/{router['id']}/l3-agents"), 200)
    assert isinstance(body["agents"], list)
    expect(api.member_a.get(f"routers/{router['id']}/l3-agents"), 403, "PolicyNotAuthorized",
           "rule:get_l3-agents is disallowed by policy")
