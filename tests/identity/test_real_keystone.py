"""neutrino with auth_strategy = keystone against a REAL Keystone (PyPI
`keystone`, its own venv, SQLite, fernet tokens of 20 s): it accepts
Keystone's tokens and turns their project and roles into the policy, and
rejects forged, expired and revoked ones; `openstack network list` works
through Keystone's catalog against a real neutrino-server.

The Keystone venv is made on first use and cached (see keystone/fixture.py)."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from neutrino.identity.validation import parse_time
from tests.identity.keystone.fixture import Keystone, ensure_venv

SERVICE_PASSWORD = "neutron-service-pw"
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "rita": "rita-pw"}
CACHE_TIME = 3


@pytest.fixture(scope="module")
def keystone(tmp_path_factory):
    venv = ensure_venv(print)
    ks = Keystone(venv, tmp_path_factory.mktemp("keystone")).setup().start()
    try:
        ks.user("neutron", SERVICE_PASSWORD, "service", "service")
        ks.user("alice", PASSWORDS["alice"], "alpha", "member")
        ks.user("bob", PASSWORDS["bob"], "beta", "member")
        ks.user("rita", PASSWORDS["rita"], "alpha", "reader")
        yield ks
    finally:
        ks.stop()


def authtoken(ks: Keystone) -> dict:
    return {"www_authenticate_uri": ks.v3, "auth_url": ks.url, "auth_type": "password",
            "username": "neutron", "password": SERVICE_PASSWORD, "project_name": "service",
            "user_domain_name": "Default", "project_domain_name": "Default",
            "region_name": "RegionOne", "memcached_servers": "127.0.0.1:11211",
            "token_cache_time": str(CACHE_TIME)}


@pytest.fixture(scope="module")
def app(keystone, tmp_path_factory):
    from starlette.testclient import TestClient

    from neutrino.api.app import build_app
    from neutrino.service import build_server_core
    state = str(tmp_path_factory.mktemp("neutrino-state"))
    core, auth = build_server_core([], {
        "DEFAULT": {"auth_strategy": "keystone", "state_path": state},
        "identity": {"embedded": "false"}, "keystone_authtoken": authtoken(keystone),
        "oslo_policy": {"policy_file": os.path.join(state, "none.yaml")}})
    client = TestClient(build_app(core, auth))
    yield client
    client.close()
    core.db.dispose()


def get(app, token: str, path: str = "/v2.0/networks"):
    return app.get(path, headers={"X-Auth-Token": token})


def login(ks: Keystone, user: str, project: str) -> tuple[str, dict]:
    return ks.token(user, PASSWORDS.get(user, Keystone.ADMIN_PASSWORD), project)


def test_accepts_keystone_tokens_and_uses_their_project(keystone, app):
    token, body = login(keystone, "alice", "alpha")
    resp = app.post("/v2.0/networks", json={"network": {"name": "ks-alpha"}},
                    headers={"X-Auth-Token": token})
    assert resp.status_code == 201, resp.text
    net = resp.json()["network"]
    assert net["project_id"] == body["project"]["id"]
    assert net["id"] in [n["id"] for n in get(app, token).json()["networks"]]


def test_isolation_reader_and_admin(keystone, app):
    alice, _ = login(keystone, "alice", "alpha")
    bob, _ = login(keystone, "bob", "beta")
    rita, _ = login(keystone, "rita", "alpha")
    admin, _ = login(keystone, "admin", "admin")
    h = {"X-Auth-Token": alice}
    net_a = app.post("/v2.0/networks", json={"network": {"name": "a"}}, headers=h).json()
    net_b = app.post("/v2.0/networks", json={"network": {"name": "b"}},
                     headers={"X-Auth-Token": bob}).json()
    a_id, b_id = net_a["network"]["id"], net_b["network"]["id"]
    assert b_id not in [n["id"] for n in get(app, alice).json()["networks"]]
    assert get(app, alice, f"/v2.0/networks/{b_id}").status_code == 404
    assert a_id in [n["id"] for n in get(app, rita).json()["networks"]]
    denied = app.post("/v2.0/networks", json={"network": {"name": "r"}},
                      headers={"X-Auth-Token": rita})
    assert denied.status_code == 403 and denied.json()["NeutronError"]["type"] == \
        "PolicyNotAuthorized"
    assert {a_id, b_id} <= {n["id"] for n in get(app, admin).json()["networks"]}


@pytest.mark.parametrize("kind", ["missing", "garbage", "tampered", "embedded-style"])
def test_rejects_forged_tokens(keystone, app, kind):
    token, _ = login(keystone, "alice", "alpha")
    forged = {"missing": None, "garbage": "not-a-token",
              "tampered": token[:40] + ("A" if token[40] != "A" else "B") + token[41:],
              "embedded-style": "n1.eyJ1IjoieCJ9.AAAA"}[kind]
    resp = app.get("/v2.0/networks", headers={"X-Auth-Token": forged} if forged else {})
    assert resp.status_code == 401, resp.text
    assert resp.json()["NeutronError"]["type"] == "HTTPUnauthorized"
    assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.v3}"'


def test_rejects_revoked_token(keystone, app):
    token, _ = login(keystone, "alice", "alpha")
    with keystone.admin() as admin:
        assert admin.delete("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 204
    assert get(app, token).status_code == 401


def test_revoked_cached_token_dies_with_the_cache(keystone, app):
    token, _ = login(keystone, "bob", "beta")
    assert get(app, token).status_code == 200          # validated, cached
    with keystone.admin() as admin:
        assert admin.delete("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 204
    # As keystonemiddleware: trusted for up to token_cache_time, then asked again.
    time.sleep(CACHE_TIME + 0.5)
    assert get(app, token).status_code == 401


def test_rejects_expired_token(keystone, app):
    token, body = login(keystone, "alice", "alpha")
    assert get(app, token).status_code == 200
    wait = parse_time(body["expires_at"]) - time.time() + 1
    assert 0 < wait < 30
    time.sleep(wait)
    assert get(app, token).status_code == 401
    # The service token expired too: neutrino authenticates itself again.
    fresh, _ = login(keystone, "alice", "alpha")
    assert get(app, fresh).status_code == 200


def test_openstackclient_through_keystone(keystone, tmp_path):
    from tests.api.conftest import BIN, start_server
    server = start_server(str(tmp_path), {
        "DEFAULT": {"auth_strategy": "keystone", "api_workers": "2"},
        "identity": {"embedded": "false"}, "keystone_authtoken": authtoken(keystone)})
    try:
        with keystone.admin() as admin:
            svc = keystone.ensure(admin, "service", name="neutron", type="network")
            for iface in ("public", "internal", "admin"):
                resp = admin.post("/endpoints", json={"endpoint": {
                    "service_id": svc["id"], "interface": iface, "url": server.url,
                    "region_id": "RegionOne"}})
                assert resp.status_code == 201, resp.text
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(OS_AUTH_URL=keystone.v3, OS_USERNAME="alice", OS_PASSWORD=PASSWORDS["alice"],
                   OS_PROJECT_NAME="alpha", OS_USER_DOMAIN_NAME="Default",
                   OS_PROJECT_DOMAIN_NAME="Default", OS_IDENTITY_API_VERSION="3",
                   OS_INTERFACE="public", OS_REGION_NAME="RegionOne")
        openstack = str(Path(BIN) / "openstack")
        out = subprocess.run([openstack, "network", "create", "via-keystone", "-f", "json"],
                             capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr + server.log_tail()
        out = subprocess.run([openstack, "network", "list", "-f", "json"],
                             capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "via-keystone" in {n["Name"] for n in json.loads(out.stdout)}
    finally:
        server.stop()
