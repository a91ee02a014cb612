"""Database.write/read across a database restart, on our own servers.

What the API relies on (neutrino/db/engine.py): a call that meets an outage
waits for the database up to `pool_timeout`, then fails with
DatabaseUnavailable (the API's 503); a transaction cut off before COMMIT is
run again; a write whose COMMIT was cut off is never run again (it may have
committed, and a second run would make a second port).
"""
from __future__ import annotations

import secrets
import threading
import time

import pytest
from sqlalchemy import text

from neutrino.db.engine import Database, DatabaseUnavailable


@pytest.fixture(params=["postgresql", "mariadb"])
def server(request):
    return request.getfixturevalue("postgres" if request.param == "postgresql" else "mariadb")


@pytest.fixture
def db(server, tmp_path):
    url = server.create_database(f"neutrino_outage_{secrets.token_hex(4)}")
    database = Database(url, state_path=str(tmp_path), pool_timeout=3)
    database.write(lambda c: c.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)")))
    yield database
    database.dispose()
    server.start()


def test_outage_longer_than_pool_timeout_is_database_unavailable(server, db):
    assert db.read(lambda c: c.execute(text("SELECT count(*) FROM t")).scalar()) == 0
    server.stop()
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="unreachable"):
        db.read(lambda c: c.execute(text("SELECT count(*) FROM t")).scalar())
    assert 2.5 <= time.monotonic() - started < 10
    server.start()
    assert db.read(lambda c: c.execute(text("SELECT count(*) FROM t")).scalar()) == 0


def test_short_outage_is_waited_out(server, db):
    server.stop()
    result = {}
    worker = threading.Thread(target=lambda: result.update(n=db.write(
        lambda c: c.execute(text("INSERT INTO t (id) VALUES (1)")).rowcount)))
    worker.start()
    time.sleep(1.0)
    server.start()
    worker.join(20)
    assert result == {"n": 1}
    assert db.read(lambda c: c.execute(text("SELECT id FROM t")).scalars().all()) == [1]


def test_transaction_cut_before_commit_runs_again(server, db):
    runs = []

    def insert_then_lose_connection(conn):
        runs.append(1)
        conn.execute(text("INSERT INTO t (id) VALUES (:i)"), {"i": len(runs)})
        if len(runs) == 1:
            server.stop()
            server.start()
            conn.execute(text("SELECT 1"))   # the connection is dead: cut mid-transaction
        return len(runs)

    assert db.write(insert_then_lose_connection) == 2
    # the first run's row was rolled back with its connection
    assert db.read(lambda c: c.execute(text("SELECT id FROM t")).scalars().all()) == [2]


def test_write_whose_commit_is_cut_is_not_run_again(server, db):
    runs = []

    def insert_then_commit_into_the_void(conn):
        runs.append(1)
        conn.execute(text("INSERT INTO t (id) VALUES (:i)"), {"i": len(runs)})
        server.stop()     # COMMIT comes next, and meets a dead connection
        return len(runs)

    with pytest.raises(DatabaseUnavailable, match="committing"):
        db.write(insert_then_commit_into_the_void)
    assert len(runs) == 1
    server.start()
    assert db.read(lambda c: c.execute(text("SELECT id FROM t")).scalars().all()) == []
