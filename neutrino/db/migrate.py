"""Schema management with Alembic: `neutrino-db-manage upgrade head`, and the
server's create-on-first-start for the embedded SQLite database."""
from __future__ import annotations

import logging
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


class SchemaNotCurrent(Exception):
    """The database's schema is missing, older or newer than this code's."""


def _scripts():
    from alembic.script import ScriptDirectory
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", MIGRATIONS)
    return ScriptDirectory.from_config(cfg)


def heads() -> tuple[str, ...]:
    """The code's head revision(s): the newest migration script."""
    return tuple(_scripts().get_heads())


def check_current(db, upgrade_command: str, will_upgrade: bool = False) -> None:
    """SchemaNotCurrent unless the database is at the code's head revision
    (read from the migration scripts, so a new migration needs no change
    here). `upgrade_command`: what the operator runs to fix it.
    `will_upgrade` (the embedded SQLite database, migrated at start): only a
    schema that cannot be upgraded is refused."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.exc import DBAPIError

    from neutrino.db.engine import DatabaseUnavailable

    def read(conn):
        return (MigrationContext.configure(conn).get_current_heads(),
                bool(inspect(conn).get_table_names()))
    quiet = logging.getLogger("alembic.runtime.migration")
    level = quiet.level
    quiet.setLevel(logging.WARNING)   # its "Context impl ..." lines say nothing here
    try:
        revisions, has_tables = db.read(read)
    except DBAPIError as exc:
        raise SchemaNotCurrent(f"cannot read the schema revision: {exc.orig}") from None
    except DatabaseUnavailable as exc:
        raise SchemaNotCurrent(f"cannot reach the database: {exc}") from None
    finally:
        quiet.setLevel(level)
    code = heads()
    if set(revisions) == set(code):
        return
    if not revisions:
        if will_upgrade and not has_tables:
            return
        if has_tables:
            raise SchemaNotCurrent(
                "the database has tables but no neutrino schema revision (another "
                "application's database?); give neutrino an empty database of its own and "
                f"create the schema with: {upgrade_command}")
        raise SchemaNotCurrent(f"the database has no schema (empty); create it with: "
                               f"{upgrade_command}")
    script = _scripts()
    known = []
    for rev in revisions:
        try:
            known.append(script.get_revision(rev) is not None)
        except Exception:  # noqa: BLE001 - alembic raises several kinds for unknown ids
            known.append(False)
    if all(known):
        if will_upgrade:
            return
        raise SchemaNotCurrent(
            f"the database schema is at revision {', '.join(revisions)}, older than this "
            f"code's {', '.join(code)}; upgrade it with: {upgrade_command}")
    raise SchemaNotCurrent(
        f"the database schema is at revision {', '.join(revisions)}, which this code does "
        f"not know (a newer neutrino migrated it?); this code needs {', '.join(code)}")
