"""The server's side of FWaaS on the L3 agent protocol: the status rule
(pure), the version, and over the in-process bus the firewall_group of each
router port in get_routers, the status reports and the notifications."""
from __future__ import annotations

import time

import pytest

from neutrino.plugins.fwaas.state import compute_status, config_hash, version_of
from neutrino.rpc.client import host_topic
from tests.unit.test_agent_server_rpc import Inbox, env  # noqa: F401 - fixture

L3 = {"agent_type": "L3 agent", "binary": "neutrino-l3-agent", "topic": "l3_agent",
      "configurations": {}}


# --- the status rule ---------------------------------------------------------------

@pytest.mark.parametrize("case,kwargs,want", [
    ("no ports", dict(has_ports=False), "INACTIVE"),
    ("no policy", dict(has_policy=False), "INACTIVE"),
    ("new, nobody reported", dict(reports={}), "PENDING_CREATE"),
    ("changed, nobody reported", dict(reports={}, previous="ACTIVE"), "PENDING_UPDATE"),
    ("from INACTIVE", dict(reports={}, previous="INACTIVE"), "PENDING_UPDATE"),
    ("old version ignored", dict(reports={"h1": ("v0", "ACTIVE"), "h2": ("v0", "ACTIVE")}),
     "PENDING_CREATE"),
    ("old ERROR ignored", dict(reports={"h1": ("v0", "ERROR"), "h2": ("v1", "ACTIVE")},
                               previous="ERROR"), "PENDING_UPDATE"),
    ("one of two hosts", dict(reports={"h1": ("v1", "ACTIVE")}), "PENDING_CREATE"),
    ("all hosts", dict(reports={"h1": ("v1", "ACTIVE"), "h2": ("v1", "ACTIVE")}), "ACTIVE"),
    ("ERROR wins", dict(reports={"h1": ("v1", "ERROR"), "h2": ("v1", "ACTIVE")}), "ERROR"),
    ("ERROR before the others report", dict(reports={"h2": ("v1", "ERROR")}), "ERROR"),
    ("host no longer concerned", dict(reports={"h1": ("v1", "ACTIVE"), "h2": ("v1", "ACTIVE"),
                                               "h3": ("v1", "ERROR")}), "ACTIVE"),
    ("admin down, applied", dict(admin_up=False, reports={"h1": ("v1", "ACTIVE"),
                                                          "h2": ("v1", "ACTIVE")}), "DOWN"),
    ("admin down, not applied", dict(admin_up=False, reports={}, previous="ACTIVE"),
     "PENDING_UPDATE"),
    ("a router without agent", dict(hosts={"h1", ""}, reports={"h1": ("v1", "ACTIVE")}),
     "PENDING_CREATE"),
    ("no host at all", dict(hosts=set(), reports={}), "PENDING_CREATE"),
])
def test_status_rule(case, kwargs, want):
    args = dict(has_ports=True, has_policy=True, admin_up=True, version="v1",
                hosts={"h1", "h2"}, reports={}, previous="PENDING_CREATE")
    args.update(kwargs)
    assert compute_status(**args) == want, case


def test_config_hash_follows_what_is_enforced():
    rule = {"id": "r1", "enabled": True, "protocol": "tcp", "ip_version": 4,
            "source_ip_address": None, "destination_ip_address": None,
            "source_port": None, "destination_port": "22", "action": "allow"}
    other = dict(rule, id="r2", destination_port="80")
    base = config_hash(True, ["p1"], [rule, other], None)
    assert base == config_hash(True, ["p1"], [dict(rule), dict(other)], None)   # stable
    changed = [config_hash(False, ["p1"], [rule, other], None),
               config_hash(True, ["p1", "p2"], [rule, other], None),
               config_hash(True, ["p1"], [other, rule], None),                # order
               config_hash(True, ["p1"], [dict(rule, enabled=False), other], None),
               config_hash(True, ["p1"], [dict(rule, action="deny"), other], None),
               config_hash(True, ["p1"], [rule, other], []),                  # egress policy
               config_hash(True, ["p1"], None, [rule, other])]                # direction
    assert len({base, *changed}) == len(changed) + 1
    # the wire version: the configuration and its generation
    assert len({version_of(base, 1), version_of(base, 2), version_of(changed[0], 1)}) == 3


# --- over the bus -------------------------------------------------------------------

def post(client, coll, body, key=None):
    key = key or coll.rsplit("/", 1)[-1][:-1]
    r = client.post(f"/v2.0/{coll}", json={key: body})
    assert r.status_code == 201, r.text
    return r.json()[key]


def group_status(client, gid):
    return client.get(f"/v2.0/fwaas/firewall_groups/{gid}").json()["firewall_group"]["status"]


def wait_status(client, gid, want):
    deadline = time.monotonic() + 5
    while group_status(client, gid) != want:
        assert time.monotonic() < deadline, group_status(client, gid)
        time.sleep(0.02)


def test_get_routers_reports_and_notices(env):  # noqa: F811
    core, client, bus, prefix = env
    inbox = Inbox()
    bus.subscribe(host_topic("net1", prefix), inbox)
    bus.call(f"{prefix}.server", "report_state",
             {"agent_state": dict(L3, host="net1", start_flag=True)})
    ext = post(client, "networks", {"name": "ext", "router:external": True,
                                    "provider:network_type": "flat",
                                    "provider:physical_network": "external"})
    post(client, "subnets", {"network_id": ext["id"], "cidr": "203.0.113.0/24",
                             "ip_version": 4})
    net = post(client, "networks", {"name": "t"})
    sub = post(client, "subnets", {"network_id": net["id"], "cidr": "10.0.0.0/24",
                                   "ip_version": 4})
    router = post(client, "routers", {"name": "r",
                                      "external_gateway_info": {"network_id": ext["id"]}})
    port_id = client.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                         json={"subnet_id": sub["id"]}).json()["port_id"]
    rules = [post(client, "fwaas/firewall_rules", body, "firewall_rule") for body in (
        {"protocol": "tcp", "destination_port": "22", "action": "allow"},
        {"protocol": "icmp", "ip_version": 4, "action": "reject", "enabled": False,
         "source_ip_address": "192.0.2.0/24"},
        {"protocol": "udp", "source_port": "1024:2048", "action": "allow"},
        {"protocol": "47", "action": "allow"})]
    ingress = post(client, "fwaas/firewall_policies", {
        "firewall_rules": [r["id"] for r in rules[:2]]}, "firewall_policy")
    egress = post(client, "fwaas/firewall_policies", {}, "firewall_policy")
    inbox.items.clear()
    group = post(client, "fwaas/firewall_groups", {
        "ports": [port_id], "ingress_firewall_policy_id": ingress["id"],
        "egress_firewall_policy_id": egress["id"]}, "firewall_group")
    assert group["status"] == "PENDING_CREATE"
    inbox.wait(lambda p: p["resource"] == "router" and p["id"] == router["id"])

    state = bus.call(f"{prefix}.server", "get_routers", {"host": "net1"})
    (r,) = state["routers"]
    assert r["gw_port"]["firewall_group"] is None         # gateway ports: never in a group
    (itf,) = r["interfaces"]
    fwg = itf["firewall_group"]
    assert set(fwg) == {"id", "admin_state_up", "version", "ingress", "egress"}
    assert (fwg["id"], fwg["admin_state_up"], fwg["egress"]) == (group["id"], True, [])
    assert fwg["ingress"] == [
        {"id": rules[0]["id"], "enabled": True, "protocol": "tcp", "ip_version": 4,
         "source_ip_address": None, "destination_ip_address": None, "source_port": None,
         "destination_port": "22", "action": "allow"},
        {"id": rules[1]["id"], "enabled": False, "protocol": "icmp", "ip_version": 4,
         "source_ip_address": "192.0.2.0/24", "destination_ip_address": None,
         "source_port": None, "destination_port": None, "action": "reject"}]

    def cast(statuses, host="net1"):
        bus.cast(f"{prefix}.server", "update_firewall_group_statuses",
                 {"host": host, "statuses": statuses})

    # garbage and other hosts' or versions' reports change nothing
    cast({group["id"]: {"status": "ACTIVE", "version": "old", "reason": None}})
    cast({group["id"]: {"status": "ACTIVE", "version": fwg["version"]}}, host="elsewhere")
    cast({"no-such-group": {"status": "ACTIVE", "version": "x"}, group["id"]: "ACTIVE"})
    cast("nonsense")
    # the report of the current version, cast after the others, applies in order
    cast({group["id"]: {"status": "ACTIVE", "version": fwg["version"], "reason": None}})
    wait_status(client, group["id"], "ACTIVE")

    # insert a rule: a new version, PENDING_UPDATE, the router's agent told
    inbox.items.clear()
    resp = client.put(f"/v2.0/fwaas/firewall_policies/{ingress['id']}/insert_rule",
                      json={"firewall_rule_id": rules[2]["id"], "insert_before": rules[0]["id"]})
    assert resp.status_code == 200, resp.text
    inbox.wait(lambda p: p["resource"] == "router" and p["id"] == router["id"])
    assert group_status(client, group["id"]) == "PENDING_UPDATE"
    new = bus.call(f"{prefix}.server", "get_routers", {"host": "net1"})["routers"][0][
        "interfaces"][0]["firewall_group"]
    assert new["version"] != fwg["version"]
    assert [x["id"] for x in new["ingress"]] == [rules[2]["id"], rules[0]["id"], rules[1]["id"]]
    assert new["ingress"][0]["protocol"] == "udp" and new["ingress"][0]["source_port"] == \
        "1024:2048"
    cast({group["id"]: {"status": "ERROR", "version": new["version"], "reason": "boom"}})
    wait_status(client, group["id"], "ERROR")
    # the agent retried and succeeded
    cast({group["id"]: {"status": "ACTIVE", "version": new["version"], "reason": None}})
    wait_status(client, group["id"], "ACTIVE")
    # a protocol number goes as the string stored
    client.put(f"/v2.0/fwaas/firewall_policies/{egress['id']}/insert_rule",
               json={"firewall_rule_id": rules[3]["id"]})
    assert bus.call(f"{prefix}.server", "get_routers", {"host": "net1"})["routers"][0][
        "interfaces"][0]["firewall_group"]["egress"][0]["protocol"] == "47"

    # the interface goes: its port leaves the group, which is INACTIVE
    client.put(f"/v2.0/routers/{router['id']}/remove_router_interface",
               json={"subnet_id": sub["id"]})
    assert group_status(client, group["id"]) == "INACTIVE"
    assert bus.call(f"{prefix}.server", "get_routers", {"host": "net1"})["routers"][0][
        "interfaces"] == []
