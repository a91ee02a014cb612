"""Helpers for the tests that start neutrino's commands on files written
like an operator's: every option of Neutron 25.2.3's files
(neutrino.upstream.sample_file) with the test's own values on top."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.machine import missing

BIN = Path(sys.executable).parent
PG_MAINTENANCE = os.environ.get("NEUTRINO_TEST_PG_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RABBIT = ("127.0.0.1", 5672)


def write_ini(path: Path, sections: dict[str, dict[str, str]]) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for section, values in sections.items():
            handle.write(f"[{section}]\n")
            for key, value in values.items():
                handle.write(f"{key} = {value}\n")
            handle.write("\n")
    return str(path)


def upstream_file(path: Path, fname: str, overrides: dict[str, dict[str, str]]) -> str:
    """Every option upstream's `fname` defines, then `overrides`."""
    from neutrino.upstream import sample_file
    sections = sample_file(fname)
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    return write_ini(path, sections)


def config_args(files: list[str]) -> list[str]:
    out = []
    for f in files:
        out += ["--config-file", f]
    return out


class Proc:
    """A command we started, in its own session, logging to a file."""

    def __init__(self, argv: list[str], log: Path, netns: str | None = None):
        self.log = log
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM to its process group (ours: start_new_session), then SIGKILL."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        except ProcessLookupError:
            pass


def wait_for(check, timeout: float, what: str, proc: Proc | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if proc is not None and not proc.alive():
            raise AssertionError(f"{what}: the process exited with {proc.popen.returncode}:\n"
                                 + proc.text()[-3000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s"
                                 + (":\n" + proc.text()[-3000:] if proc else ""))
        time.sleep(0.3)


def require_rabbit() -> None:
    import socket
    try:
        socket.create_connection(RABBIT, timeout=3).close()
    except OSError as exc:
        missing(f"RabbitMQ not reachable at {RABBIT[0]}:{RABBIT[1]}: {exc}")


class PgDatabase:
    """A randomly named PostgreSQL database, dropped by `drop()`."""

    def __init__(self):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        self.name = "neutrino_test_" + secrets.token_hex(5)
        self.engine = create_engine(PG_MAINTENANCE, isolation_level="AUTOCOMMIT",
                                    connect_args={"connect_timeout": 5})
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        except Exception as exc:  # noqa: BLE001 - unreachable server: fail with the reason
            self.engine.dispose()
            missing(f"PostgreSQL not reachable ({PG_MAINTENANCE.split('@')[-1]}): "
                    f"{str(exc).splitlines()[0]}")
        self.url = make_url(PG_MAINTENANCE).set(database=self.name).render_as_string(
            hide_password=False)

    def drop(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.engine.dispose()
