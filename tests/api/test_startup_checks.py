"""What `neutrino-server` and `neutrino-db-manage` do at start-up with an
operator's configuration (issue 12):

- a shared database whose schema is missing, older than the code or unknown
  to it: the server refuses to start (exit 1) and names the
  `neutrino-db-manage --config-file … upgrade head` to run;
- upstream's URL spellings (`postgresql+psycopg2://`, `mysql+mysqldb://`)
  work through the shipped drivers; an unusable URL is a configuration
  error (exit 2), never a traceback;
- `[keystone_authtoken] auth_url` means "validate with that Keystone"
  unless `[identity] embedded = true` is set explicitly. The Keystone here
  is a stub on 127.0.0.1 that plays /v3/auth/tokens: what is under test is
  neutrino's choice and the requests it sends (tests/identity has the real
  Keystone tier).
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import create_engine

from tests.api.conftest import BIN, free_port, merge, start_server, write_conf


def run(cmd: str, conf_files: list[str], *args: str, timeout: float = 120):
    argv = [str(BIN / cmd)]
    for f in conf_files:
        argv += ["--config-file", f]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout)


def server_conf(tmp: str, sections: dict) -> str:
    conf = os.path.join(tmp, "neutron.conf")
    write_conf(conf, merge({"DEFAULT": {"bind_host": "127.0.0.1",
                                        "bind_port": str(free_port()),
                                        "state_path": tmp, "api_workers": "1"}}, sections))
    return conf


def head_and_previous() -> tuple[str, str]:
    from neutrino.db import migrate
    script = migrate._scripts()
    head = script.get_current_head()
    return head, script.get_revision(head).down_revision


# --- the schema check ---------------------------------------------------------------

@pytest.mark.parametrize("backend_name", ["postgresql", "mariadb"])
def test_server_refuses_a_schema_that_is_not_the_codes(databases, backend_name):
    url = databases.create(backend_name)
    tmp = tempfile.mkdtemp(prefix="startup-", dir=databases.tmp)
    conf = server_conf(tmp, {"database": {"connection": url}})
    fix = f"neutrino-db-manage --config-file {conf} upgrade head"

    proc = run("neutrino-server", [conf], timeout=90)      # empty database
    assert proc.returncode == 1, proc.stderr
    assert "cannot start: the database has no schema (empty)" in proc.stderr
    assert fix in proc.stderr and "Traceback" not in proc.stderr

    head, previous = head_and_previous()
    assert run("neutrino-db-manage", [conf], "upgrade", previous).returncode == 0
    proc = run("neutrino-server", [conf], timeout=90)      # one migration behind
    assert proc.returncode == 1, proc.stderr
    assert (f"the database schema is at revision {previous}, older than this code's {head}"
            in proc.stderr)
    assert fix in proc.stderr

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999zz'")
    finally:
        engine.dispose()
    proc = run("neutrino-server", [conf], timeout=90)      # a revision from the future
    assert proc.returncode == 1, proc.stderr
    assert "at revision 9999zz, which this code does not know" in proc.stderr


def test_server_names_every_config_file_in_the_fix(databases):
    url = databases.create("postgresql")
    tmp = tempfile.mkdtemp(prefix="startup-", dir=databases.tmp)
    conf = server_conf(tmp, {"database": {"connection": url}})
    ml2 = os.path.join(tmp, "ml2_conf.ini")
    write_conf(ml2, {"ml2": {"mechanism_drivers": "linuxbridge"}})
    proc = run("neutrino-server", [conf, ml2], timeout=90)
    assert proc.returncode == 1
    assert (f"neutrino-db-manage --config-file {conf} --config-file {ml2} upgrade head"
            in proc.stderr)


def test_sqlite_server_still_migrates_itself(databases):
    """The all-in-one's embedded database needs no neutrino-db-manage."""
    tmp = tempfile.mkdtemp(prefix="startup-", dir=databases.tmp)
    server = start_server(tmp, {})
    try:
        resp = httpx.post(server.url + "/v2.0/networks", json={"network": {"name": "n"}},
                          timeout=30)
        assert resp.status_code == 201, resp.text
    finally:
        server.stop()


# --- [database] connection spellings ------------------------------------------------

def test_postgresql_psycopg2_url_works(databases):
    url = databases.create("postgresql").replace("postgresql+psycopg://",
                                                 "postgresql+psycopg2://")
    assert url.startswith("postgresql+psycopg2://")
    tmp = tempfile.mkdtemp(prefix="startup-", dir=databases.tmp)
    conf = server_conf(tmp, {"database": {"connection": url}})
    proc = run("neutrino-db-manage", [conf], "upgrade", "head")
    assert proc.returncode == 0, proc.stderr
    assert "driver postgresql+psycopg2 is not installed; using postgresql+psycopg://" \
        in proc.stderr
    server = start_server(tmp, {"database": {"connection": url}})
    try:
        resp = httpx.post(server.url + "/v2.0/networks", json={"network": {"name": "pg2"}},
                          timeout=30)
        assert resp.status_code == 201, resp.text
        assert "using postgresql+psycopg://" in open(server.log).read()
    finally:
        server.stop()


def test_mysql_mysqldb_url_is_mapped(databases):
    url = databases.create("mariadb").replace("mysql+pymysql://", "mysql+mysqldb://")
    tmp = tempfile.mkdtemp(prefix="startup-", dir=databases.tmp)
    conf = server_conf(tmp, {"database": {"connection": url}})
    proc = run("neutrino-db-manage", [conf], "current")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "empty"
    assert "using mysql+pymysql://" in proc.stderr


@pytest.mark.parametrize("url,message", [
    ("oracle://neutron:pw@db/neutron", "oracle:// is not supported"),
    ("postgresql+nosuchdriver://u@127.0.0.1/x", None),   # mapped, then unreachable
    ("this is no url", "is not a database URL"),
])
def test_unusable_urls_are_clear_errors(databases, url, message):
    tmp = tempfile.mkdtemp(prefix="startup-", dir=databases.tmp)
    conf = server_conf(tmp, {"database": {"connection": url}})
    for cmd, args in (("neutrino-db-manage", ["current"]), ("neutrino-server", [])):
        proc = run(cmd, [conf], *args, timeout=90)
        assert "Traceback" not in proc.stderr, proc.stderr
        if message is None:
            continue
        assert proc.returncode == 2, (cmd, proc.stderr)
        assert f"{cmd}: configuration error: [database] connection" in proc.stderr
        assert message in proc.stderr
        assert "pw" not in proc.stderr


def test_db_manage_on_an_unreachable_database(databases):
    tmp = tempfile.mkdtemp(prefix="startup-", dir=databases.tmp)
    conf = server_conf(tmp, {"database": {
        "connection": "postgresql+psycopg2://postgres@127.0.0.1:1/nothing"}})
    proc = run("neutrino-db-manage", [conf], "upgrade", "head")
    assert proc.returncode == 1
    assert "neutrino-db-manage: database error:" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- which identity validates tokens ------------------------------------------------

class StubKeystone:
    """Keystone's token API as keystonemiddleware uses it: the service logs
    in (POST /v3/auth/tokens) and validates user tokens
    (GET /v3/auth/tokens, X-Subject-Token). Records every request."""

    SERVICE_TOKEN = "stub-service-token"
    USER_TOKEN = "stub-user-token"
    PROJECT = "0123456789abcdef0123456789abcdef"

    def __init__(self):
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body, headers=()):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.requests.append({"method": "POST", "path": self.path, "body": body})
                if self.path.startswith("/v3/auth/tokens"):
                    self._reply(201, {"token": stub.token_body("neutron-svc", ["service"])},
                                [("X-Subject-Token", stub.SERVICE_TOKEN)])
                else:
                    self._reply(404, {})

            def do_GET(self):
                stub.requests.append({"method": "GET", "path": self.path,
                                      "headers": dict(self.headers)})
                if not self.path.startswith("/v3/auth/tokens"):
                    return self._reply(404, {})
                if self.headers.get("X-Auth-Token") != stub.SERVICE_TOKEN:
                    return self._reply(401, {})
                if self.headers.get("X-Subject-Token") != stub.USER_TOKEN:
                    return self._reply(404, {})
                self._reply(200, {"token": stub.token_body("alice-id", ["member", "reader"])})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token_body(self, user: str, roles: list[str]) -> dict:
        now = datetime.now(timezone.utc)
        return {"expires_at": (now + timedelta(hours=1)).isoformat(),
                "issued_at": now.isoformat(), "audit_ids": ["a1"],
                "user": {"id": user, "name": user, "domain": {"id": "default"}},
                "project": {"id": self.PROJECT, "name": "alpha", "domain": {"id": "default"}},
                "roles": [{"id": r, "name": r} for r in roles], "methods": ["password"]}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_keystone():
    ks = StubKeystone()
    yield ks
    ks.stop()


def keystone_server(databases, authtoken: dict, identity: dict | None = None):
    tmp = tempfile.mkdtemp(prefix="startup-ks-", dir=databases.tmp)
    sections = {"DEFAULT": {"auth_strategy": "keystone"}, "keystone_authtoken": authtoken}
    if identity:
        sections["identity"] = identity
    return start_server(tmp, sections)


# An operator's section: upstream's usual options, and those of issue 12 that
# used to stop the server (timeout, domains, collect_timing, legacy names...).
OPERATOR_AUTHTOKEN = {
    "auth_type": "password", "project_domain_name": "Default",
    "user_domain_name": "Default", "project_name": "service", "username": "neutron",
    "password": "neutron-pw", "memcached_servers": "127.0.0.1:11211", "timeout": "5",
    "default_domain_name": "Default", "collect_timing": "false", "split_loggers": "false",
    "admin_user": "neutron", "admin_password": "x", "admin_tenant_name": "service",
    "auth_host": "127.0.0.1", "auth_port": "35357", "auth_protocol": "http",
    "identity_uri": "http://127.0.0.1:35357/", "region_name": "RegionOne",
}


def test_auth_url_means_validation_by_that_keystone(databases, stub_keystone):
    ks = stub_keystone
    server = keystone_server(databases, dict(OPERATOR_AUTHTOKEN, auth_url=ks.url,
                                             www_authenticate_uri=ks.url))
    try:
        resp = httpx.get(server.url + "/v2.0/networks",
                         headers={"X-Auth-Token": StubKeystone.USER_TOKEN}, timeout=30)
        assert resp.status_code == 200, resp.text
        resp = httpx.post(server.url + "/v2.0/networks", json={"network": {"name": "ks"}},
                          headers={"X-Auth-Token": StubKeystone.USER_TOKEN}, timeout=30)
        assert resp.status_code == 201, resp.text
        assert resp.json()["network"]["project_id"] == StubKeystone.PROJECT
        resp = httpx.get(server.url + "/v2.0/networks",
                         headers={"X-Auth-Token": "not-a-keystone-token"}, timeout=30)
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{ks.url}"'
        # no embedded identity on this server
        assert httpx.get(server.url + "/identity/v3", timeout=10).status_code in (401, 404)
        log = open(server.log).read()
        assert f"tokens are validated by the Keystone at {ks.url}" in log
        assert "[keystone_authtoken] admin_user" in log      # accepted, reported unused
    finally:
        server.stop()
    logins = [r for r in ks.requests if r["method"] == "POST"]
    assert logins and logins[0]["body"]["auth"]["identity"]["password"]["user"] == {
        "name": "neutron", "domain": {"name": "Default"}, "password": "neutron-pw"}
    assert logins[0]["body"]["auth"]["scope"] == {
        "project": {"name": "service", "domain": {"name": "Default"}}}
    checks = [r for r in ks.requests if r["method"] == "GET"]
    assert {r["headers"].get("X-Subject-Token") for r in checks} >= {
        StubKeystone.USER_TOKEN, "not-a-keystone-token"}


def test_application_credentials_authenticate_the_service(databases, stub_keystone):
    ks = stub_keystone
    server = keystone_server(databases, {
        "auth_url": ks.url + "/v3", "auth_type": "v3applicationcredential",
        "application_credential_id": "ac-123", "application_credential_secret": "s3cret"})
    try:
        resp = httpx.get(server.url + "/v2.0/networks",
                         headers={"X-Auth-Token": StubKeystone.USER_TOKEN}, timeout=30)
        assert resp.status_code == 200, resp.text
    finally:
        server.stop()
    login = next(r for r in ks.requests if r["method"] == "POST")
    assert login["body"] == {"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": "ac-123", "secret": "s3cret"}}}}


def test_explicit_embedded_identity_wins_over_auth_url(databases, stub_keystone):
    ks = stub_keystone
    server = keystone_server(databases, dict(OPERATOR_AUTHTOKEN, auth_url=ks.url),
                             {"embedded": "true"})
    try:
        resp = httpx.get(server.url + "/v2.0/networks",
                         headers={"X-Auth-Token": StubKeystone.USER_TOKEN}, timeout=30)
        assert resp.status_code == 401
        assert httpx.get(server.url + "/identity/v3", timeout=10).status_code == 200
        assert "validated by the embedded identity" in open(server.log).read()
    finally:
        server.stop()
    assert ks.requests == []


def test_keystone_without_credentials_does_not_start(databases, stub_keystone):
    tmp = tempfile.mkdtemp(prefix="startup-ks-", dir=databases.tmp)
    conf = server_conf(tmp, {"DEFAULT": {"auth_strategy": "keystone"},
                             "keystone_authtoken": {"www_authenticate_uri": stub_keystone.url}})
    proc = run("neutrino-server", [conf], timeout=60)
    assert proc.returncode == 2
    assert "[keystone_authtoken] auth_url is required to validate tokens with Keystone" \
        in proc.stderr
    assert stub_keystone.requests == []


def test_sqlite_from_a_newer_neutrino_is_refused(databases):
    """The embedded database migrates itself, but not from a revision this
    code does not know: a clear refusal, not alembic's traceback."""
    tmp = tempfile.mkdtemp(prefix="startup-", dir=databases.tmp)
    conf = server_conf(tmp, {})
    assert run("neutrino-db-manage", [conf], "upgrade", "head").returncode == 0
    engine = create_engine("sqlite:///" + os.path.join(tmp, "neutrino.sqlite"))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999zz'")
    finally:
        engine.dispose()
    proc = run("neutrino-server", [conf], timeout=90)
    assert proc.returncode == 1, proc.stderr
    assert "at revision 9999zz, which this code does not know" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_configuration_is_checked_before_the_schema(databases):
    url = databases.create("postgresql")
    tmp = tempfile.mkdtemp(prefix="startup-", dir=databases.tmp)
    conf = server_conf(tmp, {"database": {"connection": url},
                             "ml2": {"type_drivers": "gre"}})
    proc = run("neutrino-server", [conf], timeout=90)
    assert proc.returncode == 2, proc.stderr
    assert "configuration error: [ml2] type_drivers" in proc.stderr
