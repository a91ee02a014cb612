"""`neutrino identity ...` (users, projects, roles of the embedded identity)
and `neutrino openrc USER PROJECT`.

    neutrino [--config-file F]... identity project create|list|delete|set ...
    neutrino identity user create NAME [--project P] [--password P | --password-prompt]
    neutrino identity user list|delete|set NAME [--password ...] [--enable|--disable]
    neutrino identity role create|list|delete NAME | imply PRIOR IMPLIED
    neutrino identity role add|remove --user U (--project P | --domain D) ROLE
    neutrino identity role assignment list [--user U] [--project P]
    neutrino identity bootstrap
    neutrino openrc USER PROJECT [--password P] [--auth-url URL]

They work on the database of the server's config files (--config-file, else
$NEUTRINO_CONFIG_FILES, else /etc/neutrino/neutron.conf), server running or
not (the first use bootstraps it, as the server's first start does). Hook
into the `neutrino` command with `register(subparsers)` (args.func(args)
returns the exit status); `python -m neutrino.cli.identity ...` runs them
alone.
"""
from __future__ import annotations

import argparse
import getpass
import os
import secrets
import shlex
import sys

from neutrino.config import ConfigError

PASSWORD_ENV = "NEUTRINO_OPENRC_PASSWORD"


DEFAULT_CONFIG = "/etc/neutrino/neutron.conf"


def _files(args) -> list[str]:
    """--config-file (the `neutrino` command's or the subcommand's), else
    $NEUTRINO_CONFIG_FILES (os.pathsep-separated), else /etc/neutrino/neutron.conf
    if it exists."""
    files = list(getattr(args, "config_file", None) or []) + list(args.sub_config_file or [])
    if not files:
        files = [f for f in os.environ.get("NEUTRINO_CONFIG_FILES", "").split(os.pathsep) if f]
    if not files and os.path.exists(DEFAULT_CONFIG):
        files = [DEFAULT_CONFIG]
    return files


def _cfg(args):
    from neutrino.service import load_server_config
    return load_server_config(_files(args))


def _store(args):
    from neutrino.db import migrate
    from neutrino.db.engine import Database
    from neutrino.identity.bootstrap import bootstrap
    from neutrino.identity.store import IdentityStore
    cfg = _cfg(args)
    db = Database.from_config(cfg)
    if db.backend == "sqlite":
        migrate.upgrade(db)
    store = IdentityStore(db)
    bootstrap(cfg, store)
    return cfg, store


def _table(rows: list[dict], cols: tuple[str, ...]) -> None:
    widths = [max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in cols]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(line)
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    print(line)
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "")).ljust(w) for c, w in zip(cols, widths)) + " |")
    print(line)


def _password(args, required: bool) -> tuple[str | None, bool]:
    """(password, generated)."""
    if getattr(args, "password", None):
        return args.password, False
    if getattr(args, "password_prompt", False):
        first = getpass.getpass("User Password: ")
        if first != getpass.getpass("Repeat User Password: "):
            raise SystemExit("neutrino identity: passwords do not match")
        return first, False
    if required:
        return secrets.token_urlsafe(18), True
    return None, False


# --- commands ----------------------------------------------------------------------

def cmd_project(args) -> int:
    cfg, store = _store(args)
    if args.action == "create":
        p = store.create_project(args.name, domain=args.domain, description=args.description)
        _table([p], ("id", "name", "domain_id", "enabled"))
    elif args.action == "list":
        _table(store.list("project"), ("id", "name", "domain_id", "enabled"))
    elif args.action == "delete":
        store.delete_project(args.name, domain=args.domain)
    elif args.action == "set":
        if args.enable or args.disable:
            store.set_project_enabled(args.name, bool(args.enable), domain=args.domain)
    return 0


def cmd_user(args) -> int:
    cfg, store = _store(args)
    if args.action == "create":
        password, generated = _password(args, required=True)
        u = store.create_user(args.name, password, domain=args.domain,
                              default_project=args.project, email=args.email or "")
        _table([u], ("id", "name", "domain_id", "default_project_id", "enabled"))
        if generated:
            print(f"password: {password}")
    elif args.action == "list":
        _table(store.list("user"), ("id", "name", "domain_id", "default_project_id", "enabled"))
    elif args.action == "delete":
        store.delete_user(args.name, domain=args.domain)
    elif args.action == "set":
        password, _ = _password(args, required=False)
        if password:
            store.set_password(args.name, password, domain=args.domain)
        if args.enable or args.disable:
            store.set_user_enabled(args.name, bool(args.enable), domain=args.domain)
    return 0


def cmd_role(args) -> int:
    cfg, store = _store(args)
    action = args.action
    if action == "create":
        _table([store.create_role(args.name)], ("id", "name"))
    elif action == "list":
        _table(store.list("role"), ("id", "name"))
    elif action == "delete":
        store.delete_role(args.name)
    elif action == "imply":
        store.imply_role(args.name, args.implied)
    elif action in ("add", "remove"):
        fn = store.assign if action == "add" else store.unassign
        fn(args.user, args.name, project=args.project, domain=args.domain,
           user_domain=args.user_domain)
    elif action == "assignments":
        rows = store.assignments(user=args.user, project=args.project)
        projects = {p["id"]: p["name"] for p in store.list("project")}
        domains = {d["id"]: d["name"] for d in store.list("domain")}
        for r in rows:
            r["target"] = (projects if r["target_type"] == "project" else domains).get(
                r["target_id"], r["target_id"])
        _table(rows, ("user_name", "role_name", "target_type", "target"))
    return 0


def cmd_bootstrap(args) -> int:
    from neutrino.identity.bootstrap import admin_password_file
    cfg, store = _store(args)
    print(f"bootstrapped: user {cfg.identity.admin_user!r}, project "
          f"{cfg.identity.admin_project!r}")
    if not cfg.identity.admin_password:
        print(f"admin password file: {admin_password_file(cfg)}")
    return 0


def auth_url(cfg) -> str:
    """OS_AUTH_URL for this server's configuration."""
    ident, ka, d = cfg.identity, cfg.keystone_authtoken, cfg.DEFAULT
    if cfg.DEFAULT.auth_strategy == "keystone" and not ident.embedded:
        url = (ka.www_authenticate_uri or ka.auth_uri or ka.auth_url).rstrip("/")
        return url if url.endswith("/v3") else url + "/v3"
    if ident.public_endpoint:
        return ident.public_endpoint.rstrip("/") + "/identity/v3"
    host = d.bind_host if d.bind_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{d.bind_port}/identity/v3"


def openrc_lines(cfg, user: str, project: str, password: str | None,
                 url: str | None = None, user_domain: str = "Default",
                 project_domain: str = "Default") -> list[str]:
    q = shlex.quote
    lines = ["# neutrino openrc: `source` this, then `openstack network list`.",
             "unset OS_TOKEN OS_CLOUD OS_PROJECT_ID OS_TENANT_ID OS_TENANT_NAME OS_USER_ID "
             "OS_SYSTEM_SCOPE OS_DOMAIN_NAME OS_DOMAIN_ID",
             f"export OS_AUTH_URL={q(url or auth_url(cfg))}",
             "export OS_AUTH_TYPE=password",
             f"export OS_USERNAME={q(user)}",
             f"export OS_PROJECT_NAME={q(project)}",
             f"export OS_USER_DOMAIN_NAME={q(user_domain)}",
             f"export OS_PROJECT_DOMAIN_NAME={q(project_domain)}"]
    if password:
        lines.append(f"export OS_PASSWORD={q(password)}")
    else:  # as the dashboard's openrc: ask when sourced
        lines += ['echo "Please enter your OpenStack Password for project $OS_PROJECT_NAME '
                  'as user $OS_USERNAME: "',
                  "read -sr OS_PASSWORD_INPUT",
                  'export OS_PASSWORD=$OS_PASSWORD_INPUT',
                  "unset OS_PASSWORD_INPUT"]
    lines += [f"export OS_REGION_NAME={q(cfg.identity.region_name)}",
              "export OS_INTERFACE=public",
              "export OS_IDENTITY_API_VERSION=3"]
    return lines


def cmd_openrc(args) -> int:
    from neutrino.identity.bootstrap import read_admin_password
    cfg = _cfg(args)
    password = args.password or os.environ.get(PASSWORD_ENV)
    local = cfg.identity.embedded and cfg.DEFAULT.auth_strategy == "keystone"
    if local:
        from neutrino.identity.store import NotFound
        _, store = _store(args)
        try:
            store.find("user", args.user, args.user_domain)
            store.find("project", args.project, args.project_domain)
        except NotFound as exc:
            print(f"neutrino openrc: {exc}", file=sys.stderr)
            return 1
        if not password and args.user == cfg.identity.admin_user:
            password = read_admin_password(cfg)
    print("\n".join(openrc_lines(cfg, args.user, args.project, password, args.auth_url,
                                 args.user_domain, args.project_domain)))
    return 0


# --- parsers ------------------------------------------------------------------------

def _guarded(cmd):
    """The command with its errors turned into a message and an exit status,
    whoever calls args.func (this module's main or the `neutrino` command)."""
    def run(args) -> int:
        from neutrino.identity.store import IdentityError
        try:
            return cmd(args)
        except ConfigError as exc:
            print(f"neutrino: configuration error: {exc}", file=sys.stderr)
            return 2
        except IdentityError as exc:
            print(f"neutrino: {exc}", file=sys.stderr)
            return 1
    run.__name__ = cmd.__name__
    return run


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-file", dest="sub_config_file", action="append",
                        metavar="PATH", help="server config file (repeatable)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `identity` and `openrc` to the `neutrino` command's subparsers."""
    ident = sub.add_parser("identity", help="users, projects and roles of the embedded identity")
    isub = ident.add_subparsers(dest="identity_kind", required=True)

    proj = isub.add_parser("project", help="projects")
    psub = proj.add_subparsers(dest="action", required=True)
    for action in ("create", "list", "delete", "set"):
        p = psub.add_parser(action)
        _config_arg(p)
        if action != "list":
            p.add_argument("name")
        p.add_argument("--domain", default=None)
        if action == "create":
            p.add_argument("--description", default="")
        if action == "set":
            g = p.add_mutually_exclusive_group()
            g.add_argument("--enable", action="store_true")
            g.add_argument("--disable", action="store_true")
        p.set_defaults(func=_guarded(cmd_project))

    user = isub.add_parser("user", help="users")
    usub = user.add_subparsers(dest="action", required=True)
    for action in ("create", "list", "delete", "set"):
        p = usub.add_parser(action)
        _config_arg(p)
        if action != "list":
            p.add_argument("name")
        p.add_argument("--domain", default=None)
        if action in ("create", "set"):
            g = p.add_mutually_exclusive_group()
            g.add_argument("--password", help="visible in `ps`; prefer --password-prompt")
            g.add_argument("--password-prompt", action="store_true")
        if action == "create":
            p.add_argument("--project", help="default project")
            p.add_argument("--email")
        if action == "set":
            g = p.add_mutually_exclusive_group()
            g.add_argument("--enable", action="store_true")
            g.add_argument("--disable", action="store_true")
        p.set_defaults(func=_guarded(cmd_user))

    role = isub.add_parser("role", help="roles and role assignments")
    rsub = role.add_subparsers(dest="action", required=True)
    for action in ("create", "list", "delete", "imply", "add", "remove", "assignments"):
        p = rsub.add_parser(action, help={"assignments": "list role assignments",
                                          "imply": "PRIOR implies IMPLIED"}.get(action))
        _config_arg(p)
        if action not in ("list", "assignments"):
            p.add_argument("name", metavar="ROLE" if action in ("add", "remove") else "NAME")
        if action == "imply":
            p.add_argument("implied")
        if action in ("add", "remove", "assignments"):
            p.add_argument("--user", required=action != "assignments")
            p.add_argument("--user-domain", default=None)
            p.add_argument("--project")
        if action in ("add", "remove"):
            p.add_argument("--domain")
        p.set_defaults(func=_guarded(cmd_role))

    boot = isub.add_parser("bootstrap", help="create the admin project/user and default roles")
    _config_arg(boot)
    boot.set_defaults(func=_guarded(cmd_bootstrap))

    rc = sub.add_parser("openrc", help="print export lines for the openstack CLI")
    _config_arg(rc)
    rc.add_argument("user")
    rc.add_argument("project")
    rc.add_argument("--password", help=f"(else ${PASSWORD_ENV}; the bootstrap admin's is "
                                       "known; otherwise the file asks when sourced)")
    rc.add_argument("--auth-url", help="OS_AUTH_URL (default: from the config)")
    rc.add_argument("--user-domain", default="Default")
    rc.add_argument("--project-domain", default="Default")
    rc.set_defaults(func=_guarded(cmd_openrc))


add_parser = register  # the convention of the other neutrino/cli modules


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="neutrino")
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
