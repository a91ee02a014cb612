"""Isolated metadata in the DHCP agent (upstream's dhcp_agent.ini flags):
which networks get a proxy, the 169.254.169.254 address and host routes,
and the plan's proxy ops."""
from __future__ import annotations

from neutrino.agent.dhcp.model import MetadataFlags, NetDesired, NetObserved
from neutrino.agent.dhcp.plan import plan
from neutrino.dataplane import dnsmasq
from tests.unit.test_dhcp_plan import CONF, SUB, converged, wire

ISOLATED = MetadataFlags(enable_isolated_metadata=True)
FORCE = MetadataFlags(force_metadata=True)


def routed_wire(gateway_held=True):
    """The subnet with a router interface (holding the gateway address, or not)."""
    w = wire()
    w["ports"].append({"id": "router-if", "mac_address": "fa:16:3e:00:00:99",
                       "device_owner": "network:router_interface", "device_id": "r1",
                       "fixed_ips": [{"subnet_id": SUB, "ip_address":
                                      "102.0.0.1" if gateway_held else "102.0.0.77"}]})
    return w


def opts(d: NetDesired) -> str:
    return dnsmasq.opts_file(d.network, d.dhcp_port)


def test_isolated_subnet_gets_a_proxy_an_address_and_a_route_via_the_dhcp_port():
    d = NetDesired.from_wire(wire(), "node1", ISOLATED)
    assert d.metadata_proxy
    assert "169.254.169.254/32" in d.cidrs() and "102.0.0.2/24" in d.cidrs()
    assert (f"tag:subnet-{SUB},option:classless-static-route,"
            "169.254.169.254/32,102.0.0.2,0.0.0.0/0,102.0.0.1") in opts(d)
    assert f"tag:subnet-{SUB},249,169.254.169.254/32,102.0.0.2,0.0.0.0/0,102.0.0.1" in opts(d)


def test_routed_subnet_has_no_proxy_and_routes_metadata_via_its_router():
    d = NetDesired.from_wire(routed_wire(), "node1", ISOLATED)
    assert not d.metadata_proxy
    assert "169.254.169.254/32" in d.cidrs()          # upstream adds it whenever enabled
    assert "169.254.169.254/32,102.0.0.1,0.0.0.0/0,102.0.0.1" in opts(d)
    # without any flag too (upstream's opts do this always)
    d = NetDesired.from_wire(routed_wire(), "node1")
    assert not d.metadata_proxy and "169.254.169.254/32" not in d.cidrs()
    assert "169.254.169.254/32,102.0.0.1" in opts(d)


def test_router_port_without_the_gateway_address_leaves_the_subnet_isolated():
    d = NetDesired.from_wire(routed_wire(gateway_held=False), "node1", ISOLATED)
    assert d.metadata_proxy
    assert "169.254.169.254/32,102.0.0.2" in opts(d)


def test_flags_off_no_metadata_at_all_on_an_isolated_subnet():
    d = NetDesired.from_wire(wire(), "node1")
    assert not d.metadata_proxy
    assert "169.254.169.254" not in opts(d) and "169.254.169.254/32" not in d.cidrs()


def test_force_metadata_serves_routed_networks_too():
    d = NetDesired.from_wire(routed_wire(), "node1", FORCE)
    assert d.metadata_proxy
    assert "169.254.169.254/32,102.0.0.2,0.0.0.0/0,102.0.0.1" in opts(d)


def test_metadata_network_needs_enable_metadata_network():
    w = routed_wire()
    w["subnets"][0].update(cidr="169.254.0.0/16", gateway_ip="169.254.0.1")
    w["ports"][-1]["fixed_ips"][0]["ip_address"] = "169.254.0.1"     # routed
    flags = MetadataFlags(enable_isolated_metadata=True, enable_metadata_network=True)
    assert NetDesired.from_wire(w, "node1", flags).metadata_proxy
    assert not NetDesired.from_wire(w, "node1", ISOLATED).metadata_proxy


def test_no_dhcp_subnet_no_proxy():
    d = NetDesired.from_wire(wire(enable_dhcp=False), "node1", FORCE)
    assert not d.metadata_proxy


def test_plan_starts_the_proxy_after_the_address_and_stops_it_first_on_teardown():
    d = NetDesired.from_wire(wire(), "node1", ISOLATED)
    ops = plan(d, NetObserved(), CONF, proxy_config="cfg")
    kinds = [op[0] for op in ops]
    assert kinds[-1] == "proxy" and ops[-1] == ("proxy", "ensure")
    assert ("address", "add", d.interface(), "169.254.169.254/32") in ops
    running = converged(d)
    running.proxy_running, running.proxy_config = True, "cfg"
    assert plan(d, running, CONF, proxy_config="cfg") == []
    assert plan(d, running, CONF, proxy_config="new") == [("proxy", "ensure")]
    running.proxy_running = False                       # it died: started again
    assert plan(d, running, CONF, proxy_config="cfg") == [("proxy", "ensure")]
    running.proxy_running = True
    ops = plan(None, running, CONF)
    assert ops[0] == ("proxy", "stop") and ("delete_netns",) in ops
    # a router now serves the subnet: the proxy goes, the namespace stays
    routed = NetDesired.from_wire(routed_wire(), "node1", ISOLATED)
    ops = plan(routed, running, CONF, proxy_config=None)
    assert ("proxy", "stop") in ops and ("delete_netns",) not in ops
