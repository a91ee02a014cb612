#!/usr/bin/env python3
"""Where does an API call spend its time? Runs the apibench operations
in-process (Controller calls, no HTTP) against SQLite or PostgreSQL, one at
a time, and prints per phase: statements and transactions per call, and
microseconds per call, wall and CPU (this process's: the server's work
without HTTP; CPU time moves little with the machine's load). With
--profile PHASE, the top functions of that phase by cumulative time
(cProfile, CPU time).

    .venv/bin/python benchmarks/profile_api.py --db postgresql
    .venv/bin/python benchmarks/profile_api.py --db sqlite --profile port_create
    .venv/bin/python benchmarks/profile_api.py --db sqlite --sql port_create
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time

from sqlalchemy import event

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apibench_run import make_database  # noqa: E402

PROJECT = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"


def build(url: str, state: str):
    from neutrino.api.app import Api
    from neutrino.api.policy import Context
    from neutrino.db import migrate
    from neutrino.service import build_auth, build_core, load_server_config
    overrides = {"DEFAULT": {"state_path": state, "auth_strategy": "noauth"},
                 "ml2": {"tenant_network_types": "vxlan"},
                 "ml2_type_vxlan": {"vni_ranges": "1:100000"},
                 "quotas": {"default_quota": "-1", "quota_network": "-1",
                            "quota_subnet": "-1", "quota_port": "-1"}}
    if url:
        overrides["database"] = {"connection": url}
    cfg = load_server_config([], overrides)
    core = build_core(cfg)
    if url:
        migrate.upgrade(core.db)
    api = Api(core, build_auth(cfg, core.db))
    ctx = Context.make(PROJECT, "u", ("admin",))
    return core, api, ctx


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--profile", default="", help="phase to profile with cProfile")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--sql", default="", help="print the statements of one call of this phase")
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="neutrino-profile-")
    url, drop = make_database(args.db)
    try:
        core, api, ctx = build(url, state)
        counts = {"stmts": 0, "txns": 0}
        shown: list[str] = []

        @event.listens_for(core.db.engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, *_a):
            counts["stmts"] += 1
            shown.append(statement)

        @event.listens_for(core.db.engine, "begin")
        def _begin(*_a):
            counts["txns"] += 1

        nets, subnets, ports = [], [], []
        n = args.n
        c = api.controllers
        url_ = "http://x/v2.0/ports"
        phases = [
            ("net_create", lambda i: nets.append(c["networks"].create(ctx, {"network": {
                "name": f"n{i}", "admin_state_up": True, "project_id": PROJECT}})["network"]["id"])),
            ("subnet_create", lambda i: subnets.append(c["subnets"].create(ctx, {"subnet": {
                "name": f"s{i}", "network_id": nets[i], "ip_version": 4,
                "cidr": f"10.{i // 256}.{i % 256}.0/24", "project_id": PROJECT}})["subnet"]["id"])),
            ("port_create", lambda i: ports.append(c["ports"].create(ctx, {"port": {
                "name": f"p{i}", "network_id": nets[i], "project_id": PROJECT}})["port"]["id"])),
            ("port_list_all", lambda i: c["ports"].list(ctx, [], url_)),
            ("port_list_by_net", lambda i: c["ports"].list(ctx, [("network_id", nets[i])], url_)),
            ("port_show", lambda i: c["ports"].show(ctx, ports[i], [])),
            ("port_update", lambda i: c["ports"].update(ctx, ports[i], {"port": {
                "name": f"p{i}-renamed"}})),
            ("port_delete", lambda i: c["ports"].delete(ctx, ports[i])),
            ("subnet_delete", lambda i: c["subnets"].delete(ctx, subnets[i])),
            ("net_delete", lambda i: c["networks"].delete(ctx, nets[i])),
        ]
        print(f"# {args.db}, n={n}, serial, in-process (no HTTP)")
        print(f"{'phase':18} {'stmts/op':>9} {'txns/op':>8} {'us/op':>8} {'cpu us/op':>10}")
        for name, fn in phases:
            reps = 20 if name == "port_list_all" else n
            counts.update(stmts=0, txns=0)
            prof = cProfile.Profile(time.process_time) if name == args.profile else None
            t0, c0 = time.perf_counter(), time.process_time()
            if prof:
                prof.enable()
            for i in range(reps):
                shown.clear()
                fn(i)
                if i == reps // 2 and name == args.sql:
                    print("\n".join(" ".join(st.split())[:300] for st in shown))
            if prof:
                prof.disable()
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            print(f"{name:18} {counts['stmts'] / reps:9.1f} {counts['txns'] / reps:8.1f}"
                  f" {dt / reps * 1e6:8.0f} {cpu / reps * 1e6:10.0f}", flush=True)
            if prof:
                pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
                pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
        core.db.dispose()
    finally:
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
