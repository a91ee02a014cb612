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


def test_router_status_is_active_without_agents(api):
    """As upstream (l3_db creates routers ACTIVE; only HA routers pass
    through ALLOCATING): a router is ACTIVE whether or not an L3 agent
    hosts it yet. What the agent did shows on its ports and floating IPs."""
    router = api.project().create("routers", name=rand("r"))
    assert router["status"] == "ACTIVE"


def test_router_interface_checks(api):
    """Neutron's checks on add/remove_router_interface, with its statuses,
    types and messages (neutron/db/l3_db.py)."""
    m = api.project()
    net, sub = m.net_with_subnet("10.152.0.0/24")
    net2, sub2 = m.net_with_subnet("10.152.1.0/24")
    _, overlapping = m.net_with_subnet("10.152.0.0/16")
    router = m.create("routers", name=rand("r"))
    rid = router["id"]
    add, rem = f"routers/{rid}/add_router_interface", f"routers/{rid}/remove_router_interface"

    expect(m.put(add, {}), 400, "BadRequest",
           "Bad router request: Either subnet_id or port_id must be specified.")
    expect(m.put(add, {"subnet_id": "nope"}), 400, "BadRequest",
           "Bad router request: 'nope' is not a valid UUID.")
    expect(m.put(add, {"subnet_id": sub["id"], "port_id": sub["id"]}), 400, "BadRequest",
           "Bad router request: Cannot specify both subnet-id and port-id.")
    by_subnet = expect(m.put(add, {"subnet_id": sub["id"]}), 200)
    expect(m.put(add, {"subnet_id": sub["id"]}), 400, "BadRequest",
           f"Bad router request: Router already has a port on subnet {sub['id']}.")
    expect(m.put(add, {"subnet_id": overlapping["id"]}), 400, "BadRequest",
           f"Bad router request: Cidr 10.152.0.0/16 of subnet {overlapping['id']} overlaps "
           f"with cidr 10.152.0.0/24 of subnet {sub['id']}.")

    # by port: the port keeps its own address and becomes the router's
    port = m.port(net2["id"], fixed_ips=[{"subnet_id": sub2["id"], "ip_address": "10.152.1.9"}])
    by_port = expect(m.put(add, {"port_id": port["id"]}), 200)
    assert by_port["port_id"] == port["id"] and by_port["subnet_ids"] == [sub2["id"]]
    shown = m.show("ports", port["id"])
    assert (shown["device_owner"], shown["device_id"]) == ("network:router_interface", rid)
    assert shown["fixed_ips"][0]["ip_address"] == "10.152.1.9"
    other = m.create("routers", name=rand("r"))
    expect(m.put(f"routers/{other['id']}/add_router_interface", {"port_id": port["id"]}),
           409, "PortInUse")
    bare = m.port(net2["id"], fixed_ips=[])
    expect(m.put(add, {"port_id": bare["id"]}), 400, "BadRequest",
           "Bad router request: Router port must have at least one fixed IP.")

    # what the interfaces keep busy (409) and what cannot be deleted directly
    expect(m.delete(f"routers/{rid}"), 409, "RouterInUse", f"Router {rid} still has ports")
    expect(m.delete(f"subnets/{sub['id']}"), 409, "SubnetInUse")
    expect(m.delete(f"networks/{net['id']}"), 409, "NetworkInUse")
    expect(m.delete(f"ports/{by_subnet['port_id']}"), 409, "L3PortInUse")

    # removal: unknown port or subnet (404), a subnet not on the port (400)
    expect(m.put(rem, {"port_id": bare["id"]}), 404, "RouterInterfaceNotFound",
           f"Router {rid} does not have an interface with id {bare['id']}")
    expect(m.put(rem, {"subnet_id": overlapping["id"]}), 404,
           "RouterInterfaceNotFoundForSubnet",
           f"Router {rid} has no interface on subnet {overlapping['id']}")
    expect(m.put(rem, {"port_id": port["id"], "subnet_id": sub["id"]}), 400,
           "SubnetMismatchForPort",
           f"Subnet on port {port['id']} does not match the requested subnet {sub['id']}.")
    assert expect(m.put(rem, {"port_id": port["id"], "subnet_id": sub2["id"]}),
                  200)["port_id"] == port["id"]
    expect(m.get(f"ports/{port['id']}"), 404)          # removal deletes the port, as upstream
    assert expect(m.put(rem, {"subnet_id": sub["id"]}), 200)["port_id"] == by_subnet["port_id"]
    expect(m.get(f"ports/{by_subnet['port_id']}"), 404)
    m.remove("routers", rid)


def test_router_gateway_checks(api):
    ext, _ = external_net(api, "172.31.0.0/24")
    m = api.project()
    internal = m.network()
    expect(m.post("routers", {"router": {"name": rand("r"), "external_gateway_info": {
        "network_id": internal["id"]}}}), 400, "BadRequest",
        f"Bad router request: Network {internal['id']} is not an external network.")
    router = m.create("routers", name=rand("r"), external_gateway_info={"network_id": ext["id"]})
    expect(m.put(f"routers/{router['id']}", {"router": {"external_gateway_info": {
        "network_id": internal["id"]}}}), 400, "BadRequest")
    assert m.show("routers", router["id"])["external_gateway_info"]["network_id"] == ext["id"]
    assert m.list("ports", {"device_id": router["id"]}) == []   # no project's, as upstream
    gw = api.admin.list("ports", {"device_id": router["id"]})
    assert [p["device_owner"] for p in gw] == ["network:router_gateway"]
    expect(api.admin.delete(f"ports/{gw[0]['id']}"), 409, "L3PortInUse")
    m.remove("routers", router["id"])                   # the gateway goes with the router
    expect(api.admin.get(f"ports/{gw[0]['id']}"), 404)


def test_subnet_gateway_held_by_a_router_cannot_move(api):
    member = api.project()
    net, sub = member.net_with_subnet(
        "10.151.0.0/24", allocation_pools=[{"start": "10.151.0.100", "end": "10.151.0.200"}])
    # No router yet: the gateway moves freely.
    assert member.update("subnets", sub["id"], gateway_ip="10.151.0.2")["gateway_ip"] == \
        "10.151.0.2"
    router = member.create("routers", name=rand("r"))
    intf = expect(member.put(f"routers/{router['id']}/add_router_interface",
                             {"subnet_id": sub["id"]}), 200)
    err = expect(member.put(f"subnets/{sub['id']}", {"subnet": {"gateway_ip": "10.151.0.3"}}),
                 409, "GatewayIpInUse")
    assert err["message"] == (
        f"Current gateway ip 10.151.0.2 already in use by port {intf['port_id']}. "
        "Unable to update.")
    expect(member.put(f"subnets/{sub['id']}", {"subnet": {"gateway_ip": None}}),
           409, "GatewayIpInUse")
    assert member.show("subnets", sub["id"])["gateway_ip"] == "10.151.0.2"
    # Setting it to the same address is no change, and allowed.
    assert member.update("subnets", sub["id"], gateway_ip="10.151.0.2")["gateway_ip"] == \
        "10.151.0.2"
    expect(member.put(f"routers/{router['id']}/remove_router_interface",
                      {"subnet_id": sub["id"]}), 200)
    assert member.update("subnets", sub["id"], gateway_ip="10.151.0.3")["gateway_ip"] == \
        "10.151.0.3"
