"""QoS: policies (admin-written, shared, default per project, in-use
guards), every rule type under its policy and by alias, rule types, and
qos_policy_id on ports, networks and floating IPs, with upstream's status
codes and error types."""
from __future__ import annotations

import pytest

from tests.api.helpers import UUID_RE, expect, rand

P = "qos/policies"


def policy(admin, **attrs) -> dict:
    attrs.setdefault("name", rand("qos"))
    return expect(admin.post(P, {"policy": attrs}), 201)["policy"]


def pshow(persona, policy_id: str) -> dict:
    return expect(persona.get(f"{P}/{policy_id}"), 200)["policy"]


def pupdate(persona, policy_id: str, **attrs) -> dict:
    return expect(persona.put(f"{P}/{policy_id}", {"policy": attrs}), 200)["policy"]


def plist(persona, params=None) -> list[dict]:
    return expect(persona.get(P, params=params), 200)["policies"]


def add_rule(persona, policy_id: str, rtype: str, status: int = 201, **attrs):
    body = expect(persona.post(f"{P}/{policy_id}/{rtype}_rules", {f"{rtype}_rule": attrs}),
                  status)
    return body[f"{rtype}_rule"] if status == 201 else body


def test_policy_crud_and_defaults(api):
    owner = api.project()
    pol = policy(api.admin, project_id=owner.project_id, description="gold")
    assert UUID_RE.fullmatch(pol["id"])
    assert {k: pol[k] for k in ("description", "shared", "rules", "is_default", "project_id",
                                "tenant_id", "tags", "revision_number")} == {
        "description": "gold", "shared": False, "rules": [], "is_default": False,
        "project_id": owner.project_id, "tenant_id": owner.project_id, "tags": [],
        "revision_number": 0}
    # the owner reads it, another project does not see it, only admins write
    assert pshow(owner, pol["id"])["name"] == pol["name"]
    expect(api.project().get(f"{P}/{pol['id']}"), 404, "QosPolicyNotFound")
    expect(owner.post(P, {"policy": {"name": "x"}}), 403, "PolicyNotAuthorized")
    expect(owner.put(f"{P}/{pol['id']}", {"policy": {"name": "y"}}), 403)
    expect(api.project().put(f"{P}/{pol['id']}", {"policy": {"name": "y"}}), 404)
    up = pupdate(api.admin, pol["id"], description="silver", shared=True)
    assert (up["description"], up["shared"], up["revision_number"]) == ("silver", True, 1)
    assert pshow(api.project(), pol["id"])["shared"] is True
    expect(api.admin.post(P, {"policy": {"name": "x", "bogus": 1}}), 400)
    expect(api.admin.post(P, {"policy": {"name": "x" * 256}}), 400)
    names = [p["name"] for p in plist(api.admin, params={"name": pol["name"]})]
    assert names == [pol["name"]]
    api.admin.remove(P, pol["id"])
    expect(api.admin.get(f"{P}/{pol['id']}"), 404, "QosPolicyNotFound")


def test_default_policy_per_project(api):
    project = api.project()
    first = policy(api.admin, project_id=project.project_id, is_default=True)
    assert first["is_default"] is True
    expect(api.admin.post(P, {"policy": {"name": "x", "project_id": project.project_id,
                                         "is_default": True}}),
           409, "QoSPolicyDefaultAlreadyExists",
           f"A default QoS policy exists for project {project.project_id}.")
    other = policy(api.admin, project_id=project.project_id)
    expect(api.admin.put(f"{P}/{other['id']}", {"policy": {"is_default": True}}), 409,
           "QoSPolicyDefaultAlreadyExists")
    # a new network of the project takes the default; an explicit one wins
    net = api.admin.network(project_id=project.project_id)
    assert net["qos_policy_id"] == first["id"]
    net2 = api.admin.network(project_id=project.project_id, qos_policy_id=other["id"])
    assert net2["qos_policy_id"] == other["id"]
    defaults = plist(api.admin, params={"is_default": "true",
                                         "project_id": project.project_id})
    assert [p["id"] for p in defaults] == [first["id"]]
    pupdate(api.admin, first["id"], is_default=False)
    assert pupdate(api.admin, other["id"], is_default=True)["is_default"] is True


@pytest.mark.parametrize("rtype, attrs, shown", [
    ("bandwidth_limit", {"max_kbps": 200, "max_burst_kbps": 1337, "direction": "ingress"},
     {"max_kbps": 200, "max_burst_kbps": 1337, "direction": "ingress"}),
    ("bandwidth_limit", {"max_kbps": 5}, {"max_kbps": 5, "max_burst_kbps": 0,
                                          "direction": "egress"}),
    ("dscp_marking", {"dscp_mark": 26}, {"dscp_mark": 26}),
    ("minimum_bandwidth", {"min_kbps": 1138}, {"min_kbps": 1138, "direction": "egress"}),
    ("minimum_bandwidth", {"min_kbps": 10, "direction": "ingress"},
     {"min_kbps": 10, "direction": "ingress"}),
    ("minimum_packet_rate", {"min_kpps": 10, "direction": "any"},
     {"min_kpps": 10, "direction": "any"}),
    ("packet_rate_limit", {"max_kpps": 7}, {"max_kpps": 7, "max_burst_kpps": 0,
                                            "direction": "egress"}),
])
def test_rule_crud(api, rtype, attrs, shown):
    pol = policy(api.admin)
    rule = add_rule(api.admin, pol["id"], rtype, **attrs)
    assert rule == {"id": rule["id"], **shown}
    base = f"{P}/{pol['id']}/{rtype}_rules"
    assert expect(api.admin.get(f"{base}/{rule['id']}"), 200)[f"{rtype}_rule"] == rule
    assert expect(api.admin.get(base), 200)[f"{rtype}_rules"] == [rule]
    rules = pshow(api.admin, pol["id"])["rules"]
    assert rules == [{**rule, "qos_policy_id": pol["id"], "type": rtype}]
    # one rule per type and direction
    expect(api.admin.post(base, {f"{rtype}_rule": attrs}), 409, "QoSRulesConflict")
    api.admin.remove(base, rule["id"])
    expect(api.admin.get(f"{base}/{rule['id']}"), 404, "QosRuleNotFound")
    assert pshow(api.admin, pol["id"])["rules"] == []


def test_rule_validation_and_policy(api):
    owner = api.project()
    pol = policy(api.admin, project_id=owner.project_id)
    base = f"{P}/{pol['id']}"
    for body in ({"max_kbps": -1}, {"max_kbps": "x"}, {"max_burst_kbps": 1},
                 {"max_kbps": 1, "direction": "up"}, {"max_kbps": 2 ** 31}):
        expect(api.admin.post(f"{base}/bandwidth_limit_rules",
                              {"bandwidth_limit_rule": body}), 400)
    expect(api.admin.post(f"{base}/dscp_marking_rules", {"dscp_marking_rule": {"dscp_mark": 11}}),
           400, contains="dscp_mark")
    expect(api.admin.post(f"{base}/minimum_bandwidth_rules",
                          {"minimum_bandwidth_rule": {"direction": "egress"}}), 400)
    assert pshow(api.admin, pol["id"])["rules"] == []
    # non-admins: 403 on their own policy, 404 on another's
    expect(owner.post(f"{base}/bandwidth_limit_rules",
                      {"bandwidth_limit_rule": {"max_kbps": 1}}), 403)
    rule = add_rule(api.admin, pol["id"], "bandwidth_limit", max_kbps=1)
    assert expect(owner.get(f"{base}/bandwidth_limit_rules/{rule['id']}"), 200)
    expect(owner.put(f"{base}/bandwidth_limit_rules/{rule['id']}",
                     {"bandwidth_limit_rule": {"max_kbps": 2}}), 403)
    expect(api.project().put(f"{base}/bandwidth_limit_rules/{rule['id']}",
                             {"bandwidth_limit_rule": {"max_kbps": 2}}), 404)
    expect(api.admin.post(f"{P}/{rand()}/bandwidth_limit_rules",
                          {"bandwidth_limit_rule": {"max_kbps": 1}}), 404, "QosPolicyNotFound")
    # both directions may coexist; turning one into the other conflicts
    ingress = add_rule(api.admin, pol["id"], "bandwidth_limit", max_kbps=3,
                       direction="ingress")
    expect(api.admin.put(f"{base}/bandwidth_limit_rules/{ingress['id']}",
                         {"bandwidth_limit_rule": {"direction": "egress"}}), 409,
           "QoSRulesConflict")
    # minimum packet rate: "any" conflicts with either direction
    add_rule(api.admin, pol["id"], "minimum_packet_rate", min_kpps=1, direction="egress")
    add_rule(api.admin, pol["id"], "minimum_packet_rate", 409, min_kpps=1, direction="any")


def test_alias_rules(api):
    pol = policy(api.admin)
    rule = add_rule(api.admin, pol["id"], "bandwidth_limit", max_kbps=10)
    alias = f"qos/alias_bandwidth_limit_rules/{rule['id']}"
    got = expect(api.admin.get(alias), 200)["alias_bandwidth_limit_rule"]
    assert got["max_kbps"] == 10 and got["tenant_id"] == pol["project_id"]
    up = expect(api.admin.put(alias, {"alias_bandwidth_limit_rule": {"max_kbps": 20}}), 200)
    assert up["alias_bandwidth_limit_rule"]["max_kbps"] == 20
    expect(api.admin.get(f"qos/alias_dscp_marking_rules/{rule['id']}"), 404, "QosRuleNotFound")
    expect(api.project().get(alias), 404)
    expect(api.admin.delete(alias), 204)
    assert pshow(api.admin, pol["id"])["rules"] == []
    pps = add_rule(api.admin, pol["id"], "minimum_packet_rate", min_kpps=5)
    alias = f"qos/alias_minimum_packet_rate_rules/{pps['id']}"
    up = expect(api.admin.put(alias, {"alias_minimum_packet_rate_rule": {"direction": "any"}}),
                200)["alias_minimum_packet_rate_rule"]
    assert (up["min_kpps"], up["direction"]) == (5, "any")
    expect(api.project().put(alias, {"alias_minimum_packet_rate_rule": {"min_kpps": 1}}), 404)


def test_rule_types(api):
    listed = expect(api.member_a.get("qos/rule-types"), 200)["rule_types"]
    assert listed == [{"type": "bandwidth_limit"}, {"type": "dscp_marking"}]
    every = expect(api.admin.get("qos/rule-types", params={"all_rules": "true"}), 200)
    assert len(every["rule_types"]) == 5
    expect(api.admin.get("qos/rule-types", params={"all_rules": "true",
                                                   "all_supported": "true"}), 400)
    expect(api.member_a.get("qos/rule-types/bandwidth_limit"), 403)
    detail = expect(api.admin.get("qos/rule-types/bandwidth_limit"), 200)["rule_type"]
    assert sorted(detail) == ["drivers", "type"]
    assert detail["drivers"][0]["name"] == "linuxbridge"
    assert expect(api.admin.get("qos/rule-types/minimum_bandwidth"),
                  200)["rule_type"]["drivers"] == []


def test_port_and_network_policies(api):
    member = api.project()
    shared = policy(api.admin, shared=True)
    private = policy(api.admin)
    net = member.network()
    assert net["qos_policy_id"] is None
    expect(member.post("networks", {"network": {"name": "n", "qos_policy_id": private["id"]}}),
           404, "QosPolicyNotFound")
    port = member.port(net["id"], qos_policy_id=shared["id"])
    assert (port["qos_policy_id"], port["qos_network_policy_id"]) == (shared["id"], None)
    net = member.update("networks", net["id"], qos_policy_id=shared["id"])
    assert net["qos_policy_id"] == shared["id"]
    assert member.show("ports", port["id"])["qos_network_policy_id"] == shared["id"]
    # in use: cannot be deleted
    expect(api.admin.delete(f"{P}/{shared['id']}"), 409, "QosPolicyInUse")
    # an admin attaches a private policy; the project may not detach it
    api.admin.update("networks", net["id"], qos_policy_id=private["id"])
    expect(member.put(f"networks/{net['id']}", {"network": {"qos_policy_id": None}}), 403,
           "PolicyRemoveAuthorizationError")
    pupdate(api.admin, private["id"], shared=True)
    assert member.update("networks", net["id"], qos_policy_id=None)["qos_policy_id"] is None
    filtered = member.list("ports", params={"qos_policy_id": shared["id"]})
    assert [p["id"] for p in filtered] == [port["id"]]
    assert member.update("ports", port["id"], qos_policy_id=None)["qos_policy_id"] is None
    api.admin.remove(P, shared["id"])


def test_unsupported_rules_refused_on_bound_ports(api):
    host = api.register_agent()
    pol = policy(api.admin, shared=True)
    add_rule(api.admin, pol["id"], "minimum_bandwidth", min_kbps=100)
    net = api.admin.network()
    expect(api.admin.post("ports", {"port": {"network_id": net["id"], "qos_policy_id": pol["id"],
                                             "binding:host_id": host}}),
           409, "QosRuleNotSupported")
    ok = policy(api.admin, shared=True)
    port = api.admin.port(net["id"], qos_policy_id=ok["id"], **{"binding:host_id": host})
    assert port["binding:vif_type"] == "bridge"
    add_rule(api.admin, ok["id"], "dscp_marking", dscp_mark=10)
    add_rule(api.admin, ok["id"], "minimum_bandwidth", 409, min_kbps=1)
    assert [r["type"] for r in pshow(api.admin, ok["id"])["rules"]] == ["dscp_marking"]


def test_floatingip_policy(api):
    pol = policy(api.admin, shared=True)
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    fip = api.admin.create("floatingips", floating_network_id=ext["id"],
                           qos_policy_id=pol["id"])
    assert fip["qos_policy_id"] == pol["id"]
    assert api.admin.update("floatingips", fip["id"], qos_policy_id=None)["qos_policy_id"] is None

    # qos-gateway-ip: the router gateway's policy, kept while the gateway is
    router = api.admin.create("routers", name="r", external_gateway_info={
        "network_id": ext["id"], "qos_policy_id": pol["id"]})
    assert router["external_gateway_info"]["qos_policy_id"] == pol["id"]
    expect(api.admin.delete(f"{P}/{pol['id']}"), 409, "QosPolicyInUse")
    router = api.admin.update("routers", router["id"], external_gateway_info={
        "network_id": ext["id"], "enable_snat": False})
    assert router["external_gateway_info"]["qos_policy_id"] == pol["id"]
    expect(api.admin.put(f"routers/{router['id']}", {"router": {"external_gateway_info": {
        "network_id": ext["id"], "qos_policy_id": "nope"}}}), 400)
    router = api.admin.update("routers", router["id"], external_gateway_info={
        "network_id": ext["id"], "qos_policy_id": None})
    assert router["external_gateway_info"]["qos_policy_id"] is None
    api.admin.update("routers", router["id"], external_gateway_info={
        "network_id": ext["id"], "qos_policy_id": pol["id"]})
    assert api.admin.update("routers", router["id"],
                            external_gateway_info=None)["external_gateway_info"] is None
    expect(api.admin.delete(f"{P}/{pol['id']}"), 204)


def test_rbac_sharing(api):
    owner, target, other = api.project(), api.project(), api.project()
    pol = policy(api.admin, project_id=owner.project_id)
    expect(target.get(f"{P}/{pol['id']}"), 404)
    grant = expect(api.admin.post("rbac-policies", {"rbac_policy": {
        "object_type": "qos_policy", "object_id": pol["id"], "action": "access_as_shared",
        "target_tenant": target.project_id}}), 201)["rbac_policy"]
    # the target sees it as shared and may attach it; others still do not see it
    assert pshow(target, pol["id"])["shared"] is True
    assert pshow(owner, pol["id"])["shared"] is False
    expect(other.get(f"{P}/{pol['id']}"), 404)
    net = target.network(qos_policy_id=pol["id"])
    # the grant cannot go while the target's network uses the policy
    expect(api.admin.delete(f"rbac-policies/{grant['id']}"), 409)
    # shared=True is the wildcard grant; it cannot be removed while used...
    assert pupdate(api.admin, pol["id"], shared=True)["shared"] is True
    assert pshow(other, pol["id"])["shared"] is True
    wildcards = [r for r in api.admin.list("rbac-policies", params={"object_id": pol["id"]})
                 if r["target_tenant"] == "*"]
    assert len(wildcards) == 1
    # ... except that the target's own grant still covers its network
    assert pupdate(api.admin, pol["id"], shared=False)["shared"] is False
    expect(other.get(f"{P}/{pol['id']}"), 404)
    target.remove("networks", net["id"])
    expect(api.admin.delete(f"rbac-policies/{grant['id']}"), 204)
    expect(target.get(f"{P}/{pol['id']}"), 404)
    # a wildcard grant made through rbac-policies shows as shared
    expect(api.admin.post("rbac-policies", {"rbac_policy": {
        "object_type": "qos_policy", "object_id": pol["id"], "action": "access_as_shared",
        "target_tenant": "*"}}), 201)
    assert pshow(api.admin, pol["id"])["shared"] is True
    other_net = other.network(qos_policy_id=pol["id"])
    expect(api.admin.put(f"{P}/{pol['id']}", {"policy": {"shared": False}}), 409,
           "RbacPolicyInUse")
    other.remove("networks", other_net["id"])
    # as upstream, the owner's own objects keep it shared too
    own_net = owner.network(qos_policy_id=pol["id"])
    expect(api.admin.put(f"{P}/{pol['id']}", {"policy": {"shared": False}}), 409,
           "RbacPolicyInUse")
    owner.remove("networks", own_net["id"])
    api.admin.delete(f"{P}/{pol['id']}")
    assert api.admin.list("rbac-policies", params={"object_id": pol["id"]}) == []


def test_minimum_above_limit_conflicts(api):
    pol = policy(api.admin)
    limit = add_rule(api.admin, pol["id"], "bandwidth_limit", max_kbps=1000)
    err = add_rule(api.admin, pol["id"], "minimum_bandwidth", 409, min_kbps=2000)
    assert err["NeutronError"]["type"] == "QoSRuleParameterConflict"
    assert err["NeutronError"]["message"] == (
        f"Unable to add the rule with value 2000 to the policy {pol['id']} as the existing "
        "rule of type bandwidth_limit restricts the bandwidth to 1000.")
    # another direction is another limit
    add_rule(api.admin, pol["id"], "minimum_bandwidth", min_kbps=2000, direction="ingress")
    minimum = add_rule(api.admin, pol["id"], "minimum_bandwidth", min_kbps=500)
    expect(api.admin.put(f"{P}/{pol['id']}/bandwidth_limit_rules/{limit['id']}",
                         {"bandwidth_limit_rule": {"max_kbps": 100}}), 409,
           "QoSRuleParameterConflict")
    expect(api.admin.put(f"{P}/{pol['id']}/minimum_bandwidth_rules/{minimum['id']}",
                         {"minimum_bandwidth_rule": {"min_kbps": 900}}), 200)


def test_router_wire_carries_floating_ip_and_gateway_limits(api):
    """What the L3 agents get with each router (get_routers)."""
    from neutrino.rpc.qos_handlers import attach_router_qos
    pol = policy(api.admin, shared=True)
    add_rule(api.admin, pol["id"], "bandwidth_limit", max_kbps=3000)
    add_rule(api.admin, pol["id"], "dscp_marking", dscp_mark=8)     # not for routers
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    fip = api.admin.create("floatingips", floating_network_id=ext["id"],
                           qos_policy_id=pol["id"])
    plain = api.admin.create("floatingips", floating_network_id=ext["id"])
    router = api.admin.create("routers", name="r", external_gateway_info={
        "network_id": ext["id"], "qos_policy_id": pol["id"]})
    gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    wire = [{"id": router["id"], "gw_port": {"fixed_ips": [{"ip_address": gw_ip}]},
             "floating_ips": [{"id": f["id"], "floating_ip_address": f["floating_ip_address"]}
                              for f in (fip, plain)]}]
    api.core.db.read(lambda conn: attach_router_qos(conn, wire))
    limit = {"max_kbps": 3000, "max_burst_kbps": 0}
    assert wire[0]["qos"] == [
        {"ip": fip["floating_ip_address"], "egress": limit, "ingress": None},
        {"ip": gw_ip, "egress": limit, "ingress": None}]


def test_policy_tags_at_both_paths(api):
    pol = policy(api.admin, tags=["a"])
    assert pol["tags"] == ["a"]
    expect(api.admin.put(f"policies/{pol['id']}/tags", {"tags": ["b", "c"]}), 200)
    assert expect(api.admin.get(f"{P}/{pol['id']}/tags"), 200)["tags"] == ["b", "c"]
    expect(api.admin.put(f"{P}/{pol['id']}/tags/d"), 201)
    expect(api.admin.get(f"policies/{pol['id']}/tags/d"), 204)
    assert [p["id"] for p in plist(api.admin, params={"tags": "d"})] == [pol["id"]]
    assert pshow(api.admin, pol["id"])["revision_number"] == 2
    expect(api.project().get(f"policies/{pol['id']}/tags"), 404)


def test_wildcard_narrowed_to_the_using_project_conflicts(api):
    """As upstream's object RBAC: a target update is checked as the old
    target's removal, before the new grant counts."""
    user = api.project()
    pol = policy(api.admin)
    wild = expect(api.admin.post("rbac-policies", {"rbac_policy": {
        "object_type": "qos_policy", "object_id": pol["id"], "action": "access_as_shared",
        "target_tenant": "*"}}), 201)["rbac_policy"]
    net = user.network(qos_policy_id=pol["id"])
    expect(api.admin.put(f"rbac-policies/{wild['id']}",
                         {"rbac_policy": {"target_tenant": user.project_id}}), 409)
    user.remove("networks", net["id"])
    expect(api.admin.put(f"rbac-policies/{wild['id']}",
                         {"rbac_policy": {"target_tenant": user.project_id}}), 200)
