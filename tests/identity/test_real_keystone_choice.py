"""An operator's `[keystone_authtoken]` against a REAL Keystone (the PyPI
`keystone` of tests/identity/keystone), with no neutrino-specific option:
a real `neutrino-server` validates Keystone's tokens with it (issue 12: the
embedded identity used to answer them 401), with the service authenticated
by password as in upstream's install guide, or by an application
credential (`auth_type = v3applicationcredential`)."""
from __future__ import annotations

import secrets
import tempfile

import httpx
import pytest

from tests.api.conftest import start_server
from tests.identity.keystone.fixture import Keystone, ensure_venv

SERVICE_PASSWORD = "neutron-service-pw"
ALICE_PASSWORD = "alice-pw"


@pytest.fixture(scope="module")
def keystone(tmp_path_factory):
    venv = ensure_venv(print)
    ks = Keystone(venv, tmp_path_factory.mktemp("keystone"), expiration=300).setup().start()
    try:
        ks.service = ks.user("neutron", SERVICE_PASSWORD, "service", "service")
        ks.alice = ks.user("alice", ALICE_PASSWORD, "alpha", "member")
        yield ks
    finally:
        ks.stop()


def install_guide_authtoken(ks: Keystone) -> dict:
    """[keystone_authtoken] as upstream's install guide writes it, plus
    options of issue 12 that used to stop the server."""
    return {"www_authenticate_uri": ks.url, "auth_url": ks.url,
            "memcached_servers": "127.0.0.1:11211", "auth_type": "password",
            "project_domain_name": "Default", "user_domain_name": "Default",
            "project_name": "service", "username": "neutron", "password": SERVICE_PASSWORD,
            "timeout": "10", "collect_timing": "false", "split_loggers": "false"}


def create_network_as_alice(ks: Keystone, server) -> dict:
    token, body = ks.token("alice", ALICE_PASSWORD, "alpha")
    resp = httpx.post(server.url + "/v2.0/networks", json={"network": {"name": "alice-net"}},
                      headers={"X-Auth-Token": token}, timeout=30)
    assert resp.status_code == 201, resp.text + server.log_tail()
    assert resp.json()["network"]["project_id"] == body["project"]["id"]
    return resp.json()["network"]


def test_install_guide_section_validates_with_keystone(keystone):
    tmp = tempfile.mkdtemp(prefix="ks-choice-")
    server = start_server(tmp, {"DEFAULT": {"auth_strategy": "keystone"},
                                "keystone_authtoken": install_guide_authtoken(keystone)})
    try:
        create_network_as_alice(keystone, server)
        resp = httpx.get(server.url + "/v2.0/networks",
                         headers={"X-Auth-Token": "gAAAAAforged"}, timeout=30)
        assert resp.status_code == 401
        assert f"tokens are validated by the Keystone at {keystone.url}" in open(server.log).read()
    finally:
        server.stop()


def test_application_credential_for_the_service(keystone):
    token, _ = keystone.token("neutron", SERVICE_PASSWORD, "service")
    resp = httpx.post(f"{keystone.v3}/users/{keystone.service['user']['id']}/"
                      "application_credentials",
                      json={"application_credential": {"name": "neutrino-" + secrets.token_hex(4),
                                                       "roles": [{"name": "service"}]}},
                      headers={"X-Auth-Token": token}, timeout=30)
    assert resp.status_code == 201, resp.text
    cred = resp.json()["application_credential"]
    tmp = tempfile.mkdtemp(prefix="ks-appcred-")
    server = start_server(tmp, {"DEFAULT": {"auth_strategy": "keystone"},
                                "keystone_authtoken": {
                                    "www_authenticate_uri": keystone.url,
                                    "auth_url": keystone.v3,
                                    "auth_type": "v3applicationcredential",
                                    "application_credential_id": cred["id"],
                                    "application_credential_secret": cred["secret"]}})
    try:
        create_network_as_alice(keystone, server)
    finally:
        server.stop()
