"""Octavia's default policy (owner, reader, admin, the load-balancer_*
roles) and its quotas (/v2/lbaas/quotas), with Octavia's answers."""
from __future__ import annotations

import pytest

from tests.api.helpers import Persona, expect, new_project
from tests.api.octavia_helpers import LB, Octavia, fault

FORBIDDEN = "Policy does not allow this request to be performed."


@pytest.fixture(scope="module")
def octavia(api):
    return Octavia(api)


def test_other_projects_objects_are_forbidden_and_unlisted(api, octavia):
    a, b = api.member_a, api.member_b
    t = octavia.tree(a)
    for path in (f"loadbalancers/{t['lb']['id']}", f"listeners/{t['listener']['id']}",
                 f"pools/{t['pool']['id']}", f"healthmonitors/{t['hm']['id']}",
                 f"l7policies/{t['l7policy']['id']}",
                 f"pools/{t['pool']['id']}/members/{t['members'][0]['id']}",
                 f"l7policies/{t['l7policy']['id']}/rules/{t['rule']['id']}",
                 f"loadbalancers/{t['lb']['id']}/status",
                 f"loadbalancers/{t['lb']['id']}/stats"):
        fault(b.get(f"{LB}/{path}"), 403, FORBIDDEN)
    fault(b.put(f"{LB}/loadbalancers/{t['lb']['id']}", {"loadbalancer": {"name": "x"}}),
          403, FORBIDDEN)
    fault(b.delete(f"{LB}/loadbalancers/{t['lb']['id']}?cascade=true"), 403, FORBIDDEN)
    fault(b.post(f"{LB}/listeners", {"listener": {"loadbalancer_id": t["lb"]["id"],
                                                  "protocol": "TCP", "protocol_port": 7}}),
          403, FORBIDDEN)
    fault(b.post(f"{LB}/pools/{t['pool']['id']}/members",
                 {"member": {"address": "10.20.0.99", "protocol_port": 80}}), 403, FORBIDDEN)
    for collection in ("loadbalancers", "listeners", "pools", "healthmonitors",
                       "l7policies"):
        mine = expect(b.get(f"{LB}/{collection}"), 200)[collection]
        assert all(x["project_id"] == b.project_id for x in mine), collection
        everyone = expect(api.admin.get(f"{LB}/{collection}"), 200)[collection]
        assert t["lb"]["project_id"] in {x["project_id"] for x in everyone}, collection
    # A project id of another project in a create: admins only.
    _, sub = b.net_with_subnet("10.40.0.0/24")
    fault(b.post(f"{LB}/loadbalancers", {"loadbalancer": {
        "vip_subnet_id": sub["id"], "project_id": a.project_id}}), 403, FORBIDDEN)


def test_reader_reads_but_cannot_write(api, octavia):
    t = octavia.tree(api.member_a)
    reader = api.reader_a
    lb_id = t["lb"]["id"]
    assert octavia.show(reader, f"loadbalancers/{lb_id}", "loadbalancer")["id"] == lb_id
    assert expect(reader.get(f"{LB}/pools/{t['pool']['id']}/members"), 200)["members"]
    fault(reader.put(f"{LB}/loadbalancers/{lb_id}", {"loadbalancer": {"name": "r"}}), 403,
          FORBIDDEN)
    fault(reader.delete(f"{LB}/listeners/{t['listener']['id']}"), 403, FORBIDDEN)
    fault(reader.put(f"{LB}/pools/{t['pool']['id']}/members", {"members": []}), 403,
          FORBIDDEN)
    _, sub = api.member_a.net_with_subnet("10.41.0.0/24")
    fault(reader.post(f"{LB}/loadbalancers", {"loadbalancer": {"vip_subnet_id": sub["id"]}}),
          403, FORBIDDEN)
    # Octavia's older roles: load-balancer_observer reads, load-balancer_member writes.
    observer = Persona(api, api.project_a, "load-balancer_observer")
    assert octavia.show(observer, f"loadbalancers/{lb_id}", "loadbalancer")["id"] == lb_id
    fault(observer.put(f"{LB}/loadbalancers/{lb_id}", {"loadbalancer": {"name": "o"}}), 403)
    lbm = Persona(api, api.project_a, "load-balancer_member")
    expect(lbm.put(f"{LB}/loadbalancers/{lb_id}", {"loadbalancer": {"name": "lbm"}}), 200)
    octavia.ack()


def test_quotas_api(api, octavia):
    project = new_project()
    admin, member = api.admin, Persona(api, project, "member")
    names = {"load_balancer", "listener", "pool", "member", "health_monitor", "l7policy",
             "l7rule"}
    quota = expect(member.get(f"{LB}/quotas/{project}"), 200)["quota"]
    assert {k: v for k, v in quota.items() if k in names} == {n: -1 for n in names}
    assert quota["loadbalancer"] == -1 and quota["healthmonitor"] == -1
    assert expect(member.get(f"{LB}/quotas/{project}/default"), 200)["quota"]["pool"] == -1
    fault(member.put(f"{LB}/quotas/{project}", {"quota": {"load_balancer": 5}}), 403,
          FORBIDDEN)
    fault(api.member_b.get(f"{LB}/quotas/{project}"), 403, FORBIDDEN)
    resp = admin.put(f"{LB}/quotas/{project}", {"quota": {"load_balancer": 1,
                                                          "healthmonitor": 0}})
    assert resp.status_code == 202
    assert resp.json()["quota"]["load_balancer"] == 1
    assert resp.json()["quota"]["health_monitor"] == 0
    fault(admin.put(f"{LB}/quotas/{project}", {"quota": {"listener": -2}}), 400,
          "greater or equal to -1")
    listed = expect(admin.get(f"{LB}/quotas", params={"project_id": project}), 200)
    assert [q["project_id"] for q in listed["quotas"]] == [project]
    assert [q["project_id"] for q in expect(member.get(f"{LB}/quotas"), 200)["quotas"]] == [
        project]
    # Enforced: one load balancer, no health monitor.
    _, sub = member.net_with_subnet("10.42.0.0/24")
    lb = octavia.lb(member, sub["id"])
    fault(member.post(f"{LB}/loadbalancers", {"loadbalancer": {"vip_subnet_id": sub["id"]}}),
          403, "Quota has been met for resources: Load Balancer")
    pool = octavia.pool(member, lb_id=lb["id"])
    fault(member.post(f"{LB}/healthmonitors", {"healthmonitor": {
        "pool_id": pool["id"], "type": "TCP", "delay": 1, "timeout": 1, "max_retries": 1}}),
        403, "Quota has been met for resources: Health Monitor")
    resp = admin.delete(f"{LB}/quotas/{project}")
    assert resp.status_code == 202
    assert expect(member.get(f"{LB}/quotas/{project}"), 200)["quota"]["load_balancer"] == -1
    fault(admin.delete(f"{LB}/quotas/{project}"), 404)


def test_quota_defaults_from_configuration(make_api):
    api = make_api({"quotas": {"default_load_balancer_quota": "0",
                               "default_listener_quota": "7"}})
    octavia = Octavia(api)
    member = api.project()
    quota = expect(member.get(f"{LB}/quotas/{member.project_id}"), 200)["quota"]
    assert quota["load_balancer"] == 0 and quota["listener"] == 7 and quota["pool"] == -1
    _, sub = member.net_with_subnet("10.43.0.0/24")
    octavia.heartbeat()
    fault(member.post(f"{LB}/loadbalancers", {"loadbalancer": {"vip_subnet_id": sub["id"]}}),
          403, "Quota has been met for resources: Load Balancer")
