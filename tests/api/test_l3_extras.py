"""The smaller L3 extensions through the API: fip-port-details,
floatingip-pools, extraroute-atomic, dvr (served, always False, admin only),
router_availability_zone and l3-port-ip-change-not-allowed."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


@pytest.fixture
def setup(api):
    ext = api.admin.network(**{"router:external": True})
    ext_sub = api.admin.subnet(ext["id"], "198.51.100.0/24")
    m = api.project()
    net, sub = m.net_with_subnet("10.180.0.0/24")
    router = m.create("routers", name=rand("r"), external_gateway_info={"network_id": ext["id"]})
    expect(m.put(f"routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}), 200)
    return m, ext, ext_sub, net, sub, router


def test_fip_port_details(api, setup):
    m, ext, ext_sub, net, sub, router = setup
    port = m.port(net["id"], name="vm-port")
    fip = m.create("floatingips", floating_network_id=ext["id"])
    assert fip["port_details"] is None
    fip = m.update("floatingips", fip["id"], port_id=port["id"])
    assert fip["port_details"] == {k: port[k] for k in (
        "name", "network_id", "mac_address", "admin_state_up", "status", "device_id",
        "device_owner")}
    assert m.show("floatingips", fip["id"])["port_details"]["name"] == "vm-port"
    assert m.update("floatingips", fip["id"], port_id=None)["port_details"] is None


def test_floatingip_pools(api, setup):
    m, ext, ext_sub, net, sub, router = setup
    second = api.admin.subnet(ext["id"], "198.51.101.0/24")
    api.admin.subnet(ext["id"], "2001:db8:198::/64", ip_version=6)
    pools = expect(m.get("floatingip_pools"), 200)["floatingip_pools"]
    assert expect(m.get("floatingip-pools"), 200)["floatingip_pools"] == pools
    mine = [p for p in pools if p["network_id"] == ext["id"]]
    assert sorted(p["subnet_id"] for p in mine) == sorted([ext_sub["id"], second["id"]])
    pool = next(p for p in mine if p["subnet_id"] == second["id"])
    assert pool == {"subnet_id": second["id"], "subnet_name": second["name"],
                    "network_id": ext["id"], "cidr": "198.51.101.0/24",
                    "project_id": ext["project_id"], "tenant_id": ext["project_id"]}
    # a floating IP from that pool
    fip = m.create("floatingips", floating_network_id=ext["id"], subnet_id=second["id"])
    assert fip["floating_ip_address"].startswith("198.51.101.")
    # private networks' subnets are no pools; filters and fields
    assert all(p["network_id"] != net["id"] for p in pools)
    got = expect(m.get("floatingip_pools", params={"subnet_id": second["id"],
                                                    "fields": "cidr"}), 200)
    assert got["floatingip_pools"] == [{"cidr": "198.51.101.0/24"}]


def test_extraroute_atomic(api, setup):
    m, ext, ext_sub, net, sub, router = setup
    rid = router["id"]

    def call(action, *routes, status=200):
        body = {"router": {"routes": [{"destination": d, "nexthop": h} for d, h in routes]}}
        return expect(m.put(f"routers/{rid}/{action}", body), status)

    r = call("add_extraroutes", ("10.0.2.0/24", "10.180.0.2"))["router"]
    assert r["routes"] == [{"destination": "10.0.2.0/24", "nexthop": "10.180.0.2"}]
    r = call("add_extraroutes", ("10.0.2.0/24", "10.180.0.2"), ("10.0.3.0/24", "10.180.0.3"))
    assert len(r["router"]["routes"]) == 2 and r["router"]["id"] == rid
    r = call("remove_extraroutes", ("10.0.3.0/24", "10.180.0.3"), ("10.0.4.0/24", "10.180.0.4"))
    assert r["router"]["routes"] == [{"destination": "10.0.2.0/24", "nexthop": "10.180.0.2"}]
    # same destination, another next hop: a second route
    r = call("add_extraroutes", ("10.0.2.0/24", "10.180.0.5"))["router"]
    assert len(r["routes"]) == 2
    assert m.show("routers", rid)["routes"] == r["routes"]
    # a next hop the router is not connected to: 400, nothing changed
    expect(m.put(f"routers/{rid}/add_extraroutes", {"router": {"routes": [
        {"destination": "10.9.0.0/24", "nexthop": "192.0.2.1"}]}}), 400, "InvalidRoutes")
    expect(m.put(f"routers/{rid}/add_extraroutes", {"router": {"routes": "x"}}), 400)
    expect(m.put(f"routers/{rid}/add_extraroutes", {"routes": []}), 400)
    assert len(m.show("routers", rid)["routes"]) == 2
    # another project: 404; a reader: 403
    expect(api.project().put(f"routers/{rid}/add_extraroutes", {"router": {"routes": []}}), 404)
    reader = api.project("reader", project_id=m.project_id)
    expect(reader.put(f"routers/{rid}/remove_extraroutes", {"router": {"routes": []}}), 403)
    r = call("remove_extraroutes", ("10.0.2.0/24", "10.180.0.2"), ("10.0.2.0/24", "10.180.0.5"))
    assert r["router"]["routes"] == []


def test_dvr_attribute(api, setup):
    """distributed: admin only, kept as asked (the router is hosted
    centrally), changed only while the router is down."""
    m, ext, ext_sub, net, sub, router = setup
    assert "distributed" not in router                        # admin only
    assert api.admin.show("routers", router["id"])["distributed"] is False
    dvr = api.admin.create("routers", name=rand("r"), distributed=True)
    assert dvr["distributed"] is True
    assert api.admin.show("routers", dvr["id"])["distributed"] is True
    # up: no conversion either way (router-admin-state-down-before-update)
    err = expect(api.admin.put(f"routers/{dvr['id']}", {"router": {"distributed": False}}),
                 400, "BadRequest")
    assert "admin_state_up to False" in err["message"]
    plain = api.admin.create("routers", name=rand("r"), distributed=False)
    expect(api.admin.put(f"routers/{plain['id']}", {"router": {"distributed": True}}), 400,
           "BadRequest")
    # down: converted, and back
    api.admin.update("routers", plain["id"], admin_state_up=False)
    assert api.admin.update("routers", plain["id"], distributed=True)["distributed"] is True
    assert api.admin.update("routers", plain["id"], admin_state_up=True)["distributed"] is True
    api.admin.update("routers", plain["id"], admin_state_up=False)
    assert api.admin.update("routers", plain["id"], distributed=False)["distributed"] is False
    # members may neither set nor see it
    expect(m.post("routers", {"router": {"name": rand("r"), "distributed": False}}), 403)
    expect(m.put(f"routers/{router['id']}", {"router": {"distributed": True}}), 403)


def test_router_availability_zones(api, setup):
    m, ext, ext_sub, net, sub, router = setup
    assert router["availability_zone_hints"] == [] and "availability_zones" in router
    expect(m.post("routers", {"router": {"name": rand("r"),
                                         "availability_zone_hints": ["no-such-zone"]}}),
           404, "AvailabilityZoneNotFound",
           "AvailabilityZone no-such-zone could not be found.")


def test_router_port_ip_cannot_change(api, setup):
    m, ext, ext_sub, net, sub, router = setup
    rport = api.admin.list("ports", params={"device_id": router["id"],
                                           "device_owner": "network:router_interface"})[0]
    before = rport["fixed_ips"]
    expect(api.admin.put(f"ports/{rport['id']}", {"port": {"fixed_ips": [
        {"subnet_id": sub["id"], "ip_address": "10.180.0.77"}]}}), 400, "BadRequest")
    assert api.admin.show("ports", rport["id"])["fixed_ips"] == before
    # the same addresses again, or other attributes: fine
    expect(api.admin.put(f"ports/{rport['id']}", {"port": {"fixed_ips": before}}), 200)
    expect(api.admin.put(f"ports/{rport['id']}", {"port": {"name": "x"}}), 200)


def test_gateway_on_an_external_network_without_subnets(api):
    """Upstream makes the gateway port without addresses (the RBAC tests of
    external networks set such gateways)."""
    bare = api.admin.network(**{"router:external": True})
    r = api.admin.create("routers", name=rand("r"), external_gateway_info={
        "network_id": bare["id"]})
    assert r["external_gateway_info"]["network_id"] == bare["id"]
    assert r["external_gateway_info"]["external_fixed_ips"] == []
    off = api.admin.update("routers", r["id"], external_gateway_info={})
    assert off["external_gateway_info"] is None


def test_router_scheduled_in_its_hinted_zone(api):
    """router_availability_zone: a router with hints goes to an L3 agent of
    one of those zones (the least loaded there), its availability_zones say so."""
    zone = rand("az")
    host = rand("l3az")
    api.agents.report_state({"agent_type": "L3 agent", "host": host,
                             "binary": "neutrino-l3-agent", "topic": "l3_agent",
                             "availability_zone": zone, "configurations": {},
                             "start_flag": True})
    m = api.project()
    for _ in range(2):
        r = m.create("routers", name=rand("r"), availability_zone_hints=[zone])
        assert r["availability_zone_hints"] == [zone]
        assert r["availability_zones"] == [zone]
        agents = expect(api.admin.get(f"routers/{r['id']}/l3-agents"), 200)["agents"]
        assert [a["host"] for a in agents] == [host]
