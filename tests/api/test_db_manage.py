"""`neutrino-db-manage --config-file F upgrade head`: the operator's way to
create the schema on a shared database (the server only auto-creates its
embedded SQLite), on a brand-new database of each backend; then a
`neutrino-server` started on it works."""
from __future__ import annotations

import os
import subprocess
import tempfile

import httpx
import pytest
from sqlalchemy import create_engine, inspect

from tests.api.conftest import BIN, start_server, write_conf


def db_manage(conf: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "neutrino-db-manage"), "--config-file", conf, *args],
                          capture_output=True, text=True, timeout=300)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from neutrino.db import migrate
    from neutrino.db.engine import Database
    cfg = migrate.alembic_config(Database("sqlite://"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_upgrade_head_on_a_new_database(backend, databases):
    url = databases.create(backend)  # empty, random name, dropped at session end
    tmp = tempfile.mkdtemp(prefix="dbmanage-", dir=databases.tmp)
    conf = os.path.join(tmp, "neutron.conf")
    write_conf(conf, {"DEFAULT": {"state_path": tmp}, "database": {"connection": url}})
    proc = db_manage(conf, "current")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "empty"
    proc = db_manage(conf, "upgrade", "head")
    assert proc.returncode == 0, proc.stderr
    head = head_revision()
    assert proc.stdout.strip() == f"schema at {head}"
    assert db_manage(conf, "current").stdout.strip() == head
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"networks", "subnets", "ports", "ip_allocations", "network_segments",
            "security_groups", "quotas", "agents", "alembic_version"} <= tables
    # A server on it works.
    server = start_server(tmp, {"DEFAULT": {"api_workers": "1"},
                                "database": {"connection": url}})
    try:
        resp = httpx.post(server.url + "/v2.0/networks", json={"network": {"name": "x"}},
                          timeout=30)
        assert resp.status_code == 201, resp.text
    finally:
        server.stop()


def test_config_error_exit_2(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[database]\nconnexion = sqlite://\n")
    proc = db_manage(str(conf), "current")
    assert proc.returncode == 2
    assert "configuration error" in proc.stderr and "connexion" in proc.stderr


@pytest.mark.parametrize("args", [[], ["downgrade"]])
def test_usage_errors(tmp_path, args):
    conf = tmp_path / "n.conf"
    conf.write_text("[DEFAULT]\n")
    proc = db_manage(str(conf), *args)
    assert proc.returncode == 2 and "usage" in proc.stderr
