"""First-start bootstrap of the embedded identity, as `keystone-manage
bootstrap`: the Default domain; roles admin, manager, member, reader and
service with Keystone's default implications (admin ⊃ manager ⊃ member ⊃
reader); the admin project and user with the admin role on it. Idempotent:
what exists is left as it is (a restart never resets the admin password).

The admin password comes from [identity] admin_password or, when that is
empty, is generated and written once to <state_path>/identity/admin-password
(mode 0600). The log names the file, never the password.
"""
from __future__ import annotations

import logging
import os
import secrets

from neutrino.identity.store import (DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME, Conflict,
                                     IdentityStore, NotFound)

LOG = logging.getLogger(__name__)

DEFAULT_ROLES = ("admin", "manager", "member", "reader", "service")
DEFAULT_IMPLIED = (("admin", "manager"), ("manager", "member"), ("member", "reader"))


def identity_dir(cfg) -> str:
    return os.path.join(cfg.DEFAULT.state_path, "identity")


def admin_password_file(cfg) -> str:
    return os.path.join(identity_dir(cfg), "admin-password")


def token_key_file(cfg) -> str:
    return cfg.identity.token_key_file or os.path.join(identity_dir(cfg), "token_keys")


def read_admin_password(cfg) -> str | None:
    """The configured or generated admin password, if this host knows it."""
    if cfg.identity.admin_password:
        return cfg.identity.admin_password
    try:
        with open(admin_password_file(cfg), encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def _write_secret(path: str, value: str) -> bool:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return True


def bootstrap(cfg, store: IdentityStore) -> None:
    ident = cfg.identity
    store.ensure_domain(DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME)
    for role in DEFAULT_ROLES:
        store.ensure_role(role)
    if not store.implied_roles():
        for prior, implied in DEFAULT_IMPLIED:
            store.imply_role(prior, implied)
    try:
        store.find("project", ident.admin_project)
    except NotFound:
        try:
            store.create_project(ident.admin_project, description="Bootstrap project")
        except Conflict:
            pass  # another worker was first
    try:
        store.find("user", ident.admin_user)
        return
    except NotFound:
        pass
    password = ident.admin_password
    generated = not password
    if generated:
        existing = read_admin_password(cfg)
        password = existing or secrets.token_urlsafe(18)
    try:
        store.create_user(ident.admin_user, password, default_project=ident.admin_project,
                          description="Bootstrap admin")
    except Conflict:
        return
    store.assign(ident.admin_user, "admin", project=ident.admin_project)
    if generated and _write_secret(admin_password_file(cfg), password):
        LOG.warning("embedded identity: created user %r (admin of project %r); its generated "
                    "password is in %s", ident.admin_user, ident.admin_project,
                    admin_password_file(cfg))
    else:
        LOG.info("embedded identity: created user %r (admin of project %r)",
                 ident.admin_user, ident.admin_project)
