"""What tests/fuzz found, pinned on every backend: each of these was a 500
(on PostgreSQL at least) before its fix."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand
from tests.api.test_auth_embedded import KEYSTONE, Cloud


# --- agents' timestamp filters ---------------------------------------------------------

@pytest.mark.parametrize("name", ["created_at", "started_at", "heartbeat_timestamp"])
def test_agent_timestamp_filter_garbage_is_400(api, name):
    # PostgreSQL compared the raw text with a timestamp column: 500.
    err = expect(api.admin.get("agents", params={name: "204"}), 400)
    assert err["NeutronError"]["type"] in ("InvalidInput", "HTTPBadRequest"), err


def test_agent_timestamp_filter_is_parsed(api):
    body = expect(api.admin.get("agents", params={"started_at": "2026-01-01T00:00:00Z"}), 200)
    assert body["agents"] == []


def test_agent_load_filter_is_an_integer(api):
    # PostgreSQL compared the integer column with text: 500.
    expect(api.admin.get("agents", params={"load": "10655"}), 200)
    expect(api.admin.get("agents", params={"load": "many"}), 400)


@pytest.mark.parametrize("path,body", [
    ("dhcp-networks", True), ("dhcp-networks", [1]), ("dhcp-networks", {"network_id": 5}),
    ("l3-routers", True), ("l3-routers", "x"), ("l3-routers", {"router_id": ["a"]}),
])
def test_scheduling_body_that_is_no_object_is_400(api, path, body):
    # `(body or {}).get(...)` on a JSON true or a list: 500.
    resp = api.admin.post(f"agents/{rand('agent')}/{path}", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["NeutronError"]["type"] == "HTTPBadRequest"


# --- the embedded identity's admin API ------------------------------------------------------

@pytest.fixture(scope="module")
def cloud(make_api) -> Cloud:
    return Cloud(make_api(KEYSTONE))


@pytest.mark.parametrize("path,key,body", [
    ("/identity/v3/roles", "role", {"name": "r" * 300}),
    ("/identity/v3/users", "user", {"name": "u" * 300}),
    ("/identity/v3/users", "user", {"name": "fuzz-user", "email": "e" * 300}),
    ("/identity/v3/projects", "project", {"name": "p" * 300}),
    ("/identity/v3/users", "user", {"name": "fuzz-user", "password": True}),
    ("/identity/v3/users", "user", {"name": "fuzz-user", "password": 12345}),
    ("/identity/v3/users", "user", {"name": ["x"]}),
    ("/identity/v3/roles", "role", {"name": "a\x00b"}),
    ("/identity/v3/projects", "project", {"name": "fuzz-p", "enabled": "maybe"}),
])
def test_identity_admin_bad_fields_are_400(cloud, path, key, body):
    admin = cloud.admin()
    before = cloud.client.get(path, headers=admin.headers).json()
    resp = cloud.client.post(path, json={key: body}, headers=admin.headers)
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["code"] == 400 and err["title"] == "Bad Request", err
    assert "Invalid input for field" in err["message"], err
    assert cloud.client.get(path, headers=admin.headers).json() == before  # nothing stored


def test_identity_admin_patch_bad_password_is_400(cloud):
    admin = cloud.admin()
    name = rand("user")
    resp = cloud.client.post("/identity/v3/users", json={"user": {"name": name,
                                                                   "password": "pw-1"}},
                             headers=admin.headers)
    assert resp.status_code == 201, resp.text
    uid = resp.json()["user"]["id"]
    resp = cloud.client.patch(f"/identity/v3/users/{uid}", json={"user": {"password": True}},
                              headers=admin.headers)
    assert resp.status_code == 400, resp.text
    cloud.issue(name, "pw-1")  # the old password still works


def test_identity_admin_good_fields_still_work(cloud):
    admin = cloud.admin()
    resp = cloud.client.post("/identity/v3/users", headers=admin.headers, json={"user": {
        "name": rand("user"), "password": "x" * 64, "email": None, "description": None,
        "enabled": True}})
    assert resp.status_code == 201, resp.text


# --- a rejected bulk create leaves no trace -------------------------------------------------

def test_rejected_bulk_rule_create_leaves_the_group_unchanged(api):
    sg = api.admin.create("security-groups", name=rand("sg"))
    before = api.admin.show("security-groups", sg["id"])
    resp = api.admin.post("security-group-rules", {"security_group_rules": [
        {"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
         "port_range_min": 22, "port_range_max": 22},
        {"security_group_id": sg["id"], "direction": "ingress", "port_range_min": 224}]})
    expect(resp, 400)
    after = api.admin.show("security-groups", sg["id"])
    assert after["security_group_rules"] == before["security_group_rules"]
    assert after["revision_number"] == before["revision_number"], (before, after)


def test_a_bulk_rule_create_refused_by_a_duplicate_leaves_the_group_unchanged(api):
    """Found by the fuzzer: the rules of a bulk POST that only the write can
    refuse (a duplicate of a stored rule, here the group's default egress
    one, or of a rule before it in the POST) went in one by one and were
    undone one by one, bumping the group's revision four times. Now one
    transaction: nothing changes."""
    sg = api.admin.create("security-groups", name=rand("sg"))
    before = api.admin.show("security-groups", sg["id"])
    for rules in (
            [{"security_group_id": sg["id"], "direction": "ingress", "ethertype": "IPv6"},
             {"security_group_id": sg["id"], "direction": "egress"}],       # stored already
            [{"security_group_id": sg["id"], "direction": "ingress", "protocol": "udp"},
             {"security_group_id": sg["id"], "direction": "ingress", "protocol": "udp"}]):
        resp = api.admin.post("security-group-rules", {"security_group_rules": rules})
        expect(resp, 409)
        assert resp.json()["NeutronError"]["type"] == "SecurityGroupRuleExists"
        after = api.admin.show("security-groups", sg["id"])
        assert after["security_group_rules"] == before["security_group_rules"]
        assert after["revision_number"] == before["revision_number"], (before, after)
        assert after["updated_at"] == before["updated_at"]
    resp = api.admin.post("security-group-rules", {"security_group_rules": [
        {"security_group_id": sg["id"], "direction": "ingress", "protocol": "udp"},
        {"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp"}]})
    expect(resp, 201)
    made = resp.json()["security_group_rules"]
    assert [r["protocol"] for r in made] == ["udp", "tcp"]
    shown = api.admin.show("security-groups", sg["id"])
    assert {r["id"] for r in made} <= {r["id"] for r in shown["security_group_rules"]}
