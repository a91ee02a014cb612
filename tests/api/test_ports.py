"""Ports: IPAM (auto and requested fixed IPs, exhaustion, updates), MACs,
binding, security groups, port security and allowed address pairs."""
from __future__ import annotations

import ipaddress

import pytest

from tests.api.helpers import expect, rand

PORT_KEYS_MEMBER = {
    "id", "name", "network_id", "tenant_id", "project_id", "mac_address", "admin_state_up",
    "status", "device_id", "device_owner", "fixed_ips", "allowed_address_pairs",
    "extra_dhcp_opts", "security_groups", "description", "binding:vnic_type",
    "port_security_enabled", "tags", "created_at", "updated_at", "revision_number",
}
# the port attribute extensions (neutrino.plugins.port_attrs)
PORT_KEYS_MEMBER |= {"numa_affinity_policy", "device_profile", "data_plane_status",
                     "propagate_uplink_status", "ip_allocation"}
# dns-integration, dns-domain-ports (neutrino.plugins.dns)
PORT_KEYS_MEMBER |= {"dns_name", "dns_domain", "dns_assignment"}
# qos, qos-port-network-policy (neutrino.plugins.qos)
PORT_KEYS_MEMBER |= {"qos_policy_id", "qos_network_policy_id"}
BINDING_ADMIN = {"binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details"}
BINDING_ADMIN |= {"resource_request"}   # admin-only too (port-resource-request)


def post_port(persona, network_id, **attrs):
    return persona.post("ports", {"port": {"network_id": network_id, **attrs}})


def ip_of(port, i=0):
    return port["fixed_ips"][i]["ip_address"]


def test_port_defaults_and_auto_ip(api):
    net, sub = api.member_a.net_with_subnet("10.70.0.0/24")
    port = api.member_a.port(net["id"])
    assert set(port) == PORT_KEYS_MEMBER  # binding:* details are admin-only
    assert port["status"] == "DOWN"
    assert port["admin_state_up"] is True
    assert port["device_id"] == "" and port["device_owner"] == ""
    assert port["project_id"] == api.project_a
    assert port["binding:vnic_type"] == "normal"
    assert port["port_security_enabled"] is True
    assert port["allowed_address_pairs"] == [] and port["extra_dhcp_opts"] == []
    assert port["revision_number"] == 1
    assert len(port["fixed_ips"]) == 1
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    ip = ipaddress.ip_address(ip_of(port))
    assert ipaddress.ip_address("10.70.0.2") <= ip <= ipaddress.ip_address("10.70.0.254")
    admin_view = api.admin.show("ports", port["id"])
    assert set(admin_view) == PORT_KEYS_MEMBER | BINDING_ADMIN
    assert admin_view["binding:vif_type"] == "unbound"
    assert admin_view["binding:host_id"] == ""
    assert admin_view["binding:profile"] == {} and admin_view["binding:vif_details"] == {}


def test_port_without_subnet_has_no_ip(api):
    net = api.member_a.network()
    port = api.member_a.port(net["id"])
    assert port["fixed_ips"] == []


def test_fixed_ips_by_subnet_ip_both_several(api):
    # The named addresses first: a random pick made before could take one
    # of them (IPAM picks at random, as upstream's), and naming it is a 409.
    net = api.member_a.network()
    s1 = api.member_a.subnet(net["id"], "10.71.0.0/24")
    s2 = api.member_a.subnet(net["id"], "10.72.0.0/24")
    by_ip = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.72.0.77"}])
    assert by_ip["fixed_ips"] == [{"subnet_id": s2["id"], "ip_address": "10.72.0.77"}]
    both = api.member_a.port(net["id"], fixed_ips=[{"subnet_id": s1["id"],
                                                    "ip_address": "10.71.0.88"}])
    assert both["fixed_ips"] == [{"subnet_id": s1["id"], "ip_address": "10.71.0.88"}]
    several = api.member_a.port(net["id"], fixed_ips=[
        {"subnet_id": s1["id"]}, {"subnet_id": s2["id"], "ip_address": "10.72.0.99"},
        {"ip_address": "10.71.0.99"}])
    got = sorted((f["subnet_id"], f["ip_address"]) for f in several["fixed_ips"])
    assert len(got) == 3
    assert (s2["id"], "10.72.0.99") in got and (s1["id"], "10.71.0.99") in got
    by_subnet = api.member_a.port(net["id"], fixed_ips=[{"subnet_id": s2["id"]}])
    assert by_subnet["fixed_ips"][0]["subnet_id"] == s2["id"]
    assert ip_of(by_subnet).startswith("10.72.0.")
    assert ip_of(by_subnet) not in ("10.72.0.77", "10.72.0.99")
    # Default: one address from the first IPv4 subnet with room.
    default = api.member_a.port(net["id"])
    assert len(default["fixed_ips"]) == 1


def test_named_address_wins_over_a_random_pick_in_the_same_request(api):
    # Two free addresses: the subnet-only entry must take the one not named,
    # whatever order the request lists them in.
    net = api.member_a.network()
    sub = api.member_a.subnet(net["id"], "10.75.0.0/29",
                              allocation_pools=[{"start": "10.75.0.2", "end": "10.75.0.3"}])
    for _ in range(12):
        port = api.member_a.port(net["id"], fixed_ips=[
            {"subnet_id": sub["id"]}, {"ip_address": "10.75.0.3"}])
        assert [f["ip_address"] for f in port["fixed_ips"]] == ["10.75.0.2", "10.75.0.3"]
        assert api.member_a.delete(f"ports/{port['id']}").status_code == 204


def test_fixed_ip_errors(api):
    net, sub = api.member_a.net_with_subnet("10.73.0.0/24")
    other_net, other_sub = api.member_a.net_with_subnet("10.74.0.0/24")
    expect(post_port(api.member_a, net["id"], fixed_ips=[{"subnet_id": other_sub["id"]}]),
           400, "InvalidInput",
           f"Invalid input for operation: Failed to create port on network {net['id']}, "
           f"because fixed_ips included invalid subnet {other_sub['id']}.")
    expect(post_port(api.member_a, net["id"], fixed_ips=[{"subnet_id": sub["id"],
                                                          "ip_address": "10.74.0.5"}]),
           400, "InvalidIpForSubnet",
           "IP address 10.74.0.5 is not a valid IP for the specified subnet.")
    expect(post_port(api.member_a, net["id"], fixed_ips=[{"ip_address": "10.99.99.99"}]),
           400, "InvalidIpForNetwork",
           "IP address 10.99.99.99 is not a valid IP for any of the subnets on the "
           "specified network.")
    expect(post_port(api.member_a, net["id"], fixed_ips=[{"ip_address": "10.73.0.255"}]),
           400, "InvalidIpForNetwork")
    expect(post_port(api.member_a, net["id"], fixed_ips=[{"ip_address": "bogus"}]), 400)
    expect(post_port(api.member_a, net["id"], fixed_ips=[{"foo": "bar"}]), 400)
    expect(post_port(api.member_a, net["id"], fixed_ips="10.73.0.5"), 400)


def test_ip_already_allocated_409(api):
    net, sub = api.member_a.net_with_subnet("10.75.0.0/24")
    api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.75.0.10"}])
    expect(post_port(api.member_a, net["id"], fixed_ips=[{"ip_address": "10.75.0.10"}]),
           409, "IpAddressAlreadyAllocated",
           f"IP address 10.75.0.10 already allocated in subnet {sub['id']}")
    expect(post_port(api.member_a, net["id"], fixed_ips=[{"subnet_id": sub["id"],
                                                          "ip_address": "10.75.0.10"}]),
           409, "IpAddressAlreadyAllocated")


def test_exhaustion_on_a_slash_29(api):
    net, sub = api.member_a.net_with_subnet("10.76.0.0/29")
    assert sub["allocation_pools"] == [{"start": "10.76.0.2", "end": "10.76.0.6"}]
    ips = {ip_of(api.member_a.port(net["id"])) for _ in range(5)}
    assert ips == {f"10.76.0.{i}" for i in range(2, 7)}
    expect(post_port(api.member_a, net["id"]), 409, "IpAddressGenerationFailure",
           f"No more IP addresses available on network {net['id']}.")
    expect(post_port(api.member_a, net["id"], fixed_ips=[{"subnet_id": sub["id"]}]), 409,
           "IpAddressGenerationFailure")
    # A port without an IP on a full network is impossible; an explicit one
    # outside the pool (but inside the subnet) still works.
    port = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.76.0.1"}])
    assert ip_of(port) == "10.76.0.1"


def test_freed_ip_reusable_after_delete(api):
    net, sub = api.member_a.net_with_subnet("10.77.0.0/29")
    ports = [api.member_a.port(net["id"]) for _ in range(5)]
    api.member_a.remove("ports", ports[2]["id"])
    again = api.member_a.port(net["id"])
    assert ip_of(again) == ip_of(ports[2])


def test_mac_prefix_and_unique_per_network(api):
    net, _ = api.member_a.net_with_subnet("10.78.0.0/24")
    macs = [api.member_a.port(net["id"])["mac_address"] for _ in range(40)]
    assert len(set(macs)) == 40
    for mac in macs:
        assert mac.startswith("fa:16:3e:"), mac
        assert len(mac) == 17 and mac == mac.lower()


def test_user_mac(api):
    net, _ = api.member_a.net_with_subnet("10.79.0.0/24")
    port = api.member_a.port(net["id"], mac_address="FA:16:3E:AB:CD:EF")
    assert port["mac_address"] == "fa:16:3e:ab:cd:ef"
    expect(post_port(api.member_a, net["id"], mac_address="fa:16:3e:ab:cd:ef"), 409,
           "MacAddressInUse",
           f"Unable to complete operation for network {net['id']}. The mac address "
           "fa:16:3e:ab:cd:ef is in use.")
    # Same MAC on another network is fine.
    other = api.member_a.network()
    assert api.member_a.port(other["id"], mac_address="fa:16:3e:ab:cd:ef")["mac_address"] \
        == "fa:16:3e:ab:cd:ef"
    for bad in ("zz:zz:zz", "01:00:5e:00:00:01", "00:00:00:00:00:00", 12):
        expect(post_port(api.member_a, net["id"], mac_address=bad), 400, "HTTPBadRequest")
    # MAC update on an unbound port: admin (or project manager) only, as upstream.
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"mac_address": "fa:16:3e:00:00:42"}}),
           403, "PolicyNotAuthorized",
           "(rule:update_port and rule:update_port:mac_address) is disallowed by policy")
    up = api.admin.update("ports", port["id"], mac_address="fa:16:3e:00:00:42")
    assert up["mac_address"] == "fa:16:3e:00:00:42"


def test_update_fixed_ips_frees_and_allocates(api):
    net, sub = api.member_a.net_with_subnet("10.80.0.0/24")
    port = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.80.0.10"}])
    up = api.member_a.update("ports", port["id"], fixed_ips=[{"ip_address": "10.80.0.20"}])
    assert up["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.80.0.20"}]
    assert up["revision_number"] > port["revision_number"]
    # .10 is free again: another port can take it.
    other = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.80.0.10"}])
    assert ip_of(other) == "10.80.0.10"
    # Keep one, add one.
    up = api.member_a.update("ports", port["id"], fixed_ips=[
        {"subnet_id": sub["id"], "ip_address": "10.80.0.20"}, {"ip_address": "10.80.0.21"}])
    assert sorted(f["ip_address"] for f in up["fixed_ips"]) == ["10.80.0.20", "10.80.0.21"]
    # Taken by another port: 409 and nothing changes.
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"fixed_ips": [
        {"ip_address": "10.80.0.10"}]}}), 409, "IpAddressAlreadyAllocated")
    assert sorted(f["ip_address"] for f in api.member_a.show("ports", port["id"])["fixed_ips"]) \
        == ["10.80.0.20", "10.80.0.21"]
    # Subnet only: a new address from the pool replaces the old ones.
    up = api.member_a.update("ports", port["id"], fixed_ips=[{"subnet_id": sub["id"]}])
    assert len(up["fixed_ips"]) == 1
    assert ip_of(up) not in ("10.80.0.10",)
    # Empty list: no address.
    assert api.member_a.update("ports", port["id"], fixed_ips=[])["fixed_ips"] == []
    # ... and both old addresses can be reused.
    api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.80.0.20"},
                                            {"ip_address": "10.80.0.21"}])


# Upstream's message really ends in two periods: InvalidInput appends one to
# 'Exceeded maximum amount of fixed ips per port.'
def test_max_fixed_ips_per_port_on_update(api):
    net, sub = api.member_a.net_with_subnet("10.81.0.0/24")
    ips = [{"ip_address": f"10.81.0.{i}"} for i in range(10, 16)]
    port = api.member_a.port(net["id"])
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"fixed_ips": ips}}), 400,
           "InvalidInput",
           "Invalid input for operation: Exceeded maximum amount of fixed ips per port..")


def test_max_fixed_ips_per_port_on_create(api):
    net, sub = api.member_a.net_with_subnet("10.81.0.0/24")
    ips = [{"ip_address": f"10.81.0.{i}"} for i in range(10, 16)]
    expect(post_port(api.member_a, net["id"], fixed_ips=ips), 400, "InvalidInput",
           "Invalid input for operation: Exceeded maximum amount of fixed ips per port..")


def test_binding_without_agent_fails_with_reason(api):
    net, _ = api.admin.net_with_subnet("10.82.0.0/24")
    host = rand("nohost")
    port = api.admin.port(net["id"], **{"binding:host_id": host})
    assert port["binding:host_id"] == host
    assert port["binding:vif_type"] == "binding_failed"
    assert host in port["binding:vif_details"]["reason"]
    assert "agent" in port["binding:vif_details"]["reason"]
    shown = api.admin.show("ports", port["id"])
    assert shown["binding:vif_type"] == "binding_failed"
    # Unbinding: back to unbound.
    up = api.admin.update("ports", port["id"], **{"binding:host_id": ""})
    assert up["binding:vif_type"] == "unbound"
    assert up["binding:vif_details"] == {}


def test_binding_with_live_agent(api):
    net, _ = api.admin.net_with_subnet("10.83.0.0/24")
    host = api.register_agent()
    port = api.admin.port(net["id"], **{"binding:host_id": host})
    assert port["binding:vif_type"] == "bridge"
    assert port["binding:vif_details"]["bridge_name"] == "brq" + net["id"][:11]
    assert port["binding:vif_details"]["port_filter"] is True
    # Moving to a host without an agent fails the binding, with a reason.
    up = api.admin.update("ports", port["id"], **{"binding:host_id": rand("nohost")})
    assert up["binding:vif_type"] == "binding_failed"
    assert up["binding:vif_details"]["reason"]
    # vnic_type linuxbridge cannot do.
    direct = api.admin.port(net["id"], **{"binding:host_id": host,
                                          "binding:vnic_type": "direct"})
    assert direct["binding:vif_type"] == "binding_failed"


def test_binding_needs_physnet_mapping(api):
    net = api.admin.network(**{"provider:network_type": "flat",
                               "provider:physical_network": rand("phys")})
    host = api.register_agent()
    port = api.admin.port(net["id"], **{"binding:host_id": host})
    assert port["binding:vif_type"] == "binding_failed"
    assert "physical network" in port["binding:vif_details"]["reason"]


def test_member_cannot_set_binding_host_403(api):
    net, _ = api.member_a.net_with_subnet("10.84.0.0/24")
    expect(post_port(api.member_a, net["id"], **{"binding:host_id": "h1"}), 403,
           "PolicyNotAuthorized",
           "(rule:create_port and rule:create_port:binding:host_id) is disallowed by policy")
    port = api.member_a.port(net["id"])
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"binding:host_id": "h1"}}),
           403, "PolicyNotAuthorized",
           "(rule:update_port and rule:update_port:binding:host_id) is disallowed by policy")


def test_default_security_group(api):
    member = api.project()
    net, _ = member.net_with_subnet("10.85.0.0/24")
    port = member.port(net["id"])
    assert len(port["security_groups"]) == 1
    groups = member.list("security-groups")
    default = [g for g in groups if g["name"] == "default"]
    assert len(default) == 1
    assert port["security_groups"] == [default[0]["id"]]
    # The same default group for the next port.
    assert member.port(net["id"])["security_groups"] == port["security_groups"]
    # Network-owned ports (DHCP) get none.
    dhcp = api.admin.port(net["id"], device_owner="network:dhcp",
                          project_id=member.project_id)
    assert dhcp["security_groups"] == []


def test_explicit_security_groups(api):
    net, _ = api.member_a.net_with_subnet("10.86.0.0/24")
    sg1 = api.member_a.create("security-groups", name=rand("sg"))
    sg2 = api.member_a.create("security-groups", name=rand("sg"))
    port = api.member_a.port(net["id"], security_groups=[sg1["id"], sg2["id"]])
    assert sorted(port["security_groups"]) == sorted([sg1["id"], sg2["id"]])
    none = api.member_a.port(net["id"], security_groups=[])
    assert none["security_groups"] == []
    up = api.member_a.update("ports", port["id"], security_groups=[sg2["id"]])
    assert up["security_groups"] == [sg2["id"]]
    # Another project's group is not found.
    other = api.member_b.create("security-groups", name=rand("sg"))
    expect(post_port(api.member_a, net["id"], security_groups=[other["id"]]), 404,
           "SecurityGroupNotFound")
    expect(post_port(api.member_a, net["id"], security_groups=["not-a-uuid"]), 400)
    # A group in use cannot be deleted.
    expect(api.member_a.delete(f"security-groups/{sg2['id']}"), 409, "SecurityGroupInUse")


def test_port_security_disabled_with_groups(api):
    net, _ = api.member_a.net_with_subnet("10.87.0.0/24")
    sg = api.member_a.create("security-groups", name=rand("sg"))
    expect(post_port(api.member_a, net["id"], port_security_enabled=False,
                     security_groups=[sg["id"]]), 400,
           "PortSecurityAndIPRequiredForSecurityGroups",
           "Port security must be enabled and port must have an IP address in order to use "
           "security groups.")
    plain = api.member_a.port(net["id"], port_security_enabled=False)
    assert plain["port_security_enabled"] is False
    assert plain["security_groups"] == []
    # Disabling port security while groups are attached: 409.
    port = api.member_a.port(net["id"])
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"port_security_enabled": False}}),
           409, "PortSecurityPortHasSecurityGroup")
    up = api.member_a.update("ports", port["id"], port_security_enabled=False,
                             security_groups=[])
    assert up["port_security_enabled"] is False and up["security_groups"] == []
    # Network default is inherited.
    insecure = api.member_a.network(port_security_enabled=False)
    api.member_a.subnet(insecure["id"], "10.88.0.0/24")
    p2 = api.member_a.port(insecure["id"])
    assert p2["port_security_enabled"] is False and p2["security_groups"] == []


def test_allowed_address_pairs(api):
    net, _ = api.member_a.net_with_subnet("10.89.0.0/24")
    port = api.member_a.port(net["id"], allowed_address_pairs=[
        {"ip_address": "10.89.0.200"},
        {"ip_address": "192.168.0.0/24", "mac_address": "fa:16:3e:11:22:33"}])
    pairs = sorted(port["allowed_address_pairs"], key=lambda p: p["ip_address"])
    assert pairs == [{"ip_address": "10.89.0.200", "mac_address": port["mac_address"]},
                     {"ip_address": "192.168.0.0/24", "mac_address": "fa:16:3e:11:22:33"}]
    up = api.member_a.update("ports", port["id"], allowed_address_pairs=[])
    assert up["allowed_address_pairs"] == []
    expect(post_port(api.member_a, net["id"], allowed_address_pairs=[{"mac_address":
                                                                      "fa:16:3e:11:22:33"}]),
           400)
    expect(post_port(api.member_a, net["id"], allowed_address_pairs=[{"ip_address": "x"}]),
           400)
    expect(post_port(api.member_a, net["id"], port_security_enabled=False,
                     allowed_address_pairs=[{"ip_address": "10.89.0.201"}]), 409,
           "AddressPairAndPortSecurityRequired",
           "Port Security must be enabled in order to have allowed address pairs on a port.")


def test_update_and_delete_port(api):
    net, _ = api.member_a.net_with_subnet("10.90.0.0/24")
    port = api.member_a.port(net["id"])
    up = api.member_a.update("ports", port["id"], name="renamed", admin_state_up=False,
                             device_id="vm-1", device_owner="compute:nova")
    assert (up["name"], up["admin_state_up"], up["device_id"], up["device_owner"]) == (
        "renamed", False, "vm-1", "compute:nova")
    assert up["revision_number"] == port["revision_number"] + 1
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"network_id": net["id"]}}), 400,
           "HTTPBadRequest", "Cannot update read-only attribute network_id")
    api.member_a.remove("ports", port["id"])
    expect(api.member_a.get(f"ports/{port['id']}"), 404, "PortNotFound",
           f"Port {port['id']} could not be found.")
    expect(api.member_a.delete(f"ports/{port['id']}"), 404, "PortNotFound")
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"name": "x"}}), 404,
           "PortNotFound")


def test_port_required_network_id(api):
    expect(api.member_a.post("ports", {"port": {"name": "x"}}), 400, "HTTPBadRequest",
           "Failed to parse request. Required attribute 'network_id' not specified")
    missing = "6bdecb4b-429a-4947-8190-10abc831ed83"
    expect(post_port(api.member_a, missing), 404, "NetworkNotFound",
           f"Network {missing} could not be found.")


@pytest.mark.parametrize("cidr,count", [("10.91.0.0/30", 1), ("10.91.0.0/28", 13)])
def test_small_subnets_capacity(api, cidr, count):
    net, sub = api.member_a.net_with_subnet(cidr)
    got = {ip_of(api.member_a.port(net["id"])) for _ in range(count)}
    assert len(got) == count
    expect(post_port(api.member_a, net["id"]), 409, "IpAddressGenerationFailure")
