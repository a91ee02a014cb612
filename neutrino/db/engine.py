"""Database engines and the one way to run a transaction: `db.write(fn)`.

Every API call is one transaction. Conflicts that a retry resolves (an
allocation race caught by a unique key, a deadlock, SQLite busy, a
serialization failure, a dropped connection) raise RetryTransaction or are
recognised here, and the whole transaction is run again from scratch with
fresh reads: the same discipline as Neutron's retry decorator, without
savepoints (which behave differently on each backend).
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import threading
import time
from typing import Any, Callable, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class RetryTransaction(Exception):
    """Raised inside a transaction to have it rolled back and run again."""


class DatabaseUnavailable(Exception):
    """The database kept failing after all retries."""


_RETRY_CODES = {
    # PostgreSQL SQLSTATEs: serialization failure, deadlock.
    "40001", "40P01",
}
_MYSQL_RETRY_ERRNOS = {1213, 1205, 2006, 2013}  # deadlock, lock wait, gone away, lost


def _is_retryable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in _RETRY_CODES:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_RETRY_ERRNOS:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "deadlock" in text


def normalize_url(url: str, state_path: str) -> str:
    if not url:
        os.makedirs(state_path, exist_ok=True)
        return "sqlite:///" + os.path.join(state_path, "neutrino.sqlite")
    parsed = make_url(url)
    # Upstream files say postgresql:// or mysql://; use the drivers we ship.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "mysql":
        parsed = parsed.set(drivername="mysql+pymysql")
    return parsed.render_as_string(hide_password=False)


class Database:
    def __init__(self, url: str, state_path: str = "/var/lib/neutrino",
                 pool_size: int = 10, max_overflow: int = 20, pool_timeout: int = 30,
                 recycle: int = 3600, max_retries: int = 20):
        self.url = normalize_url(url, state_path)
        self.max_retries = max_retries
        backend = make_url(self.url).get_backend_name()
        self.backend = backend
        kwargs: dict[str, Any] = {"future": True}
        if backend == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow,
                          pool_timeout=pool_timeout, pool_recycle=recycle,
                          pool_pre_ping=True, isolation_level="READ COMMITTED")
        if backend == "mysql":
            kwargs["connect_args"] = {"charset": "utf8mb4"}
        self.engine: Engine = create_engine(self.url, **kwargs)
        self._writer = contextlib.nullcontext
        if backend == "sqlite":
            _setup_sqlite(self.engine)
            path = make_url(self.url).database
            if path and path != ":memory:":
                self._writer = _WriterLock(path + ".lock")

    @classmethod
    def from_config(cls, cfg) -> "Database":
        db = cfg.database
        return cls(db.connection, cfg.DEFAULT.state_path, db.max_pool_size, db.max_overflow,
                   db.pool_timeout, db.connection_recycle_time, db.max_retries)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run fn(conn) in one read-write transaction, retrying on conflicts."""
        return self._run(fn, write=True)

    def read(self, fn: Callable[[Connection], T]) -> T:
        return self._run(fn, write=False)

    def _run(self, fn: Callable[[Connection], T], write: bool) -> T:
        engine = self.engine.execution_options(neutrino_write=write)
        writer = self._writer if write else contextlib.nullcontext
        for attempt in range(self.max_retries):
            try:
                with writer(), engine.begin() as conn:
                    return fn(conn)
            except RetryTransaction as exc:
                LOG.debug("retrying transaction (attempt %d): %s", attempt + 1, exc)
            except IntegrityError:
                raise
            except (OperationalError, DBAPIError) as exc:
                if not _is_retryable(exc):
                    raise
                LOG.debug("retrying transaction after %s", exc.orig)
            # Jitter so that racing workers do not collide again in lockstep.
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise DatabaseUnavailable("transaction did not succeed after %d attempts"
                                  % self.max_retries)

    def dispose(self) -> None:
        self.engine.dispose()


class _WriterLock:
    """One SQLite writer at a time across threads and API worker processes.
    SQLite's own busy handler polls with sleeps of up to 100 ms; a blocking
    flock wakes the next writer the moment the lock is released."""

    def __init__(self, path: str):
        self.path = path
        self.thread_lock = threading.Lock()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __call__(self):
        return self

    def __enter__(self):
        self.thread_lock.acquire()
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.thread_lock.release()


def _setup_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE for writers: a deferred
    transaction that later needs the write lock fails with SQLITE_BUSY
    instead of waiting, which would surface as spurious retries."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        write = conn.get_execution_options().get("neutrino_write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
