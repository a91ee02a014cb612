"""Floating IP port forwardings through the API: the life cycle, both port
forms (single ports and ranges), every upstream refusal with its status and
type (and nothing written), the floating IP's `port_forwardings` view, the
association/deletion conflicts both ways, and the parent-owner policy."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


@pytest.fixture
def setup(api):
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    m = api.project()
    net, sub = m.net_with_subnet("10.170.0.0/24")
    router = m.create("routers", name=rand("r"), external_gateway_info={"network_id": ext["id"]})
    expect(m.put(f"routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}), 200)
    fip = m.create("floatingips", floating_network_id=ext["id"])
    return m, ext, net, router, fip


def pfs(fip_id: str) -> str:
    return f"floatingips/{fip_id}/port_forwardings"


def make(m, fip_id, status=201, **attrs):
    body = expect(m.post(pfs(fip_id), {"port_forwarding": attrs}), status)
    return body["port_forwarding"] if status == 201 else body


def test_life_cycle_and_fip_view(api, setup):
    m, ext, net, router, fip = setup
    port = m.port(net["id"])
    ip = port["fixed_ips"][0]["ip_address"]
    assert m.show("floatingips", fip["id"])["port_forwardings"] == []
    pf = make(m, fip["id"], internal_port_id=port["id"], internal_ip_address=ip,
              internal_port=22, external_port=2222, protocol="tcp", description="ssh")
    assert {k: v for k, v in pf.items() if k != "id"} == {
        "internal_port_id": port["id"], "internal_ip_address": ip, "internal_port": 22,
        "external_port": 2222, "protocol": "tcp", "description": "ssh"}
    assert expect(m.get(f"{pfs(fip['id'])}/{pf['id']}"), 200)["port_forwarding"] == pf
    assert expect(m.get(pfs(fip["id"])), 200)["port_forwardings"] == [pf]
    shown = m.show("floatingips", fip["id"])
    assert shown["port_forwardings"] == [{
        "id": pf["id"], "internal_port_id": port["id"], "internal_ip_address": ip,
        "protocol": "tcp", "internal_port": 22, "external_port": 2222}]
    assert shown["router_id"] == router["id"] and shown["port_id"] is None
    # update one side, the other stays
    up = expect(m.put(f"{pfs(fip['id'])}/{pf['id']}",
                      {"port_forwarding": {"internal_port": 2022}}), 200)["port_forwarding"]
    assert (up["internal_port"], up["external_port"]) == (2022, 2222)
    # filters and fields
    got = expect(m.get(pfs(fip["id"]), params={"external_port": 2222, "fields": "protocol"}),
                 200)["port_forwardings"]
    assert got == [{"protocol": "tcp"}]
    assert expect(m.get(pfs(fip["id"]), params={"protocol": "udp"}), 200)[
        "port_forwardings"] == []
    # the floating IP can be neither associated nor deleted while it forwards
    other = m.port(net["id"])
    expect(m.put(f"floatingips/{fip['id']}", {"floatingip": {"port_id": other["id"]}}), 409,
           "FipInUseByPortForwarding",
           f"Floating IP {fip['id']} in use by Port Forwarding resources.")
    expect(m.delete(f"floatingips/{fip['id']}"), 409, "FipInUseByPortForwarding")
    assert m.show("floatingips", fip["id"])["port_id"] is None
    expect(m.delete(f"{pfs(fip['id'])}/{pf['id']}"), 204)
    expect(m.get(f"{pfs(fip['id'])}/{pf['id']}"), 404, "PortForwardingNotFound",
           f"Port Forwarding {pf['id']} could not be found.")
    assert m.show("floatingips", fip["id"])["router_id"] is None
    m.remove("floatingips", fip["id"])
    expect(m.get(pfs(fip["id"])), 404, "FloatingIPNotFound")


def test_port_ranges_and_default_address(api, setup):
    m, ext, net, router, fip = setup
    port = m.port(net["id"])
    pf = make(m, fip["id"], internal_port_id=port["id"], protocol="udp",
              internal_port_range="5000:5010", external_port_range="6000:6010")
    assert pf["internal_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert (pf["internal_port_range"], pf["external_port_range"]) == ("5000:5010", "6000:6010")
    assert "internal_port" not in pf
    # many external ports to one internal port
    many = make(m, fip["id"], internal_port_id=port["id"], protocol="tcp",
                internal_port_range="80", external_port_range="8080:8090")
    assert (many["internal_port_range"], many["external_port_range"]) == ("80:80", "8080:8090")
    # overlapping external ranges on the same protocol: refused
    make(m, fip["id"], 400, internal_port_id=port["id"], protocol="udp",
         internal_port=7000, external_port=6005)
    # sizes that do not match; both forms at once; neither
    err = make(m, fip["id"], 400, internal_port_id=port["id"], protocol="tcp",
               internal_port_range="100:105", external_port_range="200:201")
    assert err["NeutronError"]["type"] == "BadRequest"
    make(m, fip["id"], 400, internal_port_id=port["id"], protocol="tcp", internal_port=1,
         internal_port_range="1:2", external_port=3)
    make(m, fip["id"], 400, internal_port_id=port["id"], protocol="tcp", internal_port=1)
    make(m, fip["id"], 400, internal_port_id=port["id"], protocol="tcp",
         internal_port_range="9:8", external_port=3)
    assert len(expect(m.get(pfs(fip["id"])), 200)["port_forwardings"]) == 2


@pytest.mark.parametrize("attrs, contains", [
    ({"external_port": 65536}, "external_port"),
    ({"internal_port": 0}, "internal_port"),
    ({"protocol": "icmp"}, "protocol"),
    ({"internal_ip_address": "not-an-ip"}, "internal_ip_address"),
    ({"internal_port_id": "nope"}, "internal_port_id"),
    ({"bogus": 1}, "bogus"),
])
def test_invalid_attributes(api, setup, attrs, contains):
    m, ext, net, router, fip = setup
    port = m.port(net["id"])
    body = {"internal_port_id": port["id"], "internal_port": 22, "external_port": 2222,
            "protocol": "tcp", **attrs}
    err = make(m, fip["id"], 400, **body)
    assert contains in err["NeutronError"]["message"]
    assert expect(m.get(pfs(fip["id"])), 200)["port_forwardings"] == []


def test_conflicts(api, setup):
    m, ext, net, router, fip = setup
    p1, p2 = m.port(net["id"]), m.port(net["id"])
    ip1 = p1["fixed_ips"][0]["ip_address"]
    make(m, fip["id"], internal_port_id=p1["id"], internal_port=1111, external_port=2222,
         protocol="tcp")
    # same external port on the same protocol, other target
    err = make(m, fip["id"], 400, internal_port_id=p2["id"], internal_port=3333,
               external_port=2222, protocol="tcp")
    assert "duplicate port forwarding" in err["NeutronError"]["message"]
    # the same external port on udp is another socket
    make(m, fip["id"], internal_port_id=p2["id"], internal_port=3333, external_port=2222,
         protocol="udp")
    # same destination behind two external ports
    make(m, fip["id"], 400, internal_port_id=p1["id"], internal_port=1111,
         external_port=5555, protocol="tcp")
    # an address the port does not have
    err = make(m, fip["id"], 400, internal_port_id=p1["id"], internal_ip_address="10.170.0.250",
               internal_port=1, external_port=1, protocol="tcp")
    assert "not suitable for internal neutron port" in err["NeutronError"]["message"]
    # a port with a floating IP of its own
    m.create("floatingips", floating_network_id=ext["id"], port_id=p2["id"])
    make(m, fip["id"], 409, internal_port_id=p2["id"], internal_port=80, external_port=80,
         protocol="tcp")
    # a floating IP associated with a port
    used = m.create("floatingips", floating_network_id=ext["id"], port_id=p1["id"],
                    fixed_ip_address=ip1)
    err = make(m, used["id"], 409, internal_port_id=p1["id"], internal_port=80,
               external_port=80, protocol="tcp")
    assert err["NeutronError"]["type"] == "FloatingIPPortAlreadyAssociated"
    # a port with no router to the floating IP's network
    lonely_net, lonely_sub = m.net_with_subnet("10.171.0.0/24")
    lonely = m.port(lonely_net["id"])
    err = make(m, fip["id"], 400, internal_port_id=lonely["id"], internal_port=80,
               external_port=81, protocol="tcp")
    assert "is not reachable from subnet" in err["NeutronError"]["message"]
    # an unknown port or floating IP
    make(m, fip["id"], 404, internal_port_id="0" * 8 + "-0000-0000-0000-" + "0" * 12,
         internal_port=80, external_port=82, protocol="tcp")
    expect(m.post(pfs("0" * 8 + "-0000-0000-0000-" + "0" * 12), {"port_forwarding": {
        "internal_port_id": p1["id"], "internal_port": 1, "external_port": 1,
        "protocol": "tcp"}}), 404, "FloatingIPNotFound")


def test_parent_owner_policy(api, setup):
    m, ext, net, router, fip = setup
    port = m.port(net["id"])
    pf = make(m, fip["id"], internal_port_id=port["id"], internal_port=22, external_port=22,
              protocol="tcp")
    other = api.project()
    expect(other.get(pfs(fip["id"])), 404, "FloatingIPNotFound")
    expect(other.delete(f"{pfs(fip['id'])}/{pf['id']}"), 404)
    reader = api.project("reader", project_id=m.project_id)
    assert expect(reader.get(pfs(fip["id"])), 200)["port_forwardings"] == [pf]
    expect(reader.put(f"{pfs(fip['id'])}/{pf['id']}",
                      {"port_forwarding": {"description": "x"}}), 403)
    admin_view = expect(api.admin.get(f"{pfs(fip['id'])}/{pf['id']}"), 200)
    assert admin_view["port_forwarding"] == pf


def test_deleted_internal_port_takes_its_forwardings(api, setup):
    """The port's deletion removes its forwardings and tells their router's
    agents (the floating IP sweep after a port delete)."""
    from neutrino.rpc.l3_handlers import L3Rpc
    m, ext, net, router, fip = setup
    p1, p2 = m.port(net["id"]), m.port(net["id"])
    make(m, fip["id"], internal_port_id=p1["id"], internal_port=22, external_port=22,
         protocol="tcp")
    keep = make(m, fip["id"], internal_port_id=p2["id"], internal_port=22, external_port=23,
                protocol="tcp")
    m.remove("ports", p1["id"])
    fips = L3Rpc(api.core, api.app.state.api.plugins["ports"]).fips
    fips.sweep_orphans()          # (also run by the port delete's notification)
    assert expect(m.get(pfs(fip["id"])), 200)["port_forwardings"] == [keep]
    assert m.show("floatingips", fip["id"])["port_forwardings"][0]["id"] == keep["id"]
    assert fips.sweep_orphans() == []


def test_floating_ip_status_follows_the_agent(api, setup):
    """DOWN until an L3 agent has a forwarding of it in effect, ACTIVE then,
    DOWN again once its last forwarding is gone."""
    from neutrino.rpc.l3_handlers import L3Rpc
    m, ext, net, router, fip = setup
    rpc = L3Rpc(api.core, api.app.state.api.plugins["ports"])
    port = m.port(net["id"])
    rpc.update_floatingip_statuses({fip["id"]: "ACTIVE"})     # no forwarding yet: ignored
    assert m.show("floatingips", fip["id"])["status"] == "DOWN"
    pf = make(m, fip["id"], internal_port_id=port["id"], internal_port=22, external_port=22,
              protocol="tcp")
    assert m.show("floatingips", fip["id"])["status"] == "DOWN"
    rpc.update_floatingip_statuses({fip["id"]: "ACTIVE"})
    assert m.show("floatingips", fip["id"])["status"] == "ACTIVE"
    expect(m.delete(f"{pfs(fip['id'])}/{pf['id']}"), 204)
    assert m.show("floatingips", fip["id"])["status"] == "DOWN"


def test_forwardings_follow_the_ports_addresses(api, setup):
    """As upstream: a forwarding to an address its port no longer has goes."""
    m, ext, net, router, fip = setup
    port = m.port(net["id"])
    sub_id = port["fixed_ips"][0]["subnet_id"]
    port = m.update("ports", port["id"], fixed_ips=port["fixed_ips"] + [{"subnet_id": sub_id}])
    ip1, ip2 = (f["ip_address"] for f in port["fixed_ips"])
    make(m, fip["id"], internal_port_id=port["id"], internal_ip_address=ip1,
         internal_port=22, external_port=22, protocol="tcp")
    second = make(m, fip["id"], internal_port_id=port["id"], internal_ip_address=ip2,
                  internal_port=22, external_port=23, protocol="tcp")
    m.update("ports", port["id"], fixed_ips=[{"subnet_id": sub_id, "ip_address": ip2}])
    assert expect(m.get(pfs(fip["id"])), 200)["port_forwardings"] == [second]
    m.update("ports", port["id"], name="renamed")          # no address change: kept
    assert expect(m.get(pfs(fip["id"])), 200)["port_forwardings"] == [second]
