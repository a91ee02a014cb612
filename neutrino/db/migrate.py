"""Schema management with Alembic: `neutrino-db-manage upgrade head`, and the
server's create-on-first-start for the embedded SQLite database."""
from __future__ import annotations

import os

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import inspect

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def alembic_config(db) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db, revision: str = "head") -> None:
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(db) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_empty(db) -> bool:
    with db.engine.connect() as conn:
        return not inspect(conn).get_table_names()
