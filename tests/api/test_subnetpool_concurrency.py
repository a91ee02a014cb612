"""Concurrent subnet allocations from one subnet pool against a real
`neutrino-server` with 2 API workers, on every backend: every subnet gets a
distinct, non-overlapping CIDR, and once the pool is full the rest are
refused (409 SubnetAllocationError), never a 500 or an overlap."""
from __future__ import annotations

import ipaddress
import secrets

from tests.api.test_concurrency import headers, run, server, summary  # noqa: F401


def test_concurrent_allocations_from_one_pool(server, backend):  # noqa: F811
    hdrs = headers(secrets.token_hex(16))
    octet = 100 + secrets.randbelow(100)
    resp = run(server, [("POST", "/subnetpools", {"subnetpool": {
        "name": "conc", "prefixes": [f"10.{octet}.0.0/24"], "default_prefixlen": 28}})], hdrs)
    assert resp[0].status_code == 201, resp[0].text
    pool_id = resp[0].json()["subnetpool"]["id"]
    nets = run(server, [("POST", "/networks", {"network": {"name": f"p{i}"}})
                        for i in range(24)], hdrs)
    assert summary(nets) == {201: 24}
    subs = run(server, [("POST", "/subnets", {"subnet": {
        "network_id": n.json()["network"]["id"], "ip_version": 4, "subnetpool_id": pool_id}})
        for n in nets], hdrs)
    assert summary(subs) == {201: 16, (409, "SubnetAllocationError"): 8}, summary(subs)
    cidrs = [ipaddress.ip_network(r.json()["subnet"]["cidr"]) for r in subs
             if r.status_code == 201]
    assert len(set(cidrs)) == 16
    assert all(c.prefixlen == 28 and not a.overlaps(c) for i, a in enumerate(cidrs)
               for c in cidrs[i + 1:])
