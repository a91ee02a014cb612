#!/usr/bin/env python3
"""Metadata requests as cloud-init makes them, on an in-process lab (real
namespaces, real haproxy, the metadata agent and the lab's Nova stand-in):

  1. an instance behind a router and one on an isolated network (DHCP
     namespace proxy);
  2. for each: the first request (the agent's lookups are cold), then N
     sequential GETs of the paths cloud-init reads (each a new curl, as
     cloud-init opens a connection per request), and C concurrent clients;
  3. prints p50/p90/p99 latencies and requests per second.

    sudo .venv/bin/python benchmarks/metadata_latency.py --requests 200 --clients 8

Everything lives in the lab's namespaces and is torn down at the end.
"""
from __future__ import annotations

import argparse
import secrets
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PATHS = ("/openstack/latest/meta_data.json", "/openstack/latest/network_data.json",
         "/latest/meta-data/instance-id", "/latest/meta-data/local-ipv4",
         "/openstack/latest/user_data")


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


def fetch(netns: str, path: str) -> float:
    """One GET on a new connection made from the instance's namespace
    (a socket, not a curl process: the figure is the service's)."""
    from neutrino.dataplane import netns as ns
    started = time.perf_counter()
    with ns.in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(10)
        sock.connect(("169.254.169.254", 80))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    took = time.perf_counter() - started
    status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/") else b"?"
    if status != b"200":
        raise RuntimeError(f"{path}: HTTP {status.decode()} {data[:200]!r}")
    return took


def measure(label: str, netns: str, requests: int, clients: int) -> None:
    first = fetch(netns, PATHS[0])
    times = [fetch(netns, PATHS[i % len(PATHS)]) for i in range(requests)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda i: fetch(netns, PATHS[i % len(PATHS)]), range(requests)))
    wall = time.perf_counter() - started
    ms = [t * 1000 for t in times]
    print(f"{label:<10} first {first * 1000:6.1f} ms | sequential p50 {statistics.median(ms):5.1f} "
          f"p90 {percentile(ms, 90):5.1f} p99 {percentile(ms, 99):5.1f} ms "
          f"| {clients} clients: {requests / wall:6.0f} req/s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    from neutrino.lab.control import LabControl
    lab_dir = Path(tempfile.mkdtemp(prefix="nmd-bench-")) / "lab"
    ctl = LabControl.up(hosts=1, transport="inproc", lab_dir=lab_dir, port=0)
    try:
        api = ctl.api
        tag = secrets.token_hex(2)
        routed = api.create_network(f"md-r-{tag}")
        sub = api.create_subnet(routed["id"], "10.91.0.0/24")
        router = api.create("routers", {"name": f"md-{tag}"})
        started = time.perf_counter()
        api.request("PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
                    {"subnet_id": sub["id"]})
        vm1 = ctl.instances.create("vm1", routed["id"], dhcp=True, user_data=b"#cloud-config\n")
        isolated = api.create_network(f"md-i-{tag}")
        api.create_subnet(isolated["id"], "10.92.0.0/24")
        vm2 = ctl.instances.create("vm2", isolated["id"], dhcp=True, user_data=b"#cloud-config\n")
        deadline = time.monotonic() + 60
        while True:
            try:
                fetch(vm1.netns, PATHS[0])
                fetch(vm2.netns, PATHS[0])
                break
            except (RuntimeError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        print(f"router interface + 2 instances until both answer: "
              f"{time.perf_counter() - started:.2f} s")
        measure("router", vm1.netns, args.requests, args.clients)
        measure("isolated", vm2.netns, args.requests, args.clients)
    finally:
        ctl.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
