"""security-groups-default-rules: the templates (upstream's four legacy
rules at first), admin-only writes, duplicates per kind of group, and new
default and custom groups getting exactly their templates ("PARENT" as the
group itself); security-groups-rules-belongs-to-default-sg filtering."""
from __future__ import annotations

from tests.api.helpers import expect

DR = "default-security-group-rules"
KEYS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
        "remote_ip_prefix", "remote_group_id", "remote_address_group_id")


def templates(persona, params=None):
    return expect(persona.get(DR, params=params), 200)["default_security_group_rules"]


def make(persona, status=201, error_type=None, **attrs):
    out = expect(persona.post(DR, {"default_security_group_rule": attrs}), status, error_type)
    return out["default_security_group_rule"] if status == 201 else out


def shape(rules, parent=None):
    return sorted((tuple(("PARENT" if (k == "remote_group_id" and r[k] == parent and parent)
                          else r[k]) for k in KEYS) for r in rules), key=repr)


def test_legacy_templates_and_member_read_only(api):
    legacy = [r for r in templates(api.project()) if r["description"].startswith("Legacy")]
    assert sorted((r["direction"], r["ethertype"], r["remote_group_id"],
                   r["used_in_default_sg"], r["used_in_non_default_sg"], r["description"])
                  for r in legacy) == [
        ("egress", "IPv4", None, True, True, "Legacy default SG rule for egress traffic"),
        ("egress", "IPv6", None, True, True, "Legacy default SG rule for egress traffic"),
        ("ingress", "IPv4", "PARENT", True, False,
         "Legacy default SG rule for ingress traffic"),
        ("ingress", "IPv6", "PARENT", True, False,
         "Legacy default SG rule for ingress traffic")]
    make(api.project(), 403, direction="ingress")


def test_templates_make_the_groups_rules(api):
    admin = api.admin
    t1 = make(admin, direction="ingress", protocol="tcp", port_range_min=2201,
              port_range_max=2201, used_in_default_sg=False, used_in_non_default_sg=True,
              description="ssh")
    assert {k: t1[k] for k in ("protocol", "port_range_min", "used_in_default_sg",
                               "used_in_non_default_sg", "description", "ethertype")} == {
        "protocol": "tcp", "port_range_min": 2201, "used_in_default_sg": False,
        "used_in_non_default_sg": True, "description": "ssh", "ethertype": "IPv4"}
    assert expect(admin.get(f"{DR}/{t1['id']}"), 200)["default_security_group_rule"] == t1
    t2 = make(admin, direction="ingress", protocol="icmp", remote_group_id="PARENT",
              used_in_default_sg=True, used_in_non_default_sg=False)
    try:
        make(admin, 409, "DefaultSecurityGroupRuleExists", direction="ingress",
             protocol="tcp", port_range_min=2201, port_range_max=2201,
             used_in_default_sg=True, used_in_non_default_sg=True)
        make(admin, 400, direction="ingress", protocol="tcp", port_range_min=9,
             port_range_max=1)
        make(admin, 400, direction="sideways")
        m = api.project()
        custom = m.create("security-groups", name="web")
        assert shape(custom["security_group_rules"]) == shape(
            templates(admin, {"used_in_non_default_sg": "true"}))
        [default] = m.list("security-groups", {"name": "default"})
        assert shape(default["security_group_rules"], default["id"]) == shape(
            templates(admin, {"used_in_default_sg": "true"}))
        rules = m.list("security-group-rules", {"belongs_to_default_sg": "true"})
        assert {r["security_group_id"] for r in rules} == {default["id"]}
        rules = m.list("security-group-rules", {"belongs_to_default_sg": "false"})
        assert {r["security_group_id"] for r in rules} == {custom["id"]}
    finally:
        for t in (t1, t2):
            expect(admin.delete(f"{DR}/{t['id']}"), 204)
    expect(admin.get(f"{DR}/{t1['id']}"), 404, "DefaultSecurityGroupRuleNotFound")
    later = api.project().create("security-groups", name="db")
    assert all(r["port_range_min"] != 2201 for r in later["security_group_rules"])


def test_admin_listing_a_new_projects_groups_makes_its_default(api):
    project = api.project().project_id
    [default] = api.admin.list("security-groups", {"project_id": project, "name": "default"})
    assert default["project_id"] == project
