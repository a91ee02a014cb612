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
    db = Database.from_config(cfg)
    if create_schema and db.backend == "sqlite":
        # The embedded database is created on first start; shared databases
        # are migrated by the operator with neutrino-db-manage.
        migrate.upgrade(db)
    try:
        policy = Enforcer.from_file(policy_path(cfg))
    except ValueError as exc:
        raise config_mod.ConfigError(str(exc)) from None
    try:
        return Core.build(cfg, db, policy, notifier)
    except ValueError as exc:
        raise config_mod.ConfigError(str(exc)) from None


def build_auth(cfg) -> Authenticator:
    if cfg.DEFAULT.auth_strategy == "noauth":
        return NoAuth(cfg.DEFAULT.default_project_id)
    raise config_mod.ConfigError("[DEFAULT] auth_strategy = keystone is not available yet")


def build_server_core(files, overrides=None):
    cfg = load_server_config(files, overrides)
    return build_core(cfg), build_auth(cfg)
