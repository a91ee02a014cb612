"""Cost of token authentication on the hot path: p50/p99 of a GET of one
network through a real neutrino-server with noauth vs auth_strategy =
keystone (embedded identity, token cached after its first use), plus the
first use of fresh tokens (cache miss) and the in-process authenticate()
call alone.

    .venv/bin/python benchmarks/auth_overhead.py [--n 2000] [--workers 1]

Servers run on free 127.0.0.1 ports with temp state dirs and are stopped by
PID at the end. Sequential requests on one keep-alive connection.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
PASSWORD = "bench-admin-pw"
STATE_DIRS: list[str] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(auth: str, workers: int) -> tuple[subprocess.Popen, str]:
    state = tempfile.mkdtemp(prefix=f"auth-bench-{auth}-")
    STATE_DIRS.append(state)
    port = free_port()
    conf = os.path.join(state, "neutron.conf")
    with open(conf, "w") as f:
        f.write(f"[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\n"
                f"api_workers = {workers}\nauth_strategy = {auth}\nstate_path = {state}\n"
                f"[identity]\nadmin_password = {PASSWORD}\n"
                f"[oslo_policy]\npolicy_file = {state}/none.yaml\n")
    proc = subprocess.Popen([str(BIN / "neutrino-server"), "--config-file", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"{auth} server did not start")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def token(url: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    resp = httpx.post(url + "/identity/v3/auth/tokens?nocatalog", json=body, timeout=30)
    resp.raise_for_status()
    return resp.headers["X-Subject-Token"]


def timed_gets(client: httpx.Client, path: str, n: int, headers: dict) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        resp = client.get(path, headers=headers)
        out.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, resp.text
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def report(name: str, ms: list[float]) -> None:
    print(f"{name:38s} n={len(ms):5d}  p50 {statistics.median(ms):6.3f} ms"
          f"  p99 {pct(ms, 0.99):6.3f} ms")


def in_process(n: int) -> None:
    """authenticate() alone: embedded token, cache hit vs NoAuth."""
    from neutrino.service import build_server_core
    state = tempfile.mkdtemp(prefix="auth-bench-inproc-")
    STATE_DIRS.append(state)
    core, auth = build_server_core([], {"DEFAULT": {"auth_strategy": "keystone",
                                                    "state_path": state},
                                        "identity": {"admin_password": PASSWORD}})
    from neutrino.identity.tokens import TokenData, new_audit_id, now_us
    signer = auth.validator.signer
    tok = signer.issue(TokenData("u", "p", None, ("member", "reader"), now_us(),
                                 now_us() + 3600 * 10**6, new_audit_id()))

    class Req:
        headers = {"x-auth-token": tok}
        base_url = "http://x/"

    from neutrino.api.auth import NoAuth
    noauth = NoAuth("p")

    class NoReq:
        headers = {"x-project-id": "p", "x-roles": "member"}

    async def run(a, req):
        await a.authenticate(req)  # warm (validates and caches)
        t = time.perf_counter()
        for _ in range(n):
            await a.authenticate(req)
        return (time.perf_counter() - t) / n * 1e6
    hit = asyncio.run(run(auth, Req))
    base = asyncio.run(run(noauth, NoReq))
    t = time.perf_counter()
    for _ in range(n):
        auth.validator.validate(tok)
    miss = (time.perf_counter() - t) / n * 1e6
    print(f"in-process authenticate(): noauth {base:.2f} us, embedded cache hit {hit:.2f} us, "
          f"embedded validation (miss) {miss:.2f} us")
    core.db.dispose()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    procs = []
    try:
        results: dict[str, list[float]] = {"noauth": [], "keystone": []}
        targets = {}
        for auth in ("noauth", "keystone"):
            proc, url = start(auth, args.workers)
            procs.append(proc)
            headers = {"X-Auth-Token": token(url)} if auth == "keystone" else {}
            client = httpx.Client(base_url=url, timeout=30)
            net = client.post("/v2.0/networks", json={"network": {"name": "bench"}},
                              headers=headers).json()["network"]
            path = f"/v2.0/networks/{net['id']}"
            timed_gets(client, path, 200, headers)  # warm-up
            targets[auth] = (client, path, headers, url)
        # Interleaved blocks, so that load from elsewhere hits both alike.
        block = 100
        for _ in range(max(1, args.n // block)):
            for auth, (client, path, headers, _) in targets.items():
                results[auth] += timed_gets(client, path, block, headers)
        client, path, _, url = targets["keystone"]
        first = []
        for t in [token(url) for _ in range(50)]:
            first += timed_gets(client, path, 1, {"X-Auth-Token": t})
        results["keystone-first-use"] = first
        for client, *_ in targets.values():
            client.close()
        print(f"GET /v2.0/networks/<id>, {args.workers} API worker(s), sequential, keep-alive")
        report("noauth", results["noauth"])
        report("keystone (embedded, cached token)", results["keystone"])
        report("keystone (first use of a token)", results["keystone-first-use"])
        delta = statistics.median(results["keystone"]) - statistics.median(results["noauth"])
        print(f"p50 overhead of token auth: {delta:+.3f} ms")
    finally:
        for proc in procs:
            stop(proc)
    try:
        in_process(20000)
    finally:
        for state in STATE_DIRS:
            shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
