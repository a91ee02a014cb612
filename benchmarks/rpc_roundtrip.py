"""Request/reply latency of the RPC transports: p50/p99 of sequential calls.

Upstream Neutron agents wait ~0.5 s per synchronous RPC because
oslo.messaging polls for replies in 0.5 s sleeps; our replies are consumed as
they arrive, so a round trip should take on the order of a millisecond.

    .venv/bin/python benchmarks/rpc_roundtrip.py [--calls 1000] [--threads 1]
        [--rabbit-url rabbit://guest:guest@127.0.0.1:5672/] [--transport inproc|rabbit|all]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neutrino.rpc import make_transport  # noqa: E402


def echo(method: str, payload: dict) -> dict:
    return payload


def measure(url: str, calls: int, threads: int, warmup: int = 50) -> dict:
    server, client = make_transport(url), make_transport(url)
    target = f"bench-{uuid.uuid4().hex[:8]}"
    payload = {"host": "compute-1", "devices": [f"tap{i:08x}" for i in range(8)]}
    try:
        server.serve(target, echo, threads=max(1, threads))
        for _ in range(warmup):
            client.call(target, "get_devices_details", payload)
        latencies: list[float] = []
        lock = threading.Lock()

        def caller(count: int) -> None:
            mine = []
            for _ in range(count):
                started = time.perf_counter()
                client.call(target, "get_devices_details", payload)
                mine.append(time.perf_counter() - started)
            with lock:
                latencies.extend(mine)

        per_thread = [calls // threads + (1 if i < calls % threads else 0) for i in range(threads)]
        workers = [threading.Thread(target=caller, args=(n,)) for n in per_thread]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
    finally:
        client.close()
        server.close()
    latencies.sort()
    return {
        "calls": len(latencies),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
        "calls_per_s": len(latencies) / elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="concurrent callers")
    parser.add_argument("--rabbit-url", default="rabbit://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--transport", choices=("inproc", "rabbit", "all"), default="all")
    args = parser.parse_args()

    urls = {"inproc": f"inproc://bench-{uuid.uuid4().hex[:6]}", "rabbit": args.rabbit_url}
    names = ["inproc", "rabbit"] if args.transport == "all" else [args.transport]
    print(f"{'transport':<10} {'calls':>6} {'threads':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'calls/s':>9}")
    for name in names:
        try:
            result = measure(urls[name], args.calls, args.threads)
        except Exception as exc:  # noqa: BLE001 - report and go on with the other transport
            print(f"{name:<10} failed: {exc!r}")
            continue
        print(f"{name:<10} {result['calls']:>6} {args.threads:>7} {result['p50_ms']:>8.3f} "
              f"{result['p99_ms']:>8.3f} {result['max_ms']:>8.3f} {result['calls_per_s']:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
