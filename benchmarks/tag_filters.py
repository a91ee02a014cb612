"""Cost of list filters with many tags (issue 11: `tags=` with 120 values
took 11 s on PostgreSQL, 3,000 over 75 s): GET /v2.0/networks with
tags / tags-any / not-tags / not-tags-any of K values, in-process, on a
fresh database with N tagged networks; and, for comparison, the former
formulation (one EXISTS per tag) run as plain SQL under a statement
timeout.

    .venv/bin/python benchmarks/tag_filters.py [--db postgresql|sqlite] [--n 500]

PostgreSQL: 127.0.0.1:5432, user postgres (trust); a database with a random
name is created and dropped at the end.
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
import warnings

from sqlalchemy import and_, create_engine, exists, or_, select, text

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def old_clause(table, tags, kind):
    """The former tag_clauses: one correlated EXISTS per tag."""
    from neutrino.db import models
    t = models.tags

    def has(tag):
        return exists().where(t.c.resource_id == table.c.id, t.c.tag == tag)
    parts = [has(x) for x in tags]
    return {"tags": and_(*parts), "tags-any": or_(*parts), "not-tags": ~and_(*parts),
            "not-tags-any": ~or_(*parts)}[kind]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--n", type=int, default=500, help="networks, 20 tags each")
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from neutrino.api.app import build_app
    from neutrino.db import migrate, models
    from neutrino.db.engine import Database
    from neutrino.service import build_server_core

    tmp = tempfile.mkdtemp(prefix="tagbench-")
    name = "neutrino_bench_" + secrets.token_hex(4)
    admin = None
    if args.db == "postgresql":
        admin = create_engine(PG + "postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = PG + name
    else:
        url = f"sqlite:///{tmp}/{name}.sqlite"
    try:
        db = Database(url, state_path=tmp)
        migrate.upgrade(db)
        db.dispose()
        core, auth = build_server_core([], {
            "DEFAULT": {"auth_strategy": "noauth", "state_path": tmp},
            "database": {"connection": url, "statement_timeout": "0"},
            "quotas": {"quota_network": "-1"},
            "oslo_policy": {"policy_file": f"{tmp}/none.yaml"}})
        client = TestClient(build_app(core, auth))
        vocabulary = [f"tag-{i}" for i in range(3000)]
        for i in range(args.n):
            tags = [vocabulary[(i * 7 + j) % 3000] for j in range(20)]
            r = client.post("/v2.0/networks", json={"network": {"name": f"n{i}", "tags": tags}})
            assert r.status_code == 201, r.text
        print(f"{args.db}: {args.n} networks x 20 tags")
        print(f"{'kind':<14}{'values':>7}{'p50 ms':>10}{'max ms':>10}{'found':>7}")
        for kind in ("tags", "tags-any", "not-tags", "not-tags-any"):
            for k in (10, 120, 1000):
                values = ",".join(vocabulary[:k])
                times, found = [], 0
                for _ in range(5):
                    t0 = time.perf_counter()
                    r = client.get("/v2.0/networks", params={kind: values, "fields": "id"})
                    times.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200, r.text
                    found = len(r.json()["networks"])
                print(f"{kind:<14}{k:>7}{statistics.median(times):>10.1f}{max(times):>10.1f}"
                      f"{found:>7}")
        if args.db == "postgresql":
            print("former formulation (one EXISTS per tag), plain SQL, 30 s timeout:")
            engine = create_engine(url)
            for k in (10, 60, 120):
                stmt = select(models.networks.c.id).where(
                    old_clause(models.networks, vocabulary[:k], "tags-any"))
                with engine.begin() as conn:
                    conn.execute(text("SET LOCAL statement_timeout = '30s'"))
                    t0 = time.perf_counter()
                    try:
                        conn.execute(stmt).all()
                        took = f"{(time.perf_counter() - t0) * 1000:.1f} ms"
                    except Exception as exc:  # noqa: BLE001 - the timeout is the figure
                        took = f"over 30 s ({type(exc).__name__})"
                print(f"  tags-any {k:>4} values: {took}")
            engine.dispose()
        core.db.dispose()
    finally:
        if admin is not None:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
