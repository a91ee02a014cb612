"""Limits: request body size ([oslo_middleware] max_request_body_size, 413
without reading the body whole) against a real server, and the statement
timeout ([database] statement_timeout) on every backend."""
from __future__ import annotations

import socket
import threading
import time

import orjson
import pytest
from sqlalchemy import create_engine, text

from neutrino.db.engine import Database, StatementTimeout
from tests.api.helpers import expect

LIMIT = 114688  # upstream's default


# --- request body size ----------------------------------------------------------------

@pytest.fixture(scope="module")
def sqlite_server(server_factory, databases):
    """The limit does not depend on the backend: one SQLite server."""
    from neutrino.db import migrate
    url = databases.create("sqlite")
    db = Database(url, state_path=databases.tmp)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()
    return server_factory({"database": {"connection": url}})


def _connect(server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_response(sock: socket.socket, timeout: float) -> tuple[int, dict, dict]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:] if ":" in line)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, orjson.loads(body) if body else {}


def _head(path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Project-Id: limits\r\nX-Roles: member\r\n{extra}\r\n").encode()


def test_announced_50mb_body_is_413_before_it_is_sent(sqlite_server):
    sock = _connect(sqlite_server)
    try:
        started = time.monotonic()
        sock.sendall(_head("/v2.0/networks", f"Content-Length: {50 * 1024 * 1024}\r\n"))
        sock.sendall(b'{"network": {"name": "' + b"x" * 1024)  # and nothing more
        status, headers, body = _read_response(sock, timeout=10)
        elapsed = time.monotonic() - started
    finally:
        sock.close()
    assert status == 413
    assert body["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"
    assert str(LIMIT) in body["NeutronError"]["message"]
    assert headers.get("connection") == "close"
    assert elapsed < 5  # answered without waiting for the 50 MB


def test_chunked_body_is_cut_off_at_the_limit(sqlite_server):
    sock = _connect(sqlite_server)
    chunk = b" " * 16384
    sent = 0
    answer = None
    try:
        sock.sendall(_head("/v2.0/networks", "Transfer-Encoding: chunked\r\n"))
        sock.sendall(b"%x\r\n%s\r\n" % (len(b'{"network": {}}'), b'{"network": {}}'))
        for _ in range(64 * 50):  # up to 50 MB, if nobody stops us
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            sock.settimeout(0.05)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except (socket.timeout, BlockingIOError):
                continue
        answer = _read_response(sock, timeout=10)
    finally:
        sock.close()
    status, _, body = answer
    assert status == 413, body
    assert body["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"
    assert sent < 4 * LIMIT  # refused while streaming, not after 50 MB


def test_body_at_the_limit_is_accepted_one_byte_more_is_not(sqlite_server):
    import httpx
    doc = b'{"network": {"name": "limits"}}'
    at_limit = doc + b" " * (LIMIT - len(doc))
    hdrs = {"X-Project-Id": "limits", "X-Roles": "member", "Content-Type": "application/json"}
    with httpx.Client(base_url=sqlite_server.url, headers=hdrs, timeout=30) as c:
        ok = c.post("/v2.0/networks", content=at_limit)
        assert ok.status_code == 201, ok.text
        over = c.post("/v2.0/networks", content=at_limit + b" ")
        assert over.status_code == 413
        assert over.json()["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"
        # Nothing was created by the refused request.
        nets = c.get("/v2.0/networks", params={"name": "limits"}).json()["networks"]
        assert len(nets) == 1


def test_identity_paths_answer_413_in_keystone_format(sqlite_server):
    sock = _connect(sqlite_server)
    try:
        sock.sendall(_head("/identity/v3/auth/tokens", f"Content-Length: {LIMIT + 1}\r\n"))
        status, _, body = _read_response(sock, timeout=10)
    finally:
        sock.close()
    assert status == 413
    assert body["error"]["code"] == 413 and body["error"]["title"] == "Request Entity Too Large"


# --- statement timeout ------------------------------------------------------------------

SLOW = {
    "postgresql": "SELECT pg_sleep(10)",
    "mariadb": "SELECT SLEEP(10)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
              "WHERE x < 1000000000) SELECT count(*) FROM c",
}


def test_a_slow_statement_is_cancelled(backend, db_url, databases):
    db = Database(db_url, state_path=databases.tmp, statement_timeout=1)
    try:
        started = time.monotonic()
        with pytest.raises(StatementTimeout):
            db.read(lambda conn: conn.exec_driver_sql(SLOW[backend]).all())
        assert time.monotonic() - started < 5
        # The connection is usable afterwards.
        assert db.read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar_one()) == 1
    finally:
        db.dispose()


def test_without_timeout_the_statement_is_not_cancelled(backend, db_url, databases):
    quick = {"postgresql": "SELECT pg_sleep(1.5)", "mariadb": "SELECT SLEEP(1.5)",
             "sqlite": SLOW["sqlite"].replace("1000000000", "3000000")}
    db = Database(db_url, state_path=databases.tmp, statement_timeout=0)
    try:
        db.read(lambda conn: conn.exec_driver_sql(quick[backend]).all())
    finally:
        db.dispose()


# Not SQLite: its writers wait for the writer lock before their transaction,
# not inside a statement, and its timeout covers running statements (above).
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"], indirect=True)
def test_api_call_waiting_on_a_lock_is_503_and_changes_nothing(backend, make_api, db_url):
    api = make_api({"database": {"statement_timeout": "1"}})
    member = api.project()
    net = member.network(name="before")
    holder = create_engine(db_url)
    locked = threading.Event()
    release = threading.Event()

    def hold_the_row():
        with holder.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM networks WHERE id = :id FOR UPDATE"),
                         {"id": net["id"]}).all()
            locked.set()
            release.wait(30)

    thread = threading.Thread(target=hold_the_row)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        resp = member.put(f"networks/{net['id']}", {"network": {"name": "after"}})
        elapsed = time.monotonic() - started
        err = expect(resp, 503, "QueryTimeout")
        assert "1 s" in err["message"]
        assert elapsed < 10
    finally:
        release.set()
        thread.join()
        holder.dispose()
    assert member.show("networks", net["id"])["name"] == "before"
    assert member.update("networks", net["id"], name="after")["name"] == "after"
