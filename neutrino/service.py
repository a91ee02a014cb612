"""Assembling a server from config files: config → database → policy → core."""
from __future__ import annotations

import logging
import os

from neutrino import config as config_mod
from neutrino.api.auth import Authenticator, NoAuth
from neutrino.api.policy import Enforcer
from neutrino.db import migrate
from neutrino.db.engine import Database
from neutrino.options import SERVER_SCHEMA
from neutrino.plugins.core import Core

LOG = logging.getLogger(__name__)


def load_server_config(files, overrides=None):
    return config_mod.load(SERVER_SCHEMA, files, overrides)


def policy_path(cfg) -> str:
    path = cfg.oslo_policy.policy_file
    if path and not os.path.isabs(path) and cfg.files:
        path = os.path.join(os.path.dirname(os.path.abspath(cfg.files[0])), path)
    return path


def build_core(cfg, notifier=None, create_schema: bool = True) -> Core:
    # Everything that can reject the configuration runs before anything is
    # created on disk (state directory, SQLite file).
    try:
        policy = Enforcer.from_file(policy_path(cfg))
        Core.validate(cfg)
    except ValueError as exc:
        raise config_mod.ConfigError(str(exc)) from None
    db = Database.from_config(cfg)
    if create_schema and db.backend == "sqlite":
        # The embedded database is created on first start; shared databases
        # are migrated by the operator with neutrino-db-manage.
        migrate.upgrade(db)
    return Core.build(cfg, db, policy, notifier)


def build_auth(cfg, db: Database | None = None) -> Authenticator:
    """noauth, or keystone: the embedded identity ([identity] embedded, the
    default; bootstrapped on first start and served under /identity) or a
    real Keystone ([keystone_authtoken]). `db`: the core's database (else
    one is opened for the embedded identity)."""
    if cfg.DEFAULT.auth_strategy == "noauth":
        return NoAuth(cfg.DEFAULT.default_project_id)
    from neutrino.identity.wiring import build_keystone_auth
    try:
        return build_keystone_auth(cfg, db)
    except ValueError as exc:
        raise config_mod.ConfigError(str(exc)) from None


def build_server_core(files, overrides=None):
    cfg = load_server_config(files, overrides)
    core = build_core(cfg)
    # With a broker, every API worker publishes notifications and serves the
    # agents' requests (competing consumers). inproc: see `neutrino aio`.
    from neutrino.rpc.server_handlers import attach_bus_from_config
    attach_bus_from_config(core, cfg)
    return core, build_auth(cfg, core.db)
