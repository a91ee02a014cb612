"""Multi-tenancy and policy: what members, readers and admins of different
projects may see and do; policy.yaml overrides."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand

MISSING = "6bdecb4b-429a-4947-8190-10abc831ed83"


@pytest.mark.parametrize("attr,value", [
    ("provider:network_type", "vxlan"), ("provider:physical_network", "physnet1"),
    ("provider:segmentation_id", 5), ("router:external", True), ("shared", True)])
def test_member_cannot_set_admin_attributes(api, attr, value):
    expect(api.member_a.post("networks", {"network": {"name": rand(), attr: value}}), 403,
           "PolicyNotAuthorized",
           f"(rule:create_network and rule:create_network:{attr}) is disallowed by policy")
    net = api.member_a.network()
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {attr: value}}), 403,
           "PolicyNotAuthorized",
           f"(rule:update_network and rule:update_network:{attr}) is disallowed by policy")


def test_member_may_send_default_values_of_admin_attributes(api):
    # Upstream checks an attribute rule on create only when the attribute is
    # explicitly set to something other than its default.
    net = expect(api.member_a.post("networks", {"network": {
        "shared": False, "router:external": "false", "provider:network_type": None}}),
        201)["network"]
    assert net["shared"] is False
    # On update any attribute in the body counts.
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {"shared": False}}), 403,
           "PolicyNotAuthorized")


def test_other_projects_resources_are_404(api):
    net, sub = api.member_a.net_with_subnet("10.100.0.0/24")
    port = api.member_a.port(net["id"])
    sg = api.member_a.create("security-groups", name=rand("sg"))
    b = api.member_b
    expect(b.get(f"networks/{net['id']}"), 404, "NetworkNotFound",
           f"Network {net['id']} could not be found.")
    expect(b.put(f"networks/{net['id']}", {"network": {"name": "x"}}), 404, "NetworkNotFound")
    expect(b.delete(f"networks/{net['id']}"), 404, "NetworkNotFound")
    expect(b.get(f"subnets/{sub['id']}"), 404, "SubnetNotFound",
           f"Subnet {sub['id']} could not be found.")
    expect(b.put(f"subnets/{sub['id']}", {"subnet": {"name": "x"}}), 404, "SubnetNotFound")
    expect(b.delete(f"subnets/{sub['id']}"), 404, "SubnetNotFound")
    expect(b.get(f"ports/{port['id']}"), 404, "PortNotFound",
           f"Port {port['id']} could not be found.")
    expect(b.put(f"ports/{port['id']}", {"port": {"name": "x"}}), 404, "PortNotFound")
    expect(b.delete(f"ports/{port['id']}"), 404, "PortNotFound")
    expect(b.get(f"security-groups/{sg['id']}"), 404, "SecurityGroupNotFound")
    expect(b.delete(f"security-groups/{sg['id']}"), 404, "SecurityGroupNotFound")
    # Creating on it: the network does not exist for B.
    expect(b.post("ports", {"port": {"network_id": net["id"]}}), 404, "NetworkNotFound")
    expect(b.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                         "cidr": "10.101.0.0/24"}}), 404, "NetworkNotFound")
    # Lists do not show them.
    assert net["id"] not in {n["id"] for n in b.list("networks")}
    assert sub["id"] not in {s["id"] for s in b.list("subnets")}
    assert port["id"] not in {p["id"] for p in b.list("ports")}
    assert sg["id"] not in {g["id"] for g in b.list("security-groups")}
    # Tags of hidden resources are hidden too.
    expect(b.get(f"networks/{net['id']}/tags"), 404, "NetworkNotFound")
    expect(b.put(f"networks/{net['id']}/tags/x"), 404, "NetworkNotFound")
    # The admin sees everything.
    assert api.admin.show("ports", port["id"])["id"] == port["id"]


def test_shared_and_external_networks_visible_to_all(api):
    shared = api.admin.network(shared=True, project_id=api.project_a)
    ssub = api.admin.subnet(shared["id"], "10.102.0.0/24", project_id=api.project_a)
    external = api.admin.network(**{"router:external": True})
    assert external["router:external"] is True
    esub = api.admin.subnet(external["id"], "10.103.0.0/24")
    assert esub["router:external"] is True
    private = api.admin.network()
    for persona in (api.member_b, api.project(), api.project(roles="reader")):
        ids = {n["id"] for n in persona.list("networks")}
        assert shared["id"] in ids and external["id"] in ids
        assert private["id"] not in ids
        assert persona.show("networks", shared["id"])["shared"] is True
        assert persona.show("networks", external["id"])["router:external"] is True
        # Subnets of shared and external networks are visible (upstream with
        # subnet-external-network: tempest's test_external_network_visibility).
        assert persona.show("subnets", ssub["id"])["id"] == ssub["id"]
        assert persona.show("subnets", esub["id"])["id"] == esub["id"]
    listed = api.member_b.list("networks", params={"router:external": "True"})
    assert external["id"] in {n["id"] for n in listed}
    assert all(n["router:external"] for n in listed)
    listed = api.member_b.list("networks", params={"shared": "true"})
    assert shared["id"] in {n["id"] for n in listed} and all(n["shared"] for n in listed)
    # Visible is not writable.
    expect(api.member_b.put(f"networks/{shared['id']}", {"network": {"name": "x"}}), 403,
           "PolicyNotAuthorized", "rule:update_network is disallowed by policy")
    expect(api.member_b.delete(f"networks/{shared['id']}"), 403, "PolicyNotAuthorized",
           "rule:delete_network is disallowed by policy")


def test_member_port_on_shared_network(api):
    shared = api.admin.network(shared=True, project_id=api.project_a)
    api.member_a.subnet(shared["id"], "10.104.0.0/24")
    a_port = api.member_a.port(shared["id"])
    b_port = api.member_b.port(shared["id"])
    assert b_port["project_id"] == api.project_b
    assert b_port["fixed_ips"][0]["ip_address"].startswith("10.104.0.")
    # B sees its own port, not A's; A (network owner) sees both.
    b_ids = {p["id"] for p in api.member_b.list("ports", params={"network_id": shared["id"]})}
    assert b_ids == {b_port["id"]}
    a_ids = {p["id"] for p in api.member_a.list("ports", params={"network_id": shared["id"]})}
    assert a_ids == {a_port["id"], b_port["id"]}
    expect(api.member_b.get(f"ports/{a_port['id']}"), 404, "PortNotFound")
    # B cannot ask for a specific address on A's network? It can: the network
    # is shared (create_port:fixed_ips:ip_address is for the network owner...).
    resp = api.member_b.post("ports", {"port": {"network_id": shared["id"], "fixed_ips": [
        {"ip_address": "10.104.0.200"}]}})
    expect(resp, 403, "PolicyNotAuthorized",
           "(rule:create_port and (rule:create_port:fixed_ips and "
           "(rule:create_port:fixed_ips:ip_address))) is disallowed by policy")
    # B cannot add a subnet to A's shared network.
    expect(api.member_b.post("subnets", {"subnet": {"network_id": shared["id"],
                                                    "ip_version": 4,
                                                    "cidr": "10.105.0.0/24"}}),
           403, "PolicyNotAuthorized", "rule:create_subnet is disallowed by policy")
    # Unsharing while B has a port there: 409.
    expect(api.admin.put(f"networks/{shared['id']}", {"network": {"shared": False}}), 409,
           "InvalidSharedSetting")
    api.member_b.remove("ports", b_port["id"])
    assert api.admin.update("networks", shared["id"], shared=False)["shared"] is False


def test_member_cannot_create_port_on_external_network(api):
    external = api.admin.network(**{"router:external": True})
    api.admin.subnet(external["id"], "10.106.0.0/24")
    expect(api.member_b.post("ports", {"port": {"network_id": external["id"]}}), 403,
           "HTTPForbidden",
           f"Tenant {api.project_b} not allowed to create port on this network")


def test_reader_can_list_but_not_write(api):
    net, sub = api.member_a.net_with_subnet("10.107.0.0/24")
    port = api.member_a.port(net["id"])
    reader = api.reader_a
    assert net["id"] in {n["id"] for n in reader.list("networks")}
    assert reader.show("subnets", sub["id"])["id"] == sub["id"]
    assert reader.show("ports", port["id"])["id"] == port["id"]
    expect(reader.post("networks", {"network": {"name": rand()}}), 403, "PolicyNotAuthorized",
           "rule:create_network is disallowed by policy")
    expect(reader.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                              "cidr": "10.108.0.0/24"}}), 403,
           "PolicyNotAuthorized", "rule:create_subnet is disallowed by policy")
    expect(reader.post("ports", {"port": {"network_id": net["id"]}}), 403,
           "PolicyNotAuthorized", "rule:create_port is disallowed by policy")
    expect(reader.put(f"networks/{net['id']}", {"network": {"name": "x"}}), 403,
           "PolicyNotAuthorized", "rule:update_network is disallowed by policy")
    expect(reader.delete(f"ports/{port['id']}"), 403, "PolicyNotAuthorized",
           "rule:delete_port is disallowed by policy")
    expect(reader.post("security-groups", {"security_group": {"name": rand()}}), 403,
           "PolicyNotAuthorized", "rule:create_security_group is disallowed by policy")
    expect(reader.put(f"networks/{net['id']}/tags/x"), 403, "PolicyNotAuthorized")


def test_no_role_sees_nothing(api):
    net = api.member_a.network()
    nobody = api.as_project(api.member_a, "")
    expect(nobody.get(f"networks/{net['id']}"), 404, "HTTPNotFound",
           "The resource could not be found.")
    expect(nobody.delete(f"networks/{net['id']}"), 404, "HTTPNotFound")
    assert net["id"] not in {n["id"] for n in nobody.list("networks")}
    expect(nobody.post("networks", {"network": {}}), 403, "PolicyNotAuthorized")


def test_roles_are_case_insensitive_and_imply(api):
    admin = api.project(roles="Admin")
    net = admin.network(**{"provider:network_type": "vxlan"})
    assert net["provider:network_type"] == "vxlan"
    member = api.project(roles="reader,MEMBER")
    member.network()


def test_tenant_id_header(api):
    project = api.project().project_id
    resp = api.client.post("/v2.0/networks", json={"network": {"name": rand()}},
                           headers={"X-Tenant-Id": project, "X-Roles": "member"})
    assert expect(resp, 201)["network"]["project_id"] == project


# --- policy.yaml overrides ----------------------------------------------------------

def test_policy_override_allows_members_to_share(make_api):
    api = make_api(policy={"create_network:shared": "role:member",
                           "update_network:shared": "role:member"})
    net = api.member_a.network(shared=True)
    assert net["shared"] is True
    assert net["id"] in {n["id"] for n in api.member_b.list("networks")}
    up = api.member_a.update("networks", net["id"], shared=False)
    assert up["shared"] is False
    # Untouched rules keep their defaults.
    expect(api.member_a.post("networks", {"network": {"router:external": True}}), 403,
           "PolicyNotAuthorized")


def test_policy_override_forbids_a_role(make_api):
    api = make_api(policy={
        "create_network": "not role:restricted and (rule:admin_only or "
                          "(role:member and project_id:%(project_id)s))"})
    restricted = api.project(roles="member,restricted")
    expect(restricted.post("networks", {"network": {}}), 403, "PolicyNotAuthorized",
           "rule:create_network is disallowed by policy")
    assert api.project().network()["id"]
    assert api.project(roles="admin,restricted").post(
        "networks", {"network": {}}).status_code == 403


def test_policy_override_of_get_rule_filters_each_item(make_api):
    # Only owners (and admins) may see a network, even a shared one.
    api = make_api(policy={"get_network": "rule:admin_only or project_id:%(project_id)s"})
    shared = api.admin.network(shared=True, project_id=api.project_a)
    assert api.member_a.show("networks", shared["id"])["id"] == shared["id"]
    expect(api.member_b.get(f"networks/{shared['id']}"), 404, "HTTPNotFound",
           "The resource could not be found.")
    assert shared["id"] not in {n["id"] for n in api.member_b.list("networks")}
    expect(api.member_b.put(f"networks/{shared['id']}", {"network": {"name": "x"}}), 404,
           "HTTPNotFound")


def test_policy_override_attribute_visibility(make_api):
    api = make_api(policy={"get_network:provider:network_type": "role:reader"})
    net = api.member_a.network()
    shown = api.member_a.show("networks", net["id"])
    assert shown["provider:network_type"] == "vxlan"
    assert "provider:segmentation_id" not in shown


def test_policy_file_json_syntax(make_api):
    # oslo.policy also reads JSON policy files.
    api = make_api(policy='{"create_security_group": "!",\n "get_agent": "rule:admin_only"}')
    expect(api.member_a.post("security-groups", {"security_group": {"name": rand()}}), 403,
           "PolicyNotAuthorized", "rule:create_security_group is disallowed by policy")
    # Admins are no exception to "!".
    expect(api.admin.post("security-groups", {"security_group": {"name": rand()}}), 403,
           "PolicyNotAuthorized")


def test_invalid_policy_file_fails_at_start(tmp_path):
    from neutrino.config import ConfigError
    from neutrino.service import build_server_core
    bad = tmp_path / "policy.yaml"
    bad.write_text('"create_network": "role:member and"\n')
    with pytest.raises(ConfigError, match="create_network"):
        build_server_core([], {"DEFAULT": {"state_path": str(tmp_path)},
                               "oslo_policy": {"policy_file": str(bad)}})
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError):
        build_server_core([], {"DEFAULT": {"state_path": str(tmp_path)},
                               "oslo_policy": {"policy_file": str(bad)}})
