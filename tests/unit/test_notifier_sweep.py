"""A deleted port's floating IP is disassociated by the notifier's sweep
(after the delete's notification, once per batch of deletes), against a
real core (SQLite) over the in-process bus."""
from __future__ import annotations

from tests.unit.test_agent_server_rpc import env  # noqa: F401


def _post(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_deleted_ports_floating_ips_are_swept(env):  # noqa: F811
    core, client, bus, prefix = env
    calls = []
    sweep = core.notifier.after_port_deleted
    assert sweep is not None

    def counted():
        calls.append(1)
        return sweep()
    core.notifier.after_port_deleted = counted
    ext = _post(client, "/v2.0/networks", {"network": {"name": "ext",
                                                       "router:external": True}})["network"]
    _post(client, "/v2.0/subnets", {"subnet": {"network_id": ext["id"], "ip_version": 4,
                                               "cidr": "203.0.113.0/24"}})
    net = _post(client, "/v2.0/networks", {"network": {"name": "n"}})["network"]
    sub = _post(client, "/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                                     "cidr": "10.5.0.0/24"}})["subnet"]
    router = _post(client, "/v2.0/routers", {"router": {
        "name": "r", "external_gateway_info": {"network_id": ext["id"]}}})["router"]
    r = client.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                   json={"subnet_id": sub["id"]})
    assert r.status_code == 200, r.text
    ports = [_post(client, "/v2.0/ports", {"port": {"network_id": net["id"]}})["port"]
             for _ in range(5)]
    fips = [_post(client, "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "port_id": p["id"]}})["floatingip"] for p in ports]
    assert all(f["router_id"] == router["id"] for f in fips)
    for p in ports:
        assert client.delete(f"/v2.0/ports/{p['id']}").status_code == 204
    core.notifier.flush()
    for f in fips:
        shown = client.get(f"/v2.0/floatingips/{f['id']}").json()["floatingip"]
        assert shown["port_id"] is None and shown["router_id"] is None
        assert shown["status"] == "DOWN"
    assert 1 <= len(calls) <= len(ports)        # once per batch drained, not per port
