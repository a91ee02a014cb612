"""Subnets: gateway, allocation pools, overlap, IPv6 modes, DNS, routes,
updates and deletion."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand

SUBNET_KEYS = {
    "id", "name", "tenant_id", "project_id", "network_id", "ip_version", "subnetpool_id",
    "enable_dhcp", "ipv6_ra_mode", "ipv6_address_mode", "gateway_ip", "cidr",
    "allocation_pools", "host_routes", "dns_nameservers", "description", "router:external",
    "service_types", "tags", "created_at", "updated_at", "revision_number",
    "dns_publish_fixed_ip",
}


def post_subnet(persona, network_id, cidr="10.0.0.0/24", **attrs):
    attrs.setdefault("ip_version", 6 if ":" in cidr else 4)
    return persona.post("subnets", {"subnet": {"network_id": network_id, "cidr": cidr,
                                               **attrs}})


def test_subnet_defaults(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "192.168.10.0/24")
    assert set(sub) == SUBNET_KEYS
    assert sub["gateway_ip"] == "192.168.10.1"
    assert sub["allocation_pools"] == [{"start": "192.168.10.2", "end": "192.168.10.254"}]
    assert sub["enable_dhcp"] is True
    assert sub["ip_version"] == 4
    assert sub["dns_nameservers"] == [] and sub["host_routes"] == []
    assert sub["ipv6_ra_mode"] is None and sub["ipv6_address_mode"] is None
    assert sub["subnetpool_id"] is None
    assert sub["router:external"] is False
    assert sub["service_types"] == []
    assert sub["revision_number"] == 0
    assert sub["project_id"] == sub["tenant_id"] == api.project_a
    assert sub["network_id"] == net["id"]
    assert api.member_a.show("subnets", sub["id"]) == sub


def test_cidr_validation(api):
    net = api.member_a.network()
    expect(post_subnet(api.member_a, net["id"], "10.5.0.0/24", ip_version=6), 400,
           "InvalidInput")
    expect(post_subnet(api.member_a, net["id"], "10.5.0.0"), 400, "InvalidInput")
    expect(api.member_a.post("subnets", {"subnet": {"network_id": net["id"],
                                                    "ip_version": 4}}), 400)
    expect(api.member_a.post("subnets", {"subnet": {"network_id": net["id"],
                                                    "cidr": "10.5.0.0/24"}}), 400,
           "HTTPBadRequest",
           "Failed to parse request. Required attribute 'ip_version' not specified")


def test_ipv6_cidr_in_any_text_form_is_stored_canonical(api):
    """neutron-lib accepts IPv6 cidrs written with leading zeros (only IPv4
    must be canonical); octavia-tempest-plugin's default member subnet is one."""
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "fd7b:f9f7:0fff:4eca::/64", ip_version=6)
    assert sub["cidr"] == "fd7b:f9f7:fff:4eca::/64"
    assert sub["gateway_ip"] == "fd7b:f9f7:fff:4eca::1"
    expect(post_subnet(api.member_a, net["id"], "10.5.0.1/24"), 400, "HTTPBadRequest",
           contains="isn't a recognized IP subnet cidr")


def test_gateway_null(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "10.20.0.0/24", gateway_ip=None)
    assert sub["gateway_ip"] is None
    assert sub["allocation_pools"] == [{"start": "10.20.0.1", "end": "10.20.0.254"}]
    # A port may then get .1
    port = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.20.0.1"}])
    assert port["fixed_ips"][0]["ip_address"] == "10.20.0.1"


def test_custom_gateway_splits_default_pool(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "10.21.0.0/24", gateway_ip="10.21.0.100")
    assert sub["gateway_ip"] == "10.21.0.100"
    assert sub["allocation_pools"] == [{"start": "10.21.0.1", "end": "10.21.0.99"},
                                       {"start": "10.21.0.101", "end": "10.21.0.254"}]
    last = api.member_a.subnet(api.member_a.network()["id"], "10.22.0.0/24",
                               gateway_ip="10.22.0.254")
    assert last["allocation_pools"] == [{"start": "10.22.0.1", "end": "10.22.0.253"}]


def test_gateway_outside_cidr_is_accepted(api):
    # Upstream accepts it (reference-errors: subnet_gateway_outside_cidr -> 201).
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "10.23.0.0/24", gateway_ip="10.99.0.1")
    assert sub["gateway_ip"] == "10.99.0.1"
    assert sub["allocation_pools"] == [{"start": "10.23.0.1", "end": "10.23.0.254"}]


@pytest.mark.parametrize("gateway", ["10.24.0.0", "10.24.0.255"])
def test_gateway_network_or_broadcast_400(api, gateway):
    net = api.member_a.network()
    expect(post_subnet(api.member_a, net["id"], "10.24.0.0/24", gateway_ip=gateway), 400,
           "InvalidInput", "Invalid input for operation: Gateway is not valid on subnet.")


def test_gateway_invalid_text_400(api):
    net = api.member_a.network()
    expect(post_subnet(api.member_a, net["id"], "10.24.0.0/24", gateway_ip="nope"), 400)


def test_custom_allocation_pools(api):
    net = api.member_a.network()
    pools = [{"start": "10.30.0.100", "end": "10.30.0.110"},
             {"start": "10.30.0.10", "end": "10.30.0.20"}]
    sub = api.member_a.subnet(net["id"], "10.30.0.0/24", allocation_pools=pools)
    assert sub["gateway_ip"] == "10.30.0.1"
    assert sorted(sub["allocation_pools"], key=lambda p: p["start"]) == sorted(
        pools, key=lambda p: p["start"])
    port = api.member_a.port(net["id"])
    ip = port["fixed_ips"][0]["ip_address"]
    last = int(ip.rsplit(".", 1)[1])
    assert 10 <= last <= 20 or 100 <= last <= 110
    # Outside the pools but inside the subnet: allowed when asked for explicitly.
    port2 = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.30.0.50"}])
    assert port2["fixed_ips"][0]["ip_address"] == "10.30.0.50"


def test_overlapping_cidr_same_network_400(api):
    net = api.member_a.network()
    api.member_a.subnet(net["id"], "10.40.0.0/24")
    expect(post_subnet(api.member_a, net["id"], "10.40.0.128/25"), 400, "InvalidInput",
           f"Invalid input for operation: Requested subnet with cidr: 10.40.0.128/25 for "
           f"network: {net['id']} overlaps with another subnet.")
    expect(post_subnet(api.member_a, net["id"], "10.0.0.0/8"), 400, "InvalidInput")
    # Another network may reuse the CIDR (allow_overlapping_ips = True).
    api.member_a.subnet(api.member_a.network()["id"], "10.40.0.0/24")


def test_out_of_bounds_allocation_pool_400(api):
    net = api.member_a.network()
    expect(post_subnet(api.member_a, net["id"], "10.41.0.0/24",
                       allocation_pools=[{"start": "10.41.0.200", "end": "10.41.1.10"}]),
           400, "OutOfBoundsAllocationPool",
           "The allocation pool 10.41.0.200-10.41.1.10 spans beyond the subnet cidr "
           "10.41.0.0/24.")
    # The broadcast and network addresses are outside the usable range too.
    expect(post_subnet(api.member_a, net["id"], "10.41.0.0/24",
                       allocation_pools=[{"start": "10.41.0.0", "end": "10.41.0.10"}]),
           400, "OutOfBoundsAllocationPool")
    expect(post_subnet(api.member_a, net["id"], "10.41.0.0/24",
                       allocation_pools=[{"start": "10.41.0.10", "end": "10.41.0.255"}]),
           400, "OutOfBoundsAllocationPool")


def test_invalid_allocation_pools(api):
    net = api.member_a.network()
    expect(post_subnet(api.member_a, net["id"], "10.42.0.0/24",
                       allocation_pools=[{"start": "10.42.0.20", "end": "10.42.0.10"}]),
           400, "InvalidAllocationPool",
           "The allocation pool 10.42.0.20-10.42.0.10 is not valid.")
    expect(post_subnet(api.member_a, net["id"], "10.42.0.0/24",
                       allocation_pools=[{"start": "10.42.0.10", "end": "10.42.0.30"},
                                         {"start": "10.42.0.20", "end": "10.42.0.40"}]),
           409, "OverlappingAllocationPools")
    expect(post_subnet(api.member_a, net["id"], "10.42.0.0/24",
                       allocation_pools=[{"start": "10.42.0.10"}]), 400)
    expect(post_subnet(api.member_a, net["id"], "10.42.0.0/24",
                       allocation_pools=[{"start": "10.42.0.10", "end": "10.42.0.20",
                                          "x": 1}]), 400)


def test_gateway_conflicts_with_pool_409(api):
    net = api.member_a.network()
    expect(post_subnet(api.member_a, net["id"], "10.43.0.0/24", gateway_ip="10.43.0.5",
                       allocation_pools=[{"start": "10.43.0.2", "end": "10.43.0.10"}]),
           409, "GatewayConflictWithAllocationPools",
           "Gateway ip 10.43.0.5 conflicts with allocation pool 10.43.0.2-10.43.0.10")
    # Default gateway (.1) inside a custom pool.
    expect(post_subnet(api.member_a, net["id"], "10.43.0.0/24",
                       allocation_pools=[{"start": "10.43.0.1", "end": "10.43.0.10"}]),
           409, "GatewayConflictWithAllocationPools")


def test_ipv6_slaac(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "2001:db8:1::/64", ipv6_ra_mode="slaac",
                              ipv6_address_mode="slaac")
    assert sub["ip_version"] == 6
    assert sub["gateway_ip"] == "2001:db8:1::1"
    assert sub["allocation_pools"] == [{"start": "2001:db8:1::2",
                                        "end": "2001:db8:1:0:ffff:ffff:ffff:ffff"}]
    assert (sub["ipv6_ra_mode"], sub["ipv6_address_mode"]) == ("slaac", "slaac")
    port = api.member_a.port(net["id"])
    mac = port["mac_address"]
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 2
    iid = "%02x%02x:%02xff:fe%02x:%02x%02x" % tuple(octets)
    import ipaddress
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": str(
        ipaddress.IPv6Address("2001:db8:1::" + iid))}]
    # SLAAC needs a /64.
    expect(post_subnet(api.member_a, api.member_a.network()["id"], "2001:db8:2::/80",
                       ipv6_ra_mode="slaac", ipv6_address_mode="slaac"), 400,
           "InvalidInput",
           "Invalid input for operation: Invalid CIDR 2001:db8:2::/80 for IPv6 address mode. "
           "OpenStack uses the EUI-64 address format, which requires the prefix to be /64.")


def test_ipv6_dhcpv6_stateful(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "2001:db8:3::/64", ipv6_ra_mode="dhcpv6-stateful",
                              ipv6_address_mode="dhcpv6-stateful",
                              allocation_pools=[{"start": "2001:db8:3::10",
                                                 "end": "2001:db8:3::20"}])
    port = api.member_a.port(net["id"])
    import ipaddress
    ip = ipaddress.ip_address(port["fixed_ips"][0]["ip_address"])
    assert ipaddress.ip_address("2001:db8:3::10") <= ip <= ipaddress.ip_address("2001:db8:3::20")
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]


def test_ipv6_mode_mismatch_400(api):
    net = api.member_a.network()
    expect(post_subnet(api.member_a, net["id"], "2001:db8:4::/64", ipv6_ra_mode="slaac",
                       ipv6_address_mode="dhcpv6-stateful"), 400, "InvalidInput",
           "Invalid input for operation: ipv6_ra_mode set to 'slaac' with ipv6_address_mode "
           "set to 'dhcpv6-stateful' is not valid. If both attributes are set, they must be "
           "the same value.")
    expect(post_subnet(api.member_a, net["id"], "2001:db8:4::/64", ipv6_ra_mode="bogus"),
           400, "HTTPBadRequest")
    expect(post_subnet(api.member_a, net["id"], "10.44.0.0/24", ipv6_ra_mode="slaac"),
           400, "InvalidInput")


def test_dual_stack_port_gets_both(api):
    net = api.member_a.network()
    v4 = api.member_a.subnet(net["id"], "10.45.0.0/24")
    v6 = api.member_a.subnet(net["id"], "2001:db8:5::/64", ipv6_ra_mode="slaac",
                             ipv6_address_mode="slaac")
    port = api.member_a.port(net["id"])
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [v4["id"], v6["id"]]


def test_dns_nameservers(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "10.50.0.0/24",
                              dns_nameservers=["8.8.8.8", "1.1.1.1", "9.9.9.9"])
    assert sub["dns_nameservers"] == ["8.8.8.8", "1.1.1.1", "9.9.9.9"]  # order kept
    up = api.member_a.update("subnets", sub["id"], dns_nameservers=["9.9.9.9", "8.8.8.8"])
    assert up["dns_nameservers"] == ["9.9.9.9", "8.8.8.8"]
    listed = api.member_a.list("subnets", params={"dns_nameservers": "9.9.9.9",
                                                  "network_id": net["id"]})
    assert [s["id"] for s in listed] == [sub["id"]]
    expect(post_subnet(api.member_a, net["id"], "10.51.0.0/24",
                       dns_nameservers=["8.8.8.8", "8.8.8.8"]), 400, "HTTPBadRequest")
    expect(post_subnet(api.member_a, net["id"], "10.51.0.0/24",
                       dns_nameservers=["not-an-ip"]), 400, "HTTPBadRequest")
    expect(post_subnet(api.member_a, net["id"], "10.51.0.0/24",
                       dns_nameservers=[f"10.0.0.{i}" for i in range(1, 8)]), 400,
           "DNSNameServersExhausted",
           "Unable to complete operation for new subnet. The number of DNS nameservers "
           "exceeds the limit 5.")


def test_host_routes(api):
    net = api.member_a.network()
    routes = [{"destination": "192.168.0.0/16", "nexthop": "10.52.0.254"}]
    sub = api.member_a.subnet(net["id"], "10.52.0.0/24", host_routes=routes)
    assert sub["host_routes"] == routes
    routes2 = routes + [{"destination": "0.0.0.0/0", "nexthop": "10.52.0.1"}]
    up = api.member_a.update("subnets", sub["id"], host_routes=routes2)
    assert sorted(up["host_routes"], key=str) == sorted(routes2, key=str)
    assert api.member_a.update("subnets", sub["id"], host_routes=[])["host_routes"] == []
    expect(post_subnet(api.member_a, net["id"], "10.53.0.0/24",
                       host_routes=[{"destination": "bad", "nexthop": "10.53.0.1"}]), 400,
           "HTTPBadRequest", "Invalid input for host_routes. Reason: 'bad' is not a valid CIDR.")
    expect(post_subnet(api.member_a, net["id"], "10.53.0.0/24",
                       host_routes=[{"destination": "2001:db8::/64",
                                     "nexthop": "10.53.0.1"}]), 400, "InvalidInput")
    expect(post_subnet(api.member_a, net["id"], "10.53.0.0/24",
                       host_routes=[{"destination": f"172.16.{i}.0/24", "nexthop": "10.53.0.1"}
                                    for i in range(21)]), 400, "HostRoutesExhausted",
           "Unable to complete operation for new subnet. The number of host routes exceeds "
           "the limit 20.")


def test_update_allocation_pools_and_gateway(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "10.60.0.0/24")
    pools = [{"start": "10.60.0.50", "end": "10.60.0.60"}]
    up = api.member_a.update("subnets", sub["id"], allocation_pools=pools)
    assert up["allocation_pools"] == pools
    assert up["revision_number"] == sub["revision_number"] + 1
    port = api.member_a.port(net["id"])
    assert 50 <= int(port["fixed_ips"][0]["ip_address"].rsplit(".", 1)[1]) <= 60
    up = api.member_a.update("subnets", sub["id"], gateway_ip="10.60.0.254")
    assert up["gateway_ip"] == "10.60.0.254"
    assert up["allocation_pools"] == pools
    expect(api.member_a.put(f"subnets/{sub['id']}", {"subnet": {"gateway_ip": "10.60.0.55"}}),
           409, "GatewayConflictWithAllocationPools")
    expect(api.member_a.put(f"subnets/{sub['id']}", {"subnet": {"allocation_pools": [
        {"start": "10.60.0.250", "end": "10.60.0.254"}]}}), 409,
        "GatewayConflictWithAllocationPools")
    expect(api.member_a.put(f"subnets/{sub['id']}", {"subnet": {"allocation_pools": [
        {"start": "10.60.1.1", "end": "10.60.1.2"}]}}), 400, "OutOfBoundsAllocationPool")
    up = api.member_a.update("subnets", sub["id"], gateway_ip=None)
    assert up["gateway_ip"] is None
    # Nothing above changed the pools.
    assert api.member_a.show("subnets", sub["id"])["allocation_pools"] == pools


def test_update_read_only_subnet_attributes_400(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "10.61.0.0/24")
    for attr, value in (("cidr", "10.62.0.0/24"), ("ip_version", 6),
                        ("network_id", net["id"])):
        expect(api.member_a.put(f"subnets/{sub['id']}", {"subnet": {attr: value}}), 400,
               "HTTPBadRequest", f"Cannot update read-only attribute {attr}")


def test_subnet_name_and_dhcp_update(api):
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "10.63.0.0/24")
    up = api.member_a.update("subnets", sub["id"], name="renamed", enable_dhcp=False)
    assert (up["name"], up["enable_dhcp"]) == ("renamed", False)


def test_delete_subnet_in_use_409(api):
    net, sub = api.member_a.net_with_subnet("10.64.0.0/24")
    port = api.member_a.port(net["id"])
    expect(api.member_a.delete(f"subnets/{sub['id']}"), 409, "SubnetInUse",
           f"Unable to complete operation on subnet {sub['id']}: One or more ports have an "
           "IP allocation from this subnet.")
    api.member_a.remove("ports", port["id"])
    api.member_a.remove("subnets", sub["id"])
    expect(api.member_a.get(f"subnets/{sub['id']}"), 404, "SubnetNotFound",
           f"Subnet {sub['id']} could not be found.")
    assert api.member_a.show("networks", net["id"])["subnets"] == []


def test_delete_subnet_with_dhcp_port_only(api):
    net, sub = api.admin.net_with_subnet("10.65.0.0/24")
    dhcp = api.admin.port(net["id"], device_owner="network:dhcp")
    api.admin.remove("subnets", sub["id"])
    assert api.admin.show("ports", dhcp["id"])["fixed_ips"] == []


def test_subnet_on_missing_network_404(api):
    missing = "6bdecb4b-429a-4947-8190-10abc831ed83"
    expect(post_subnet(api.member_a, missing), 404, "NetworkNotFound",
           f"Network {missing} could not be found.")
    expect(post_subnet(api.member_a, "not-a-uuid"), 400, "HTTPBadRequest")


def test_subnet_name_unique_not_required(api):
    net = api.member_a.network()
    name = rand("same")
    api.member_a.subnet(net["id"], "10.66.0.0/24", name=name)
    api.member_a.subnet(net["id"], "10.67.0.0/24", name=name)
    assert len(api.member_a.list("subnets", params={"name": name})) == 2


def test_subnets_of_external_networks_are_visible(api):
    """subnet-external-network: every project sees (not changes) the
    subnets of external networks, as upstream."""
    admin, m = api.admin, api.project()
    net = admin.network(**{"router:external": True})
    sub = admin.subnet(net["id"], "198.51.100.0/24")
    assert [s["id"] for s in m.list("subnets", params={"network_id": net["id"]})] == [sub["id"]]
    assert m.show("subnets", sub["id"])["router:external"] is True
    expect(m.put(f"subnets/{sub['id']}", {"subnet": {"name": "x"}}), 403)
    expect(m.delete(f"subnets/{sub['id']}"), 403)
    private = admin.network()
    hidden = admin.subnet(private["id"], "198.51.100.0/24")
    expect(m.get(f"subnets/{hidden['id']}"), 404)
