"""FWaaS v2 rules and policies: CRUD, every attribute's validation (status,
Neutron-format body, nothing written), insert/remove rule, audited reset,
in-use conflicts, sharing and visibility, standard attributes, tags,
quotas, pagination and sorting."""
from __future__ import annotations

import pytest

from tests.api.helpers import UUID_RE, expect, rand

RULES, POLICIES, GROUPS = "fwaas/firewall_rules", "fwaas/firewall_policies", \
    "fwaas/firewall_groups"

SINGULAR = {RULES: "firewall_rule", POLICIES: "firewall_policy", GROUPS: "firewall_group"}


def show(persona, collection: str, rid: str) -> dict:
    return expect(persona.get(f"{collection}/{rid}"), 200)[SINGULAR[collection]]


def listing(persona, collection: str, params=None) -> list[dict]:
    return expect(persona.get(collection, params=params), 200)[collection[6:]]


def change(persona, collection: str, rid: str, **attrs) -> dict:
    singular = SINGULAR[collection]
    return expect(persona.put(f"{collection}/{rid}", {singular: attrs}), 200)[singular]


def remove(persona, collection: str, rid: str) -> None:
    expect(persona.delete(f"{collection}/{rid}"), 204)


def rule(persona, **attrs) -> dict:
    attrs.setdefault("name", rand("fwr"))
    return expect(persona.post(RULES, {"firewall_rule": attrs}), 201)["firewall_rule"]


def policy(persona, **attrs) -> dict:
    attrs.setdefault("name", rand("fwp"))
    return expect(persona.post(POLICIES, {"firewall_policy": attrs}), 201)["firewall_policy"]


def rule_ids(persona) -> set[str]:
    return {r["id"] for r in expect(persona.get(RULES), 200)["firewall_rules"]}


def test_rule_crud(api):
    m = api.project()
    r = rule(m, protocol="tcp", destination_port="22", action="allow",
             destination_ip_address="10.0.0.0/24", description="ssh")
    assert UUID_RE.fullmatch(r["id"])
    assert {k: r[k] for k in ("protocol", "ip_version", "source_ip_address",
                              "destination_ip_address", "source_port", "destination_port",
                              "action", "enabled", "shared", "firewall_policy_id",
                              "description", "project_id", "tenant_id")} == {
        "protocol": "tcp", "ip_version": 4, "source_ip_address": None,
        "destination_ip_address": "10.0.0.0/24", "source_port": None,
        "destination_port": "22", "action": "allow", "enabled": True, "shared": False,
        "firewall_policy_id": None, "description": "ssh", "project_id": m.project_id,
        "tenant_id": m.project_id}
    assert show(m, RULES, r["id"]) == r
    up = change(m, RULES, r["id"], action="DENY", destination_port="1000:2000",
                  enabled=False)
    assert (up["action"], up["destination_port"], up["enabled"]) == ("deny", "1000:2000", False)
    assert up["revision_number"] > r["revision_number"]
    # an integer port is taken as its string, a range of one port shows as one
    assert change(m, RULES, r["id"], source_port=80, destination_port="8:8")[
        "source_port"] == "80"
    assert show(m, RULES, r["id"])["destination_port"] == "8"
    remove(m, RULES, r["id"])
    expect(m.get(f"{RULES}/{r['id']}"), 404, "FirewallRuleNotFound",
           f"Firewall rule {r['id']} could not be found.")
    expect(m.delete(f"{RULES}/{r['id']}"), 404, "FirewallRuleNotFound")


def test_rule_defaults_and_protocols(api):
    m = api.project()
    r = rule(m)
    assert (r["protocol"], r["action"], r["ip_version"], r["enabled"], r["name"][:3]) == (
        None, "deny", 4, True, "fwr")
    for proto in ("udp", "icmp", "sctp", "dccp"):
        assert rule(m, protocol=proto)["protocol"] == proto
    assert rule(m, protocol="ipv6-icmp", ip_version=6)["protocol"] == "ipv6-icmp"
    # a number 0..255 is kept as its string (see docs/api.md deviations)
    assert rule(m, protocol=47)["protocol"] == "47"
    assert rule(m, protocol="132")["protocol"] == "132"
    assert rule(m, action="Reject")["action"] == "reject"
    assert rule(m, ip_version="6", source_ip_address="2001:db8::/64")["ip_version"] == 6


BAD_RULES = [
    # (attributes, error type, message)
    ({"protocol": "foo"}, "InvalidInput",
     "Invalid input for operation: IP protocol 'foo' is not supported. Only protocol names "
     "and their integer representation (0 to 255) are supported."),
    ({"protocol": 256}, "InvalidInput",
     "Invalid input for operation: IP protocol '256' is not supported. Only protocol names "
     "and their integer representation (0 to 255) are supported."),
    ({"protocol": "TCP"}, "HTTPBadRequest",
     "Invalid input for protocol. Reason: TCP is not in valid_values."),
    ({"ip_version": 5}, "HTTPBadRequest",
     "Invalid input for ip_version. Reason: 5 is not in valid_values."),
    ({"ip_version": "x"}, "InvalidInput", "Invalid input for operation: 'x' is not an integer."),
    ({"action": "drop"}, "HTTPBadRequest",
     "Invalid input for action. Reason: drop is not in valid_values."),
    ({"action": 1}, "InvalidInput",
     "Invalid input for operation: Input value 1 must be string type."),
    ({"enabled": "maybe"}, "InvalidInput",
     "Invalid input for operation: 'maybe' cannot be converted to boolean."),
    ({"source_ip_address": "10.0.0.300"}, "HTTPBadRequest",
     "Invalid input for source_ip_address. Reason: '10.0.0.300' is neither a valid IP "
     "address, nor is it a valid IP subnet."),
    ({"destination_ip_address": "x/24"}, "HTTPBadRequest",
     "Invalid input for destination_ip_address. Reason: 'x/24' is neither a valid IP "
     "address, nor is it a valid IP subnet."),
    ({"protocol": "tcp", "source_port": "1:2:3"}, "HTTPBadRequest",
     "Invalid input for source_port. Reason: Port range must be two integers separated by "
     "a colon."),
    ({"protocol": "tcp", "destination_port": "70000"}, "HTTPBadRequest",
     "Invalid input for destination_port. Reason: Invalid port: 70000."),
    ({"protocol": "tcp", "destination_port": "90:80"}, "HTTPBadRequest",
     "Invalid input for destination_port. Reason: First port in a port range must be lower "
     "than the second port."),
    ({"protocol": "tcp", "destination_port": ":80"}, "HTTPBadRequest",
     "Invalid input for destination_port. Reason: Port range must be two integers separated "
     "by a colon."),
    ({"protocol": "tcp", "source_port": "-1"}, "HTTPBadRequest",
     "Invalid input for source_port. Reason: Invalid port: -1."),
    ({"destination_port": "22"}, "FirewallRuleWithPortWithoutProtocolInvalid",
     "Source/destination port requires a protocol."),
    ({"protocol": "icmp", "destination_port": "22"}, "FirewallRuleInvalidICMPParameter",
     "Source, destination port are not allowed when protocol is set to ICMP."),
    ({"protocol": "sctp", "source_port": "22"}, "FirewallRuleInvalidICMPParameter",
     "Source, destination port are not allowed when protocol is set to ICMP."),
    ({"ip_version": 6, "source_ip_address": "10.0.0.1"}, "FirewallIpAddressConflict",
     "Invalid input - IP addresses do not agree with IP Version."),
    ({"destination_ip_address": "2001:db8::/32"}, "FirewallIpAddressConflict",
     "Invalid input - IP addresses do not agree with IP Version."),
    ({"name": 5}, "HTTPBadRequest", "Invalid input for name. Reason: '5' is not a valid string."),
    ({"description": "x" * 256}, "HTTPBadRequest", None),
    ({"position": 1}, "HTTPBadRequest", "Attribute 'position' not allowed in POST"),
    ({"firewall_policy_id": None}, "HTTPBadRequest",
     "Attribute 'firewall_policy_id' not allowed in POST"),
    ({"colour": "red"}, "HTTPBadRequest", "Unrecognized attribute(s) 'colour'"),
]


@pytest.mark.parametrize("attrs,error,message", BAD_RULES,
                         ids=[str(sorted(b[0])) + b[1] for b in BAD_RULES])
def test_rule_validation(api, attrs, error, message):
    m = api.project()
    before = rule_ids(m)
    err = expect(m.post(RULES, {"firewall_rule": {"name": rand("bad"), **attrs}}), 400, error)
    if message:
        assert err["message"] == message
    assert rule_ids(m) == before


def test_rule_update_validation_uses_the_stored_rule(api):
    m = api.project()
    r = rule(m, protocol="tcp", destination_port="22")
    # removing the protocol of a rule with a port
    expect(m.put(f"{RULES}/{r['id']}", {"firewall_rule": {"protocol": None}}), 400,
           "FirewallRuleWithPortWithoutProtocolInvalid")
    expect(m.put(f"{RULES}/{r['id']}", {"firewall_rule": {"protocol": "icmp"}}), 400,
           "FirewallRuleInvalidICMPParameter")
    r4 = rule(m, source_ip_address="192.0.2.0/24")
    expect(m.put(f"{RULES}/{r4['id']}", {"firewall_rule": {"ip_version": 6}}), 400,
           "FirewallIpAddressConflict")
    expect(m.put(f"{RULES}/{r['id']}", {"firewall_rule": {"tenant_id": "x"}}), 400,
           "HTTPBadRequest", "Cannot update read-only attribute tenant_id")
    assert show(m, RULES, r["id"]) == r and show(m, RULES, r4["id"]) == r4


def test_policy_crud_and_rule_order(api):
    m = api.project()
    r1, r2, r3 = (rule(m, protocol="tcp", destination_port=str(p)) for p in (22, 80, 443))
    p = policy(m, firewall_rules=[r1["id"], r2["id"]], description="web", audited=True)
    assert (p["firewall_rules"], p["audited"], p["shared"], p["description"]) == (
        [r1["id"], r2["id"]], True, False, "web")
    assert show(m, RULES, r1["id"])["firewall_policy_id"] == [p["id"]]
    assert show(m, POLICIES, p["id"]) == p

    def insert(**info):
        return expect(m.put(f"{POLICIES}/{p['id']}/insert_rule", info), 200)

    # insert_after; the answer is the policy itself (no envelope), as upstream
    body = insert(firewall_rule_id=r3["id"], insert_after=r1["id"])
    assert body["id"] == p["id"] and body["firewall_rules"] == [r1["id"], r3["id"], r2["id"]]
    assert body["audited"] is False
    body = expect(m.put(f"{POLICIES}/{p['id']}/remove_rule", {"firewall_rule_id": r3["id"]}),
                  200)
    assert body["firewall_rules"] == [r1["id"], r2["id"]]
    # insert_before wins over insert_after; no reference: first
    assert insert(firewall_rule_id=r3["id"], insert_before=r2["id"],
                  insert_after=r1["id"])["firewall_rules"] == [r1["id"], r3["id"], r2["id"]]
    m.put(f"{POLICIES}/{p['id']}/remove_rule", {"firewall_rule_id": r3["id"]})
    assert insert(firewall_rule_id=r3["id"])["firewall_rules"] == [r3["id"], r1["id"], r2["id"]]
    # replacing the list
    assert change(m, POLICIES, p["id"], firewall_rules=[r2["id"]])["firewall_rules"] == [r2["id"]]
    assert show(m, RULES, r1["id"])["firewall_policy_id"] is None
    assert change(m, POLICIES, p["id"], firewall_rules=None)["firewall_rules"] == []
    remove(m, POLICIES, p["id"])
    expect(m.get(f"{POLICIES}/{p['id']}"), 404, "FirewallPolicyNotFound",
           f"Firewall policy {p['id']} could not be found.")


def test_insert_remove_rule_errors(api):
    m = api.project()
    r1, r2 = rule(m), rule(m)
    p = policy(m, firewall_rules=[r1["id"]])
    url = f"{POLICIES}/{p['id']}"
    before = show(m, POLICIES, p["id"])
    expect(m.put(url + "/insert_rule", {}), 400, "FirewallRuleInfoMissing",
           "Missing rule info argument for insert/remove rule operation.")
    expect(m.put(url + "/remove_rule", {"insert_before": r1["id"]}), 400,
           "FirewallRuleInfoMissing")
    expect(m.put(url + "/insert_rule", {"firewall_rule_id": "nope"}), 404,
           "FirewallRuleNotFound", "Firewall rule nope could not be found.")
    missing = "6bdecb4b-429a-4947-8190-10abc831ed83"
    expect(m.put(url + "/insert_rule", {"firewall_rule_id": missing}), 404,
           "FirewallRuleNotFound")
    expect(m.put(url + "/insert_rule", {"firewall_rule_id": r1["id"]}), 409,
           "FirewallRuleAlreadyAssociated",
           f"Operation cannot be performed since firewall rule {r1['id']} is already "
           f"associated with firewall policy {p['id']}.")
    expect(m.put(url + "/insert_rule", {"firewall_rule_id": r2["id"],
                                        "insert_after": missing}), 400,
           "FirewallRuleNotAssociatedWithPolicy",
           f"Firewall rule {missing} is not associated with firewall policy {p['id']}.")
    expect(m.put(url + "/remove_rule", {"firewall_rule_id": r2["id"]}), 400,
           "FirewallRuleNotAssociatedWithPolicy")
    expect(m.put(f"{POLICIES}/{missing}/insert_rule", {"firewall_rule_id": r2["id"]}), 404,
           "FirewallPolicyNotFound")
    expect(m.put(url + "/insert_rule", content="[1]"), 400, "FirewallRuleInfoMissing")
    # another project's policy: as absent; its rule too
    other = api.project()
    expect(other.put(url + "/insert_rule", {"firewall_rule_id": rule(other)["id"]}), 404,
           "FirewallPolicyNotFound")
    expect(m.put(url + "/insert_rule", {"firewall_rule_id": rule(other)["id"]}), 404,
           "FirewallRuleNotFound")
    assert show(m, POLICIES, p["id"]) == before


BAD_POLICIES = [
    ({"firewall_rules": "x"}, "HTTPBadRequest",
     "Invalid input for firewall_rules. Reason: 'x' is not a list."),
    ({"firewall_rules": ["x"]}, "HTTPBadRequest",
     "Invalid input for firewall_rules. Reason: 'x' is not a valid UUID."),
    ({"audited": "sometimes"}, "InvalidInput",
     "Invalid input for operation: 'sometimes' cannot be converted to boolean."),
    ({"shared": "x"}, "InvalidInput",
     "Invalid input for operation: 'x' cannot be converted to boolean."),
    ({"name": "default ingress"}, "FirewallDefaultParameterExists",
     "Operation cannot be performed since 'default ingress' is a reserved name for "
     "Firewall Policy."),
]


@pytest.mark.parametrize("attrs,error,message", BAD_POLICIES,
                         ids=[b[1] + str(sorted(b[0])) for b in BAD_POLICIES])
def test_policy_validation(api, attrs, error, message):
    m = api.project()
    before = {p["id"] for p in listing(m, POLICIES)}
    status = 409 if error.startswith("FirewallDefault") else 400
    expect(m.post(POLICIES, {"firewall_policy": {"name": rand("p"), **attrs}}), status,
           error, message)
    assert {p["id"] for p in listing(m, POLICIES)} == before


def test_policy_rule_checks(api):
    m, other = api.project(), api.project()
    mine, theirs = rule(m), rule(other)
    missing = "6bdecb4b-429a-4947-8190-10abc831ed83"
    before = {p["id"] for p in listing(m, POLICIES)}
    for rid in (missing, theirs["id"]):        # another project's rule: as absent
        expect(m.post(POLICIES, {"firewall_policy": {"firewall_rules": [rid]}}), 404,
               "FirewallRuleNotFound", f"Firewall rule {rid} could not be found.")
    expect(m.post(POLICIES, {"firewall_policy": {"firewall_rules": [mine["id"],
                                                                    mine["id"]]}}), 400,
           "HTTPBadRequest", f"Invalid input for firewall_rules. Reason: Duplicate items in "
           f"the list: '{mine['id']}'.")
    assert {p["id"] for p in listing(m, POLICIES)} == before


def test_audited_reset(api):
    m = api.project()
    r1, r2 = rule(m), rule(m)
    p = policy(m, firewall_rules=[r1["id"]], audited=True)
    assert p["audited"] is True
    # any change of the policy that does not set audited resets it
    assert change(m, POLICIES, p["id"], description="x")["audited"] is False
    assert change(m, POLICIES, p["id"], audited=True)["audited"] is True
    # a change of one of its rules too
    change(m, RULES, r1["id"], action="allow")
    assert show(m, POLICIES, p["id"])["audited"] is False
    change(m, POLICIES, p["id"], audited=True)
    m.put(f"{POLICIES}/{p['id']}/insert_rule", {"firewall_rule_id": r2["id"]})
    assert show(m, POLICIES, p["id"])["audited"] is False
    change(m, POLICIES, p["id"], audited=True)
    m.put(f"{POLICIES}/{p['id']}/remove_rule", {"firewall_rule_id": r2["id"]})
    assert show(m, POLICIES, p["id"])["audited"] is False


def test_rule_in_use(api):
    m = api.project()
    r = rule(m)
    p = policy(m, firewall_rules=[r["id"]])
    expect(m.delete(f"{RULES}/{r['id']}"), 409, "FirewallRuleInUse",
           f"Firewall rule {r['id']} is being used.")
    assert show(m, RULES, r["id"])["firewall_policy_id"] == [p["id"]]
    remove(m, POLICIES, p["id"])          # the policy goes, its rules stay
    remove(m, RULES, r["id"])


def test_sharing(api):
    """Only admins set `shared`; shared objects are visible (not writable) to
    all; a shared policy needs shared rules."""
    m, other = api.project(), api.project()
    expect(m.post(RULES, {"firewall_rule": {"shared": True}}), 403, "PolicyNotAuthorized",
           "(rule:create_firewall_rule and rule:create_firewall_rule:shared) is disallowed "
           "by policy")
    expect(m.post(POLICIES, {"firewall_policy": {"shared": True}}), 403, "PolicyNotAuthorized")
    own = rule(m)
    expect(m.put(f"{RULES}/{own['id']}", {"firewall_rule": {"shared": True}}), 403,
           "PolicyNotAuthorized")
    assert show(m, RULES, own["id"]) == own
    shared = rule(api.admin, shared=True, project_id=m.project_id)
    assert shared["shared"] is True and shared["project_id"] == m.project_id
    # visible to another project, which may use it but not change it
    assert show(other, RULES, shared["id"])["id"] == shared["id"]
    assert shared["id"] in rule_ids(other) and own["id"] not in rule_ids(other)
    expect(other.put(f"{RULES}/{shared['id']}", {"firewall_rule": {"name": "x"}}), 403,
           "PolicyNotAuthorized")
    expect(other.delete(f"{RULES}/{shared['id']}"), 403)
    expect(other.get(f"{RULES}/{own['id']}"), 404, "FirewallRuleNotFound")
    p_other = policy(other, firewall_rules=[shared["id"]])
    assert p_other["firewall_rules"] == [shared["id"]]
    # a shared policy with a non-shared rule: 404-typed conflict, as upstream
    expect(api.admin.post(POLICIES, {"firewall_policy": {
        "shared": True, "project_id": m.project_id, "firewall_rules": [own["id"]]}}), 404,
        "FirewallRuleSharingConflict")
    p = policy(m, firewall_rules=[own["id"]])
    expect(api.admin.put(f"{POLICIES}/{p['id']}", {"firewall_policy": {"shared": True}}), 409,
           "FirewallPolicySharingConflict",
           f"Operation cannot be performed. Before sharing firewall policy {p['id']}, share "
           f"associated firewall rule {own['id']}.")
    # sharing the rule first makes it possible
    change(api.admin, RULES, own["id"], shared=True)
    assert change(api.admin, POLICIES, p["id"], shared=True)["shared"] is True
    assert show(other, POLICIES, p["id"])["id"] == p["id"]
    expect(other.put(f"{POLICIES}/{p['id']}/insert_rule",
                     {"firewall_rule_id": rule(other)["id"]}), 403, "PolicyNotAuthorized")
    # an admin's policy of one project may not take another's non-shared rule
    theirs = rule(other)
    p2 = policy(m)
    expect(api.admin.put(f"{POLICIES}/{p2['id']}", {"firewall_policy": {
        "firewall_rules": [theirs["id"]]}}), 409, "FirewallRuleConflict",
        f"Operation cannot be performed since firewall rule {theirs['id']} is not shared and "
        f"belongs to another project {other.project_id}.")
    # (with `shared` in the same body upstream checks only the sharing)
    assert change(api.admin, POLICIES, p2["id"], firewall_rules=[theirs["id"]],
                  shared=False)["firewall_rules"] == [theirs["id"]]
    # a reader sees but does not write
    reader = api.as_project(m, "reader")
    assert show(reader, RULES, own["id"])["id"] == own["id"]
    expect(reader.post(RULES, {"firewall_rule": {}}), 403, "PolicyNotAuthorized")


def test_standard_attributes_and_tags(api):
    m = api.project()
    r = rule(m, tags=["b", "a"])
    assert r["tags"] == ["a", "b"] and r["revision_number"] == 0
    assert r["created_at"] == r["updated_at"] and r["created_at"].endswith("Z")
    expect(m.put(f"{RULES}/{r['id']}/tags/c"), 201)
    assert expect(m.get(f"{RULES}/{r['id']}/tags"), 200) == {"tags": ["a", "b", "c"]}
    assert show(m, RULES, r["id"])["revision_number"] == 1
    p = policy(m, tags=["x"])
    assert expect(m.put(f"{POLICIES}/{p['id']}/tags", {"tags": ["y", "z"]}), 200) == {
        "tags": ["y", "z"]}
    g = expect(m.post(GROUPS, {"firewall_group": {"name": rand("g"), "tags": ["g1"]}}),
               201)["firewall_group"]
    assert g["tags"] == ["g1"]
    expect(m.delete(f"{GROUPS}/{g['id']}/tags/g1"), 204)
    assert show(m, GROUPS, g["id"])["tags"] == []
    assert [x["id"] for x in listing(m, RULES, params={"tags": "c"})] == [r["id"]]
    assert [x["id"] for x in listing(m, POLICIES, params={"tags-any": "z,q"})] == [p["id"]]
    expect(api.project().put(f"{RULES}/{r['id']}/tags/d"), 404)
    # If-Match on the revision
    expect(m.put(f"{RULES}/{r['id']}", {"firewall_rule": {"name": "n"}},
                 headers={"If-Match": "revision_number=0"}), 412)


def test_lists_filters_sorting_pagination(api):
    m = api.project()
    made = [rule(m, name=f"pg-{i}", protocol="udp" if i % 2 else "tcp") for i in range(5)]
    ids = {r["id"] for r in made}
    udp = listing(m, RULES, params={"protocol": "udp"})
    assert {r["id"] for r in udp} == {made[1]["id"], made[3]["id"]}
    names = [r["name"] for r in listing(m, RULES, params={"sort_key": "name", "sort_dir": "desc"})
             if r["id"] in ids]
    assert names == ["pg-4", "pg-3", "pg-2", "pg-1", "pg-0"]
    seen, params = [], {"limit": 2, "sort_key": "name", "name": [f"pg-{i}" for i in range(5)]}
    while True:
        body = expect(m.get(RULES, params=params), 200)
        seen += [r["name"] for r in body["firewall_rules"]]
        nxt = [link for link in body.get("firewall_rules_links", []) if link["rel"] == "next"]
        if not nxt:
            break
        params = dict(params, marker=body["firewall_rules"][-1]["id"])
    assert seen == [f"pg-{i}" for i in range(5)]
    only = expect(m.get(RULES, params={"fields": ["id", "action"], "name": "pg-0"}), 200)
    assert only["firewall_rules"] == [{"id": made[0]["id"], "action": "deny"}]
    expect(m.get(RULES, params={"colour": "red"}), 400)
    # policies by rule
    p = policy(m, firewall_rules=[made[0]["id"]])
    assert [x["id"] for x in listing(m, POLICIES, params={"firewall_rules": made[0]["id"]})] == [
        p["id"]]


def test_quotas(make_api):
    from tests.api.conftest import BASE_OVERRIDES
    quotas = {**BASE_OVERRIDES["quotas"], "quota_firewall_rule": "6",
              "quota_firewall_policy": "3", "quota_firewall_group": "2"}
    api = make_api(base={**BASE_OVERRIDES, "quotas": quotas})
    m = api.project()
    q = expect(m.get(f"quotas/{m.project_id}"), 200)["quota"]
    assert (q["firewall_rule"], q["firewall_policy"], q["firewall_group"]) == (6, 3, 2)
    # the default group's four rules, two policies and one group count
    assert len(listing(m, RULES, params={"project_id": m.project_id})) == 4
    rule(m)
    rule(m)
    expect(m.post(RULES, {"firewall_rule": {}}), 409, "OverQuota",
           "Quota exceeded for resources: ['firewall_rule'].")
    policy(m)
    expect(m.post(POLICIES, {"firewall_policy": {}}), 409, "OverQuota")
    expect(m.post(GROUPS, {"firewall_group": {"name": "g1"}}), 201)
    expect(m.post(GROUPS, {"firewall_group": {"name": "g2"}}), 409, "OverQuota",
           "Quota exceeded for resources: ['firewall_group'].")
    details = expect(m.get(f"quotas/{m.project_id}/details"), 200)["quota"]
    assert details["firewall_rule"] == {"limit": 6, "used": 6, "reserved": 0}
    expect(api.admin.put(f"quotas/{m.project_id}", {"quota": {"firewall_rule": 7}}), 200)
    rule(m)


def test_builtin_quota_defaults(make_api):
    from tests.api.conftest import BASE_OVERRIDES
    api = make_api(base={k: v for k, v in BASE_OVERRIDES.items() if k != "quotas"})
    m = api.project()
    q = expect(m.get(f"quotas/{m.project_id}/default"), 200)["quota"]
    assert (q["firewall_group"], q["firewall_policy"], q["firewall_rule"]) == (10, 10, 100)
