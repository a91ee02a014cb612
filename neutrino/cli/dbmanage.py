"""neutrino-db-manage --config-file neutron.conf upgrade head | current"""
from __future__ import annotations

import argparse
import logging
import sys

from neutrino.cli.common import add_config_args, setup_logging
from neutrino.config import ConfigError, log_unused


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="neutrino-db-manage")
    add_config_args(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="migrate the schema")
    up.add_argument("revision", nargs="?", default="head")
    sub.add_parser("current", help="print the schema revision")
    args = parser.parse_args(argv)
    from sqlalchemy.exc import DBAPIError

    from neutrino.db import migrate
    from neutrino.db.engine import Database
    from neutrino.service import load_server_config
    try:
        cfg = load_server_config(args.config_file)
        setup_logging(cfg.DEFAULT.debug, cfg.DEFAULT.log_file)
        log_unused(cfg, logging.getLogger("neutrino.db-manage"))
        db = Database.from_config(cfg, statement_timeout=0)  # a migration may take long
    except ConfigError as exc:
        print(f"neutrino-db-manage: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "upgrade":
            migrate.upgrade(db, args.revision)
            print(f"schema at {migrate.current(db)}")
        else:
            print(migrate.current(db) or "empty")
    except DBAPIError as exc:
        print(f"neutrino-db-manage: database error: {str(exc.orig).strip()}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
