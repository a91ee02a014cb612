"""Security groups and rules: CRUD, default group, validation, duplicates."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


def post_rule(persona, group_id, **attrs):
    attrs.setdefault("direction", "ingress")
    return persona.post("security-group-rules", {"security_group_rule": {
        "security_group_id": group_id, **attrs}})


def test_default_group_created_on_first_list(api):
    member = api.project()
    groups = member.list("security-groups")
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    assert default["description"] == "Default security group"
    rules = default["security_group_rules"]
    assert len(rules) == 4
    got = sorted((r["direction"], r["ethertype"], r["remote_group_id"]) for r in rules)
    assert got == [("egress", "IPv4", None), ("egress", "IPv6", None),
                   ("ingress", "IPv4", default["id"]), ("ingress", "IPv6", default["id"])]
    assert all(r["belongs_to_default_sg"] for r in rules)
    # Listing again does not create another.
    assert [g["id"] for g in member.list("security-groups")] == [default["id"]]
    # A member cannot delete it, nor create another "default".
    expect(member.delete(f"security-groups/{default['id']}"), 409,
           "SecurityGroupCannotRemoveDefault")
    expect(member.post("security-groups", {"security_group": {"name": "default"}}), 409)


def test_security_group_crud(api):
    member = api.project()
    sg = member.create("security-groups", name=rand("sg"), description="web")
    assert set(sg) >= {"id", "name", "description", "project_id", "tenant_id",
                       "security_group_rules", "stateful", "tags", "created_at",
                       "updated_at", "revision_number", "shared"}
    assert sg["project_id"] == member.project_id
    # A new group allows all egress, nothing in.
    assert sorted((r["direction"], r["ethertype"]) for r in sg["security_group_rules"]) == [
        ("egress", "IPv4"), ("egress", "IPv6")]
    assert not any(r["belongs_to_default_sg"] for r in sg["security_group_rules"])
    assert member.show("security-groups", sg["id"]) == sg
    up = member.update("security-groups", sg["id"], name="renamed", description="d2")
    assert (up["name"], up["description"]) == ("renamed", "d2")
    assert up["revision_number"] > sg["revision_number"]
    assert {g["id"] for g in member.list("security-groups")} >= {sg["id"]}
    member.remove("security-groups", sg["id"])
    expect(member.get(f"security-groups/{sg['id']}"), 404, "SecurityGroupNotFound",
           f"Security group {sg['id']} does not exist")


def test_stateful_flag(api):
    sg = api.member_a.create("security-groups", name=rand("sg"), stateful=False)
    assert sg["stateful"] is False
    assert api.member_a.show("security-groups", sg["id"])["stateful"] is False
    assert api.member_a.create("security-groups", name=rand("sg"))["stateful"] is True
    assert api.member_a.update("security-groups", sg["id"], stateful=True)["stateful"] is True
    listed = api.member_a.list("security-groups", params={"stateful": "true",
                                                          "id": sg["id"]})
    assert [g["id"] for g in listed] == [sg["id"]]


def test_rule_crud(api):
    member = api.project()
    sg = member.create("security-groups", name=rand("sg"))
    rule = expect(post_rule(member, sg["id"], protocol="tcp", port_range_min=22,
                            port_range_max=22, remote_ip_prefix="10.0.0.0/8"), 201)[
        "security_group_rule"]
    assert rule["protocol"] == "tcp"
    assert (rule["port_range_min"], rule["port_range_max"]) == (22, 22)
    assert rule["remote_ip_prefix"] == "10.0.0.0/8"
    assert rule["normalized_cidr"] == "10.0.0.0/8"
    assert rule["ethertype"] == "IPv4" and rule["direction"] == "ingress"
    assert rule["project_id"] == member.project_id
    shown = member.show("security-groups", sg["id"])
    assert rule["id"] in {r["id"] for r in shown["security_group_rules"]}
    assert member.show("security-group-rules", rule["id"]) == rule
    # Rules are immutable (no update in the API reference).
    resp = member.put(f"security-group-rules/{rule['id']}",
                      {"security_group_rule": {"description": "x"}})
    assert 400 <= resp.status_code < 500, resp.text
    assert member.show("security-group-rules", rule["id"])["description"] == ""
    member.remove("security-group-rules", rule["id"])
    expect(member.get(f"security-group-rules/{rule['id']}"), 404,
           "SecurityGroupRuleNotFound")
    # Deleting the group deletes its rules.
    r2 = expect(post_rule(member, sg["id"], protocol="icmp"), 201)["security_group_rule"]
    member.remove("security-groups", sg["id"])
    expect(member.get(f"security-group-rules/{r2['id']}"), 404, "SecurityGroupRuleNotFound")


def test_normalized_cidr(api):
    """security-groups-normalized-cidr: a prefix with host bits keeps them in
    remote_ip_prefix and shows the network in normalized_cidr."""
    member = api.project()
    sg = member.create("security-groups", name=rand("sg"))
    rule = expect(post_rule(member, sg["id"], remote_ip_prefix="10.0.0.34/24"), 201)[
        "security_group_rule"]
    assert (rule["remote_ip_prefix"], rule["normalized_cidr"]) == ("10.0.0.34/24", "10.0.0.0/24")
    listed = member.list("security-group-rules", params={"id": rule["id"]})
    assert listed[0]["normalized_cidr"] == "10.0.0.0/24"


def test_duplicate_rule_409(api):
    sg = api.member_a.create("security-groups", name=rand("sg"))
    rule = expect(post_rule(api.member_a, sg["id"], protocol="udp", port_range_min=53,
                            port_range_max=53), 201)["security_group_rule"]
    expect(post_rule(api.member_a, sg["id"], protocol="udp", port_range_min=53,
                     port_range_max=53), 409, "SecurityGroupRuleExists",
           f"Security group rule already exists. Rule id is {rule['id']}.")


def test_remote_group_rule(api):
    sg = api.member_a.create("security-groups", name=rand("sg"))
    other = api.member_a.create("security-groups", name=rand("sg"))
    rule = expect(post_rule(api.member_a, sg["id"], remote_group_id=other["id"]), 201)[
        "security_group_rule"]
    assert rule["remote_group_id"] == other["id"]
    expect(post_rule(api.member_a, sg["id"], remote_group_id=other["id"],
                     remote_ip_prefix="10.0.0.0/8", protocol="tcp"), 400)


@pytest.mark.parametrize("attrs", [
    {"direction": "sideways"},
    {"ethertype": "IPv5"},
    {"protocol": "tcp", "port_range_min": 100, "port_range_max": 10},
    {"protocol": "tcp", "port_range_min": 0, "port_range_max": 10},
    {"protocol": "tcp", "port_range_min": 1, "port_range_max": 70000},
    {"port_range_min": 22, "port_range_max": 22},
    {"protocol": "icmp", "port_range_min": 300},
    {"protocol": 256},
    {"remote_ip_prefix": "not-a-cidr"},
    {"remote_ip_prefix": "2001:db8::/64"},  # ethertype IPv4 (default)
    {"protocol": "icmpv6"},  # needs IPv6
    {"protocol": "gre", "port_range_min": 1, "port_range_max": 2},
])
def test_invalid_rules_400(api, attrs):
    sg = api.member_a.create("security-groups", name=rand("sg"))
    expect(post_rule(api.member_a, sg["id"], **attrs), 400)


def test_protocol_forms(api):
    sg = api.member_a.create("security-groups", name=rand("sg"))
    for proto, stored in (("TCP", "tcp"), ("6", "6"), ("any", None), (132, "132")):
        rule = expect(post_rule(api.member_a, sg["id"], protocol=proto), 201)[
            "security_group_rule"]
        assert rule["protocol"] == stored
        api.member_a.remove("security-group-rules", rule["id"])
    v6 = expect(post_rule(api.member_a, sg["id"], protocol="ipv6-icmp", ethertype="IPv6"),
                201)["security_group_rule"]
    assert v6["ethertype"] == "IPv6"


def test_rule_on_other_projects_group_404(api):
    sg = api.member_a.create("security-groups", name=rand("sg"))
    expect(post_rule(api.member_b, sg["id"]), 404, "SecurityGroupNotFound")
    rules = api.member_b.list("security-group-rules", params={"security_group_id": sg["id"]})
    assert rules == []


def test_sg_tags(api):
    sg = api.member_a.create("security-groups", name=rand("sg"), tags=["web"])
    assert sg["tags"] == ["web"]
    expect(api.member_a.put(f"security-groups/{sg['id']}/tags/db"), 201)
    listed = api.member_a.list("security-groups", params={"tags": "web,db"})
    assert [g["id"] for g in listed] == [sg["id"]]
