"""address-group, rbac-address-group, security-groups-remote-address-group:
CRUD with normalized CIDRs, add/remove actions, validation (nothing
written on error), RBAC sharing (visible to the target, read-only for it),
rules naming an address group, in-use refusals."""
from __future__ import annotations

from tests.api.helpers import expect

AGS = "address-groups"


def create(persona, status=201, error_type=None, **attrs):
    attrs.setdefault("name", "ag")
    out = expect(persona.post(AGS, {"address_group": attrs}), status, error_type)
    return out["address_group"] if status == 201 else out


def show(persona, gid, status=200):
    out = expect(persona.get(f"{AGS}/{gid}"), status)
    return out["address_group"] if status == 200 else out


def act(persona, gid, action, addresses, status=200, error_type=None):
    out = expect(persona.put(f"{AGS}/{gid}/{action}", {"addresses": addresses}), status,
                 error_type)
    return out["address_group"] if status == 200 else out


def grant(persona, gid, target, status=201):
    body = {"rbac_policy": {"object_type": "address_group", "object_id": gid,
                            "action": "access_as_shared", "target_tenant": target}}
    out = expect(persona.post("rbac-policies", body), status)
    return out.get("rbac_policy")


def test_lifecycle_and_actions(api):
    m = api.project()
    ag = create(m, description="d", addresses=["10.10.10.3/32", "192.168.0.10/24",
                                                "2001:db8::f00/64"])
    assert ag["addresses"] == ["10.10.10.3/32", "192.168.0.0/24", "2001:db8::/64"]
    assert {k: ag[k] for k in ("name", "description", "project_id", "tenant_id",
                               "revision_number")} == {
        "name": "ag", "description": "d", "project_id": m.project_id,
        "tenant_id": m.project_id, "revision_number": 0}
    assert "shared" not in ag
    assert show(m, ag["id"]) == ag
    assert [g["id"] for g in expect(m.get(AGS), 200)["address_groups"]] == [ag["id"]]
    up = expect(m.put(f"{AGS}/{ag['id']}", {"address_group": {"description": "new"}}),
                200)["address_group"]
    assert up["description"] == "new" and up["addresses"] == ag["addresses"]
    after = act(m, ag["id"], "add_addresses", ["10.20.30.40/32", "10.9.9.9"])
    assert after["addresses"] == ["10.10.10.3/32", "10.20.30.40/32", "10.9.9.9/32",
                                  "192.168.0.0/24", "2001:db8::/64"]
    act(m, ag["id"], "add_addresses", ["10.20.30.40/32"], 400, "AddressesAlreadyExist")
    act(m, ag["id"], "add_addresses", ["this is bad"], 400)
    act(m, ag["id"], "remove_addresses", ["10.200.200.200"], 404, "AddressesNotFound")
    act(m, ag["id"], "remove_addresses", ["this is bad"], 400)
    after = act(m, ag["id"], "remove_addresses", ["10.10.10.3", "10.9.9.9/32"])
    assert after["addresses"] == ["10.20.30.40/32", "192.168.0.0/24", "2001:db8::/64"]
    assert show(m, ag["id"])["addresses"] == after["addresses"]
    api.project().put(f"{AGS}/{ag['id']}/add_addresses", {"addresses": []})
    show(api.project(), ag["id"], 404)
    expect(m.delete(f"{AGS}/{ag['id']}"), 204)
    show(m, ag["id"], 404)


def test_bad_addresses_write_nothing(api):
    m = api.project()
    create(m, addresses=["10.20.30.40"], status=400)
    create(m, addresses=["this is bad IP address"], status=400)
    create(m, addresses="10.0.0.0/8", status=400)
    assert expect(m.get(AGS), 200)["address_groups"] == []


def test_shared_by_rbac_and_rules(api):
    owner, user, third = api.admin, api.project(), api.project()
    ag = create(owner, addresses=["10.1.0.0/16"])
    show(user, ag["id"], 404)
    pol = grant(owner, ag["id"], user.project_id)
    assert show(user, ag["id"])["id"] == ag["id"]
    show(third, ag["id"], 404)
    # the target may read, not change it
    expect(user.put(f"{AGS}/{ag['id']}", {"address_group": {"name": "x"}}), 404)
    # a rule of the target's group names it; the grant is then in use
    sg = user.create("security-groups", name="web")
    rule = expect(user.post("security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
        "remote_address_group_id": ag["id"]}}), 201)["security_group_rule"]
    assert rule["remote_address_group_id"] == ag["id"] and rule["remote_ip_prefix"] is None
    expect(user.post("security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
        "remote_address_group_id": ag["id"]}}), 409, "SecurityGroupRuleExists")
    expect(user.post("security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress",
        "remote_address_group_id": ag["id"], "remote_ip_prefix": "10.0.0.0/8"}}), 400)
    # a third project's group cannot name it
    sg3 = third.create("security-groups", name="web")
    expect(third.post("security-group-rules", {"security_group_rule": {
        "security_group_id": sg3["id"], "direction": "ingress",
        "remote_address_group_id": ag["id"]}}), 404, "AddressGroupNotFound")
    expect(owner.delete(f"rbac-policies/{pol['id']}"), 409, "RbacPolicyInUse")
    expect(owner.delete(f"{AGS}/{ag['id']}"), 409, "AddressGroupInUse")
    expect(user.delete(f"security-group-rules/{rule['id']}"), 204)
    expect(owner.delete(f"rbac-policies/{pol['id']}"), 204)
    expect(owner.delete(f"{AGS}/{ag['id']}"), 204)
