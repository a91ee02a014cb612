"""Database engines and the one way to run a transaction: `db.write(fn)`.

Every API call is one transaction. Conflicts that a retry resolves (an
allocation race caught by a unique key, a deadlock, SQLite busy, a
serialization failure) raise RetryTransaction or are recognised here, and
the whole transaction is run again from scratch with fresh reads: the same
discipline as Neutron's retry decorator, without savepoints (which behave
differently on each backend). A database outage (refused, restarting, a
connection that died) is waited out for up to pool_timeout; see `_run`.
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
from sqlalchemy.exc import (ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError,
                            OperationalError)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from neutrino.config import ConfigError

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class RetryTransaction(Exception):
    """Raised inside a transaction to have it rolled back and run again."""


class DatabaseUnavailable(Exception):
    """The database kept failing after all retries."""


class StatementTimeout(Exception):
    """A statement ran (or waited for a lock) longer than statement_timeout
    and the database cancelled it; the transaction was rolled back."""

    def __init__(self, seconds: float, detail: str):
        super().__init__(f"statement cancelled after {seconds:g} s: {detail}")
        self.seconds = seconds


_RETRY_CODES = {
    # PostgreSQL SQLSTATEs: serialization failure, deadlock.
    "40001", "40P01",
}
_MYSQL_RETRY_ERRNOS = {1213, 1205}  # deadlock, lock wait timeout
# The server is unreachable, restarting or dropped us: admin shutdown, crash
# shutdown, cannot connect now (starting up / shutting down); class 08 too.
_PG_CONNECTION_CODES = {"57P01", "57P02", "57P03"}
# shutdown in progress, can't connect (socket, TCP), gone away, lost, killed
_MYSQL_CONNECTION_ERRNOS = {1053, 2002, 2003, 2006, 2013, 1927, 4031}


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


def _mysql_errno(exc: DBAPIError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _is_retryable(exc: DBAPIError) -> bool:
    """A conflict that running the transaction again resolves."""
    if _sqlstate(exc) in _RETRY_CODES or _mysql_errno(exc) in _MYSQL_RETRY_ERRNOS:
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "deadlock" in text


_PG_QUERY_CANCELED = "57014"
_MYSQL_TIMEOUT_ERRNOS = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time


def _is_statement_timeout(exc: DBAPIError) -> bool:
    if _sqlstate(exc) == _PG_QUERY_CANCELED or _mysql_errno(exc) in _MYSQL_TIMEOUT_ERRNOS:
        return True
    return type(exc.orig).__module__.startswith("sqlite3") and "interrupted" in str(exc.orig)


def _is_connection_error(exc: DBAPIError, connecting: bool) -> bool:
    """The database is unreachable or the connection died: no conflict, an outage."""
    if exc.connection_invalidated:
        return True
    if connecting and isinstance(exc, (OperationalError, DBAPIError)) \
            and not isinstance(exc, IntegrityError):
        return True  # a new connection failed: refused, timed out, not accepting yet
    code = _sqlstate(exc) or ""
    return code in _PG_CONNECTION_CODES or code.startswith("08") \
        or _mysql_errno(exc) in _MYSQL_CONNECTION_ERRNOS


class UnusableDatabaseUrl(ConfigError):
    """[database] connection names a backend or driver neutrino cannot use."""


# Backends neutrino runs on -> the driver it ships. Upstream's files name
# others (postgresql+psycopg2://, mysql+mysqldb://): same database, another
# client library, so the URL is mapped to ours when theirs is not installed.
_SHIPPED_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
                    "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql", "sqlite": "sqlite"}


_MAPPED_LOGGED: set[str] = set()


def _driver_installed(parsed) -> bool:
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError:
        return False
    return True


def normalize_url(url: str, state_path: str) -> str:
    if not url:
        os.makedirs(state_path, exist_ok=True)
        return "sqlite:///" + os.path.join(state_path, "neutrino.sqlite")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UnusableDatabaseUrl("[database] connection is not a database URL "
                                  "(dialect+driver://user:password@host/name)") from None
    backend, _, driver = parsed.drivername.partition("+")
    shipped = _SHIPPED_DRIVERS.get(backend)
    if shipped is None:
        raise UnusableDatabaseUrl(
            f"[database] connection: {backend}:// is not supported (postgresql://, "
            "mysql:// or sqlite://)")
    if not driver:
        # Upstream files say postgresql:// or mysql://; use the drivers we ship.
        return parsed.set(drivername=shipped).render_as_string(hide_password=False)
    try:
        installed = _driver_installed(parsed)
    except NoSuchModuleError:
        installed = False        # a driver name SQLAlchemy does not know
    if not installed:
        if parsed.drivername not in _MAPPED_LOGGED:   # once per process, not per engine
            _MAPPED_LOGGED.add(parsed.drivername)
            LOG.warning("[database] connection: driver %s is not installed; using %s:// "
                        "(the same database through the driver neutrino ships)",
                        parsed.drivername, shipped)
        parsed = parsed.set(drivername=shipped)
    elif backend == "mariadb":   # one dialect for both here (backend checks say mysql)
        parsed = parsed.set(drivername="mysql+" + driver)
    return parsed.render_as_string(hide_password=False)


class Database:
    def __init__(self, url: str, state_path: str = "/var/lib/neutrino",
                 pool_size: int = 10, max_overflow: int = 20, pool_timeout: int = 30,
                 recycle: int = 3600, max_retries: int = 20, statement_timeout: float = 0):
        self.url = normalize_url(url, state_path)
        self.max_retries = max_retries
        self.statement_timeout = statement_timeout
        # How long a call waits for an unreachable database: as long as it
        # would wait for a free pooled connection.
        self.outage_wait = float(pool_timeout)
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
        if backend == "postgresql" and statement_timeout > 0:
            # Server-side, so a query is cancelled even when nobody waits for it.
            kwargs["connect_args"] = {
                "options": f"-c statement_timeout={int(statement_timeout * 1000)}"}
        self.engine: Engine = create_engine(self.url, **kwargs)
        if backend == "mysql" and statement_timeout > 0:
            _setup_mysql_timeout(self.engine, statement_timeout)
        # Reads on PostgreSQL run in autocommit: under READ COMMITTED each
        # statement takes its own snapshot anyway, and BEGIN and COMMIT would
        # be two more round trips around a one-statement read.
        read_opts = {"isolation_level": "AUTOCOMMIT"} if backend == "postgresql" else {}
        self._engines = {True: self.engine.execution_options(neutrino_write=True),
                         False: self.engine.execution_options(neutrino_write=False, **read_opts)}
        self._writer = contextlib.nullcontext
        if backend == "sqlite":
            _setup_sqlite(self.engine, statement_timeout)
            path = make_url(self.url).database
            if path and path != ":memory:":
                self._writer = _WriterLock(path + ".lock")

    @classmethod
    def from_config(cls, cfg, statement_timeout: float | None = None) -> "Database":
        """statement_timeout: None takes [database] statement_timeout (the
        API server); 0 is none (schema migrations)."""
        db = cfg.database
        if statement_timeout is None:
            statement_timeout = db.statement_timeout
        return cls(db.connection, cfg.DEFAULT.state_path, db.max_pool_size, db.max_overflow,
                   db.pool_timeout, db.connection_recycle_time, db.max_retries,
                   statement_timeout)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run fn(conn) in one read-write transaction, retrying on conflicts."""
        return self._run(fn, write=True)

    def read(self, fn: Callable[[Connection], T]) -> T:
        return self._run(fn, write=False)

    def _run(self, fn: Callable[[Connection], T], write: bool) -> T:
        """Conflicts are retried up to max_retries times at once (with jitter).

        An outage (no connection, or it died) is retried with backoff for up
        to `outage_wait` seconds, so a database restart only delays calls,
        then DatabaseUnavailable (503). Retrying is safe because the
        transaction did not commit: a failure before COMMIT rolls it back on
        the server. A write whose COMMIT itself failed is never retried (it
        may have committed: a second run would create a duplicate); it is
        DatabaseUnavailable at once, and the caller cannot know the outcome,
        as with any request whose response was lost."""
        engine = self._engines[write]
        writer = self._writer if write else contextlib.nullcontext
        attempt = 0
        outage_since: float | None = None
        backoff = 0.05
        while True:
            stage = "connect"
            try:
                with writer(), engine.connect() as conn:
                    stage = "run"
                    checks: dict = {}
                    conn.execution_options(**{_BEFORE_COMMIT: checks})
                    with conn.begin():
                        result = fn(conn)
                        for check in list(checks.values()):
                            check(conn)
                        stage = "commit"
                    return result
            except RetryTransaction as exc:
                LOG.debug("retrying transaction (attempt %d): %s", attempt + 1, exc)
            except IntegrityError:
                raise
            except PoolTimeout as exc:
                raise DatabaseUnavailable(f"no database connection free: {exc}") from exc
            except DBAPIError as exc:
                if _is_connection_error(exc, connecting=stage == "connect"):
                    if write and stage == "commit":
                        raise DatabaseUnavailable(
                            f"connection lost while committing: {exc.orig}") from exc
                    now = time.monotonic()
                    outage_since = outage_since or now
                    if now - outage_since >= self.outage_wait:
                        raise DatabaseUnavailable(
                            f"database unreachable for {now - outage_since:.1f} s: "
                            f"{exc.orig}") from exc
                    LOG.warning("database connection failed (%s); retrying in %.2f s",
                                str(exc.orig).splitlines()[0] if str(exc.orig) else
                                type(exc.orig).__name__, backoff)
                    time.sleep(min(backoff, self.outage_wait - (now - outage_since)))
                    backoff = min(backoff * 2, 1.0)
                    continue  # an outage does not use up the conflict retries
                if _is_statement_timeout(exc):
                    raise StatementTimeout(self.statement_timeout,
                                           str(exc.orig).splitlines()[0]) from exc
                if not _is_retryable(exc):
                    raise
                LOG.debug("retrying transaction after %s", exc.orig)
            attempt += 1
            if attempt >= self.max_retries:
                raise DatabaseUnavailable("transaction did not succeed after %d attempts"
                                          % self.max_retries)
            # Jitter so that racing workers do not collide again in lockstep.
            time.sleep(random.uniform(0, 0.002 * attempt))

    def dispose(self) -> None:
        self.engine.dispose()


_BEFORE_COMMIT = "neutrino_before_commit"


def before_commit(conn: Connection, key: Any, check: Callable[[Connection], None]) -> bool:
    """Run check(conn) at the end of this transaction, after everything the
    call wrote and just before COMMIT (once per key); an exception from it
    rolls the transaction back. False when conn is not a transaction of
    Database.write/read (the caller checks another way)."""
    checks = conn.get_execution_options().get(_BEFORE_COMMIT)
    if checks is None:
        return False
    checks.setdefault(key, check)
    return True


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


def _setup_mysql_timeout(engine: Engine, seconds: float) -> None:
    """MariaDB's max_statement_time (seconds, every statement); MySQL's
    max_execution_time (milliseconds, SELECTs only)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("SELECT VERSION()")
        if "mariadb" in str(cur.fetchone()[0]).lower():
            cur.execute(f"SET SESSION max_statement_time = {float(seconds)}")
        else:
            cur.execute(f"SET SESSION max_execution_time = {int(seconds * 1000)}")
        cur.close()


class _Deadline:
    """SQLite has no statement timeout: a progress handler (called every few
    thousand VM steps) interrupts a statement that runs past its deadline,
    set when the statement starts."""

    STEPS = 10000

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = float("inf")

    def start(self) -> None:
        self.at = time.monotonic() + self.seconds

    def __call__(self) -> int:
        return 1 if time.monotonic() > self.at else 0


def _setup_sqlite(engine: Engine, statement_timeout: float = 0) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE for writers: a deferred
    transaction that later needs the write lock fails with SQLITE_BUSY
    instead of waiting, which would surface as spurious retries."""

    if statement_timeout > 0:
        @event.listens_for(engine, "before_cursor_execute")
        def _on_execute(conn, _cursor, _statement, _params, _context, _executemany):
            conn.connection.info["neutrino_deadline"].start()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):
        if statement_timeout > 0:
            record.info["neutrino_deadline"] = deadline = _Deadline(statement_timeout)
            dbapi_conn.set_progress_handler(deadline, _Deadline.STEPS)
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
