"""rbac-policies on networks: a network granted to one project is visible
and usable by it (subnets, ports) and invisible to a third; removal refused
while the target uses it; `shared` as the caller's view; wildcard grants
admin-only; duplicates, validation, quota, revision bumps, listing."""
from __future__ import annotations

from tests.api.helpers import expect

RBAC = "rbac-policies"


def grant(persona, object_id, target, action="access_as_shared", object_type="network",
          status=201, error_type=None):
    body = {"rbac_policy": {"object_type": object_type, "object_id": object_id,
                            "action": action, "target_tenant": target}}
    out = expect(persona.post(RBAC, body), status, error_type)
    return out["rbac_policy"] if status == 201 else out


def show(persona, pid, status=200):
    out = expect(persona.get(f"{RBAC}/{pid}"), status)
    return out["rbac_policy"] if status == 200 else out


def change(persona, pid, **attrs):
    return expect(persona.put(f"{RBAC}/{pid}", {"rbac_policy": attrs}), 200)["rbac_policy"]


def remove(persona, pid):
    expect(persona.delete(f"{RBAC}/{pid}"), 204)


def policies(persona, params=None):
    return expect(persona.get(RBAC, params=params), 200)["rbac_policies"]


def test_network_shared_with_one_project_usable_by_it_invisible_to_a_third(api):
    owner, user, third = api.project(), api.project(), api.project()
    net, sub = owner.net_with_subnet("10.40.0.0/24")
    user.show("networks", net["id"], 404)
    pol = grant(owner, net["id"], user.project_id)
    assert {k: pol[k] for k in ("object_type", "object_id", "action", "target_tenant",
                                "project_id", "tenant_id")} == {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": user.project_id, "project_id": owner.project_id,
        "tenant_id": owner.project_id}
    seen = user.show("networks", net["id"])
    assert seen["shared"] is True          # shared with the caller
    assert owner.show("networks", net["id"])["shared"] is False
    assert net["id"] in {n["id"] for n in user.list("networks")}
    assert [n["shared"] for n in user.list("networks", {"id": net["id"]})] == [True]
    assert user.show("subnets", sub["id"])["id"] == sub["id"]
    port = user.port(net["id"])
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    # the third project sees nothing and cannot use it
    third.show("networks", net["id"], 404)
    third.show("subnets", sub["id"], 404)
    assert net["id"] not in {n["id"] for n in third.list("networks")}
    expect(third.post("ports", {"port": {"network_id": net["id"]}}), 404, "NetworkNotFound")
    # the grant cannot go while the user has a port there
    expect(owner.delete(f"{RBAC}/{pol['id']}"), 409, "RbacPolicyInUse")
    user.remove("ports", port["id"])
    remove(owner, pol["id"])
    user.show("networks", net["id"], 404)


def test_policy_crud_listing_and_visibility(api):
    owner, other = api.project(), api.project()
    net = owner.network()
    pol = grant(owner, net["id"], other.project_id)
    assert show(owner, pol["id"]) == pol
    assert pol in policies(owner)
    # the target does not see the policy (it belongs to the granting project)
    assert pol["id"] not in {p["id"] for p in policies(other)}
    show(other, pol["id"], 404)
    assert show(api.admin, pol["id"]) == pol
    assert [p["id"] for p in policies(owner, {"object_id": net["id"],
                                              "target_tenant": other.project_id})] == [pol["id"]]
    fields = policies(owner, [("fields", "object_type"), ("fields", "object_id")])
    assert set(fields[0]) == {"object_type", "object_id"}
    third = api.project()
    moved = change(owner, pol["id"], target_tenant=third.project_id)
    assert moved == {**pol, "target_tenant": third.project_id}
    third.show("networks", net["id"])
    other.show("networks", net["id"], 404)
    remove(owner, pol["id"])
    show(owner, pol["id"], 404)


def test_wildcard_is_shared_and_admin_only(api):
    owner, anyone = api.project(), api.project()
    net = owner.network()
    expect(owner.post(RBAC, {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": "*"}}), 403, "PolicyNotAuthorized")
    pol = grant(owner, net["id"], anyone.project_id)
    expect(owner.put(f"{RBAC}/{pol['id']}", {"rbac_policy": {"target_tenant": "*"}}), 403)
    rev = owner.show("networks", net["id"])["revision_number"]
    wild = grant(api.admin, net["id"], "*")
    shown = owner.show("networks", net["id"])
    assert shown["shared"] is True and shown["revision_number"] > rev
    assert net["id"] in {n["id"] for n in api.admin.list("networks", {"shared": "true"})}
    assert api.project().show("networks", net["id"])["shared"] is True
    remove(api.admin, wild["id"])
    assert owner.show("networks", net["id"])["shared"] is False
    # shared=True on the network is the same wildcard grant
    api.admin.update("networks", net["id"], shared=True)
    [w] = policies(api.admin, {"object_id": net["id"], "target_tenant": "*"})
    assert w["action"] == "access_as_shared"
    api.admin.update("networks", net["id"], shared=False)
    assert policies(api.admin, {"object_id": net["id"], "target_tenant": "*"}) == []


def test_external_grant_to_one_project(api):
    owner, user, third = api.admin, api.project(), api.project()
    net = owner.network()
    grant(owner, net["id"], user.project_id, action="access_as_external")
    seen = user.show("networks", net["id"])
    assert seen["router:external"] is True and seen["shared"] is False
    third.show("networks", net["id"], 404)


def test_errors(api):
    owner, other = api.project(), api.project()
    net = owner.network()
    pol = grant(owner, net["id"], other.project_id)
    grant(owner, net["id"], other.project_id, status=409, error_type="DuplicateRbacPolicy")
    grant(owner, net["id"], None, status=400)
    grant(owner, net["id"], "1234" * 100, status=400)
    grant(owner, net["id"], other.project_id, object_type="bogus", status=400)
    grant(owner, net["id"], other.project_id, action="access_as_bogus", status=400)
    grant(owner, "not-a-uuid", other.project_id, status=400)
    grant(owner, "9d1c1f0e-0000-4000-8000-000000000000", other.project_id, status=404,
          error_type="NetworkNotFound")
    # a project the network is shared with may not share it further
    grant(other, net["id"], other.project_id, status=400, error_type="InvalidInput")
    # another project's network: not found
    grant(api.project(), net["id"], other.project_id, status=404)
    expect(owner.put(f"{RBAC}/{pol['id']}", {"rbac_policy": {"action": "x"}}), 400)
    # nothing half-written
    assert [p["id"] for p in policies(owner)] == [pol["id"]]


def test_self_share_removal_and_owner_ports(api):
    owner, other = api.project(), api.project()
    net, _ = owner.net_with_subnet("10.41.0.0/24")
    self_share = grant(owner, net["id"], owner.project_id)
    port = owner.port(net["id"])
    remove(owner, self_share["id"])        # the owner keeps its network
    owner.remove("ports", port["id"])
    grant(owner, net["id"], other.project_id)
    theirs = other.port(net["id"])
    owner.remove("ports", theirs["id"])         # the owner may delete ports on its network


def test_quota(api):
    owner = api.project()
    net = owner.network()
    expect(api.admin.put(f"quotas/{owner.project_id}", {"quota": {"rbac_policy": 2}}), 200)
    assert expect(owner.get(f"quotas/{owner.project_id}"), 200)["quota"]["rbac_policy"] == 2
    for _ in range(2):
        grant(owner, net["id"], api.project().project_id)
    grant(owner, net["id"], api.project().project_id, status=409, error_type="OverQuota")


def test_network_delete_takes_its_policies(api):
    owner, other = api.project(), api.project()
    net = owner.network()
    pol = grant(owner, net["id"], other.project_id)
    owner.remove("networks", net["id"])
    show(owner, pol["id"], 404)


def test_external_wildcard_in_use_by_a_projects_router(api):
    user = api.project()
    net = api.admin.network()
    api.admin.subnet(net["id"], "10.42.0.0/24")
    wild = grant(api.admin, net["id"], "*", action="access_as_external")
    assert api.admin.show("networks", net["id"])["router:external"] is True
    router = user.create("routers", name="r",
                         external_gateway_info={"network_id": net["id"]})
    expect(api.admin.delete(f"{RBAC}/{wild['id']}"), 409, "RbacPolicyInUse")
    own = grant(api.admin, net["id"], user.project_id, action="access_as_external")
    remove(api.admin, wild["id"])              # the project keeps its own grant
    expect(api.admin.delete(f"{RBAC}/{own['id']}"), 409, "RbacPolicyInUse")
    user.update("routers", router["id"], external_gateway_info={})
    remove(api.admin, own["id"])
    assert api.admin.show("networks", net["id"])["router:external"] is False


def test_wildcard_narrowed_to_the_project_using_it(api):
    user, other = api.project(), api.project()
    net = api.admin.network()
    api.admin.subnet(net["id"], "10.43.0.0/24")
    wild = grant(api.admin, net["id"], "*", action="access_as_external")
    user.create("routers", name="r", external_gateway_info={"network_id": net["id"]})
    expect(api.admin.put(f"{RBAC}/{wild['id']}", {"rbac_policy": {
        "target_tenant": other.project_id}}), 409, "RbacPolicyInUse")
    assert change(api.admin, wild["id"], target_tenant=user.project_id)["target_tenant"] == \
        user.project_id
