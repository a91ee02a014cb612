"""neutrino-server --config-file neutron.conf --config-file ml2_conf.ini

Refuses to start (exit 1) on a shared database whose schema is not the
code's (missing, older or unknown): the operator runs neutrino-db-manage
first, as with neutron-db-manage. The embedded SQLite database is created
and migrated here instead (the all-in-one needs no separate step).
"""
from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys

from neutrino.cli.common import add_config_args, setup_logging
from neutrino.config import ConfigError, log_unused

LOG = logging.getLogger("neutrino.server")


def upgrade_command(files: list[str]) -> str:
    """The neutrino-db-manage command line for these config files."""
    words = ["neutrino-db-manage"]
    for path in files:
        words += ["--config-file", shlex.quote(path)]
    return " ".join(words + ["upgrade", "head"])


def _sqlite_file(cfg) -> str | None:
    """The embedded database's file ("" in memory), None for a shared one."""
    url = cfg.database.connection
    if not url:
        return os.path.join(cfg.DEFAULT.state_path, "neutrino.sqlite")
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url
        return make_url(url).database or ""
    return None


def check_schema(cfg, files: list[str]) -> None:
    """SchemaNotCurrent unless a shared database is at the code's head (or
    the embedded SQLite one can be brought there)."""
    from neutrino.db import migrate
    from neutrino.db.engine import Database
    path = _sqlite_file(cfg)
    if path is not None and not os.path.exists(path):
        return      # a new embedded database: created at start, nothing to check
    db = Database.from_config(cfg)
    try:
        # The embedded SQLite database is migrated at start (build_core):
        # only one this code cannot upgrade is refused.
        migrate.check_current(db, upgrade_command(files),
                              will_upgrade=db.backend == "sqlite")
    finally:
        db.dispose()


def build_checked_core(cfg, files: list[str]):
    """The core, after what start-up refuses: the configuration (drivers,
    policy; nothing is created before), then the schema. The embedded
    SQLite database is checked before build_core migrates it; a shared one
    after the configuration is validated (build_core does not touch it)."""
    from neutrino.service import build_core
    embedded = _sqlite_file(cfg) is not None
    if embedded:
        check_schema(cfg, files)
    core = build_core(cfg)
    if not embedded:
        try:
            check_schema(cfg, files)
        except BaseException:
            core.db.dispose()
            raise
    return core


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="neutrino-server",
                                     description="Neutron v2.0 API server")
    add_config_args(parser)
    args = parser.parse_args(argv)
    from neutrino.db.migrate import SchemaNotCurrent
    from neutrino.identity.opts import auth_summary
    from neutrino.service import build_auth, load_server_config
    try:
        cfg = load_server_config(args.config_file)
    except ConfigError as exc:
        print(f"neutrino-server: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(cfg.DEFAULT.debug, cfg.DEFAULT.log_file)
    log_unused(cfg, LOG)
    try:
        build_checked_core(cfg, args.config_file).db.dispose()
        build_auth(cfg)
    except ConfigError as exc:
        print(f"neutrino-server: configuration error: {exc}", file=sys.stderr)
        return 2
    except SchemaNotCurrent as exc:
        print(f"neutrino-server: cannot start: {exc}", file=sys.stderr)
        LOG.error("cannot start: %s", exc)
        return 1
    LOG.info("%s", auth_summary(cfg))
    os.environ["NEUTRINO_CONFIG_FILES"] = os.pathsep.join(os.path.abspath(f)
                                                          for f in args.config_file)
    import uvicorn
    d = cfg.DEFAULT
    uvicorn.run("neutrino.api.app:create_app_from_env", factory=True, host=d.bind_host,
                port=d.bind_port, workers=d.api_workers if d.api_workers > 1 else None,
                log_level="warning", access_log=False, lifespan="off",
                # A worker whose pong thread starves for the GIL on a busy
                # 2-core host is not hung: uvicorn's 5 s default killed
                # workers mid-request under load (connection resets in CI).
                timeout_worker_healthcheck=60,
                # Clients (openstacksdk, the CLI) keep connections open between
                # calls; a 5 s idle close races their next request.
                timeout_keep_alive=75)
    return 0


if __name__ == "__main__":
    sys.exit(main())
