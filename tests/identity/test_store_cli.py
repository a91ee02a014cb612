"""Bootstrap, the identity store, the `neutrino identity` / `neutrino openrc`
commands, and the configuration errors and 503 of the keystone strategy."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from neutrino.cli import identity as cli
from neutrino.config import ConfigError
from neutrino.db import migrate
from neutrino.db.engine import Database
from neutrino.identity.bootstrap import admin_password_file, bootstrap
from neutrino.identity.store import Conflict, IdentityError, IdentityStore, NotFound, Scope
from neutrino.service import build_auth, load_server_config


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "neutron.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = keystone\n"
                    f"bind_host = 0.0.0.0\nbind_port = 9797\n")
    return str(path)


@pytest.fixture
def store(conf):
    cfg = load_server_config([conf])
    db = Database.from_config(cfg)
    migrate.upgrade(db)
    s = IdentityStore(db)
    bootstrap(cfg, s)
    yield cfg, s
    db.dispose()


def test_bootstrap_is_idempotent_and_keeps_the_password_secret(store, caplog):
    cfg, s = store
    path = admin_password_file(cfg)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    password = open(path).read().strip()
    assert len(password) >= 16
    admin = s.find("user", "admin")
    assert password not in admin["password_hash"]
    bootstrap(cfg, s)                                      # again: nothing changes
    assert open(path).read().strip() == password
    assert s.find("user", "admin")["password_hash"] == admin["password_hash"]
    assert password not in caplog.text
    roles = {r["name"] for r in s.list("role")}
    assert {"admin", "member", "reader"} <= roles
    project = s.find("project", "admin")["id"]
    names = s.db.read(lambda c: s.role_names(c, admin["id"], Scope("project", project)))
    assert {"admin", "manager", "member", "reader"} <= set(names)


def test_store_names_conflicts_and_cycles(store):
    _, s = store
    s.create_project("p1")
    with pytest.raises(Conflict):
        s.create_project("p1")
    with pytest.raises(NotFound):
        s.find("user", "nobody")
    with pytest.raises(IdentityError, match="cycles"):
        s.imply_role("reader", "admin")
    s.create_user("u1", "pw", default_project="p1")
    s.assign("u1", "member", project="p1")
    with pytest.raises(IdentityError):
        s.assign("u1", "member")                            # neither project nor domain
    s.unassign("u1", "member", project="p1")
    with pytest.raises(NotFound):
        s.unassign("u1", "member", project="p1")
    events = s.revocations_since(0)
    assert events and events[-1]["user_id"] == s.find("user", "u1")["id"]


def run_cli(conf, *args):
    return cli.main(["--config-file", conf, *args])


def test_identity_cli_and_openrc(conf, capsys):
    assert run_cli(conf, "identity", "project", "create", "demo") == 0
    assert run_cli(conf, "identity", "user", "create", "alice", "--project", "demo") == 0
    out = capsys.readouterr().out
    assert "alice" in out and "password: " in out         # generated, shown once
    assert run_cli(conf, "identity", "role", "add", "--user", "alice", "--project", "demo",
                   "member") == 0
    assert run_cli(conf, "identity", "role", "assignments", "--user", "alice") == 0
    assert "member" in capsys.readouterr().out
    assert run_cli(conf, "identity", "user", "create", "alice", "--password", "x") == 1
    assert "Conflict" in capsys.readouterr().err
    assert run_cli(conf, "openrc", "alice", "demo", "--password", "it's") == 0
    lines = capsys.readouterr().out.splitlines()
    assert "export OS_AUTH_URL=http://127.0.0.1:9797/identity/v3" in lines
    assert "export OS_PASSWORD='it'\"'\"'s'" in lines
    assert "export OS_IDENTITY_API_VERSION=3" in lines
    assert run_cli(conf, "openrc", "alice", "demo") == 0    # no password: asks when sourced
    assert "read -sr OS_PASSWORD_INPUT" in capsys.readouterr().out
    assert run_cli(conf, "openrc", "admin", "admin") == 0   # bootstrap admin: known
    cfg = load_server_config([conf])
    assert f"export OS_PASSWORD={open(admin_password_file(cfg)).read().strip()}" in \
        capsys.readouterr().out.splitlines()
    assert run_cli(conf, "openrc", "nobody", "demo") == 1
    assert run_cli(conf, "identity", "user", "delete", "alice") == 0


def test_openrc_sources_in_bash(conf):
    run_cli(conf, "identity", "bootstrap")
    script = ('source <("$0" -m neutrino.cli.identity --config-file "$1" openrc admin admin)'
              ' && echo "$OS_USERNAME/$OS_PROJECT_NAME"')
    rc = subprocess.run(["bash", "-c", script, sys.executable, conf],
                        capture_output=True, text=True, timeout=60)
    assert rc.stdout.strip() == "admin/admin", rc.stderr


def test_keystone_strategy_config_errors(tmp_path):
    base = {"DEFAULT": {"auth_strategy": "keystone", "state_path": str(tmp_path)},
            "identity": {"embedded": "false"}}
    with pytest.raises(ConfigError, match="auth_url"):
        build_auth(load_server_config([], base))
    with pytest.raises(ConfigError, match="password"):
        build_auth(load_server_config([], {**base, "keystone_authtoken": {
            "auth_url": "http://127.0.0.1:1/v3"}}))
    with pytest.raises(ConfigError, match="unknown option"):
        load_server_config([], {**base, "keystone_authtoken": {"no_such_option": "1"}})
    cfg = load_server_config([], {**base, "keystone_authtoken": {
        "auth_url": "http://127.0.0.1:1", "username": "neutron", "password": "x",
        "memcached_servers": "127.0.0.1:11211", "auth_type": "password"}})
    assert build_auth(cfg).validator.base == "http://127.0.0.1:1/v3"


def test_keystone_unreachable_503(tmp_path):
    import socket

    from starlette.testclient import TestClient

    from neutrino.api.app import build_app
    from neutrino.service import build_server_core
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                          # closed once we leave
    core, auth = build_server_core([], {
        "DEFAULT": {"auth_strategy": "keystone", "state_path": str(tmp_path)},
        "identity": {"embedded": "false"},
        "keystone_authtoken": {"auth_url": f"http://127.0.0.1:{port}/v3",
                               "www_authenticate_uri": "http://keystone.example/v3",
                               "username": "neutron", "password": "secret-pw",
                               "project_name": "service", "http_request_max_retries": "0"}})
    client = TestClient(build_app(core, auth))
    resp = client.get("/v2.0/networks", headers={"X-Auth-Token": "tok"})
    assert resp.status_code == 503 and "secret-pw" not in resp.text
    resp = client.get("/v2.0/networks")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Keystone uri="http://keystone.example/v3"'
    core.db.dispose()
