#!/usr/bin/env python3
"""What a parent row's delete costs when a child table's foreign key
column has no index: the database looks the children up by that column,
a scan of the whole child table per delete (neither SQLite nor PostgreSQL
indexes a foreign key column by itself). Migration 0016 indexed the ones
that had none.

Builds the schema with the migrations (SQLite, a temporary file), fills
the child tables with rows that reference other parents (foreign keys off
while filling, as a big cloud's tables would be), then times, with the
0016 indexes dropped and then in place:
- a port delete against N floating IPs (floatingips.floating_port_id),
- a security group delete against N rules (security_group_rules.remote_group_id).

    .venv/bin/python benchmarks/fk_scans.py [--rows 20000] [--deletes 300]
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STAMP = "2026-01-01 00:00:00"
INDEXES = {"port": ("floatingips", "floating_port_id"),
           "security group": ("security_group_rules", "remote_group_id")}


def insert(conn: sqlite3.Connection, table: str, **given) -> None:
    cols = [(r[1], r[3]) for r in conn.execute(f"PRAGMA table_info({table})")]
    row = {}
    for name, notnull in cols:
        if name in given:
            row[name] = given[name]
        elif name.endswith("_at"):
            row[name] = STAMP
        elif notnull:
            row[name] = 1 if name in ("revision_number", "admin_state_up", "stateful",
                                      "port_security_enabled") else ""
    conn.execute(f"INSERT INTO {table} ({','.join(row)}) VALUES ({','.join('?' * len(row))})",
                 list(row.values()))


def build(path: str, rows: int, parents: int) -> tuple[list[str], list[str]]:
    from neutrino.db import migrate
    from neutrino.db.engine import Database
    db = Database(f"sqlite:///{path}", os.path.dirname(path))
    migrate.upgrade(db)
    db.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("BEGIN")
    net = str(uuid.uuid4())
    ports = [str(uuid.uuid4()) for _ in range(parents)]
    groups = [str(uuid.uuid4()) for _ in range(parents)]
    for pid in ports:
        insert(conn, "ports", id=pid, network_id=net, mac_address=pid[:17], status="ACTIVE")
    for gid in groups:
        insert(conn, "security_groups", id=gid, project_id="p", name="g")
    for i in range(rows):
        insert(conn, "floatingips", id=str(uuid.uuid4()), project_id="p",
               floating_ip_address=f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}",
               floating_network_id=net, floating_port_id=str(uuid.uuid4()), status="DOWN")
        insert(conn, "security_group_rules", id=str(uuid.uuid4()), project_id="p",
               security_group_id=str(uuid.uuid4()), remote_group_id=str(uuid.uuid4()),
               direction="ingress", ethertype="IPv4")
    conn.execute("COMMIT")
    conn.close()
    return ports, groups


def per_delete(conn: sqlite3.Connection, table: str, ids: list[str]) -> float:
    started = time.perf_counter()
    for rid in ids:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"DELETE FROM {table} WHERE id = ?", (rid,))
        conn.execute("COMMIT")
    return (time.perf_counter() - started) / len(ids) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000, help="floating IPs and rules")
    ap.add_argument("--deletes", type=int, default=300, help="of each kind, per case")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fk-scans-") as tmp:
        path = os.path.join(tmp, "neutrino.db")
        ports, groups = build(path, args.rows, 2 * args.deletes)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        for table, column in INDEXES.values():
            conn.execute(f"DROP INDEX ix_{table}_{column}")
        n = args.deletes
        before = {"port": per_delete(conn, "ports", ports[:n]),
                  "security group": per_delete(conn, "security_groups", groups[:n])}
        for table, column in INDEXES.values():
            conn.execute(f"CREATE INDEX ix_{table}_{column} ON {table} ({column})")
        after = {"port": per_delete(conn, "ports", ports[n:]),
                 "security group": per_delete(conn, "security_groups", groups[n:])}
        conn.close()
    print(f"# SQLite, {args.rows} floating IPs and {args.rows} rules, {n} deletes per case")
    for kind, (table, column) in INDEXES.items():
        print(f"{kind} delete: {before[kind]:.3f} ms without an index on {table}.{column}, "
              f"{after[kind]:.3f} ms with it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
