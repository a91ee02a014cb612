"""rbac-security-groups and security-groups-shared-filtering: a group
shared with a project is visible to it (shared=True), usable on its ports,
read-only for it and invisible to a third; its grant cannot go while the
target's ports use it; shared filters lists."""
from __future__ import annotations

from tests.api.helpers import expect


def grant(persona, gid, target):
    body = {"rbac_policy": {"object_type": "security_group", "object_id": gid,
                            "action": "access_as_shared", "target_tenant": target}}
    return expect(persona.post("rbac-policies", body), 201)["rbac_policy"]


def test_group_shared_with_one_project(api):
    owner, user, third = api.project(), api.project(), api.project()
    sg = owner.create("security-groups", name="web")
    user.show("security-groups", sg["id"], 404)
    pol = grant(owner, sg["id"], user.project_id)
    seen = user.show("security-groups", sg["id"])
    assert seen["shared"] is True and seen["security_group_rules"]
    assert owner.show("security-groups", sg["id"])["shared"] is False
    third.show("security-groups", sg["id"], 404)
    assert sg["id"] in {g["id"] for g in user.list("security-groups")}
    assert [g["id"] for g in user.list("security-groups", {"shared": "true"})] == [sg["id"]]
    assert sg["id"] not in {g["id"] for g in user.list("security-groups", {"shared": "false"})}
    assert sg["id"] in {g["id"] for g in owner.list("security-groups", {"shared": "false"})}
    # read-only for the target (it may read it, so 403 as upstream's policy)
    expect(user.put(f"security-groups/{sg['id']}", {"security_group": {"name": "x"}}), 403)
    expect(user.delete(f"security-groups/{sg['id']}"), 403)
    # usable on the target's ports, not on a third project's
    net = user.network()
    port = user.port(net["id"], security_groups=[sg["id"]])
    assert port["security_groups"] == [sg["id"]]
    net3 = third.network()
    expect(third.post("ports", {"port": {"network_id": net3["id"],
                                         "security_groups": [sg["id"]]}}),
           404, "SecurityGroupNotFound")
    assert [p["id"] for p in user.list("ports", {"security_groups": sg["id"]})] == [port["id"]]
    expect(owner.delete(f"rbac-policies/{pol['id']}"), 409, "RbacPolicyInUse")
    user.remove("ports", port["id"])
    expect(owner.delete(f"rbac-policies/{pol['id']}"), 204)
    user.show("security-groups", sg["id"], 404)


def test_group_delete_takes_its_policies(api):
    owner, user = api.project(), api.project()
    sg = owner.create("security-groups", name="web")
    pol = grant(owner, sg["id"], user.project_id)
    owner.remove("security-groups", sg["id"])
    expect(owner.get(f"rbac-policies/{pol['id']}"), 404)


def test_first_group_of_a_fresh_project_fits_a_quota_of_one(api):
    # upstream counts before making the project's default group
    project = api.project()
    expect(api.admin.put(f"quotas/{project.project_id}", {"quota": {"security_group": 1}}), 200)
    expect(api.admin.post("security-groups", {"security_group": {
        "name": "one", "project_id": project.project_id}}), 201)
    expect(api.admin.post("security-groups", {"security_group": {
        "name": "two", "project_id": project.project_id}}), 409, "OverQuota")
