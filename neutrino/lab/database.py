"""The lab's database: SQLite in its directory (default), or a randomly
named database on the machine's PostgreSQL (127.0.0.1:5432, user postgres)
or MariaDB (127.0.0.1:3306, user root), created by `lab up`, migrated to
head, and dropped by `lab down` -- the server's other databases are never
touched. Servers elsewhere: NEUTRINO_LAB_PG_URL / NEUTRINO_LAB_MYSQL_URL
(a maintenance URL, e.g. postgresql+psycopg://postgres@db:5432/postgres)."""
from __future__ import annotations

import os
import secrets

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

BACKENDS = ("sqlite", "postgresql", "mariadb")
MAINTENANCE = {
    "postgresql": os.environ.get("NEUTRINO_LAB_PG_URL",
                                 "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get("NEUTRINO_LAB_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}


def _quote(backend: str, name: str) -> str:
    return f'"{name}"' if backend == "postgresql" else f"`{name}`"


def _engine(backend: str):
    return create_engine(MAINTENANCE[backend], isolation_level="AUTOCOMMIT")


def create(backend: str, prefix: str) -> str:
    """A new empty database for the lab; returns its URL ("" for SQLite:
    the server's state_path default)."""
    if backend == "sqlite":
        return ""
    if backend not in MAINTENANCE:
        raise ValueError(f"database must be one of {', '.join(BACKENDS)}")
    name = f"neutrino_lab_{prefix.rstrip('-')}_{secrets.token_hex(3)}"
    extra = "" if backend == "postgresql" else " CHARACTER SET utf8mb4"
    _execute(backend, f"CREATE DATABASE {_quote(backend, name)}{extra}")
    return make_url(MAINTENANCE[backend]).set(database=name).render_as_string(
        hide_password=False)


def migrate(url: str) -> None:
    from neutrino.db import migrate as migrate_mod
    from neutrino.db.engine import Database
    db = Database(url)
    try:
        migrate_mod.upgrade(db)
    finally:
        db.dispose()


def drop(backend: str, url: str) -> None:
    """Drop the lab's database (only a name this module made)."""
    if backend == "sqlite" or not url:
        return
    name = make_url(url).database or ""
    if not name.startswith("neutrino_lab_"):
        raise ValueError(f"refusing to drop {name!r}: not a lab database")
    force = " WITH (FORCE)" if backend == "postgresql" else ""
    _execute(backend, f"DROP DATABASE IF EXISTS {_quote(backend, name)}{force}")


def _execute(backend: str, sql: str) -> None:
    """One statement on the server's maintenance database."""
    engine = _engine(backend)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()
