#!/usr/bin/env python3
"""What finding a request's route costs: Starlette's walk of every route
against the API's index (neutrino/api/routing.py), for a few paths of the
real application (SQLite, noauth). Prints microseconds per lookup.

    .venv/bin/python benchmarks/route_lookup.py [--n 2000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from starlette.routing import Match  # noqa: E402

PATHS = [("DELETE", "/v2.0/ports/5f1a2b3c-0000-1111-2222-333344445555"),
         ("GET", "/v2.0/networks"),
         ("POST", "/v2.0/security-group-rules"),
         ("GET", "/v2/lbaas/loadbalancers/5f1a2b3c-0000-1111-2222-333344445555")]


def first_full(routes, scope):
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    from neutrino.api.app import build_app
    from neutrino.api.routing import path_key
    from neutrino.service import build_auth, build_core, load_server_config
    cfg = load_server_config([], {"DEFAULT": {"state_path": tempfile.mkdtemp(),
                                              "auth_strategy": "noauth"}})
    core = build_core(cfg)
    router = build_app(core, build_auth(cfg, core.db)).router
    print(f"# {len(router.routes)} routes, µs per lookup (n={args.n})")
    for method, path in PATHS:
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        took = {}
        for name, routes in (("walk", lambda: router.routes),
                             ("index", lambda: router._candidates(path_key(path)))):
            t = time.perf_counter()
            for _ in range(args.n):
                first_full(routes(), scope)
            took[name] = (time.perf_counter() - t) / args.n * 1e6
        print(f"{method:6s} {path[:40]:40s} walk {took['walk']:6.1f}  index {took['index']:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
