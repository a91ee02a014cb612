"""rbac-policies in the lab, with packets: a network one project shares by
RBAC with one other project is usable by it (its member makes a port there,
an instance on it talks with the owner's instance across hosts) and
invisible to a third project (404 for the network, and no port on it)."""
from __future__ import annotations

import uuid

import pytest

from neutrino.lab.api import ApiError, NeutronApi

pytestmark = pytest.mark.root


def member(lab, project: str) -> NeutronApi:
    """The project's member (noauth lab: identity from headers)."""
    return NeutronApi(lab.api.url, headers={"X-Project-Id": project, "X-Roles": "member",
                                            "X-User-Id": f"user-{project[:8]}"})


def status_of(call) -> int:
    try:
        call()
    except ApiError as exc:
        return exc.status
    return 200


def test_network_shared_by_rbac_with_one_project(world, lab):
    owner_p, user_p, third_p = (uuid.uuid4().hex for _ in range(3))
    owner, user, third = member(lab, owner_p), member(lab, user_p), member(lab, third_p)
    try:
        net = owner.create("networks", {"name": f"shared-{world.tag}"})
        world.networks.append(net["id"])
        owner.create("subnets", {"network_id": net["id"], "cidr": "10.78.0.0/24",
                                 "ip_version": 4})
        assert status_of(lambda: user.show("networks", net["id"])) == 404
        pol = owner.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
            "target_tenant": user_p}})["rbac_policy"]
        assert user.show("networks", net["id"])["shared"] is True
        # the third project: not there at all
        assert status_of(lambda: third.show("networks", net["id"])) == 404
        assert net["id"] not in {n["id"] for n in third.list("networks")}
        assert status_of(lambda: third.create("ports", {"network_id": net["id"]})) == 404
        # the user's own port on it (bound by the "compute service", as Nova does)
        port = user.create("ports", {"network_id": net["id"], "name": f"u-{world.tag}",
                                     "device_owner": "compute:lab",
                                     "device_id": str(uuid.uuid4())})
        assert port["project_id"] == user_p
        port = lab.api.update("ports", port["id"], {"binding:host_id": "host2"})
        theirs = world.instance("rbac-u", net, host="host2", port=port)
        mine = world.instance("rbac-o", net, host="host1")
        for inst in (mine, theirs):
            world.allow_ingress(inst, {"protocol": "icmp"})
        assert world.ping(mine, theirs.ip, count=3) and world.ping(theirs, mine.ip, count=3)
        # the grant cannot go while the user's port is there
        assert status_of(lambda: owner.request(
            "DELETE", f"/v2.0/rbac-policies/{pol['id']}")) == 409
    finally:
        for c in (owner, user, third):
            c.close()
