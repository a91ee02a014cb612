"""Failed-login throttling of the embedded identity on every backend: per
user as Keystone's [security_compliance] lockout_failure_attempts /
lockout_duration, per client address (429), and password checks in a
bounded, low-priority pool (503 when it is full)."""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import warnings

import pytest

with warnings.catch_warnings():  # starlette's TestClient asks for httpx2; httpx is fine
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from neutrino.identity.passwords import HashPool, HashPoolBusy, hash_password
from neutrino.identity.store import IdentityStore
from tests.api.conftest import backend, databases, db_url, make_api  # noqa: F401
from tests.api.helpers import rand

TOKENS = "/identity/v3/auth/tokens"
LOCKED_FOR = 2  # seconds: short, so the tests can wait it out


def keystone(**sections) -> dict:
    conf = {"DEFAULT": {"auth_strategy": "keystone"},
            "identity": {"admin_password": "lockout-admin-pw",
                         "revocation_check_interval": "0"}}
    for section, values in sections.items():
        conf.setdefault(section, {}).update(values)
    return conf


def body(user: str, password: str) -> dict:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}}}}


class Identity:
    def __init__(self, api):
        self.api = api
        self.store = IdentityStore(api.core.db)
        self.clients: dict[str, TestClient] = {}

    def user(self) -> tuple[str, str, str]:
        name, password = rand("user"), rand("pw")
        uid = self.store.create_user(name, password)["id"]
        return name, password, uid

    def from_address(self, address: str) -> TestClient:
        if address not in self.clients:
            self.clients[address] = TestClient(self.api.app, client=(address, 40000))
        return self.clients[address]

    def login(self, name: str, password: str, address: str = "192.0.2.1"):
        return self.from_address(address).post(TOKENS, json=body(name, password))


@pytest.fixture(scope="module")
def user_lockout(make_api):
    ident = Identity(make_api(keystone(
        security_compliance={"lockout_failure_attempts": "3",
                             "lockout_duration": str(LOCKED_FOR)},
        identity={"source_lockout_failure_attempts": "0"})))
    yield ident
    for client in ident.clients.values():
        client.close()


@pytest.fixture(scope="module")
def source_throttle(make_api):
    ident = Identity(make_api(keystone(
        identity={"source_lockout_failure_attempts": "5",
                  "source_lockout_duration": str(LOCKED_FOR)})))
    yield ident
    for client in ident.clients.values():
        client.close()


def unique_address() -> str:
    n = int.from_bytes(os.urandom(2), "big")
    return f"198.18.{n >> 8}.{n & 255}"


# --- per user -----------------------------------------------------------------------------

def test_user_locked_after_n_failures_even_for_the_right_password(user_lockout):
    name, password, uid = user_lockout.user()
    for _ in range(3):
        resp = user_lockout.login(name, "wrong")
        assert resp.status_code == 401
        assert resp.json()["error"]["message"] == \
            "The request you have made requires authentication."
    locked_at = time.monotonic()
    resp = user_lockout.login(name, password)
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["message"] == f"The account is locked for user: {uid}."
    assert resp.headers["WWW-Authenticate"].startswith("Keystone uri=")
    # From another address too: the lock is the user's.
    assert user_lockout.login(name, password, unique_address()).status_code == 401
    time.sleep(max(0.0, LOCKED_FOR + 0.3 - (time.monotonic() - locked_at)))
    resp = user_lockout.login(name, password)
    assert resp.status_code == 201, resp.text
    assert resp.headers["X-Subject-Token"]


def test_a_success_resets_the_count(user_lockout):
    name, password, _ = user_lockout.user()
    for _ in range(2):
        assert user_lockout.login(name, "wrong").status_code == 401
    assert user_lockout.login(name, password).status_code == 201
    for _ in range(2):
        assert user_lockout.login(name, "wrong").status_code == 401
    assert user_lockout.login(name, password).status_code == 201


def test_other_users_are_not_locked(user_lockout):
    victim, _, _ = user_lockout.user()
    other, other_pw, _ = user_lockout.user()
    for _ in range(4):
        user_lockout.login(victim, "wrong")
    assert user_lockout.login(other, other_pw).status_code == 201


def test_admin_setting_the_password_unlocks(user_lockout):
    name, _, uid = user_lockout.user()
    for _ in range(3):
        user_lockout.login(name, "wrong")
    assert user_lockout.login(name, "wrong").json()["error"]["message"] == \
        f"The account is locked for user: {uid}."
    user_lockout.store.set_password(name, "brand-new-pw")
    assert user_lockout.login(name, "brand-new-pw").status_code == 201


def test_parallel_failures_are_all_counted(user_lockout):
    name, password, uid = user_lockout.user()
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: user_lockout.login(name, "wrong").status_code,
                              range(8)))
    assert set(codes) == {401}
    resp = user_lockout.login(name, password)
    assert resp.status_code == 401
    assert resp.json()["error"]["message"] == f"The account is locked for user: {uid}."


# --- per source address ---------------------------------------------------------------

def test_source_throttled_after_n_failures_across_user_names(source_throttle):
    name, password, _ = source_throttle.user()
    address = unique_address()
    # Wrong passwords for a real user and for names that do not exist.
    for i in range(5):
        who = name if i % 2 else rand("nobody")
        assert source_throttle.login(who, "wrong", address).status_code == 401
    throttled_at = time.monotonic()
    resp = source_throttle.login(name, password, address)
    assert resp.status_code == 429, resp.text
    err = resp.json()["error"]
    assert err["code"] == 429 and err["title"] == "Too Many Requests"
    assert 1 <= int(resp.headers["Retry-After"]) <= LOCKED_FOR
    # Another address is not affected, and the user is not locked.
    assert source_throttle.login(name, password, unique_address()).status_code == 201
    time.sleep(max(0.0, LOCKED_FOR + 0.3 - (time.monotonic() - throttled_at)))
    assert source_throttle.login(name, password, address).status_code == 201


def test_a_success_does_not_reset_the_source(source_throttle):
    name, password, _ = source_throttle.user()
    address = unique_address()
    for _ in range(4):
        source_throttle.login(name, "wrong", address)
    assert source_throttle.login(name, password, address).status_code == 201
    assert source_throttle.login(name, "wrong", address).status_code == 401
    assert source_throttle.login(name, password, address).status_code == 429


def test_token_method_is_not_throttled(source_throttle):
    name, password, _ = source_throttle.user()
    address = unique_address()
    token = source_throttle.login(name, password, address).headers["X-Subject-Token"]
    for _ in range(5):
        source_throttle.login(name, "wrong", address)
    resp = source_throttle.from_address(address).post(TOKENS, json={"auth": {"identity": {
        "methods": ["token"], "token": {"id": token}}}})
    assert resp.status_code == 201, resp.text


def test_user_lockout_is_off_by_default_as_upstream(make_api):
    ident = Identity(make_api(keystone(identity={"source_lockout_failure_attempts": "0"})))
    name, password, _ = ident.user()
    for _ in range(12):
        assert ident.login(name, "wrong").status_code == 401
    assert ident.login(name, password).status_code == 201


# --- the hashing pool ---------------------------------------------------------------

def test_password_checks_run_in_low_priority_pool_threads():
    pool = HashPool(workers=1, queue=2)
    try:
        name, nice = pool.executor.submit(
            lambda: (threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, 0))
        ).result()
        assert name.startswith("pwhash")
        assert nice >= HashPool.NICE
        stored = hash_password("right")
        assert pool.verify("right", stored) and not pool.verify("wrong", stored)
    finally:
        pool.shutdown()


def test_full_pool_refuses_at_once():
    pool = HashPool(workers=1, queue=0)
    stored = hash_password("right")
    try:
        assert pool.slots.acquire(blocking=False)  # one check in progress
        started = time.monotonic()
        with pytest.raises(HashPoolBusy):
            pool.verify("right", stored)
        assert time.monotonic() - started < 0.5
        pool.slots.release()
        assert pool.verify("right", stored)
    finally:
        pool.shutdown()


def test_full_pool_is_503_with_retry_after(make_api):
    ident = Identity(make_api(keystone(identity={"password_hash_queue": "0",
                                                 "source_lockout_failure_attempts": "0"})))
    name, password, _ = ident.user()
    tokens_route = next(r for r in ident.api.app.state.api.auth.routes if r.path == TOKENS)
    service = tokens_route.endpoint.__self__.svc
    assert service.hashes.slots.acquire(blocking=False)
    try:
        resp = ident.login(name, password)
        assert resp.status_code == 503, resp.text
        assert resp.headers["Retry-After"] == "1"
        assert resp.json()["error"]["title"] == "Service Unavailable"
    finally:
        service.hashes.slots.release()
    assert ident.login(name, password).status_code == 201
