"""Races answered as upstream, never 500, against a real `neutrino-server`
with two API workers on every backend: concurrent removal of one router
interface, router delete racing interface adds, security group delete racing
a port update that adds the group. Only 2xx/404/409, each with a Neutron
body, and a consistent state afterwards."""
from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

from tests.api.helpers import UNLIMITED_QUOTAS, two_worker_config

ROUNDS = 6


@pytest.fixture(scope="module")
def server(server_factory, db_url):
    return server_factory(two_worker_config(db_url, quotas=UNLIMITED_QUOTAS))


@pytest.fixture
def client(server):
    project = secrets.token_hex(16)
    headers = {"X-Project-Id": project, "X-Roles": "member", "X-User-Id": "races"}
    with httpx.Client(base_url=server.url + "/v2.0", headers=headers, timeout=60) as c:
        yield c


def ok(resp, status=(200, 201)):
    assert resp.status_code in ((status,) if isinstance(status, int) else status), resp.text
    return resp.json() if resp.content else None


def together(server, requests, headers) -> list[httpx.Response]:
    """Send all (method, path, json) at once, each on its own connection."""
    async def go():
        async with httpx.AsyncClient(base_url=server.url + "/v2.0", headers=headers,
                                     timeout=60, limits=httpx.Limits(
                                         max_connections=len(requests))) as c:
            return await asyncio.gather(*(c.request(m, p, json=b) for m, p, b in requests))
    try:
        return asyncio.run(go())
    except httpx.TransportError as exc:
        pytest.fail(f"{exc!r}; server log:\n{server.log_tail()}")


def check_answers(server, responses, allowed: dict[int, set[str] | None]) -> list[int]:
    """Every answer is one of `allowed` (status -> NeutronError types, None
    for a success); returns the statuses."""
    for r in responses:
        assert r.status_code in allowed, f"{r.status_code}: {r.text}\n{server.log_tail()}"
        types = allowed[r.status_code]
        if types is not None:
            assert r.json()["NeutronError"]["type"] in types, r.text
    return [r.status_code for r in responses]


def network_with_subnet(client, cidr: str) -> tuple[dict, dict]:
    net = ok(client.post("networks", json={"network": {"name": "race"}}))["network"]
    sub = ok(client.post("subnets", json={"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": cidr}}))["subnet"]
    return net, sub


def router_ports(client, router_id: str) -> list[dict]:
    return ok(client.get("ports", params={"device_id": router_id}))["ports"]


@pytest.mark.parametrize("by", ["subnet_id", "port_id"])
def test_concurrent_remove_of_one_interface(server, client, by):
    for n in range(ROUNDS):
        _, sub = network_with_subnet(client, f"10.240.{n}.0/24")
        router = ok(client.post("routers", json={"router": {"name": "r"}}))["router"]
        added = ok(client.put(f"routers/{router['id']}/add_router_interface",
                              json={"subnet_id": sub["id"]}))
        body = {by: sub["id"] if by == "subnet_id" else added["port_id"]}
        responses = together(server, [("PUT", f"routers/{router['id']}/remove_router_interface",
                                       body)] * 6, client.headers)
        statuses = check_answers(server, responses, {
            200: None, 404: {"RouterInterfaceNotFoundForSubnet", "RouterInterfaceNotFound"}})
        assert statuses.count(200) == 1, statuses
        assert router_ports(client, router["id"]) == []
        ok(client.get(f"ports/{added['port_id']}"), 404)
        ok(client.delete(f"routers/{router['id']}"), 204)


def test_router_delete_racing_interface_adds(server, client):
    for n in range(ROUNDS):
        subs = [network_with_subnet(client, f"10.241.{n * 4 + i}.0/24")[1] for i in range(3)]
        router = ok(client.post("routers", json={"router": {"name": "r"}}))["router"]
        path = f"routers/{router['id']}"
        requests = [("PUT", f"{path}/add_router_interface", {"subnet_id": s["id"]})
                    for s in subs]
        requests.insert(n % 4, ("DELETE", path, None))
        responses = together(server, requests, client.headers)
        statuses = check_answers(server, responses, {
            200: None, 204: None, 404: {"RouterNotFound"}, 409: {"RouterInUse"}})
        deleted = statuses[n % 4] == 204
        ports = router_ports(client, router["id"])
        if deleted:
            # No interface port may outlive its router.
            assert ports == [], ports
            assert statuses.count(200) == 0, statuses
            ok(client.get(path), 404)
        else:
            assert len(ports) == statuses.count(200) >= 1, (ports, statuses)
            assert {p["device_owner"] for p in ports} == {"network:router_interface"}
            for s in subs:
                client.put(f"{path}/remove_router_interface", json={"subnet_id": s["id"]})
            ok(client.delete(path), 204)


def test_group_delete_racing_port_update(server, client):
    net, _ = network_with_subnet(client, "10.242.0.0/24")
    for n in range(ROUNDS * 2):
        sg = ok(client.post("security-groups", json={"security_group": {"name": "g"}}))[
            "security_group"]
        port = ok(client.post("ports", json={"port": {"network_id": net["id"]}}))["port"]
        groups = port["security_groups"] + [sg["id"]]
        requests = [("PUT", f"ports/{port['id']}", {"port": {"security_groups": groups}}),
                    ("DELETE", f"security-groups/{sg['id']}", None)]
        if n % 2:
            requests.reverse()
        responses = together(server, requests, client.headers)
        check_answers(server, responses, {200: None, 204: None,
                                          404: {"SecurityGroupNotFound"},
                                          409: {"SecurityGroupInUse"}})
        by_kind = {r.request.method: r.status_code for r in responses}
        after = ok(client.get(f"ports/{port['id']}"))["port"]
        group_exists = client.get(f"security-groups/{sg['id']}").status_code == 200
        if by_kind["PUT"] == 200:
            assert by_kind["DELETE"] == 409 and group_exists
            assert sg["id"] in after["security_groups"]
        else:
            assert by_kind == {"PUT": 404, "DELETE": 204}
            assert not group_exists and sg["id"] not in after["security_groups"]
        ok(client.delete(f"ports/{port['id']}"), 204)


def test_concurrent_adds_of_one_subnet_to_one_router(server, client):
    for n in range(ROUNDS):
        _, sub = network_with_subnet(client, f"10.243.{n}.0/24")
        router = ok(client.post("routers", json={"router": {"name": "r"}}))["router"]
        responses = together(server, [("PUT", f"routers/{router['id']}/add_router_interface",
                                       {"subnet_id": sub["id"]})] * 5, client.headers)
        statuses = check_answers(server, responses, {200: None, 400: {"BadRequest"}})
        assert statuses.count(200) == 1, statuses
        assert len(router_ports(client, router["id"])) == 1


def test_one_port_added_to_two_routers_at_once(server, client):
    for n in range(ROUNDS):
        net, _ = network_with_subnet(client, f"10.244.{n}.0/24")
        port = ok(client.post("ports", json={"port": {"network_id": net["id"]}}))["port"]
        routers = [ok(client.post("routers", json={"router": {"name": "r"}}))["router"]
                   for _ in range(3)]
        responses = together(server, [("PUT", f"routers/{r['id']}/add_router_interface",
                                       {"port_id": port["id"]}) for r in routers],
                             client.headers)
        statuses = check_answers(server, responses, {200: None, 409: {"PortInUse"}})
        assert statuses.count(200) == 1, statuses
        owner = ok(client.get(f"ports/{port['id']}"))["port"]["device_id"]
        winner = routers[statuses.index(200)]["id"]
        assert owner == winner
        assert [len(router_ports(client, r["id"])) for r in routers].count(1) == 1


def test_network_delete_racing_subnet_and_port_creates(server, client):
    for n in range(ROUNDS):
        net, sub = network_with_subnet(client, f"10.245.{n}.0/24")
        requests = [("POST", "ports", {"port": {"network_id": net["id"]}}),
                    ("POST", "subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                                    "cidr": f"10.246.{n}.0/24"}}),
                    ("POST", "ports", {"port": {"network_id": net["id"],
                                                "fixed_ips": [{"subnet_id": sub["id"]}]}})]
        requests.insert(n % 4, ("DELETE", f"networks/{net['id']}", None))
        responses = together(server, requests, client.headers)
        check_answers(server, responses, {201: None, 204: None,
                                          404: {"NetworkNotFound", "SubnetNotFound"},
                                          409: {"NetworkInUse"}})
        gone = client.get(f"networks/{net['id']}").status_code == 404
        ports = ok(client.get("ports", params={"network_id": net["id"]}))["ports"]
        subnets = ok(client.get("subnets", params={"network_id": net["id"]}))["subnets"]
        if gone:
            assert ports == [] and subnets == [], (ports, subnets)
        else:
            for p in ports:
                ok(client.delete(f"ports/{p['id']}"), 204)
            ok(client.delete(f"networks/{net['id']}"), 204)


def test_subnet_delete_racing_port_creates(server, client):
    for n in range(ROUNDS):
        net, sub = network_with_subnet(client, f"10.247.{n}.0/24")
        requests = [("POST", "ports", {"port": {"network_id": net["id"],
                                                "fixed_ips": [{"subnet_id": sub["id"]}]}}),
                    ("POST", "ports", {"port": {"network_id": net["id"]}})]
        requests.insert(n % 3, ("DELETE", f"subnets/{sub['id']}", None))
        responses = together(server, requests, client.headers)
        check_answers(server, responses, {201: None, 204: None,
                                          400: {"InvalidInput", "BadRequest"},
                                          404: {"SubnetNotFound"}, 409: {"SubnetInUse"}})
        gone = client.get(f"subnets/{sub['id']}").status_code == 404
        ports = ok(client.get("ports", params={"network_id": net["id"]}))["ports"]
        if gone:
            assert all(p["fixed_ips"] == [] for p in ports), ports


def test_rule_create_racing_group_delete(server, client):
    for n in range(ROUNDS * 2):
        sg = ok(client.post("security-groups", json={"security_group": {"name": "g"}}))[
            "security_group"]
        other = ok(client.post("security-groups", json={"security_group": {"name": "o"}}))[
            "security_group"]
        requests = [("POST", "security-group-rules", {"security_group_rule": {
                        "security_group_id": sg["id"], "direction": "ingress",
                        "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}}),
                    ("POST", "security-group-rules", {"security_group_rule": {
                        "security_group_id": other["id"], "direction": "ingress",
                        "remote_group_id": sg["id"]}})]
        requests.insert(n % 3, ("DELETE", f"security-groups/{sg['id']}", None))
        responses = together(server, requests, client.headers)
        check_answers(server, responses, {201: None, 204: None,
                                          404: {"SecurityGroupNotFound"}})
        if client.get(f"security-groups/{sg['id']}").status_code == 404:
            rules = ok(client.get("security-group-rules",
                                  params={"remote_group_id": sg["id"]}))["security_group_rules"]
            assert rules == []
            assert ok(client.get("security-group-rules", params={
                "security_group_id": sg["id"]}))["security_group_rules"] == []


def test_floating_ip_association_racing_interface_removal(server, client):
    admin = {"X-Project-Id": secrets.token_hex(16), "X-Roles": "admin", "X-User-Id": "races"}
    ext = ok(client.post("networks", json={"network": {"name": "ext", "router:external": True}},
                         headers=admin))["network"]
    ok(client.post("subnets", json={"subnet": {"network_id": ext["id"], "ip_version": 4,
                                               "cidr": "198.51.100.0/24"}}, headers=admin))
    for n in range(ROUNDS * 2):
        net, sub = network_with_subnet(client, f"10.248.{n}.0/24")
        router = ok(client.post("routers", json={"router": {
            "name": "r", "external_gateway_info": {"network_id": ext["id"]}}}))["router"]
        ok(client.put(f"routers/{router['id']}/add_router_interface",
                      json={"subnet_id": sub["id"]}))
        port = ok(client.post("ports", json={"port": {"network_id": net["id"]}}))["port"]
        requests = [("POST", "floatingips", {"floatingip": {
                        "floating_network_id": ext["id"], "port_id": port["id"]}}),
                    ("PUT", f"routers/{router['id']}/remove_router_interface",
                     {"subnet_id": sub["id"]})]
        if n % 2:
            requests.reverse()
        responses = together(server, requests, client.headers)
        check_answers(server, responses, {200: None, 201: None,
                                          404: {"ExternalGatewayForFloatingIPNotFound"},
                                          409: {"RouterInterfaceInUseByFloatingIP"}})
        by_kind = {r.request.method: r.status_code for r in responses}
        interfaces = [p for p in router_ports(client, router["id"])
                      if p["device_owner"] == "network:router_interface"]
        fips = ok(client.get("floatingips", params={"port_id": port["id"]}))["floatingips"]
        if by_kind["POST"] == 201:
            # Associated: the router still reaches the port's subnet.
            assert by_kind["PUT"] == 409 and len(interfaces) == 1 and len(fips) == 1
            assert fips[0]["router_id"] == router["id"]
            ok(client.delete(f"floatingips/{fips[0]['id']}"), 204)
        else:
            assert by_kind == {"POST": 404, "PUT": 200} and interfaces == [] and fips == []


def test_port_delete_racing_its_attachment_to_a_router(server, client):
    for n in range(ROUNDS * 2):
        net, _ = network_with_subnet(client, f"10.249.{n}.0/24")
        port = ok(client.post("ports", json={"port": {"network_id": net["id"]}}))["port"]
        router = ok(client.post("routers", json={"router": {"name": "r"}}))["router"]
        requests = [("PUT", f"routers/{router['id']}/add_router_interface",
                     {"port_id": port["id"]}),
                    ("DELETE", f"ports/{port['id']}", None)]
        if n % 2:
            requests.reverse()
        responses = together(server, requests, client.headers)
        check_answers(server, responses, {200: None, 204: None, 404: {"PortNotFound"},
                                          409: {"L3PortInUse"}})
        by_kind = {r.request.method: r.status_code for r in responses}
        exists = client.get(f"ports/{port['id']}").status_code == 200
        if by_kind["PUT"] == 200:
            # Attached first: the port is the router's and may not be deleted.
            assert by_kind["DELETE"] == 409 and exists
            assert [p["id"] for p in router_ports(client, router["id"])] == [port["id"]]
        else:
            assert by_kind == {"PUT": 404, "DELETE": 204} and not exists
