"""INSERT ... ON CONFLICT in each backend's dialect: writes that must not
fail when a concurrent transaction inserted the same key first (a delete
followed by an insert would, with a duplicate-key error)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection


def upsert(conn: Connection, table: Table, values: dict[str, Any],
           update: dict[str, Any] | None = None) -> None:
    """Insert `values`; when the primary key exists, apply `update` (column ->
    value or SQL expression; None: leave the row as it is)."""
    keys = [c.name for c in table.primary_key.columns]
    name = conn.dialect.name
    if name == "postgresql":
        stmt = postgresql.insert(table).values(**values)
        stmt = (stmt.on_conflict_do_update(index_elements=keys, set_=update) if update
                else stmt.on_conflict_do_nothing(index_elements=keys))
    elif name == "mysql":
        stmt = mysql.insert(table).values(**values)
        # A no-op update keeps the row (and, unlike INSERT IGNORE, does not
        # turn data errors into warnings).
        stmt = stmt.on_duplicate_key_update(**(update or {keys[0]: table.c[keys[0]]}))
    else:
        stmt = sqlite.insert(table).values(**values)
        stmt = (stmt.on_conflict_do_update(index_elements=keys, set_=update) if update
                else stmt.on_conflict_do_nothing(index_elements=keys))
    conn.execute(stmt)

