"""Concurrency against a real `neutrino-server` with 2 API workers (two
processes, each with its own connection pool) on every backend: 1,000
concurrent port creates on one /22, then exhaustion; concurrent tenant
network creates get distinct VNIs."""
from __future__ import annotations

import asyncio
import ipaddress
import secrets
import time

import httpx
import pytest

from tests.api.helpers import UNLIMITED_QUOTAS, two_worker_config

CONCURRENCY = 24


@pytest.fixture(scope="module")
def server(server_factory, db_url):
    return server_factory(two_worker_config(db_url, quotas=UNLIMITED_QUOTAS))


def headers(project: str) -> dict[str, str]:
    return {"X-Project-Id": project, "X-Roles": "admin", "X-User-Id": "concurrency"}


async def fire(base: str, requests: list[tuple[str, str, dict | None]], hdrs: dict,
               concurrency: int = CONCURRENCY) -> list[httpx.Response]:
    """Send (method, path, json) requests with `concurrency` in flight."""
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base + "/v2.0", headers=hdrs, limits=limits,
                                 timeout=120) as client:
        async def one(method, path, body):
            async with sem:
                return await client.request(method, path, json=body)
        return await asyncio.gather(*(one(*r) for r in requests))


def run(server, *args, **kw) -> list[httpx.Response]:
    """fire() to completion; a dropped connection fails with the server's log."""
    try:
        return asyncio.run(fire(server.url, *args, **kw))
    except httpx.TransportError as exc:
        pytest.fail(f"{exc!r} from the server; its log:\n{server.log_tail()}")


def summary(responses) -> dict:
    out: dict = {}
    for r in responses:
        key = r.status_code if r.status_code < 400 else (
            r.status_code, r.json().get("NeutronError", {}).get("type"))
        out[key] = out.get(key, 0) + 1
    return out


def test_1000_concurrent_ports_on_a_slash_22(server, backend):
    project = secrets.token_hex(16)
    hdrs = headers(project)
    with httpx.Client(base_url=server.url + "/v2.0", headers=hdrs, timeout=60) as c:
        net = c.post("/networks", json={"network": {"name": "conc"}}).json()["network"]
        resp = c.post("/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                   "cidr": "10.200.0.0/22"}})
        assert resp.status_code == 201, resp.text
        sub = resp.json()["subnet"]
    assert sub["allocation_pools"] == [{"start": "10.200.0.2", "end": "10.200.3.254"}]
    pool = {str(ipaddress.IPv4Address(i)) for i in range(
        int(ipaddress.IPv4Address("10.200.0.2")), int(ipaddress.IPv4Address("10.200.3.254")) + 1)}
    assert len(pool) == 1021

    started = time.monotonic()
    body = {"port": {"network_id": net["id"]}}
    responses = run(server, [("POST", "/ports", body)] * 1000, hdrs)
    elapsed = time.monotonic() - started
    assert summary(responses) == {201: 1000}, (summary(responses), server.log_tail())
    ports = [r.json()["port"] for r in responses]
    ips = [p["fixed_ips"][0]["ip_address"] for p in ports]
    macs = [p["mac_address"] for p in ports]
    assert all(len(p["fixed_ips"]) == 1 for p in ports)
    assert len(set(ips)) == 1000 and set(ips) <= pool
    assert len(set(macs)) == 1000 and all(m.startswith("fa:16:3e:") for m in macs)
    assert len({p["id"] for p in ports}) == 1000
    print(f"\n[{backend}] 1000 port creates, 2 workers, concurrency {CONCURRENCY}: "
          f"{elapsed:.1f}s ({1000 / elapsed:.0f}/s)")

    # Exhaustion: 21 addresses are left; 40 more requests, concurrently.
    responses = run(server, [("POST", "/ports", body)] * 40, hdrs, 16)
    got = summary(responses)
    assert got == {201: 21, (409, "IpAddressGenerationFailure"): 19}, got
    for r in responses:
        if r.status_code == 409:
            assert r.json()["NeutronError"]["message"] == (
                f"No more IP addresses available on network {net['id']}.")
    ips += [r.json()["port"]["fixed_ips"][0]["ip_address"] for r in responses
            if r.status_code == 201]
    assert sorted(ips) == sorted(pool)
    with httpx.Client(base_url=server.url + "/v2.0", headers=hdrs, timeout=60) as c:
        resp = c.post("/ports", json=body)
        assert resp.status_code == 409, resp.text
        assert resp.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
        listed = c.get("/ports", params={"network_id": net["id"], "fields": "fixed_ips"})
        assert listed.status_code == 200
        assert sorted(p["fixed_ips"][0]["ip_address"] for p in listed.json()["ports"]) == \
            sorted(pool)
        # Freeing one makes exactly that one available again.
        victim = ports[0]
        assert c.delete(f"/ports/{victim['id']}").status_code == 204
        again = c.post("/ports", json=body)
        assert again.status_code == 201, again.text
        assert again.json()["port"]["fixed_ips"][0]["ip_address"] == \
            victim["fixed_ips"][0]["ip_address"]


def test_concurrent_tenant_networks_get_distinct_vnis(server, backend):
    project = secrets.token_hex(16)
    hdrs = headers(project)
    reqs = [("POST", "/networks", {"network": {"name": f"vni-{i}"}}) for i in range(120)]
    responses = run(server, reqs, hdrs)
    assert summary(responses) == {201: 120}, summary(responses)
    nets = [r.json()["network"] for r in responses]
    vnis = [n["provider:segmentation_id"] for n in nets]
    assert all(n["provider:network_type"] == "vxlan" for n in nets)
    assert len(set(vnis)) == 120 and all(1000 <= v <= 99999 for v in vnis)
    # And concurrent deletes release them all.
    responses = run(server, [("DELETE", f"/networks/{n['id']}", None) for n in nets], hdrs)
    assert summary(responses) == {204: 120}, summary(responses)


def test_concurrent_requests_for_the_same_ip_one_wins(server, backend):
    project = secrets.token_hex(16)
    hdrs = headers(project)
    with httpx.Client(base_url=server.url + "/v2.0", headers=hdrs, timeout=60) as c:
        net = c.post("/networks", json={"network": {}}).json()["network"]
        assert c.post("/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                   "cidr": "10.201.0.0/24"}}).status_code == 201
    body = {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.201.0.77"}]}}
    responses = run(server, [("POST", "/ports", body)] * 20, hdrs, 20)
    assert summary(responses) == {201: 1, (409, "IpAddressAlreadyAllocated"): 19}, \
        summary(responses)
    # The same for a MAC and for a VLAN id.
    body = {"port": {"network_id": net["id"], "mac_address": "fa:16:3e:aa:bb:cc"}}
    responses = run(server, [("POST", "/ports", body)] * 20, hdrs, 20)
    assert summary(responses) == {201: 1, (409, "MacAddressInUse"): 19}, summary(responses)
    vni = 15000000 + secrets.randbelow(700000)  # far from every other test's VNIs
    body = {"network": {"provider:network_type": "vxlan", "provider:segmentation_id": vni}}
    responses = run(server, [("POST", "/networks", body)] * 20, hdrs, 20)
    assert summary(responses) == {201: 1, (409, "TunnelIdInUse"): 19}, summary(responses)
