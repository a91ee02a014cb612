"""Floating IPs through the API: association checks with upstream's
statuses and types, the router found automatically, and the status an L3
agent reports (DOWN until an agent has the association in effect, DOWN
again when it goes)."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


@pytest.fixture
def setup(api):
    """A member's network behind a router with its gateway on an external
    network; a port on it."""
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    m = api.project()
    net, sub = m.net_with_subnet("10.160.0.0/24")
    router = m.create("routers", name=rand("r"), external_gateway_info={"network_id": ext["id"]})
    expect(m.put(f"routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}), 200)
    port = m.port(net["id"])
    return m, ext, sub, router, port


def agent_reports(api, statuses):
    """What the L3 agent casts after applying its routers."""
    from neutrino.rpc.l3_handlers import L3Rpc
    L3Rpc(api.core, api.app.state.api.plugins["ports"]).update_floatingip_statuses(statuses)


def test_association_and_status(api, setup):
    m, ext, sub, router, port = setup
    fip = m.create("floatingips", floating_network_id=ext["id"], port_id=port["id"])
    assert fip["router_id"] == router["id"]                  # found automatically
    assert fip["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert fip["status"] == "DOWN"                           # no agent has it yet
    agent_reports(api, {fip["id"]: "ACTIVE"})
    assert m.show("floatingips", fip["id"])["status"] == "ACTIVE"

    # the fixed IP has a floating IP already
    expect(m.post("floatingips", {"floatingip": {"floating_network_id": ext["id"],
                                                 "port_id": port["id"]}}),
           409, "FloatingIPPortAlreadyAssociated")
    # the interface and the gateway it needs cannot go
    expect(m.put(f"routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}),
           409, "RouterInterfaceInUseByFloatingIP")
    expect(api.admin.put(f"routers/{router['id']}", {"router": {"external_gateway_info": {}}}),
           409, "RouterExternalGatewayInUseByFloatingIp",
           f"Gateway cannot be updated for router {router['id']}, since a gateway to external "
           f"network {ext['id']} is required by one or more floating IPs.")

    # disassociate: DOWN at once; an ACTIVE report that crossed it is ignored
    off = m.update("floatingips", fip["id"], port_id=None)
    assert (off["port_id"], off["fixed_ip_address"], off["router_id"], off["status"]) == (
        None, None, None, "DOWN")
    agent_reports(api, {fip["id"]: "ACTIVE"})
    assert m.show("floatingips", fip["id"])["status"] == "DOWN"

    # associate again: DOWN until the agent reports it in effect
    again = m.update("floatingips", fip["id"], port_id=port["id"])
    assert again["status"] == "DOWN" and again["router_id"] == router["id"]
    agent_reports(api, {fip["id"]: "ACTIVE"})
    assert m.show("floatingips", fip["id"])["status"] == "ACTIVE"
    m.remove("floatingips", fip["id"])
    expect(m.get(f"floatingips/{fip['id']}"), 404, "FloatingIPNotFound")


def test_port_without_route_to_the_external_network(api, setup):
    m, ext, sub, router, port = setup
    lonely_net, lonely_sub = m.net_with_subnet("10.161.0.0/24")
    lonely = m.port(lonely_net["id"])
    expect(m.post("floatingips", {"floatingip": {"floating_network_id": ext["id"],
                                                 "port_id": lonely["id"]}}),
           404, "ExternalGatewayForFloatingIPNotFound",
           f"External network {ext['id']} is not reachable from subnet {lonely_sub['id']}.  "
           f"Therefore, cannot associate Port {lonely['id']} with a Floating IP.")
    internal = m.network()
    expect(m.post("floatingips", {"floatingip": {"floating_network_id": internal["id"]}}),
           400, "BadRequest",
           f"Bad floatingip request: Network {internal['id']} is not a valid external network.")


def test_deleting_the_port_disassociates(api, setup):
    m, ext, sub, router, port = setup
    fip = m.create("floatingips", floating_network_id=ext["id"], port_id=port["id"])
    agent_reports(api, {fip["id"]: "ACTIVE"})
    m.remove("ports", port["id"])
    shown = m.show("floatingips", fip["id"])
    assert (shown["port_id"], shown["fixed_ip_address"], shown["router_id"],
            shown["status"]) == (None, None, None, "DOWN")
    # ... so the router's interface is free again (tempest's cleanup order)
    expect(m.put(f"routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}),
           200)
    # the sweep (after each port deletion on the bus, and every L3 heartbeat)
    # clears the rest of the row and tells the router; the API runs without a bus here
    from neutrino.plugins.l3.floatingips import FloatingIPPlugin
    fips = FloatingIPPlugin(api.core, api.app.state.api.plugins["ports"])
    assert router["id"] in fips.sweep_orphans()
    assert fips.sweep_orphans() == []


def test_floating_ip_port_is_not_the_port_apis(api, setup):
    m, ext, *_ = setup
    fip = m.create("floatingips", floating_network_id=ext["id"])
    (fport,) = api.admin.list("ports", {"device_id": fip["id"]})
    assert fport["device_owner"] == "network:floatingip"
    expect(api.admin.delete(f"ports/{fport['id']}"), 409, "L3PortInUse")


def test_update_semantics(api, setup):
    """Upstream's: a body without port_id keeps the association, an empty
    body clears it (the API's original way to disassociate)."""
    m, ext, sub, router, port = setup
    fip = m.create("floatingips", floating_network_id=ext["id"], port_id=port["id"])
    kept = m.update("floatingips", fip["id"], description="d2")
    assert (kept["description"], kept["port_id"]) == ("d2", port["id"])
    assert m.update("floatingips", fip["id"], port_id=port["id"])["port_id"] == port["id"]
    expect(m.put(f"floatingips/{fip['id']}", {"floatingip": {"fixed_ip_address": "10.160.0.9"}}),
           400, "BadRequest",
           "Bad floatingip request: fixed_ip_address cannot be specified without a port_id.")
    cleared = expect(m.put(f"floatingips/{fip['id']}", {"floatingip": {}}), 200)["floatingip"]
    assert (cleared["port_id"], cleared["router_id"], cleared["description"]) == (
        None, None, "d2")


def test_port_of_another_project(api, setup):
    """The network's owner sees a port another project has on it, but may
    not map a floating IP to it (400, as upstream); the admin may."""
    m, ext, sub, router, port = setup
    other = api.admin.port(port["network_id"], project_id=api.project().project_id)
    fip = m.create("floatingips", floating_network_id=ext["id"])
    expect(m.put(f"floatingips/{fip['id']}", {"floatingip": {"port_id": other["id"]}}), 400,
           "BadRequest",
           f"Bad floatingip request: Cannot process floating IP association with Port "
           f"{other['id']}, since that port is owned by a different tenant.")
    assert api.admin.update("floatingips", fip["id"], port_id=other["id"])["port_id"] == \
        other["id"]
