"""Router interface and gateway checks as upstream l3_db: an interface may not
take another project's subnet gateway, the router's own gateway address or
an address on its external network; a gateway may not overlap the router's
interfaces nor take the external subnet's gateway address. Every refusal is
a 400 that leaves ports and router as they were."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect


def bad(msg: str) -> str:
    return f"Bad router request: {msg}."


@pytest.fixture
def external(api):
    net = api.admin.network(**{"router:external": True})
    sub = api.admin.subnet(net["id"], "198.51.100.0/24")
    return net, sub


def router_port_ids(api, router_id: str) -> list[str]:
    return [p["id"] for p in api.admin.list("ports", params={"device_id": router_id})]


def test_member_cannot_take_gateway_of_anothers_shared_subnet(api):
    shared = api.admin.network(shared=True, project_id=api.project_a)
    sub = api.member_a.subnet(shared["id"], "10.235.0.0/24")
    router = api.member_b.create("routers", name="r")
    expect(api.member_b.put(f"routers/{router['id']}/add_router_interface",
                            {"subnet_id": sub["id"]}), 400, "BadRequest",
           bad(f"Cannot add interface to router because subnet {sub['id']} is not owned "
               "by project making the request"))
    assert router_port_ids(api, router["id"]) == []
    # The gateway address stays free for the subnet's owner.
    own = api.member_a.create("routers", name="r")
    up = expect(api.member_a.put(f"routers/{own['id']}/add_router_interface",
                                 {"subnet_id": sub["id"]}), 200)
    port = api.admin.show("ports", up["port_id"])
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.235.0.1"}]


def test_interface_may_not_overlap_the_external_network(api, external):
    ext_net, ext_sub = external
    router = api.member_a.create("routers", name="r",
                                 external_gateway_info={"network_id": ext_net["id"]})
    gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    gw_ports = router_port_ids(api, router["id"])
    assert len(gw_ports) == 1
    # The member's own subnet with the external one's range, by subnet...
    net, sub = api.member_a.net_with_subnet("198.51.100.0/24")
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"subnet_id": sub["id"]}), 400, "BadRequest",
           bad(f"Cidr 198.51.100.0/24 of subnet {sub['id']} overlaps with cidr "
               f"198.51.100.0/24 of subnet {ext_sub['id']}"))
    # ...or by a port holding the router's own gateway address.
    port = api.member_a.port(net["id"], fixed_ips=[{"ip_address": gw_ip}])
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"port_id": port["id"]}), 400, "BadRequest",
           bad(f"Cidr 198.51.100.0/24 of subnet {sub['id']} overlaps with cidr "
               f"198.51.100.0/24 of subnet {ext_sub['id']}"))
    after = api.member_a.show("ports", port["id"])
    assert (after["device_owner"], after["device_id"]) == ("", "")
    assert router_port_ids(api, router["id"]) == gw_ports
    # A subnet inside the external range overlaps too.
    _, inner = api.member_a.net_with_subnet("198.51.100.128/25")
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"subnet_id": inner["id"]}), 400, "BadRequest",
           contains="overlaps with cidr 198.51.100.0/24")
    # The admin adding an interface on the external subnet itself: already there.
    expect(api.admin.put(f"routers/{router['id']}/add_router_interface",
                         {"subnet_id": ext_sub["id"]}), 400, "BadRequest",
           bad(f"Router already has a port on subnet {ext_sub['id']}"))


def test_gateway_may_not_overlap_interfaces(api, external):
    ext_net, ext_sub = external
    router = api.member_a.create("routers", name="r")
    _, sub = api.member_a.net_with_subnet("198.51.100.64/26")
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"subnet_id": sub["id"]}), 200)
    ports = sorted(router_port_ids(api, router["id"]))
    expect(api.member_a.put(f"routers/{router['id']}", {"router": {
        "external_gateway_info": {"network_id": ext_net["id"]}}}), 400, "BadRequest",
        bad(f"Cidr 198.51.100.0/24 of subnet {ext_sub['id']} overlaps with cidr "
            f"198.51.100.64/26 of subnet {sub['id']}"))
    assert api.member_a.show("routers", router["id"])["external_gateway_info"] is None
    assert sorted(router_port_ids(api, router["id"])) == ports


def test_gateway_may_not_take_external_gateway_address(api, external):
    ext_net, ext_sub = external
    router = api.admin.create("routers", name="r")
    expect(api.admin.put(f"routers/{router['id']}", {"router": {"external_gateway_info": {
        "network_id": ext_net["id"],
        "external_fixed_ips": [{"ip_address": ext_sub["gateway_ip"]}]}}}), 400, "BadRequest",
        bad(f"External IP {ext_sub['gateway_ip']} is the same as the gateway IP"))
    assert api.admin.show("routers", router["id"])["external_gateway_info"] is None
    assert router_port_ids(api, router["id"]) == []


def test_port_with_two_ipv4_subnets_and_out_of_pool_address(api):
    net, sub1 = api.member_a.net_with_subnet("10.236.0.0/24")
    sub2 = api.member_a.subnet(net["id"], "10.236.1.0/24")
    router = api.member_a.create("routers", name="r")
    port = api.member_a.port(net["id"], fixed_ips=[{"subnet_id": sub1["id"]},
                                                   {"subnet_id": sub2["id"]}])
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"port_id": port["id"]}), 400, "BadRequest",
           bad("Cannot have multiple IPv4 subnets on router port"))
    assert api.member_a.show("ports", port["id"])["device_owner"] == ""
    # On A's shared subnet, a port of B's holding A's gateway address (made
    # by an admin: B may not choose addresses there) cannot join B's router.
    shared = api.admin.network(shared=True, project_id=api.project_a)
    ssub = api.member_a.subnet(shared["id"], "10.237.0.0/24")
    b_port = api.admin.port(shared["id"], project_id=api.project_b,
                            fixed_ips=[{"ip_address": "10.237.0.1"}])
    b_router = api.member_b.create("routers", name="r")
    expect(api.member_b.put(f"routers/{b_router['id']}/add_router_interface",
                            {"port_id": b_port["id"]}), 400, "BadRequest",
           bad(f"Cannot add interface to router because specified port {b_port['id']} has "
               f"an IP address out of the allocation pool of subnet {ssub['id']}, which is "
               "not owned by the project making the request"))
    assert api.member_b.show("ports", b_port["id"])["device_owner"] == ""
    # An address from the pool is fine.
    pooled = api.member_b.port(shared["id"])
    expect(api.member_b.put(f"routers/{b_router['id']}/add_router_interface",
                            {"port_id": pooled["id"]}), 200)


def test_ipv6_subnet_taking_external_ras_is_refused(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "2001:db8:240::/64", ipv6_address_mode="slaac")
    router = api.member_a.create("routers", name="r")
    msg = bad(f"IPv6 subnet {sub['id']} configured to receive RAs from an external router "
              "cannot be added to Neutron Router")
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"subnet_id": sub["id"]}), 400, "BadRequest", msg)
    port = api.member_a.port(net["id"])
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"port_id": port["id"]}), 400, "BadRequest", msg)
    assert router_port_ids(api, router["id"]) == []
    assert api.member_a.show("ports", port["id"])["device_owner"] == ""


def test_two_ipv6_ports_of_one_network_on_one_router(api):
    net = api.member_a.network()
    s1 = api.member_a.subnet(net["id"], "2001:db8:241::/64", ipv6_ra_mode="slaac",
                             ipv6_address_mode="slaac")
    s2 = api.member_a.subnet(net["id"], "2001:db8:242::/64", ipv6_ra_mode="slaac",
                             ipv6_address_mode="slaac")
    router = api.member_a.create("routers", name="r")
    first = api.member_a.port(net["id"], fixed_ips=[{"subnet_id": s1["id"]}])
    second = api.member_a.port(net["id"], fixed_ips=[{"subnet_id": s2["id"]}])
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"port_id": first["id"]}), 200)
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"port_id": second["id"]}), 400, "BadRequest",
           bad(f"Router already contains IPv6 port {first['id']} belonging to network id "
               f"{net['id']}. Only one IPv6 port from the same network subnet can be connected "
               "to a router."))  # upstream's msg ends with a period too: ".."
    assert api.member_a.show("ports", second["id"])["device_owner"] == ""


def test_removing_one_prefix_of_a_multi_prefix_interface_keeps_the_port(api):
    net = api.member_a.network()
    v4 = api.member_a.subnet(net["id"], "10.251.0.0/24")
    v6 = api.member_a.subnet(net["id"], "2001:db8:243::/64", ipv6_ra_mode="slaac",
                             ipv6_address_mode="slaac")
    router = api.member_a.create("routers", name="r")
    port = api.member_a.port(net["id"], fixed_ips=[{"subnet_id": v4["id"]},
                                                   {"subnet_id": v6["id"]}])
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"port_id": port["id"]}), 200)
    out = expect(api.member_a.put(f"routers/{router['id']}/remove_router_interface",
                                  {"subnet_id": v6["id"]}), 200)
    assert (out["port_id"], out["subnet_ids"]) == (port["id"], [v6["id"]])
    left = api.member_a.show("ports", port["id"])
    assert [f["subnet_id"] for f in left["fixed_ips"]] == [v4["id"]]
    assert left["device_id"] == router["id"]
    expect(api.member_a.put(f"routers/{router['id']}/remove_router_interface",
                            {"subnet_id": v6["id"]}), 404, "RouterInterfaceNotFoundForSubnet")
    # The last prefix takes the port with it.
    expect(api.member_a.put(f"routers/{router['id']}/remove_router_interface",
                            {"subnet_id": v4["id"]}), 200)
    api.member_a.show("ports", port["id"], status=404)
    assert router_port_ids(api, router["id"]) == []


def test_gateway_on_anothers_private_network_is_not_found(api):
    private = api.member_b.network()
    router = api.member_a.create("routers", name="r")
    for net_id in (private["id"], "6bdecb4b-429a-4947-8190-10abc831ed83"):
        expect(api.member_a.put(f"routers/{router['id']}", {"router": {
            "external_gateway_info": {"network_id": net_id}}}), 404, "NetworkNotFound",
            f"Network {net_id} could not be found.")
    # A visible network that is not external: 400, as upstream.
    own = api.member_a.network()
    expect(api.member_a.put(f"routers/{router['id']}", {"router": {
        "external_gateway_info": {"network_id": own["id"]}}}), 400, "BadRequest",
        bad(f"Network {own['id']} is not an external network"))
    assert api.member_a.show("routers", router["id"])["external_gateway_info"] is None


def test_second_ipv6_subnet_of_a_network_joins_the_existing_interface(api):
    net = api.member_a.network()
    s1 = api.member_a.subnet(net["id"], "2001:db8:244::/64", ipv6_ra_mode="slaac",
                             ipv6_address_mode="slaac")
    s2 = api.member_a.subnet(net["id"], "2001:db8:245::/64", ipv6_ra_mode="slaac",
                             ipv6_address_mode="slaac")
    router = api.member_a.create("routers", name="r")
    add = f"routers/{router['id']}/add_router_interface"
    first = expect(api.member_a.put(add, {"subnet_id": s1["id"]}), 200)
    second = expect(api.member_a.put(add, {"subnet_id": s2["id"]}), 200)
    assert second["port_id"] == first["port_id"] and second["subnet_ids"] == [s2["id"]]
    port = api.member_a.show("ports", first["port_id"])
    assert sorted((f["subnet_id"], f["ip_address"]) for f in port["fixed_ips"]) == sorted(
        [(s1["id"], s1["gateway_ip"]), (s2["id"], s2["gateway_ip"])])
    assert router_port_ids(api, router["id"]) == [first["port_id"]]
    # IPv4 subnets keep a port each.
    v4 = api.member_a.subnet(net["id"], "10.252.0.0/24")
    third = expect(api.member_a.put(add, {"subnet_id": v4["id"]}), 200)
    assert third["port_id"] != first["port_id"]
    # Removal by subnet takes one prefix, then the port.
    remove = f"routers/{router['id']}/remove_router_interface"
    expect(api.member_a.put(remove, {"subnet_id": s1["id"]}), 200)
    assert [f["subnet_id"] for f in api.member_a.show("ports", first["port_id"])[
        "fixed_ips"]] == [s2["id"]]
    expect(api.member_a.put(remove, {"subnet_id": s2["id"]}), 200)
    api.member_a.show("ports", first["port_id"], status=404)
