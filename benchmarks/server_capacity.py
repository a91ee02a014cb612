#!/usr/bin/env python3
"""What the server itself sustains, measured with wrk (a C client) instead of
apibench's httpx client, which saturates first on a 2-core machine (see
client_ceiling.py). The same phases as ../shared/bench/apibench.py, at
concurrency 8 (-t1 -c8), against a neutrino-server started here:

    .venv/bin/python benchmarks/server_capacity.py --db sqlite
    .venv/bin/python benchmarks/server_capacity.py --db postgresql --n 2000

Each phase is a fixed list of requests (benchmarks/wrk/items.lua sends each
once and stops), so ops/s is the list's length over the time it took.
Reads (list, show) cycle over the ports created to reach --reads requests.
Setup between phases (collecting ids) uses an ordinary client and is not
timed. After the run, the database must hold exactly what the responses
promised: the created counts are checked, and any HTTP status >= 400 is
reported as an error. Needs wrk (bootstrap installs it).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apibench_run import PROJECT, REFERENCE_C8, running_server  # noqa: E402

LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk", "items.lua")
HEADERS = {"X-Project-Id": PROJECT, "X-Roles": "admin"}


def wrk(base: str, items: list[tuple[str, str, dict | None]], tmp: str,
        connections: int) -> dict:
    path = os.path.join(tmp, "items.tsv")
    with open(path, "w") as f:
        for method, url, body in items:
            f.write(f"{method}\t{url}\t{json.dumps(body) if body is not None else ''}\n")
    proc = subprocess.Popen(["wrk", "-t1", f"-c{connections}", "-d600s", "--timeout", "30s",
                             "-s", LUA, base, "--", path, PROJECT],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # the script wakes wrk itself; this is the fallback
        if "all answered" in line:
            proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    if proc.wait(60) != 0:
        raise RuntimeError(f"wrk failed: {out}")
    result = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    result["ops_per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n", type=int, default=2000, help="networks, subnets and ports")
    ap.add_argument("--reads", type=int, default=6000, help="requests of the read phases")
    ap.add_argument("--list-n", type=int, default=100, help="requests of port_list_all")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json-out", default="")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk, or ./bootstrap)", file=sys.stderr)
        return 2
    n = args.n
    results: dict[str, dict] = {}
    problems: list[str] = []
    with running_server(args.db, args.workers) as base, \
            tempfile.TemporaryDirectory(prefix="neutrino-wrk-") as tmp, \
            httpx.Client(base_url=base + "/v2.0", headers=HEADERS, timeout=120) as api:

        def run(phase: str, items, expect_count=None):
            res = wrk(base, items, tmp, args.concurrency)
            errors = sum(res["errors"].values())
            results[phase] = res
            if errors:
                problems.append(f"{phase}: {res['errors']}")
            if expect_count is not None:
                got = expect_count()
                if got != len(items):
                    problems.append(f"{phase}: {got} created, {len(items)} requested")
            print(f"{phase:22} n={res['requests']:<6} {res['ops_per_s']:8.1f} ops/s"
                  f"  p50 {res['p50_us'] / 1000:7.1f} ms  p99 {res['p99_us'] / 1000:7.1f} ms"
                  f"  errors {errors}", flush=True)

        def ids(collection: str, **filters) -> list[dict]:
            params = [("fields", "id"), ("fields", "name"), ("fields", "network_id")]
            params += list(filters.items())
            return api.get(f"/{collection}", params=params).raise_for_status().json()[collection]

        print(f"# neutrino on {args.db}, api_workers={args.workers}, wrk -t1 "
              f"-c{args.concurrency}, n={n}", flush=True)
        owner = {"project_id": PROJECT}
        run("net_create", [("POST", "/v2.0/networks", {"network": {
            "name": f"cap-net-{i}", "admin_state_up": True, **owner}}) for i in range(n)],
            lambda: len(ids("networks")))
        nets = sorted(ids("networks"), key=lambda x: int(x["name"].rsplit("-", 1)[1]))
        net_ids = [x["id"] for x in nets]
        run("subnet_create", [("POST", "/v2.0/subnets", {"subnet": {
            "name": f"cap-sub-{i}", "network_id": net_id, "ip_version": 4,
            "cidr": f"10.{(i // 256) % 256}.{i % 256}.0/24", **owner}})
            for i, net_id in enumerate(net_ids)], lambda: len(ids("subnets")))
        run("port_create", [("POST", "/v2.0/ports", {"port": {
            "name": f"cap-port-{i}", "network_id": net_ids[i % n], "admin_state_up": True,
            **owner}}) for i in range(n)], lambda: len(ids("ports")))
        ports = ids("ports")
        cycle = [ports[i % len(ports)] for i in range(args.reads)]
        run(f"port_list_all", [("GET", "/v2.0/ports", None)] * args.list_n)
        results["port_list_all"]["ports"] = len(ports)
        run("port_list_by_net", [("GET", f"/v2.0/ports?network_id={p['network_id']}", None)
                                 for p in cycle])
        run("port_show", [("GET", f"/v2.0/ports/{p['id']}", None) for p in cycle])
        run("port_update", [("PUT", f"/v2.0/ports/{p['id']}", {"port": {
            "name": p["name"] + "-upd"}}) for p in ports])
        renamed = sum(1 for p in ids("ports") if p["name"].endswith("-upd"))
        if renamed != len(ports):
            problems.append(f"port_update: {renamed} of {len(ports)} renamed")
        run("port_delete", [("DELETE", f"/v2.0/ports/{p['id']}", None) for p in ports])
        subnets = ids("subnets")
        run("subnet_delete", [("DELETE", f"/v2.0/subnets/{s['id']}", None) for s in subnets])
        run("net_delete", [("DELETE", f"/v2.0/networks/{x}", None) for x in net_ids])
        left = [len(ids(c)) for c in ("ports", "subnets", "networks")]
        if any(left):
            problems.append(f"left after deletes (ports, subnets, networks): {left}")
        net = api.post("/networks", json={"network": {"name": "cap-one", **owner}}).json()
        prefix = max(20, 32 - (n + 8).bit_length())
        api.post("/subnets", json={"subnet": {"network_id": net["network"]["id"],
                                              "ip_version": 4, "cidr": f"10.252.0.0/{prefix}",
                                              **owner}}).raise_for_status()
        one = net["network"]["id"]
        run("one_net_port_create", [("POST", "/v2.0/ports", {"port": {
            "name": f"cap-one-{i}", "network_id": one, **owner}}) for i in range(n)],
            lambda: len(ids("ports", network_id=one)))

    print(f"\n{'phase':22} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'target':>8} {'x ref':>6}")
    for phase, res in results.items():
        ref = REFERENCE_C8.get(phase)
        print(f"{phase:22} {res['ops_per_s']:8.1f} {res['p50_us'] / 1000:8.1f}"
              f" {res['p99_us'] / 1000:8.1f} {ref * 10:8.0f} {res['ops_per_s'] / ref:6.1f}")
    if "port_list_all" in results:
        print(f"(port_list_all lists {results['port_list_all']['ports']} ports)")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"db": args.db, "workers": args.workers, "n": n, "phases": results,
                       "problems": problems}, f, indent=1)
    for p in problems:
        print(f"PROBLEM: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
