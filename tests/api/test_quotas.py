"""Quotas: GET/PUT/DELETE, defaults, details, enforcement, policy."""
from __future__ import annotations

import pytest

from tests.api.conftest import BASE_OVERRIDES
from tests.api.helpers import expect, rand

BUILTIN = {"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
           "security_group": 10, "security_group_rule": 100}


@pytest.fixture
def plain(make_api):
    """An app with the built-in [quotas] defaults."""
    return make_api(base={k: v for k, v in BASE_OVERRIDES.items() if k != "quotas"})


def test_builtin_defaults(plain):
    member = plain.project()
    pid = member.project_id
    body = expect(member.get(f"quotas/{pid}"), 200)
    assert {k: body["quota"][k] for k in BUILTIN} == BUILTIN
    assert expect(member.get(f"quotas/{pid}/default"), 200)["quota"] == {
        **body["quota"], **BUILTIN}


def test_configured_defaults(make_api):
    api = make_api({"quotas": {"quota_network": "7", "quota_port": "-1",
                               "default_quota": "3"}})
    member = api.project()
    q = expect(member.get(f"quotas/{member.project_id}"), 200)["quota"]
    assert q["network"] == 7 and q["port"] == -1


def test_quota_get_put_delete(api):
    member = api.project()
    pid = member.project_id
    before = expect(api.admin.get(f"quotas/{pid}"), 200)["quota"]
    body = expect(api.admin.put(f"quotas/{pid}", {"quota": {"network": 3, "port": "20"}}),
                  200)
    assert body["quota"]["network"] == 3 and body["quota"]["port"] == 20
    assert body["quota"]["subnet"] == before["subnet"]
    assert expect(member.get(f"quotas/{pid}"), 200)["quota"]["network"] == 3
    # Listed by the admin among projects with non-default quotas.
    listed = expect(api.admin.get("quotas"), 200)["quotas"]
    mine = [q for q in listed if q["project_id"] == pid]
    assert len(mine) == 1 and mine[0]["network"] == 3 and mine[0]["tenant_id"] == pid
    # Defaults do not change.
    assert expect(api.admin.get(f"quotas/{pid}/default"), 200)["quota"] == before
    expect(api.admin.delete(f"quotas/{pid}"), 204)
    assert expect(api.admin.get(f"quotas/{pid}"), 200)["quota"] == before
    assert pid not in {q["project_id"] for q in expect(api.admin.get("quotas"), 200)["quotas"]}


def test_quota_put_validation(api):
    pid = api.project().project_id
    expect(api.admin.put(f"quotas/{pid}", {"quota": {"network": -2}}), 400, "HTTPBadRequest")
    expect(api.admin.put(f"quotas/{pid}", {"quota": {"network": "many"}}), 400,
           "InvalidInput")
    expect(api.admin.put(f"quotas/{pid}", {"quota": {"widgets": 1}}), 400, "HTTPBadRequest")
    expect(api.admin.put(f"quotas/{pid}", {"nope": {}}), 400, "HTTPBadRequest")
    expect(api.admin.put(f"quotas/{pid}", content=b"{"), 400, "HTTPBadRequest")
    # -1 is unlimited.
    assert expect(api.admin.put(f"quotas/{pid}", {"quota": {"network": -1}}),
                  200)["quota"]["network"] == -1


def test_quota_details(api):
    member = api.project()
    pid = member.project_id
    net, _ = member.net_with_subnet("10.120.0.0/24")
    member.port(net["id"])
    member.port(net["id"])
    d = expect(member.get(f"quotas/{pid}/details.json"), 200)["quota"]
    assert d["network"]["used"] == 1 and d["subnet"]["used"] == 1
    assert d["port"]["used"] == 2
    assert d["security_group"]["used"] == 1  # the default group
    assert d["network"]["reserved"] == 0
    assert d["network"]["limit"] == expect(member.get(f"quotas/{pid}"), 200)["quota"]["network"]
    assert expect(member.get(f"quotas/{pid}/details"), 200)["quota"] == d


def test_quota_exceeded_409(api):
    member = api.project()
    pid = member.project_id
    expect(api.admin.put(f"quotas/{pid}", {"quota": {"network": 2, "port": 1, "subnet": 1,
                                                     "security_group": 2}}), 200)
    net = member.network()
    member.network()
    expect(member.post("networks", {"network": {"name": rand()}}), 409, "OverQuota",
           "Quota exceeded for resources: ['network'].")
    member.subnet(net["id"], "10.121.0.0/24")
    expect(member.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                              "cidr": "10.122.0.0/24"}}), 409, "OverQuota",
           "Quota exceeded for resources: ['subnet'].")
    port = member.port(net["id"])
    expect(member.post("ports", {"port": {"network_id": net["id"]}}), 409, "OverQuota",
           "Quota exceeded for resources: ['port'].")
    # The default group counts: one more fits, then 409.
    member.create("security-groups", name=rand("sg"))
    expect(member.post("security-groups", {"security_group": {"name": rand()}}), 409,
           "OverQuota", "Quota exceeded for resources: ['security_group'].")
    # Freeing makes room again.
    member.remove("ports", port["id"])
    member.port(net["id"])
    # Raising the limit too.
    expect(api.admin.put(f"quotas/{pid}", {"quota": {"network": 3}}), 200)
    member.network()


def test_admin_creating_for_project_counts_against_it(api):
    member = api.project()
    expect(api.admin.put(f"quotas/{member.project_id}", {"quota": {"network": 1}}), 200)
    api.admin.network(project_id=member.project_id)
    expect(api.admin.post("networks", {"network": {"project_id": member.project_id}}), 409,
           "OverQuota")


def test_member_cannot_change_quotas(api):
    member = api.project()
    pid = member.project_id
    expect(member.put(f"quotas/{pid}", {"quota": {"network": 1000}}), 403,
           "PolicyNotAuthorized", "rule:update_quota is disallowed by policy")
    expect(member.delete(f"quotas/{pid}"), 403, "PolicyNotAuthorized",
           "rule:delete_quota is disallowed by policy")
    expect(member.get("quotas"), 403, "PolicyNotAuthorized")
    # Another project's quota is not readable.
    expect(member.get(f"quotas/{api.project_b}"), 403, "PolicyNotAuthorized")
    reader = api.as_project(member, "reader")
    assert expect(reader.get(f"quotas/{pid}"), 200)["quota"]["network"] >= 0


def test_quotas_tenant(api):
    member = api.project()
    body = expect(member.get("quotas/tenant"), 200)
    assert body["tenant"]["tenant_id"] == member.project_id
