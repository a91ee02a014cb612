"""Upstream's create_port:* / update_port:* attribute policies
(neutron/conf/policies/port.py, 2024.2): a member on somebody else's shared
network may not make a port the agents trust (device_owner network:*), nor
choose its MAC, addresses, port security or address pairs; a port's MAC
changes only by an admin; bindings are for admins and services."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand

NETWORK_OWNERS = ("network:dhcp", "network:router_gateway", "network:floatingip",
                  "network:router_interface", "network:anything")


def denied(action: str, *attrs: str) -> str:
    text = f"rule:{action}"
    for attr in attrs:
        text = f"({text} and {attr})"
    return f"{text} is disallowed by policy"


@pytest.fixture
def shared(api):
    """A network of project A, shared, with one subnet."""
    net = api.admin.network(shared=True, project_id=api.project_a)
    sub = api.member_a.subnet(net["id"], "10.231.0.0/24")
    return net, sub


def port_ids(api, net_id: str) -> set[str]:
    return {p["id"] for p in api.admin.list("ports", params={"network_id": net_id})}


@pytest.mark.parametrize("owner", NETWORK_OWNERS)
def test_member_cannot_create_network_owned_port_on_shared_network(api, shared, owner):
    net, _ = shared
    before = port_ids(api, net["id"])
    expect(api.member_b.post("ports", {"port": {"network_id": net["id"], "device_owner": owner}}),
           403, "PolicyNotAuthorized",
           denied("create_port", "rule:create_port:device_owner"))
    assert port_ids(api, net["id"]) == before


def test_device_owner_allowed_for_others_and_network_owner(api, shared):
    net, _ = shared
    # Not a network device: any member on a shared network.
    port = api.member_b.port(net["id"], device_owner="compute:nova")
    assert port["device_owner"] == "compute:nova"
    # The network's owner (a member of project A) may make DHCP ports.
    dhcp = api.member_a.port(net["id"], device_owner="network:dhcp")
    assert dhcp["device_owner"] == "network:dhcp"
    # The default (empty) owner sent explicitly is not "set".
    assert api.member_b.port(net["id"], device_owner="")["device_owner"] == ""


@pytest.mark.parametrize("owner", ("network:dhcp", "network:router_gateway",
                                   "network:floatingip"))
def test_member_cannot_update_own_port_to_network_owner(api, shared, owner):
    net, _ = shared
    port = api.member_b.port(net["id"], device_owner="compute:nova")
    expect(api.member_b.put(f"ports/{port['id']}", {"port": {"device_owner": owner}}), 403,
           "PolicyNotAuthorized", denied("update_port", "rule:update_port:device_owner"))
    after = api.admin.show("ports", port["id"])
    assert after["device_owner"] == "compute:nova"
    assert after["revision_number"] == port["revision_number"]
    # Back to an ordinary owner is fine.
    assert api.member_b.update("ports", port["id"], device_owner="compute:x")[
        "device_owner"] == "compute:x"


def test_network_owner_may_update_device_owner(api):
    net, _ = api.member_a.net_with_subnet("10.232.0.0/24")
    port = api.member_a.port(net["id"])
    up = api.member_a.update("ports", port["id"], device_owner="network:dhcp")
    assert up["device_owner"] == "network:dhcp"


def test_mac_address_rules(api, shared):
    net, _ = shared
    mac = "fa:16:3e:23:10:01"
    before = port_ids(api, net["id"])
    expect(api.member_b.post("ports", {"port": {"network_id": net["id"], "mac_address": mac}}),
           403, "PolicyNotAuthorized", denied("create_port", "rule:create_port:mac_address"))
    assert port_ids(api, net["id"]) == before
    # The network owner chooses MACs on create...
    own = api.member_a.port(net["id"], mac_address=mac)
    assert own["mac_address"] == mac
    # ...but changing one is for admins only (upstream update_port:mac_address).
    expect(api.member_a.put(f"ports/{own['id']}", {"port": {"mac_address": "fa:16:3e:23:10:02"}}),
           403, "PolicyNotAuthorized", denied("update_port", "rule:update_port:mac_address"))
    assert api.admin.show("ports", own["id"])["mac_address"] == mac
    # A project manager may (Keystone's manager role, upstream PROJECT_MANAGER).
    manager = api.as_project(api.member_a, "manager")
    assert manager.update("ports", own["id"], mac_address="fa:16:3e:23:10:03")[
        "mac_address"] == "fa:16:3e:23:10:03"
    assert api.admin.update("ports", own["id"], mac_address="fa:16:3e:23:10:04")[
        "mac_address"] == "fa:16:3e:23:10:04"


def test_fixed_ips_rules_on_shared_network(api, shared):
    net, sub = shared
    before = port_ids(api, net["id"])
    # A subnet on a shared network: allowed (rule:shared).
    port = api.member_b.port(net["id"], fixed_ips=[{"subnet_id": sub["id"]}])
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    # A specific address: network owner only.
    expect(api.member_b.post("ports", {"port": {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": sub["id"], "ip_address": "10.231.0.77"}]}}), 403, "PolicyNotAuthorized",
        "(rule:create_port and (rule:create_port:fixed_ips and "
        "(rule:create_port:fixed_ips:subnet_id and rule:create_port:fixed_ips:ip_address))) "
        "is disallowed by policy")
    assert port_ids(api, net["id"]) == before | {port["id"]}
    # Updating fixed_ips at all is the network owner's (no rule:shared on update).
    expect(api.member_b.put(f"ports/{port['id']}", {"port": {"fixed_ips": [
        {"subnet_id": sub["id"]}]}}), 403, "PolicyNotAuthorized",
        "(rule:update_port and (rule:update_port:fixed_ips and "
        "(rule:update_port:fixed_ips:subnet_id))) is disallowed by policy")
    assert api.admin.show("ports", port["id"])["fixed_ips"] == port["fixed_ips"]
    # The owner of the network may (two addresses the random pick above left free).
    first, second = [ip for ip in ("10.231.0.78", "10.231.0.79", "10.231.0.80")
                     if ip != port["fixed_ips"][0]["ip_address"]][:2]
    own = api.member_a.port(net["id"], fixed_ips=[{"ip_address": first}])
    up = api.member_a.update("ports", own["id"], fixed_ips=[{"ip_address": second}])
    assert up["fixed_ips"][0]["ip_address"] == second


def test_port_security_and_address_pairs_on_shared_network(api, shared):
    net, _ = shared
    before = port_ids(api, net["id"])
    expect(api.member_b.post("ports", {"port": {"network_id": net["id"],
                                                "port_security_enabled": False}}),
           403, "PolicyNotAuthorized",
           denied("create_port", "rule:create_port:port_security_enabled"))
    expect(api.member_b.post("ports", {"port": {"network_id": net["id"],
                                                "allowed_address_pairs": [
                                                    {"ip_address": "10.231.0.200"}]}}),
           403, "PolicyNotAuthorized",
           "(rule:create_port and (rule:create_port:allowed_address_pairs and "
           "(rule:create_port:allowed_address_pairs:ip_address))) is disallowed by policy")
    assert port_ids(api, net["id"]) == before
    port = api.member_b.port(net["id"])
    expect(api.member_b.put(f"ports/{port['id']}", {"port": {"allowed_address_pairs": [
        {"ip_address": "10.231.0.201", "mac_address": "fa:16:3e:00:00:09"}]}}),
        403, "PolicyNotAuthorized",
        "(rule:update_port and (rule:update_port:allowed_address_pairs and "
        "(rule:update_port:allowed_address_pairs:ip_address and "
        "rule:update_port:allowed_address_pairs:mac_address))) is disallowed by policy")
    expect(api.member_b.put(f"ports/{port['id']}", {"port": {"port_security_enabled": False}}),
           403, "PolicyNotAuthorized",
           denied("update_port", "rule:update_port:port_security_enabled"))
    after = api.admin.show("ports", port["id"])
    assert after["allowed_address_pairs"] == [] and after["port_security_enabled"] is True
    assert after["revision_number"] == port["revision_number"]
    # On its own network a member may do both.
    mine, _ = api.member_b.net_with_subnet("10.233.0.0/24")
    p = api.member_b.port(mine["id"], allowed_address_pairs=[{"ip_address": "10.233.0.50"}])
    assert p["allowed_address_pairs"][0]["ip_address"] == "10.233.0.50"


def test_bindings_are_for_admins_and_services(api):
    net, _ = api.member_a.net_with_subnet("10.234.0.0/24")
    service = api.as_project(api.member_a, "service")
    host = rand("host")
    before = port_ids(api, net["id"])
    expect(api.member_a.post("ports", {"port": {"network_id": net["id"],
                                                "binding:host_id": host}}),
           403, "PolicyNotAuthorized", denied("create_port", "rule:create_port:binding:host_id"))
    # binding:profile is the service role's alone (upstream 2024.1+), not even an admin's.
    expect(api.admin.post("ports", {"port": {"network_id": net["id"],
                                             "binding:profile": {"a": "b"}}}),
           403, "PolicyNotAuthorized", denied("create_port", "rule:create_port:binding:profile"))
    assert port_ids(api, net["id"]) == before
    port = api.admin.port(net["id"], project_id=api.project_a, **{"binding:host_id": host})
    assert port["binding:host_id"] == host
    up = service.update("ports", port["id"], **{"binding:profile": {"pci_slot": "0000:01:00.1"}})
    assert up["binding:profile"] == {"pci_slot": "0000:01:00.1"}
    # The member owning it sees neither.
    seen = api.member_a.show("ports", port["id"])
    assert "binding:host_id" not in seen and "binding:profile" not in seen


def test_router_interface_port_may_not_name_anothers_router(api):
    net, _ = api.member_a.net_with_subnet("10.239.0.0/24")
    theirs = api.member_b.create("routers", name="r")
    mine = api.member_a.create("routers", name="r")
    msg = (f"The following device_id {theirs['id']} is not owned by your tenant or matches "
           "another tenants router.")
    before = port_ids(api, net["id"])
    expect(api.member_a.post("ports", {"port": {
        "network_id": net["id"], "device_owner": "network:router_interface",
        "device_id": theirs["id"]}}), 409, "DeviceIDNotOwnedByTenant", msg)
    assert port_ids(api, net["id"]) == before
    port = api.member_a.port(net["id"], device_owner="network:router_interface",
                             device_id=mine["id"])
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"device_id": theirs["id"]}}),
           409, "DeviceIDNotOwnedByTenant", msg)
    assert api.admin.show("ports", port["id"])["device_id"] == mine["id"]
    # An admin may.
    assert api.admin.update("ports", port["id"], device_id=theirs["id"])["device_id"] == \
        theirs["id"]


def test_mac_of_a_network_port_never_changes(api):
    net, _ = api.member_a.net_with_subnet("10.239.1.0/24")
    dhcp = api.member_a.port(net["id"], device_owner="network:dhcp")
    expect(api.admin.put(f"ports/{dhcp['id']}", {"port": {"mac_address": "fa:16:3e:39:01:01"}}),
           409, "UnsupportedPortDeviceOwner",
           f"Operation mac address update is not supported for device_owner network:dhcp on "
           f"port {dhcp['id']}.")
    assert api.admin.show("ports", dhcp["id"])["mac_address"] == dhcp["mac_address"]


def test_port_with_an_owner_but_no_device_becomes_a_router_interface(api):
    net, sub = api.member_a.net_with_subnet("10.239.2.0/24")
    port = api.member_a.port(net["id"], device_owner="compute:nova")
    router = api.member_a.create("routers", name="r")
    expect(api.member_a.put(f"routers/{router['id']}/add_router_interface",
                            {"port_id": port["id"]}), 200)
    shown = api.member_a.show("ports", port["id"])
    assert (shown["device_owner"], shown["device_id"]) == ("network:router_interface",
                                                           router["id"])


def test_network_owner_sees_but_does_not_update_anothers_port(api, shared):
    net, _ = shared
    port = api.member_b.port(net["id"], name="b")
    assert api.member_a.show("ports", port["id"])["name"] == "b"
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"name": "a"}}), 403,
           "PolicyNotAuthorized", "rule:update_port is disallowed by policy")
    assert api.admin.show("ports", port["id"])["name"] == "b"
    # Deleting it is the network owner's right (upstream delete_port).
    expect(api.member_a.delete(f"ports/{port['id']}"), 204)
