"""Fixtures for the API tier: one database per backend per test session, one
in-process app per (backend, configuration), personas, and real
`neutrino-server` subprocesses for the tests that need HTTP over a socket.

Backends: sqlite (temp file), postgresql (127.0.0.1:5432, user postgres,
trust auth) and mariadb (127.0.0.1:3306, root, no password). For the two
servers a database named `neutrino_test_<random>` is created through a
maintenance connection, migrated with neutrino.db.migrate.upgrade, and
dropped at session end even when tests fail. An unreachable server skips its
parameter with the connection error as the reason (also printed in the
terminal summary).

Override the servers with NEUTRINO_TEST_PG_URL / NEUTRINO_TEST_MYSQL_URL
(maintenance URLs, database part ignored).

Tests isolate themselves by creating their own resources (random names,
random project ids), never by recreating the database.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import Api, Persona  # noqa: F401  (re-exported for tests)
from tests.machine import missing

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
BIN = Path(sys.executable).parent

BACKENDS = ("sqlite", "postgresql", "mariadb")
MAINTENANCE = {
    "postgresql": os.environ.get("NEUTRINO_TEST_PG_URL",
                                 "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get("NEUTRINO_TEST_MYSQL_URL",
                              "mysql+pymysql://root@127.0.0.1:3306/"),
}

# The configuration every shared in-process app starts from. Quotas are
# generous so that the many tests of one session never trip them by
# accident; test_quotas.py checks the built-in defaults on an app of its own.
BASE_OVERRIDES: dict[str, dict[str, str]] = {
    "DEFAULT": {"auth_strategy": "noauth"},
    "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
            "mechanism_drivers": "linuxbridge"},
    "ml2_type_vxlan": {"vni_ranges": "1000:99999"},
    "ml2_type_vlan": {"network_vlan_ranges": "physnet1:1000:1500,physnet2"},
    # few idle connections per app (bursts still get max_overflow): PostgreSQL
    # allows 100 connections to all the session's apps and servers together
    "database": {"max_pool_size": "2"},
    "ml2_type_flat": {"flat_networks": "*"},
    "quotas": {"quota_network": "10000", "quota_subnet": "10000", "quota_port": "100000",
               "quota_security_group": "1000", "quota_security_group_rule": "10000",
               "quota_router": "1000", "quota_floatingip": "1000", "quota_rbac_policy": "10000"},
}

_unavailable: dict[str, str] = {}


def pytest_configure(config):
    # starlette's TestClient warns that it wants httpx2; the tests use it as is.
    config.addinivalue_line("filterwarnings",
                            "ignore:Using `httpx` with `starlette.testclient`")


def pytest_terminal_summary(terminalreporter):
    for backend, reason in sorted(_unavailable.items()):
        terminalreporter.write_line(f"SKIPPED backend {backend}: {reason}", yellow=True)


# --- databases ------------------------------------------------------------------

def random_db_name() -> str:
    return "neutrino_test_" + secrets.token_hex(5)


def _server_url(backend: str, database: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(MAINTENANCE[backend]).set(database=database).render_as_string(
        hide_password=False)


def _maintenance_engine(backend: str):
    from sqlalchemy import create_engine
    return create_engine(MAINTENANCE[backend], isolation_level="AUTOCOMMIT",
                         connect_args={"connect_timeout": 5})


def _quote(backend: str, name: str) -> str:
    assert name.startswith("neutrino_test_") and name.replace("_", "").isalnum()
    return f'"{name}"' if backend == "postgresql" else f"`{name}`"


class Databases:
    """Creates randomly named databases and drops exactly those."""

    def __init__(self):
        self.created: list[tuple[str, str]] = []
        self.tmp = tempfile.mkdtemp(prefix="neutrino-api-tests-")

    def available(self, backend: str) -> None:
        """Fail, with the reason, when the backend's server is unreachable."""
        if backend == "sqlite":
            return
        if backend in _unavailable:
            missing(_unavailable[backend])
        try:
            engine = _maintenance_engine(backend)
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            engine.dispose()
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            where = MAINTENANCE[backend].split("@")[-1]
            _unavailable[backend] = (f"{backend} server not reachable at {where}: "
                                     f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
            missing(_unavailable[backend])

    def create(self, backend: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        self.available(backend)
        if backend == "sqlite":
            path = os.path.join(self.tmp, random_db_name() + ".sqlite")
            return "sqlite:///" + path
        name = random_db_name()
        engine = _maintenance_engine(backend)
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.exec_driver_sql(f"CREATE DATABASE {_quote(backend, name)}")
            else:
                conn.exec_driver_sql(
                    f"CREATE DATABASE {_quote(backend, name)} CHARACTER SET utf8mb4")
        engine.dispose()
        self.created.append((backend, name))
        return _server_url(backend, name)

    def drop_all(self) -> list[str]:
        errors = []
        for backend, name in reversed(self.created):
            try:
                engine = _maintenance_engine(backend)
                with engine.connect() as conn:
                    if backend == "postgresql":
                        conn.exec_driver_sql(
                            f"DROP DATABASE IF EXISTS {_quote(backend, name)} WITH (FORCE)")
                    else:
                        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(backend, name)}")
                engine.dispose()
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{backend} {name}: {exc}")
        self.created.clear()
        return errors


@pytest.fixture(scope="session")
def databases():
    dbs = Databases()
    yield dbs
    errors = dbs.drop_all()
    shutil.rmtree(dbs.tmp, ignore_errors=True)
    if errors:
        warnings.warn("could not drop test databases: " + "; ".join(errors))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, databases) -> str:
    databases.available(request.param)
    return request.param


@pytest.fixture(scope="session")
def db_url(backend, databases) -> str:
    """The session's database for `backend`, migrated to head."""
    from neutrino.db import migrate
    from neutrino.db.engine import Database
    url = databases.create(backend)
    db = Database(url, state_path=databases.tmp)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()
    return url


# --- in-process apps -------------------------------------------------------------

def merge(*layers: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for layer in layers:
        for section, values in (layer or {}).items():
            out.setdefault(section, {}).update(values)
    return out


class AppFactory:
    """In-process apps on the session database of one backend, cached by
    configuration so that every test module shares them."""

    def __init__(self, backend: str, url: str, tmp: str):
        self.backend, self.url, self.tmp = backend, url, tmp
        self.apps: dict[Any, Api] = {}
        self.cores = []

    def __call__(self, overrides: dict | None = None,
                 policy: dict | str | None = None, base: dict | None = None) -> Api:
        """An app configured by `base` (default BASE_OVERRIDES) + `overrides`,
        with `policy` (a dict of rules, or the raw text of a policy file)."""
        base = BASE_OVERRIDES if base is None else base
        key = repr((sorted((s, sorted(v.items())) for s, v in (overrides or {}).items()),
                    policy if isinstance(policy, str) else sorted((policy or {}).items()),
                    sorted((s, sorted(v.items())) for s, v in base.items())))
        if key in self.apps:
            self._used(key)
            return self.apps[key]
        from starlette.testclient import TestClient

        from neutrino.api.app import build_app
        from neutrino.service import build_server_core
        state = tempfile.mkdtemp(prefix="state-", dir=self.tmp)
        layers = [base, {"DEFAULT": {"state_path": state},
                                   "database": {"connection": self.url}}, overrides or {}]
        if policy is not None:
            import yaml
            path = os.path.join(state, "policy.yaml")
            with open(path, "w", encoding="utf-8") as handle:
                if isinstance(policy, str):
                    handle.write(policy)
                else:
                    yaml.safe_dump(policy, handle)
            layers.append({"oslo_policy": {"policy_file": path}})
        else:
            layers.append({"oslo_policy": {"policy_file": os.path.join(state, "absent.yaml")}})
        core, auth = build_server_core([], merge(*layers))
        self.cores.append(core)
        app = build_app(core, auth)
        client = TestClient(app)
        api = Api(client, app, core, self.backend)
        self.apps[key] = api
        self._used(key)
        return api

    WARM = 4    # apps whose database pools stay open

    def _used(self, key) -> None:
        """Close the idle pooled connections of all but the WARM most recently
        used apps: every distinct configuration is an app with its own pool,
        and on PostgreSQL/MariaDB dozens of idle pools exceed the server's
        connection limit (max_connections 100). A disposed pool reopens on
        demand, so an app a module still holds keeps working."""
        self.recent = [k for k in getattr(self, "recent", []) if k != key] + [key]
        if self.backend == "sqlite":
            return
        for old in self.recent[:-self.WARM]:   # (an app used since reopened its pool)
            self.apps[old].core.db.dispose()

    def close(self):
        for api in self.apps.values():
            api.client.close()
        for core in self.cores:
            core.db.dispose()


@pytest.fixture(scope="session")
def make_api(backend, db_url, databases):
    factory = AppFactory(backend, db_url, databases.tmp)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def api(make_api) -> Api:
    """The shared app of this backend (BASE_OVERRIDES)."""
    return make_api()


# --- real servers ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, proc: subprocess.Popen, url: str, log: str, conf: str):
        self.proc, self.url, self.log, self.conf = proc, url, log, conf

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: server + workers
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def write_conf(path: str, sections: dict[str, dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for section, values in sections.items():
            handle.write(f"[{section}]\n")
            for key, value in values.items():
                handle.write(f"{key} = {value}\n")
            handle.write("\n")


def start_server(tmp: str, sections: dict[str, dict[str, str]], timeout: float = 60) -> Server:
    """Start `neutrino-server` on a free 127.0.0.1 port in its own process
    session; wait until it answers (and is still alive: the port must be
    ours, not somebody else's server)."""
    import httpx
    port = free_port()
    state = tempfile.mkdtemp(prefix="server-", dir=tmp)
    conf = os.path.join(state, "neutron.conf")
    sections = merge({"DEFAULT": {"bind_host": "127.0.0.1", "bind_port": str(port),
                                  "state_path": state, "auth_strategy": "noauth"}},
                     sections)
    write_conf(conf, sections)
    log = os.path.join(state, "server.log")
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BIN / "neutrino-server"), "--config-file", conf],
                                stdout=out, stderr=subprocess.STDOUT, cwd=state,
                                start_new_session=True)
    server = Server(proc, f"http://127.0.0.1:{port}", log, conf)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"neutrino-server exited with {proc.returncode}:\n"
                               + server.log_tail())
        try:
            if httpx.get(server.url + "/", timeout=2).status_code == 200:
                time.sleep(0.3)
                if proc.poll() is None:
                    return server
                continue
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("neutrino-server did not answer in time:\n" + server.log_tail())
        time.sleep(0.2)


@pytest.fixture(scope="session")
def server_factory(databases):
    started: list[Server] = []

    def make(sections: dict[str, dict[str, str]]) -> Server:
        server = start_server(databases.tmp, sections)
        started.append(server)
        return server
    yield make
    for server in started:
        server.stop()
