"""What a storm of wrong-password logins does to everyone else: p50/p99 of
GET /v2.0/networks (one token, sequential, keep-alive) through a real
neutrino-server with the embedded identity, first alone, then while
`--storm` threads post wrong passwords to /identity/v3/auth/tokens as fast
as they are answered.

    .venv/bin/python benchmarks/login_storm.py [--storm 16] [--n 300] [--workers 2]
    .venv/bin/python benchmarks/login_storm.py --throttle   # with source throttling on

By default the per-address throttle and the user lockout are off, so every
storm request costs a password check: the figure shows what the bounded,
low-priority hashing pool leaves for the other calls. With --throttle the
defaults apply (the storm's address is refused after 20 failures, 429).
--legacy writes no option the server may not know (to measure an older tree
with PYTHONPATH=<tree>).

The server runs on a free 127.0.0.1 port with a temp state dir (SQLite) and
is stopped by PID at the end.
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
PASSWORD = "storm-admin-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(state: str, workers: int, throttle: bool, legacy: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    conf = os.path.join(state, "neutron.conf")
    identity = f"[identity]\nadmin_password = {PASSWORD}\n"
    if not legacy and not throttle:
        identity += "source_lockout_failure_attempts = 0\n"
    with open(conf, "w") as f:
        f.write(f"[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\n"
                f"api_workers = {workers}\nauth_strategy = keystone\nstate_path = {state}\n"
                f"{identity}[oslo_policy]\npolicy_file = {state}/none.yaml\n")
    log = open(os.path.join(state, "server.log"), "w")
    proc = subprocess.Popen([str(BIN / "neutrino-server"), "--config-file", conf],
                            stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise SystemExit("neutrino-server did not start; see " + log.name)


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def login_body(password: str) -> dict:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}


def latencies(url: str, token: str, n: int) -> list[float]:
    out = []
    with httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=60) as c:
        c.get("/v2.0/networks")
        for _ in range(n):
            t = time.perf_counter()
            r = c.get("/v2.0/networks")
            out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
    return out


def storm(url: str, threads: int, stop_at: threading.Event, codes: collections.Counter):
    def one():
        with httpx.Client(base_url=url, timeout=60) as c:
            while not stop_at.is_set():
                r = c.post("/identity/v3/auth/tokens", json=login_body("wrong-password"))
                codes[r.status_code] += 1
    workers = [threading.Thread(target=one, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    return workers


def fmt(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"p50 {statistics.median(ms):7.1f} ms   p99 {q[98]:7.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--storm", type=int, default=16, help="parallel wrong-password clients")
    ap.add_argument("--n", type=int, default=300, help="GETs measured per phase")
    ap.add_argument("--workers", type=int, default=2, help="api_workers")
    ap.add_argument("--throttle", action="store_true", help="keep source throttling on")
    ap.add_argument("--legacy", action="store_true", help="write no new option")
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="login-storm-")
    proc, url = start(state, args.workers, args.throttle, args.legacy)
    try:
        r = httpx.post(url + "/identity/v3/auth/tokens", json=login_body(PASSWORD), timeout=60)
        assert r.status_code == 201, r.text
        token = r.headers["X-Subject-Token"]
        print(f"# neutrino-server api_workers={args.workers}, SQLite, GET /v2.0/networks x "
              f"{args.n}; storm: {args.storm} clients posting wrong passwords"
              f"{' (source throttling on)' if args.throttle else ''}")
        quiet = latencies(url, token, args.n)
        print(f"without storm   {fmt(quiet)}")
        codes: collections.Counter = collections.Counter()
        stop_at = threading.Event()
        workers = storm(url, args.storm, stop_at, codes)
        time.sleep(1.0)  # let it ramp up
        started, before = time.monotonic(), sum(codes.values())
        loud = latencies(url, token, args.n)
        rate = (sum(codes.values()) - before) / (time.monotonic() - started)
        stop_at.set()
        for w in workers:
            w.join(60)
        print(f"during storm    {fmt(loud)}   (logins answered {rate:.0f}/s: "
              f"{dict(sorted(codes.items()))})")
        return 0
    finally:
        stop(proc)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
