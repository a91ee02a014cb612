"""The server's side of the load-balancer agent protocol over the
in-process bus (CONTRACTS.md "Load balancing wire contract"): scheduling
when an agent registers, the resource_changed notice on its host topic,
get_loadbalancers' payload, and update_loadbalancer_statuses driving
PENDING_* -> ACTIVE / ERROR / deleted."""
from __future__ import annotations

import time

from neutrino.rpc.client import host_topic, server_target, status_target
from tests.unit.test_agent_server_rpc import Inbox, env  # noqa: F401 - fixture

LB_AGENT = {"agent_type": "Loadbalancer agent", "binary": "neutrino-lb-agent",
            "topic": "loadbalancer_agent", "configurations": {}}
LB = "/v2/lbaas"
VIP_KEYS = {"address", "port_id", "mac_address", "subnet_id", "network_id", "cidr",
            "gateway_ip", "prefixlen", "mtu", "ip_version"}
LISTENER_KEYS = {"id", "protocol", "protocol_port", "admin_state_up", "connection_limit",
                 "default_pool_id", "timeout_client_data", "timeout_member_connect",
                 "timeout_member_data", "timeout_tcp_inspect", "insert_headers",
                 "allowed_cidrs", "l7policies"}
POOL_KEYS = {"id", "protocol", "lb_algorithm", "admin_state_up", "session_persistence",
             "healthmonitor", "members"}
MEMBER_KEYS = {"id", "address", "protocol_port", "weight", "backup", "admin_state_up",
               "monitor_address", "monitor_port", "subnet_id"}


def post(client, path, key, body, status=201):
    r = client.post(path, json={key: body})
    assert r.status_code == status, r.text
    return r.json()[key]


def get(client, path, key):
    r = client.get(path)
    assert r.status_code == 200, r.text
    return r.json()[key]


def subnet(client, cidr="10.0.0.0/24"):
    net = post(client, "/v2.0/networks", "network", {"name": "t"})
    return post(client, "/v2.0/subnets", "subnet", {"network_id": net["id"], "cidr": cidr,
                                                    "ip_version": 4})


def wait(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def report(bus, prefix, host, lb, outcome="ACTIVE", **extra):
    bus.cast(status_target(prefix), "update_loadbalancer_statuses", {
        "host": host, "loadbalancers": {lb["id"]: {
            "version": lb["version"], "provisioning_status": outcome, "reason": None,
            "operating_status": "ONLINE", **extra}}})


def state(bus, prefix, host):
    return bus.call(server_target(prefix), "get_loadbalancers", {"host": host})["loadbalancers"]


def test_unscheduled_until_an_agent_registers_then_payload_and_reports(env):  # noqa: F811
    core, client, bus, prefix = env
    sub = subnet(client)
    lb = post(client, f"{LB}/loadbalancers", "loadbalancer", {"vip_subnet_id": sub["id"]})
    assert lb["provisioning_status"] == "PENDING_CREATE"
    inbox = Inbox()
    bus.subscribe(host_topic("lbnode", prefix), inbox)
    bus.call(server_target(prefix), "report_state",
             {"agent_state": dict(LB_AGENT, host="lbnode", start_flag=True)})
    inbox.wait(lambda p: p["resource"] == "loadbalancer" and p["id"] == lb["id"])
    (s,) = state(bus, prefix, "lbnode")
    assert s["id"] == lb["id"] and s["deleted"] is False and s["epoch"] == 0
    assert s["provisioning_status"] == "PENDING_CREATE" and isinstance(s["version"], str)
    assert set(s["vip"]) == VIP_KEYS
    assert s["vip"]["address"] == lb["vip_address"] and s["vip"]["prefixlen"] == 24
    assert s["vip"]["gateway_ip"] == "10.0.0.1" and s["vip"]["ip_version"] == 4
    # get_loadbalancers binds the VIP port to the agent's host
    port = get(client, f"/v2.0/ports/{lb['vip_port_id']}", "port")
    assert port["binding:host_id"] == "lbnode"
    assert state(bus, prefix, "elsewhere") == []
    # A report from another host is ignored; an old version changes nothing.
    report(bus, prefix, "elsewhere", s)
    report(bus, prefix, "lbnode", dict(s, version="0"))
    time.sleep(0.2)
    assert get(client, f"{LB}/loadbalancers/{lb['id']}",
               "loadbalancer")["provisioning_status"] == "PENDING_CREATE"
    report(bus, prefix, "lbnode", s)
    wait(lambda: get(client, f"{LB}/loadbalancers/{lb['id']}",
                     "loadbalancer")["provisioning_status"] == "ACTIVE")

    # The whole tree in the payload, with the contract's keys.
    lis = post(client, f"{LB}/listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80})
    inbox.wait(lambda p: p["resource"] == "loadbalancer" and p["id"] == lb["id"]
               and len([i for i in inbox.items if i.get("id") == lb["id"]]) >= 2)
    (s2,) = state(bus, prefix, "lbnode")
    assert s2["version"] != s["version"] and s2["provisioning_status"] == "PENDING_UPDATE"
    assert set(s2["listeners"][0]) == LISTENER_KEYS
    report(bus, prefix, "lbnode", s2)
    wait(lambda: get(client, f"{LB}/listeners/{lis['id']}",
                     "listener")["provisioning_status"] == "ACTIVE")
    pool = post(client, f"{LB}/pools", "pool", {"listener_id": lis["id"], "protocol": "HTTP",
                                                "lb_algorithm": "ROUND_ROBIN"})
    report(bus, prefix, "lbnode", state(bus, prefix, "lbnode")[0])
    wait(lambda: get(client, f"{LB}/pools/{pool['id']}", "pool")["provisioning_status"]
         == "ACTIVE")
    member = post(client, f"{LB}/pools/{pool['id']}/members", "member", {
        "address": "10.0.0.9", "protocol_port": 8080})
    (s3,) = state(bus, prefix, "lbnode")
    assert set(s3["pools"][0]) == POOL_KEYS and s3["pools"][0]["healthmonitor"] is None
    assert set(s3["pools"][0]["members"][0]) == MEMBER_KEYS
    report(bus, prefix, "lbnode", s3, members={member["id"]: "NO_MONITOR"},
           stats={"listeners": {lis["id"]: {"bytes_in": 5, "bytes_out": 6,
                                            "active_connections": 1,
                                            "total_connections": 2, "request_errors": 0}}})
    wait(lambda: get(client, f"{LB}/loadbalancers/{lb['id']}/stats", "stats")["bytes_in"]
         == 5)

    # Member removal: left out of the payload at once, the row removed on the report.
    r = client.delete(f"{LB}/pools/{pool['id']}/members/{member['id']}")
    assert r.status_code == 204
    (s4,) = state(bus, prefix, "lbnode")
    assert s4["pools"][0]["members"] == []
    report(bus, prefix, "lbnode", s4)
    wait(lambda: client.get(f"{LB}/pools/{pool['id']}/members/{member['id']}")
         .status_code == 404)

    # Cascade delete: listed as deleted until the agent says DELETED.
    assert client.delete(f"{LB}/loadbalancers/{lb['id']}?cascade=true").status_code == 204
    (s5,) = state(bus, prefix, "lbnode")
    assert s5["deleted"] is True and s5["provisioning_status"] == "PENDING_DELETE"
    assert s5["listeners"] == [] and s5["pools"] == []
    report(bus, prefix, "lbnode", s5, outcome="DELETED")
    wait(lambda: client.get(f"{LB}/loadbalancers/{lb['id']}").status_code == 404)
    assert client.get(f"/v2.0/ports/{lb['vip_port_id']}").status_code == 404
    assert state(bus, prefix, "lbnode") == []


def test_error_report_and_failover_epoch(env):  # noqa: F811
    core, client, bus, prefix = env
    bus.call(server_target(prefix), "report_state",
             {"agent_state": dict(LB_AGENT, host="lbnode", start_flag=True)})
    sub = subnet(client)
    lb = post(client, f"{LB}/loadbalancers", "loadbalancer", {"vip_subnet_id": sub["id"]})
    (s,) = state(bus, prefix, "lbnode")
    report(bus, prefix, "lbnode", s, outcome="ERROR", reason="haproxy would not start")
    wait(lambda: get(client, f"{LB}/loadbalancers/{lb['id']}",
                     "loadbalancer")["provisioning_status"] == "ERROR")
    assert client.put(f"{LB}/loadbalancers/{lb['id']}/failover").status_code == 202
    (s2,) = state(bus, prefix, "lbnode")
    assert s2["epoch"] == 1 and s2["provisioning_status"] == "PENDING_UPDATE"
    report(bus, prefix, "lbnode", s2)
    wait(lambda: get(client, f"{LB}/loadbalancers/{lb['id']}",
                     "loadbalancer")["provisioning_status"] == "ACTIVE")


def test_delete_without_any_agent_is_immediate(env):  # noqa: F811
    """Never scheduled (no agent alive): nothing exists on any host, so the
    load balancer goes at once, whatever its state."""
    core, client, bus, prefix = env
    sub = subnet(client)
    lb = post(client, f"{LB}/loadbalancers", "loadbalancer", {"vip_subnet_id": sub["id"]})
    assert client.delete(f"{LB}/loadbalancers/{lb['id']}").status_code == 204
    assert client.get(f"{LB}/loadbalancers/{lb['id']}").status_code == 404
    assert client.get(f"/v2.0/ports/{lb['vip_port_id']}").status_code == 404


def test_failover_moves_off_a_dead_agent(env):  # noqa: F811
    from datetime import timedelta

    from sqlalchemy import update

    from neutrino.db import models
    from neutrino.plugins import listing
    core, client, bus, prefix = env
    bus.call(server_target(prefix), "report_state",
             {"agent_state": dict(LB_AGENT, host="node-a", start_flag=True)})
    sub = subnet(client)
    lb = post(client, f"{LB}/loadbalancers", "loadbalancer", {"vip_subnet_id": sub["id"]})
    (s,) = state(bus, prefix, "node-a")
    report(bus, prefix, "node-a", s)
    wait(lambda: get(client, f"{LB}/loadbalancers/{lb['id']}",
                     "loadbalancer")["provisioning_status"] == "ACTIVE")
    bus.call(server_target(prefix), "report_state",
             {"agent_state": dict(LB_AGENT, host="node-b", start_flag=True)})
    # node-a's agent stops reporting
    a = models.agents
    core.db.write(lambda conn: conn.execute(update(a).where(a.c.host == "node-a").values(
        heartbeat_timestamp=listing.now() - timedelta(hours=1))))
    assert client.put(f"{LB}/loadbalancers/{lb['id']}/failover").status_code == 202
    assert state(bus, prefix, "node-a") == []
    (s2,) = state(bus, prefix, "node-b")
    assert s2["id"] == lb["id"] and s2["epoch"] == 1
    assert get(client, f"/v2.0/ports/{lb['vip_port_id']}", "port")["binding:host_id"] == \
        "node-b"
    report(bus, prefix, "node-b", s2)
    wait(lambda: get(client, f"{LB}/loadbalancers/{lb['id']}",
                     "loadbalancer")["provisioning_status"] == "ACTIVE")
