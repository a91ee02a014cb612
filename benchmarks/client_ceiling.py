#!/usr/bin/env python3
"""How fast can the measuring client go? apibench.py drives the API with an
httpx asyncio client on the same 2 cores as the server. This script starts a
neutrino-server (SQLite, 2 workers), then measures, at concurrency 8:

  * the httpx client against GET / (a constant document, no database): the
    ceiling any apibench phase can reach on this machine;
  * GET /v2.0/ports/<id> with the same client;
  * the same two URLs with wrk (a C client), if installed: what the server
    itself sustains.

    .venv/bin/python benchmarks/client_ceiling.py
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apibench_run import VENV_BIN, free_port  # noqa: E402


async def httpx_rate(url: str, n: int = 3000, concurrency: int = 8) -> float:
    async with httpx.AsyncClient() as client:
        await client.get(url)

        async def worker():
            for _ in range(n // concurrency):
                (await client.get(url)).raise_for_status()
        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return n / (time.perf_counter() - start)


def wrk_rate(url: str) -> float | None:
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(["wrk", "-t1", "-c8", "-d5s", url], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    return None


def main() -> int:
    state = tempfile.mkdtemp(prefix="neutrino-ceiling-")
    port = free_port()
    conf = os.path.join(state, "neutron.conf")
    with open(conf, "w") as f:
        f.write(f"[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\napi_workers = 2\n"
                f"state_path = {state}\n")
    server = subprocess.Popen([os.path.join(VENV_BIN, "neutrino-server"), "--config-file", conf],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        net = httpx.post(base + "/v2.0/networks", json={"network": {"name": "c"}}).json()["network"]
        httpx.post(base + "/v2.0/subnets", json={"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": "10.9.0.0/24"}})
        port_id = httpx.post(base + "/v2.0/ports", json={"port": {
            "network_id": net["id"]}}).json()["port"]["id"]
        for label, url in (("GET / (no database)", base + "/"),
                           ("GET /v2.0/ports/<id>", f"{base}/v2.0/ports/{port_id}")):
            client = asyncio.run(httpx_rate(url))
            server_side = wrk_rate(url)
            wrk_text = f"{server_side:8.0f} req/s" if server_side else "   (wrk not installed)"
            print(f"{label:24} httpx c=8: {client:7.0f} req/s   wrk c=8: {wrk_text}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
