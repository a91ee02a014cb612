#!/usr/bin/env python3
"""Run the reference API workload (../shared/bench/apibench.py) against a
neutrino-server started here, on SQLite, PostgreSQL or MariaDB, and print
each phase next to the issue's target (10x real Neutron 25.2.3).

    .venv/bin/python benchmarks/apibench_run.py --db postgresql --workers 2
    .venv/bin/python benchmarks/apibench_run.py --db sqlite --concurrency 1

Databases are created with a random name and dropped afterwards; the server
is stopped by PID. Only loopback is used.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PROJECT = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"

# Real Neutron 25.2.3, c=8 ops/s (REFERENCE.md); the target is 10x.
REFERENCE_C8 = {
    "net_create": 42.1, "subnet_create": 44.2, "port_create": 21.5, "port_list_all": 3.0,
    "port_list_by_net": 123.8, "port_show": 138.1, "port_update": 28.1, "port_delete": 23.4,
    "subnet_delete": 54.5, "net_delete": 44.4, "one_net_port_create": 18.5,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_database(kind: str) -> tuple[str, callable]:
    name = "neutrino_bench_" + secrets.token_hex(4)
    if kind == "postgresql":
        import psycopg
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop():
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop
    if kind == "mariadb":
        import pymysql
        conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
        conn.cursor().execute(f"CREATE DATABASE `{name}`")

        def drop():
            c = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
            c.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        return f"mysql+pymysql://root@127.0.0.1:3306/{name}", drop
    return "", lambda: None


def write_config(state: str, port: int, url: str, workers: int, quota: int = -1,
                 extra: tuple[str, ...] = ()) -> str:
    """`extra`: "section.option=value" lines added to the file."""
    conf = os.path.join(state, "neutron.conf")
    with open(conf, "w") as f:
        f.write(f"""[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
api_workers = {workers}
state_path = {state}
[database]
connection = {url}
[ml2]
tenant_network_types = vxlan
[ml2_type_vxlan]
vni_ranges = 1:100000
[quotas]
default_quota = {quota}
quota_network = {quota}
quota_subnet = {quota}
quota_port = {quota}
""")
        for item in extra:
            key, _, value = item.partition("=")
            section, _, option = key.partition(".")
            f.write(f"[{section}]\n{option} = {value}\n")
    return conf


@contextlib.contextmanager
def running_server(db: str, workers: int, quota: int = -1, extra: tuple[str, ...] = ()):
    """A neutrino-server on a fresh database of kind `db`; yields its base URL.
    The server is stopped by PID and the database dropped afterwards."""
    # A SIGTERM (e.g. from `timeout`) still stops the server and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    state = tempfile.mkdtemp(prefix="neutrino-bench-")
    url, drop = make_database(db)
    port = free_port()
    conf = write_config(state, port, url, workers, quota, extra)
    server = None
    try:
        if url:
            subprocess.run([os.path.join(VENV_BIN, "neutrino-db-manage"), "--config-file", conf,
                            "upgrade", "head"], check=True, stdout=subprocess.DEVNULL)
        log = open(os.path.join(state, "server.log"), "w")
        server = subprocess.Popen([os.path.join(VENV_BIN, "neutrino-server"), "--config-file",
                                   conf], stdout=log, stderr=log, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/v2.0/networks", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        drop()
        shutil.rmtree(state, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json-out", default="")
    ap.add_argument("--quota", type=int, default=-1,
                    help="limit of every quota (-1: unlimited, no quota check on creates)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.OPTION=VALUE",
                    help="a server option, e.g. dashboard.enabled=false (repeatable)")
    args = ap.parse_args()

    with running_server(args.db, args.workers, args.quota, tuple(args.set)) as base, \
            tempfile.TemporaryDirectory(prefix="neutrino-apibench-") as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, os.path.join(SHARED, "bench", "apibench.py"), "--url", base,
               "--n", str(args.n), "--concurrency", str(args.concurrency), "--json-out", out,
               "--project", PROJECT]
        print(f"# neutrino on {args.db}, api_workers={args.workers}: {' '.join(cmd[1:])}",
              flush=True)
        rc = subprocess.run(cmd).returncode
        with open(out) as f:
            result = json.load(f)
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(result, f, indent=1)
        print(f"\n{'phase':22} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'target':>8} {'x ref':>6}")
        for phase, fig in result["phases"].items():
            ref = REFERENCE_C8.get(phase)
            ratio = f"{fig['ops_per_s'] / ref:.1f}" if ref and args.concurrency == 8 else ""
            target = f"{ref * 10:.0f}" if ref and args.concurrency == 8 else ""
            print(f"{phase:22} {fig['ops_per_s']:8.1f} {fig['p50_ms']:8.1f} {fig['p99_ms']:8.1f}"
                  f" {target:>8} {ratio:>6}")
        return rc


if __name__ == "__main__":
    sys.exit(main())
