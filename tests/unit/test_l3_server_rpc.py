"""The server's side of the L3 agent protocol (neutrino.rpc.l3_handlers) over
the in-process bus: scheduling on registration, get_routers (with router
ports bound to the agent's host), floating IP status reports."""
from __future__ import annotations

import time

from neutrino.rpc.client import host_topic
from tests.unit.test_agent_server_rpc import Inbox, env  # noqa: F401 - fixture

L3 = {"agent_type": "L3 agent", "binary": "neutrino-l3-agent", "topic": "l3_agent",
      "configurations": {}}


def post(client, coll, body):
    r = client.post(f"/v2.0/{coll}", json={coll[:-1]: body})
    assert r.status_code == 201, r.text
    return r.json()[coll[:-1]]


def test_routers_of_a_registering_agent(env):  # noqa: F811
    core, client, bus, prefix = env
    ext = post(client, "networks", {"name": "ext", "router:external": True,
                                    "provider:network_type": "flat",
                                    "provider:physical_network": "external"})
    post(client, "subnets", {"network_id": ext["id"], "cidr": "203.0.113.0/24",
                             "ip_version": 4, "gateway_ip": "203.0.113.254"})
    net = post(client, "networks", {"name": "t"})
    sub = post(client, "subnets", {"network_id": net["id"], "cidr": "10.0.0.0/24",
                                   "ip_version": 4})
    # no L3 agent yet: the router stays unscheduled
    router = post(client, "routers", {"name": "r",
                                      "external_gateway_info": {"network_id": ext["id"]}})
    r = client.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                   json={"subnet_id": sub["id"]})
    assert r.status_code == 200, r.text
    port = post(client, "ports", {"network_id": net["id"]})
    fip = post(client, "floatingips", {"floating_network_id": ext["id"],
                                       "port_id": port["id"]})
    assert client.get(f"/v2.0/routers/{router['id']}/l3-agents").json()["agents"] == []

    inbox = Inbox()
    bus.subscribe(host_topic("net1", prefix), inbox)
    bus.call(f"{prefix}.server", "report_state",
             {"agent_state": dict(L3, host="net1", start_flag=True)})
    agents = client.get(f"/v2.0/routers/{router['id']}/l3-agents").json()["agents"]
    assert [a["host"] for a in agents] == ["net1"]
    inbox.wait(lambda p: p["resource"] == "router" and p["id"] == router["id"])

    state = bus.call(f"{prefix}.server", "get_routers", {"host": "net1"})
    (r,) = state["routers"]
    assert r["id"] == router["id"] and r["enable_snat"] is True
    assert r["gw_port"]["fixed_ips"][0]["gateway_ip"] == "203.0.113.254"
    assert r["interfaces"][0]["fixed_ips"][0]["ip_address"] == "10.0.0.1"
    assert r["interfaces"][0]["fixed_ips"][0]["prefixlen"] == 24
    assert r["floating_ips"] == [{"id": fip["id"], "floating_ip_address":
                                  fip["floating_ip_address"],
                                  "fixed_ip_address": port["fixed_ips"][0]["ip_address"],
                                  "status": "DOWN"}]
    # the router's ports are bound to the agent's host now
    for p in client.get(f"/v2.0/ports?device_id={router['id']}").json()["ports"]:
        assert p["binding:host_id"] == "net1"
    assert bus.call(f"{prefix}.server", "get_routers", {"host": "other"})["routers"] == []

    bus.cast(f"{prefix}.server", "update_floatingip_statuses",
             {"host": "net1", "statuses": {fip["id"]: "ACTIVE"}})
    deadline = time.monotonic() + 5
    while client.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]["status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_deleting_a_port_disassociates_its_floating_ip_at_once(env):  # noqa: F811
    """The FIP row is cleared and the router's agent told right after the
    port deletion, not at the next L3 heartbeat: its NAT must not outlive
    the port (the address could go to another instance)."""
    core, client, bus, prefix = env
    ext = post(client, "networks", {"name": "ext", "router:external": True,
                                    "provider:network_type": "flat",
                                    "provider:physical_network": "external"})
    post(client, "subnets", {"network_id": ext["id"], "cidr": "203.0.113.0/24",
                             "ip_version": 4})
    net = post(client, "networks", {"name": "t"})
    sub = post(client, "subnets", {"network_id": net["id"], "cidr": "10.0.0.0/24",
                                   "ip_version": 4})
    bus.call(f"{prefix}.server", "report_state",
             {"agent_state": dict(L3, host="net1", start_flag=True)})
    router = post(client, "routers", {"name": "r",
                                      "external_gateway_info": {"network_id": ext["id"]}})
    assert client.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                      json={"subnet_id": sub["id"]}).status_code == 200
    port = post(client, "ports", {"network_id": net["id"]})
    fip = post(client, "floatingips", {"floating_network_id": ext["id"],
                                       "port_id": port["id"]})
    inbox = Inbox()
    bus.subscribe(host_topic("net1", prefix), inbox)
    assert client.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    inbox.wait(lambda p: p["resource"] == "router" and p["id"] == router["id"])
    core.notifier.flush()
    from neutrino.db import models
    row = core.db.read(lambda conn: conn.execute(
        models.floatingips.select().where(models.floatingips.c.id == fip["id"])).mappings().one())
    assert (row["fixed_ip_address"], row["router_id"], row["status"]) == (None, None, "DOWN")
    (r,) = bus.call(f"{prefix}.server", "get_routers", {"host": "net1"})["routers"]
    assert r["floating_ips"] == []
