"""Quotas under concurrency, against a real `neutrino-server` with 2 API
workers on every backend: 30 parallel creates against a quota of 3 never
leave more than 3; 20 parallel quota updates all succeed and the last
written value stays; a project id the column cannot hold is a 400."""
from __future__ import annotations

import secrets

import httpx
import pytest

from tests.api.helpers import two_worker_config
from tests.api.test_concurrency import run, summary

PARALLEL = 30
LIMIT = 3


@pytest.fixture(scope="module")
def server(server_factory, db_url):
    return server_factory(two_worker_config(db_url, ml2_type_flat={"flat_networks": "*"}))


def admin_headers(project: str) -> dict[str, str]:
    return {"X-Project-Id": project, "X-Roles": "admin", "X-User-Id": "quota-admin"}


def member_headers(project: str) -> dict[str, str]:
    return {"X-Project-Id": project, "X-Roles": "member", "X-User-Id": "quota-member"}


def set_quota(server, project: str, values: dict) -> None:
    with httpx.Client(base_url=server.url + "/v2.0", headers=admin_headers("ops"),
                      timeout=60) as c:
        resp = c.put(f"/quotas/{project}", json={"quota": values})
        assert resp.status_code == 200, resp.text


def count(server, project: str, collection: str) -> int:
    with httpx.Client(base_url=server.url + "/v2.0", headers=member_headers(project),
                      timeout=60) as c:
        # Only the project's own: external and shared networks are listed too.
        resp = c.get(f"/{collection}", params={"project_id": project})
        assert resp.status_code == 200, resp.text
        return len(resp.json()[collection.replace("-", "_")])


def race(server, project: str, collection: str, body: dict, expect_created: int) -> None:
    responses = run(server, [("POST", f"/{collection}", body)] * PARALLEL,
                    member_headers(project), PARALLEL)
    got = summary(responses)
    assert got == {201: expect_created, (409, "OverQuota"): PARALLEL - expect_created}, \
        (got, server.log_tail())
    assert count(server, project, collection) == LIMIT


def test_parallel_network_creates_hold_the_quota(server):
    project = secrets.token_hex(16)
    set_quota(server, project, {"network": LIMIT})
    race(server, project, "networks", {"network": {"name": "q"}}, LIMIT)


def test_parallel_port_creates_hold_the_quota(server):
    project = secrets.token_hex(16)
    with httpx.Client(base_url=server.url + "/v2.0", headers=member_headers(project),
                      timeout=60) as c:
        net = c.post("/networks", json={"network": {"name": "q"}}).json()["network"]
        assert c.post("/subnets", json={"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": "10.210.0.0/24"}}
        ).status_code == 201
    set_quota(server, project, {"port": LIMIT})
    race(server, project, "ports", {"port": {"network_id": net["id"]}}, LIMIT)


def test_parallel_subnet_creates_hold_the_quota(server):
    project = secrets.token_hex(16)
    with httpx.Client(base_url=server.url + "/v2.0", headers=member_headers(project),
                      timeout=60) as c:
        net = c.post("/networks", json={"network": {"name": "q"}}).json()["network"]
    set_quota(server, project, {"subnet": LIMIT})
    bodies = [("POST", "/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                               "cidr": f"10.211.{i}.0/24"}})
              for i in range(PARALLEL)]
    got = summary(run(server, bodies, member_headers(project), PARALLEL))
    assert got == {201: LIMIT, (409, "OverQuota"): PARALLEL - LIMIT}, got
    assert count(server, project, "subnets") == LIMIT


def test_parallel_security_group_creates_hold_the_quota(server):
    project = secrets.token_hex(16)
    set_quota(server, project, {"security_group": LIMIT})
    # The project's default group exists after its first request and counts.
    assert count(server, project, "security-groups") == 1
    race(server, project, "security-groups", {"security_group": {"name": "q"}}, LIMIT - 1)


def test_parallel_security_group_rule_creates_hold_the_quota(server):
    project = secrets.token_hex(16)
    with httpx.Client(base_url=server.url + "/v2.0", headers=member_headers(project),
                      timeout=60) as c:
        group = c.post("/security-groups", json={"security_group": {"name": "r"}}
                       ).json()["security_group"]
        have = len(c.get("/security-group-rules").json()["security_group_rules"])
    set_quota(server, project, {"security_group_rule": have + LIMIT})
    bodies = [("POST", "/security-group-rules", {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4",
        "protocol": "tcp", "port_range_min": 1000 + i, "port_range_max": 1000 + i}})
        for i in range(PARALLEL)]
    got = summary(run(server, bodies, member_headers(project), PARALLEL))
    assert got == {201: LIMIT, (409, "OverQuota"): PARALLEL - LIMIT}, got
    assert count(server, project, "security-group-rules") == have + LIMIT


def test_parallel_router_creates_hold_the_quota(server):
    project = secrets.token_hex(16)
    set_quota(server, project, {"router": LIMIT})
    race(server, project, "routers", {"router": {"name": "q"}}, LIMIT)


def test_parallel_floatingip_creates_hold_the_quota(server):
    project = secrets.token_hex(16)
    with httpx.Client(base_url=server.url + "/v2.0", headers=admin_headers(project),
                      timeout=60) as c:
        ext = c.post("/networks", json={"network": {
            "name": "ext", "router:external": True, "provider:network_type": "flat",
            "provider:physical_network": "ext" + secrets.token_hex(4)}})
        assert ext.status_code == 201, ext.text
        ext = ext.json()["network"]
        assert c.post("/subnets", json={"subnet": {
            "network_id": ext["id"], "ip_version": 4, "cidr": "198.51.100.0/24"}}
        ).status_code == 201
    set_quota(server, project, {"floatingip": LIMIT})
    race(server, project, "floatingips", {"floatingip": {"floating_network_id": ext["id"]}},
         LIMIT)


def test_parallel_quota_updates_all_succeed(server):
    project = secrets.token_hex(16)
    values = [10 + i for i in range(20)]
    reqs = [("PUT", f"/quotas/{project}", {"quota": {"network": v, "port": v}})
            for v in values]
    responses = run(server, reqs, admin_headers("ops"), 20)
    assert summary(responses) == {200: 20}, (summary(responses), server.log_tail())
    with httpx.Client(base_url=server.url + "/v2.0", headers=admin_headers("ops"),
                      timeout=60) as c:
        final = c.get(f"/quotas/{project}").json()["quota"]
    assert final["network"] in values and final["port"] in values
    # Each PUT wrote both in one transaction: never a mix of two requests.
    assert final["network"] == final["port"]
    # Resetting in parallel is as calm.
    responses = run(server, [("DELETE", f"/quotas/{project}", None)] * 10,
                    admin_headers("ops"), 10)
    assert summary(responses) == {204: 10}


def test_quota_project_id_too_long_is_400(server):
    long_id = "p" * 300
    with httpx.Client(base_url=server.url + "/v2.0", headers=admin_headers("ops"),
                      timeout=60) as c:
        resp = c.put(f"/quotas/{long_id}", json={"quota": {"network": 5}})
        assert resp.status_code == 400, resp.text
        assert resp.json()["NeutronError"]["type"] == "HTTPBadRequest"
        # Nothing was stored.
        listed = c.get("/quotas").json()["quotas"]
        assert not [q for q in listed if q["project_id"].startswith("ppp")]


def test_quota_project_id_with_nul_is_400(server):
    with httpx.Client(base_url=server.url + "/v2.0", headers=admin_headers("ops"),
                      timeout=60) as c:
        for method in ("GET", "PUT", "DELETE"):
            resp = c.request(method, "/quotas/ab%00cd",
                             json={"quota": {"network": 5}} if method == "PUT" else None)
            assert resp.status_code == 400, (method, resp.text)
            assert resp.json()["NeutronError"]["type"] == "HTTPBadRequest"
