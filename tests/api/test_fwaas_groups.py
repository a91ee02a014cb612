"""FWaaS v2 firewall groups: router interface ports (one group per port),
policies (own or shared), status driven by the L3 agents' reports, pending
conflicts, in-use conflicts, the project's default group, and the
notifications to the routers' L3 agents."""
from __future__ import annotations

import pytest

from neutrino.plugins.l3 import scheduling
from neutrino.rpc.fwaas_handlers import FwaasRpc
from neutrino.rpc.l3_handlers import routers_state
from tests.api.helpers import expect, rand
from tests.api.test_fwaas import (GROUPS, POLICIES, RULES, change, listing, policy, remove,
                                  rule, show)


def l3_agent(api) -> str:
    host = rand("l3host")
    api.agents.report_state({"agent_type": "L3 agent", "host": host,
                             "binary": "neutrino-l3-agent", "topic": "l3_agent",
                             "configurations": {}, "start_flag": True})
    return host


def router_with_ports(api, m, count: int = 2) -> tuple[dict, list[str], str]:
    """A router (on a live L3 agent) with `count` interfaces; their port ids
    and the router's host."""
    l3_agent(api)
    router = m.create("routers", name=rand("r"))
    ports = []
    for i in range(count):
        _, sub = m.net_with_subnet(f"10.{170 + i}.{len(ports)}.0/24")
        body = expect(m.put(f"routers/{router['id']}/add_router_interface",
                            {"subnet_id": sub["id"]}), 200)
        ports.append(body["port_id"])
    host = api.core.db.read(lambda conn: scheduling.router_host(conn, router["id"]))
    assert host
    return router, ports, host


def group(persona, **attrs) -> dict:
    attrs.setdefault("name", rand("fwg"))
    return expect(persona.post(GROUPS, {"firewall_group": attrs}), 201)["firewall_group"]


def wire_of(api, host: str, router_id: str, port_id: str) -> dict | None:
    """The firewall group of a router port in get_routers(host)."""
    state = api.core.db.read(lambda conn: routers_state(conn, host))
    router = next(r for r in state["routers"] if r["id"] == router_id)
    port = next(p for p in [router["gw_port"], *router["interfaces"]]
                if p and p["id"] == port_id)
    return port["firewall_group"]


def report(api, host: str, gid: str, version: str, status: str = "ACTIVE", reason=None):
    FwaasRpc(api.core).update_firewall_group_statuses(
        host, {gid: {"status": status, "version": version, "reason": reason}})


def settle(api, host, router, port_id, gid, status="ACTIVE"):
    """The L3 agent applies the group's current version and reports it."""
    report(api, host, gid, wire_of(api, host, router["id"], port_id)["version"], status)


class Recorder:
    def __init__(self):
        self.calls = []

    def resource_changed(self, resource, resource_id, revision, hosts=None, **extra):
        self.calls.append((resource, resource_id, tuple(hosts or ())))


@pytest.fixture
def notices(api, monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(api.core, "notifier", rec)
    return rec


def test_group_lifecycle_and_status(api, notices):
    m = api.project()
    router, (p1, p2), host = router_with_ports(api, m)
    r_ssh = rule(m, protocol="tcp", destination_port="22", action="allow")
    ingress = policy(m, firewall_rules=[r_ssh["id"]])
    g = group(m, ingress_firewall_policy_id=ingress["id"], ports=[p1], description="edge")
    assert (g["status"], g["ports"], g["admin_state_up"], g["shared"]) == (
        "PENDING_CREATE", [p1], True, False)
    assert g["egress_firewall_policy_id"] is None and g["description"] == "edge"
    assert ("router", router["id"], (host,)) in notices.calls

    # what the router's agent gets, on that port only
    wire = wire_of(api, host, router["id"], p1)
    assert wire["id"] == g["id"] and wire["admin_state_up"] is True
    assert wire["egress"] is None
    assert wire["ingress"] == [{"id": r_ssh["id"], "enabled": True, "protocol": "tcp",
                                "ip_version": 4, "source_ip_address": None,
                                "destination_ip_address": None, "source_port": None,
                                "destination_port": "22", "action": "allow"}]
    assert wire_of(api, host, router["id"], p2) is None

    # pending: upstream refuses updates until the agent confirmed
    expect(m.put(f"{GROUPS}/{g['id']}", {"firewall_group": {"name": "x"}}), 409,
           "FirewallGroupInPendingState",
           f"Operation cannot be performed since associated firewall group {g['id']} is in "
           "PENDING_CREATE.")
    expect(m.put(f"{POLICIES}/{ingress['id']}/insert_rule",
                 {"firewall_rule_id": rule(m)["id"]}), 409, "FirewallGroupInPendingState")
    expect(m.put(f"{RULES}/{r_ssh['id']}", {"firewall_rule": {"action": "deny"}}), 409,
           "FirewallGroupInPendingState")
    # a report of another version changes nothing
    report(api, host, g["id"], "stale")
    assert show(m, GROUPS, g["id"])["status"] == "PENDING_CREATE"
    report(api, host, g["id"], wire["version"])
    assert show(m, GROUPS, g["id"])["status"] == "ACTIVE"

    # a rule inserted: new version, PENDING_UPDATE, the router told
    notices.calls.clear()
    r_web = rule(m, protocol="tcp", destination_port="80", action="allow")
    body = expect(m.put(f"{POLICIES}/{ingress['id']}/insert_rule",
                        {"firewall_rule_id": r_web["id"], "insert_after": r_ssh["id"]}), 200)
    assert body["firewall_rules"] == [r_ssh["id"], r_web["id"]]
    assert notices.calls == [("router", router["id"], (host,))]
    assert show(m, GROUPS, g["id"])["status"] == "PENDING_UPDATE"
    new = wire_of(api, host, router["id"], p1)
    assert new["version"] != wire["version"]
    assert [r["id"] for r in new["ingress"]] == [r_ssh["id"], r_web["id"]]
    report(api, host, g["id"], wire["version"])           # the old one: ignored
    assert show(m, GROUPS, g["id"])["status"] == "PENDING_UPDATE"
    report(api, host, g["id"], new["version"])
    assert show(m, GROUPS, g["id"])["status"] == "ACTIVE"

    # a name change is no new version: still ACTIVE, the agent need not act
    assert change(m, GROUPS, g["id"], name="renamed")["status"] == "ACTIVE"

    # back to an earlier configuration: pending again until the agent
    # reports it applied anew (not matched by the report it has undone)
    assert change(m, GROUPS, g["id"], ports=[])["status"] == "INACTIVE"
    assert change(m, GROUPS, g["id"], ports=[p1])["status"] == "PENDING_UPDATE"
    again = wire_of(api, host, router["id"], p1)
    assert again["ingress"] == new["ingress"] and again["version"] != new["version"]
    report(api, host, g["id"], new["version"])      # what it had applied before: void
    assert show(m, GROUPS, g["id"])["status"] == "PENDING_UPDATE"
    report(api, host, g["id"], again["version"])
    assert show(m, GROUPS, g["id"])["status"] == "ACTIVE"

    # admin down: DOWN once applied
    assert change(m, GROUPS, g["id"], admin_state_up=False)["status"] == "PENDING_UPDATE"
    assert wire_of(api, host, router["id"], p1)["admin_state_up"] is False
    settle(api, host, router, p1, g["id"])
    assert show(m, GROUPS, g["id"])["status"] == "DOWN"
    change(m, GROUPS, g["id"], admin_state_up=True)
    settle(api, host, router, p1, g["id"])

    # ERROR wins, with the reason kept for admins
    change(m, GROUPS, g["id"], ports=[p1, p2])
    version = wire_of(api, host, router["id"], p2)["version"]
    report(api, host, g["id"], version, "ERROR", "iptables-restore failed")
    assert show(m, GROUPS, g["id"])["status"] == "ERROR"
    assert "status_reason" not in show(m, GROUPS, g["id"])          # admins only
    assert show(api.admin, GROUPS, g["id"])["status_reason"] == (
        f"{host}: iptables-restore failed")
    from neutrino.rpc.fwaas_handlers import reports_of
    kept = api.core.db.read(lambda conn: reports_of(conn, g["id"]))
    assert [(r["host"], r["status"], r["reason"]) for r in kept] == [
        (host, "ERROR", "iptables-restore failed")]
    report(api, host, g["id"], version, "ACTIVE")
    assert show(m, GROUPS, g["id"])["status"] == "ACTIVE"
    assert show(api.admin, GROUPS, g["id"])["status_reason"] is None

    # in use: neither the group (ports) nor its policy can go
    expect(m.delete(f"{GROUPS}/{g['id']}"), 409, "FirewallGroupInUse",
           f"Firewall group {g['id']} is still active.")
    expect(m.delete(f"{POLICIES}/{ingress['id']}"), 409, "FirewallPolicyInUse",
           f"Firewall policy {ingress['id']} is being used.")
    notices.calls.clear()
    emptied = change(m, GROUPS, g["id"], ports=[])
    assert (emptied["ports"], emptied["status"]) == ([], "INACTIVE")
    assert notices.calls == [("router", router["id"], (host,))]   # it removes its chains
    assert wire_of(api, host, router["id"], p1) is None
    remove(m, GROUPS, g["id"])
    expect(m.get(f"{GROUPS}/{g['id']}"), 404, "FirewallGroupNotFound",
           f"Firewall group {g['id']} could not be found.")
    remove(m, POLICIES, ingress["id"])


def test_group_without_ports_or_policies_is_inactive(api):
    m = api.project()
    router, (p1,), host = router_with_ports(api, m, 1)
    g = group(m, ports=[p1])                        # ports but no policy
    assert g["status"] == "INACTIVE"
    assert wire_of(api, host, router["id"], p1) is None     # nothing to enforce
    e = policy(m)
    up = change(m, GROUPS, g["id"], egress_firewall_policy_id=e["id"])
    assert up["status"] == "PENDING_UPDATE" and wire_of(api, host, router["id"], p1)[
        "egress"] == []
    settle(api, host, router, p1, g["id"])
    change(m, GROUPS, g["id"], ports=[])
    remove(m, GROUPS, g["id"])


def test_router_interface_removed_leaves_the_group(api):
    m = api.project()
    router, (p1, p2), host = router_with_ports(api, m, 2)
    g = group(m, ingress_firewall_policy_id=policy(m)["id"], ports=[p1, p2])
    settle(api, host, router, p1, g["id"])

    def detach(port_id):
        port = expect(api.admin.get(f"ports/{port_id}"), 200)["port"]
        expect(m.put(f"routers/{router['id']}/remove_router_interface",
                     {"subnet_id": port["fixed_ips"][0]["subnet_id"]}), 200)

    detach(p2)
    assert show(m, GROUPS, g["id"])["ports"] == [p1]
    # the agent applies what it is now given, and that report counts
    settle(api, host, router, p1, g["id"])
    assert show(m, GROUPS, g["id"])["status"] == "ACTIVE"
    detach(p1)
    after = show(m, GROUPS, g["id"])
    assert (after["ports"], after["status"]) == ([], "INACTIVE")
    remove(m, GROUPS, g["id"])


def test_port_checks(api):
    m, other = api.project(), api.project()
    router, (p1, p2), host = router_with_ports(api, m)
    g = group(m, ports=[p1])
    before = {x["id"] for x in listing(m, GROUPS)}
    # a port in another group: 409, whoever asks
    expect(m.post(GROUPS, {"firewall_group": {"ports": [p2, p1]}}), 409,
           "FirewallGroupPortInUse",
           f"Port(s) ['{p1}'] provided already associated with other firewall group(s).")
    # not a router interface (an ordinary port, the router's gateway)
    net, _ = m.net_with_subnet("10.179.0.0/24")
    vm_port = m.port(net["id"])
    expect(m.post(GROUPS, {"firewall_group": {"ports": [vm_port["id"]]}}), 409,
           "FirewallGroupPortInvalid", f"Port {vm_port['id']} of firewall group is invalid.")
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    gw = change_router_gateway(api, m, router, ext)
    expect(api.admin.post(GROUPS, {"firewall_group": {"ports": [gw]}}), 409,
           "FirewallGroupPortInvalid")
    # (upstream's gateway port has no project: a member does not even see it)
    expect(m.post(GROUPS, {"firewall_group": {"ports": [gw]}}), 404, "PortNotFound")
    # a port the caller cannot see: as absent
    missing = "6bdecb4b-429a-4947-8190-10abc831ed83"
    for port_id in (p2, missing):
        expect(other.post(GROUPS, {"firewall_group": {"ports": [port_id]}}), 404,
               "PortNotFound", f"Port {port_id} could not be found.")
    expect(m.post(GROUPS, {"firewall_group": {"ports": ["x"]}}), 400, "HTTPBadRequest",
           "Invalid input for ports. Reason: 'x' is not a valid UUID.")
    expect(m.post(GROUPS, {"firewall_group": {"ports": [p2, p2]}}), 400, "HTTPBadRequest")
    assert {x["id"] for x in listing(m, GROUPS)} == before
    # filtering by port
    assert [x["id"] for x in listing(m, GROUPS, params={"ports": p1})] == [g["id"]]
    change(m, GROUPS, g["id"], ports=[])


def change_router_gateway(api, m, router, ext) -> str:
    body = expect(m.put(f"routers/{router['id']}", {"router": {
        "external_gateway_info": {"network_id": ext["id"]}}}), 200)["router"]
    ports = expect(api.admin.get("ports", params={"device_id": router["id"],
                                                  "device_owner": "network:router_gateway"}),
                   200)["ports"]
    assert body["external_gateway_info"]["network_id"] == ext["id"]
    return ports[0]["id"]


def test_policy_checks(api):
    m, other = api.project(), api.project()
    theirs = policy(other)
    missing = "6bdecb4b-429a-4947-8190-10abc831ed83"
    expect(m.post(GROUPS, {"firewall_group": {"ingress_firewall_policy_id": theirs["id"]}}),
           404, "FirewallPolicyNotFound")
    expect(m.post(GROUPS, {"firewall_group": {"egress_firewall_policy_id": missing}}), 404,
           "FirewallPolicyNotFound", f"Firewall policy {missing} could not be found.")
    expect(m.post(GROUPS, {"firewall_group": {"egress_firewall_policy_id": "x"}}), 400,
           "HTTPBadRequest", "Invalid input for egress_firewall_policy_id. Reason: 'x' is not "
           "a valid UUID.")
    # an admin making a group for m with another project's non-shared policy
    expect(api.admin.post(GROUPS, {"firewall_group": {
        "project_id": m.project_id, "ingress_firewall_policy_id": theirs["id"]}}), 404,
        "FirewallPolicyConflict")
    shared = policy(api.admin, shared=True)
    g = group(m, ingress_firewall_policy_id=shared["id"])
    assert g["ingress_firewall_policy_id"] == shared["id"]
    # a policy shared with groups of other projects stays shared
    expect(api.admin.put(f"{POLICIES}/{shared['id']}", {"firewall_policy": {"shared": False}}),
           409, "FirewallPolicyInUse")
    expect(m.post(GROUPS, {"firewall_group": {"shared": True}}), 403, "PolicyNotAuthorized")
    expect(m.post(GROUPS, {"firewall_group": {"admin_state_up": "x"}}), 400, "InvalidInput")
    expect(m.post(GROUPS, {"firewall_group": {"status": "ACTIVE"}}), 400, "HTTPBadRequest",
           "Attribute 'status' not allowed in POST")
    remove(m, GROUPS, g["id"])


def test_visibility(api):
    m, other = api.project(), api.project()
    g = group(m)
    expect(other.get(f"{GROUPS}/{g['id']}"), 404, "FirewallGroupNotFound")
    expect(other.put(f"{GROUPS}/{g['id']}", {"firewall_group": {"name": "x"}}), 404)
    expect(other.delete(f"{GROUPS}/{g['id']}"), 404)
    assert g["id"] not in {x["id"] for x in listing(other, GROUPS)}
    shared = group(api.admin, shared=True, project_id=m.project_id)
    assert show(other, GROUPS, shared["id"])["shared"] is True
    expect(other.put(f"{GROUPS}/{shared['id']}", {"firewall_group": {"name": "x"}}), 403)
    assert {g["id"], shared["id"]} <= {x["id"] for x in listing(api.admin, GROUPS)}


def test_default_group(api):
    m = api.project()
    groups = [x for x in listing(m, GROUPS) if x["project_id"] == m.project_id]
    assert [x["name"] for x in groups] == ["default"]
    d = groups[0]
    assert (d["status"], d["ports"], d["description"]) == ("INACTIVE", [],
                                                            "Default firewall group")
    ingress = show(m, POLICIES, d["ingress_firewall_policy_id"])
    egress = show(m, POLICIES, d["egress_firewall_policy_id"])
    assert (ingress["name"], egress["name"]) == ("default ingress", "default egress")
    actions = {(r["name"], r["action"], r["ip_version"], r["protocol"])
               for r in listing(m, RULES, params={"project_id": m.project_id})}
    assert actions == {("default ingress ipv4", "deny", 4, None),
                       ("default ingress ipv6", "deny", 6, None),
                       ("default egress ipv4", "allow", 4, None),
                       ("default egress ipv6", "allow", 6, None)}
    assert [x["id"] for x in listing(m, GROUPS, params={"project_id": m.project_id})] == [
        d["id"]]                                                   # only once
    # reserved names
    expect(m.post(GROUPS, {"firewall_group": {"name": "default"}}), 409,
           "FirewallDefaultParameterExists",
           "Operation cannot be performed since 'default' is a reserved name for Firewall "
           "Group.")
    other_g = group(m)
    expect(m.put(f"{GROUPS}/{other_g['id']}", {"firewall_group": {"name": "default"}}), 409,
           "FirewallDefaultParameterExists")
    expect(m.put(f"{POLICIES}/{ingress['id']}", {"firewall_policy": {"description": "x"}}),
           409, "FirewallDefaultObjectUpdateRestricted",
           f"Operation cannot be performed on default object '{ingress['id']}' of type "
           "Firewall Group.")
    # the member changes its ports only; the admin anything but its name
    expect(m.put(f"{GROUPS}/{d['id']}", {"firewall_group": {"description": "x"}}), 409,
           "FirewallDefaultObjectUpdateRestricted")
    assert change(api.admin, GROUPS, d["id"], description="x")["description"] == "x"
    expect(api.admin.put(f"{GROUPS}/{d['id']}", {"firewall_group": {"name": "y"}}), 409,
           "FirewallDefaultObjectUpdateRestricted")
    expect(m.delete(f"{GROUPS}/{d['id']}"), 409, "FirewallGroupCannotRemoveDefault",
           "Deleting default firewall group not allowed.")
    remove(api.admin, GROUPS, d["id"])            # takes its policies along
    expect(m.get(f"{POLICIES}/{ingress['id']}"), 404)
    # created again on the next list
    assert "default" in {x["name"] for x in listing(m, GROUPS)}
    remove(m, GROUPS, other_g["id"])


def test_rule_change_reaches_the_routers(api, notices):
    m = api.project()
    router, (p1,), host = router_with_ports(api, m, 1)
    r = rule(m, protocol="udp", destination_port="53", action="allow")
    e = policy(m, firewall_rules=[r["id"]])
    g = group(m, egress_firewall_policy_id=e["id"], ports=[p1])
    settle(api, host, router, p1, g["id"])
    notices.calls.clear()
    change(m, RULES, r["id"], destination_port="5353")
    assert notices.calls == [("router", router["id"], (host,))]
    assert wire_of(api, host, router["id"], p1)["egress"][0]["destination_port"] == "5353"
    assert show(m, GROUPS, g["id"])["status"] == "PENDING_UPDATE"
    settle(api, host, router, p1, g["id"])
    notices.calls.clear()
    change(m, POLICIES, e["id"], firewall_rules=[])
    assert notices.calls == [("router", router["id"], (host,))]
    assert wire_of(api, host, router["id"], p1)["egress"] == []
    settle(api, host, router, p1, g["id"])
    change(m, GROUPS, g["id"], ports=[])
    remove(m, GROUPS, g["id"])


def test_default_group_rules_from_configuration(make_api):
    api = make_api({"default_fwg_rules": {
        "protocol": "tcp", "ingress_action": "allow", "ingress_destination_port": "22",
        "ingress_source_ipv4_address": "192.0.2.0/24", "egress_action": "reject",
        "enabled": "false"}})
    m = api.project()
    rules = {r["name"]: r for r in listing(m, RULES, params={"project_id": m.project_id})}
    in4, in6, eg4 = (rules["default ingress ipv4"], rules["default ingress ipv6"],
                     rules["default egress ipv4"])
    assert (in4["protocol"], in4["action"], in4["destination_port"], in4["enabled"]) == (
        "tcp", "allow", "22", False)
    assert (in4["source_ip_address"], in6["source_ip_address"]) == ("192.0.2.0/24", None)
    assert (eg4["action"], eg4["destination_port"]) == ("reject", None)


def test_default_group_rules_checked_at_start():
    from neutrino.config import ConfigError
    from neutrino.service import load_server_config
    with pytest.raises(ConfigError, match=r"\[default_fwg_rules\] ingress_destination_port "
                                          "needs protocol = tcp or udp"):
        load_server_config([], {"default_fwg_rules": {"ingress_destination_port": "22"}})
    with pytest.raises(ConfigError, match="egress_source_ipv6_address"):
        load_server_config([], {"default_fwg_rules": {
            "egress_source_ipv6_address": "10.0.0.0/8"}})


def test_ha_router_every_instance_is_told_and_must_confirm(api, notices):
    """An HA router runs on several L3 agents, each enforcing its groups: a
    change is announced to every instance's host, and the group is ACTIVE
    only once each of them applied it (a failover must not find an old
    policy on the new master)."""
    from tests.api.test_l3_ha import l3_agent as ha_l3_agent
    for _ in range(2):
        ha_l3_agent(api, rand("ha-host"))
    m = api.project()
    router = api.admin.create("routers", name=rand("r"), ha=True, project_id=m.project_id)
    _, sub = m.net_with_subnet("10.179.0.0/24")
    port = expect(m.put(f"routers/{router['id']}/add_router_interface",
                        {"subnet_id": sub["id"]}), 200)["port_id"]
    hosts = api.core.db.read(lambda conn: scheduling.router_hosts(conn, router["id"]))
    assert len(hosts) >= 2
    notices.calls.clear()
    g = group(m, ingress_firewall_policy_id=policy(m, firewall_rules=[rule(m)["id"]])["id"],
              ports=[port])
    assert ("router", router["id"], tuple(hosts)) in notices.calls
    versions = {h: wire_of(api, h, router["id"], port)["version"] for h in hosts}
    assert len(set(versions.values())) == 1
    for h in hosts[:-1]:
        report(api, h, g["id"], versions[h])
        assert show(m, GROUPS, g["id"])["status"] == "PENDING_CREATE"
    report(api, hosts[-1], g["id"], versions[hosts[-1]])
    assert show(m, GROUPS, g["id"])["status"] == "ACTIVE"
