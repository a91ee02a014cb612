"""Races on the Octavia API against a real `neutrino-server` with two API
workers, on every backend: concurrent writes under one load balancer (one
wins, the others get Octavia's 409 "immutable"), concurrent creates against
a quota (never past it). Only Octavia's answers, never a 500."""
from __future__ import annotations

import asyncio
import secrets
import types

import httpx
import pytest

from tests.api.helpers import UNLIMITED_QUOTAS, two_worker_config
from tests.api.octavia_helpers import Octavia

LB = "/v2/lbaas"


@pytest.fixture(scope="module")
def cloud(server_factory, db_url, databases):
    from neutrino.plugins.agents import AgentPlugin
    from neutrino.service import build_server_core
    server = server_factory(two_worker_config(db_url, quotas=UNLIMITED_QUOTAS))
    core, _ = build_server_core([], {"DEFAULT": {"state_path": databases.tmp},
                                     "database": {"connection": db_url}})
    yield types.SimpleNamespace(server=server, octavia=Octavia(
        types.SimpleNamespace(core=core, agents=AgentPlugin(core))))
    core.db.dispose()


def together(url: str, headers: dict, requests) -> list[httpx.Response]:
    async def go():
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60,
                                     limits=httpx.Limits(max_connections=len(requests))) as c:
            return await asyncio.gather(*(c.request(m, p, json=b) for m, p, b in requests))
    return asyncio.run(go())


def answers(responses, allowed: set[int]) -> list[int]:
    for r in responses:
        assert r.status_code in allowed, f"{r.status_code}: {r.text}"
        if r.status_code >= 400:
            assert set(r.json()) == {"faultcode", "faultstring", "debuginfo"}, r.text
    return [r.status_code for r in responses]


def member(url: str, project: str | None = None) -> tuple[httpx.Client, dict]:
    headers = {"X-Project-Id": project or secrets.token_hex(16), "X-Roles": "member",
               "X-User-Id": "octavia-races"}
    return httpx.Client(base_url=url, headers=headers, timeout=60), headers


def make_subnet(client: httpx.Client, cidr: str) -> dict:
    net = client.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
    resp = client.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": cidr, "ip_version": 4}})
    assert resp.status_code == 201, resp.text
    return resp.json()["subnet"]


def test_concurrent_writes_under_one_load_balancer(cloud):
    url = cloud.server.url
    client, headers = member(url)
    with client:
        sub = make_subnet(client, "10.60.0.0/24")
        cloud.octavia.heartbeat()
        lb = client.post(f"{LB}/loadbalancers", json={"loadbalancer": {
            "vip_subnet_id": sub["id"]}}).json()["loadbalancer"]
        cloud.octavia.ack()
        for round_ in range(3):
            responses = together(url, headers, [
                ("POST", f"{LB}/listeners", {"listener": {
                    "loadbalancer_id": lb["id"], "protocol": "TCP",
                    "protocol_port": 1000 + 10 * round_ + n}}) for n in range(6)])
            statuses = answers(responses, {201, 409})
            assert statuses.count(201) == 1, statuses
            for r in responses:
                if r.status_code == 409:
                    assert "is immutable and cannot be updated" in r.json()["faultstring"]
            cloud.octavia.ack()
        listed = client.get(f"{LB}/listeners", params={"loadbalancer_id": lb["id"]}).json()
        assert len(listed["listeners"]) == 3
        assert {x["provisioning_status"] for x in listed["listeners"]} == {"ACTIVE"}


def test_concurrent_creates_never_pass_the_quota(cloud):
    url = cloud.server.url
    project = secrets.token_hex(16)
    admin = {"X-Project-Id": secrets.token_hex(16), "X-Roles": "admin", "X-User-Id": "adm"}
    resp = httpx.put(url + f"{LB}/quotas/{project}", headers=admin,
                     json={"quota": {"load_balancer": 2}}, timeout=60)
    assert resp.status_code == 202, resp.text
    client, headers = member(url, project)
    with client:
        sub = make_subnet(client, "10.61.0.0/24")
        cloud.octavia.heartbeat()
        responses = together(url, headers, [
            ("POST", f"{LB}/loadbalancers", {"loadbalancer": {"vip_subnet_id": sub["id"]}})
            for _ in range(6)])
        statuses = answers(responses, {201, 403})
        assert statuses.count(201) <= 2 and 201 in statuses, statuses
        listed = client.get(f"{LB}/loadbalancers").json()["loadbalancers"]
        assert len(listed) == statuses.count(201)
        vip_ports = [p for p in client.get("/v2.0/ports").json()["ports"]
                     if p["device_owner"] == "Octavia"]
        assert len(vip_ports) == len(listed)     # the refused ones left no port behind
