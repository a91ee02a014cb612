"""Fixtures of the fuzz tier: a real `neutrino-server` per database backend
(SQLite, PostgreSQL) with the embedded identity (auth_strategy = keystone),
an admin and a member token, and seed resources whose ids the fuzzer
substitutes for the random UUIDs it generates, so that requests reach past
"not found" into the plugins.

The server and database helpers are tests/api/conftest.py's.
"""
from __future__ import annotations

import itertools
import secrets
import shutil
from dataclasses import dataclass, field

import httpx
import pytest

from tests.api.conftest import Databases, start_server

FUZZ_BACKENDS = ("sqlite", "postgresql")
ADMIN_PASSWORD = "fuzz-admin-" + secrets.token_hex(4)

# Every failure the fuzz tests found, for the summary at the end of the run.
FAILURES: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if FAILURES:
        terminalreporter.section("fuzz failures (reproduce with the curl lines)", red=True)
        for line in FAILURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def fuzz_databases():
    dbs = Databases()
    yield dbs
    dbs.drop_all()
    shutil.rmtree(dbs.tmp, ignore_errors=True)


def _password_body(user: str, password: str, project: str) -> dict:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}


@dataclass
class Seeds:
    """Ids of live resources by collection; `fresh()` makes a throwaway one
    for DELETE cases, so that deletes hit real rows without eating the seeds."""
    client: httpx.Client
    admin: dict
    project: str
    ids: dict[str, list[str]] = field(default_factory=dict)
    external_net: str = ""
    _n: itertools.count = field(default_factory=lambda: itertools.count(1))

    def post(self, collection: str, body: dict) -> dict:
        resp = self.client.post(f"/v2.0/{collection}", json=body, headers=self.admin)
        assert resp.status_code == 201, (collection, body, resp.status_code, resp.text)
        return next(iter(resp.json().values()))

    def add(self, collection: str, body: dict) -> str:
        item = self.post(collection, body)
        self.ids.setdefault(collection, []).append(item["id"])
        return item["id"]

    def fresh(self, collection: str) -> str | None:
        n = next(self._n)
        owner = {"project_id": self.project}
        bodies = {
            "networks": {"network": {"name": f"fuzz-del-{n}", **owner}},
            "subnets": {"subnet": {"network_id": self.ids["networks"][0], "ip_version": 4,
                                   "cidr": f"10.{100 + n // 250}.{n % 250}.0/24", **owner}},
            "ports": {"port": {"network_id": self.ids["networks"][0], **owner}},
            "security-groups": {"security_group": {"name": f"fuzz-del-{n}", **owner}},
            "security-group-rules": {"security_group_rule": {
                "security_group_id": self.ids["security-groups"][0], "direction": "ingress",
                "protocol": "tcp", "port_range_min": 1 + n % 60000,
                "port_range_max": 1 + n % 60000, "remote_ip_prefix": f"192.0.2.{n % 250}/32",
                **owner}},
            "routers": {"router": {"name": f"fuzz-del-{n}", **owner}},
            "floatingips": {"floatingip": {"floating_network_id": self.external_net, **owner}},
        }
        if collection not in bodies:
            return None
        try:
            return self.post(collection, bodies[collection])["id"]
        except AssertionError:
            return None  # e.g. the external subnet is full: the case keeps its random id


def _make_seeds(client: httpx.Client, admin: dict, project: str) -> Seeds:
    seeds = Seeds(client, admin, project)
    owner = {"project_id": project}
    ext = seeds.add("networks", {"network": {"name": "fuzz-ext", "router:external": True}})
    seeds.external_net = ext
    ext_subnet = seeds.add("subnets", {"subnet": {"network_id": ext, "ip_version": 4,
                                                  "cidr": "198.18.0.0/16"}})
    net = seeds.add("networks", {"network": {"name": "fuzz-net", **owner}})
    seeds.ids["networks"].reverse()  # the tenant network first: ports and subnets go there
    subnet = seeds.add("subnets", {"subnet": {"network_id": net, "ip_version": 4,
                                              "cidr": "10.0.0.0/16", **owner}})
    seeds.ids["subnets"].reverse()
    seeds.add("subnets", {"subnet": {"network_id": net, "ip_version": 6,
                                     "cidr": "fd00:f022::/64", **owner}})
    del ext_subnet
    seeds.add("ports", {"port": {"network_id": net, "name": "fuzz-port", **owner}})
    sg = seeds.add("security-groups", {"security_group": {"name": "fuzz-sg", **owner}})
    seeds.add("security-group-rules", {"security_group_rule": {
        "security_group_id": sg, "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22, **owner}})
    router = seeds.add("routers", {"router": {
        "name": "fuzz-router", "external_gateway_info": {"network_id": ext}, **owner}})
    resp = client.put(f"/v2.0/routers/{router}/add_router_interface",
                      json={"subnet_id": subnet}, headers=admin)
    assert resp.status_code == 200, resp.text
    fip_port = seeds.add("ports", {"port": {"network_id": net, "name": "fuzz-fip-port",
                                            **owner}})
    seeds.add("floatingips", {"floatingip": {"floating_network_id": ext,
                                             "port_id": fip_port, **owner}})
    return seeds


@dataclass
class FuzzTarget:
    backend: str
    url: str
    server: object
    client: httpx.Client
    admin: dict          # headers of the admin
    member: dict         # headers of a member of `project`
    project: str
    seeds: Seeds
    member_login: dict   # the member's password body, for fresh tokens

    def fresh_token(self) -> str:
        resp = self.client.post("/identity/v3/auth/tokens", json=self.member_login)
        assert resp.status_code == 201, resp.text
        return resp.headers["X-Subject-Token"]


@pytest.fixture(scope="session", params=FUZZ_BACKENDS)
def fuzz_target(request, fuzz_databases):
    backend = request.param
    fuzz_databases.available(backend)
    url = fuzz_databases.create(backend)
    if backend != "sqlite":  # the server migrates only its embedded SQLite itself
        from neutrino.db import migrate
        from neutrino.db.engine import Database
        db = Database(url, state_path=fuzz_databases.tmp)
        try:
            migrate.upgrade(db)
        finally:
            db.dispose()
    server = start_server(fuzz_databases.tmp, {
        "DEFAULT": {"auth_strategy": "keystone", "api_workers": "2"},
        "database": {"connection": url},
        "identity": {"admin_password": ADMIN_PASSWORD},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge"},
        "ml2_type_vxlan": {"vni_ranges": "1000:99999"},
        "ml2_type_vlan": {"network_vlan_ranges": "physnet1:1000:1500,physnet2"},
        "ml2_type_flat": {"flat_networks": "*"},
        "quotas": {"default_quota": "-1", "quota_network": "-1", "quota_subnet": "-1",
                   "quota_port": "-1", "quota_security_group": "-1",
                   "quota_security_group_rule": "-1", "quota_router": "-1",
                   "quota_floatingip": "-1"},
    })
    client = httpx.Client(base_url=server.url, timeout=60)
    try:
        resp = client.post("/identity/v3/auth/tokens",
                           json=_password_body("admin", ADMIN_PASSWORD, "admin"))
        assert resp.status_code == 201, resp.text
        admin = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
        suffix = secrets.token_hex(4)
        resp = client.post("/identity/v3/projects",
                           json={"project": {"name": f"fuzz-{suffix}"}}, headers=admin)
        assert resp.status_code == 201, resp.text
        project = resp.json()["project"]["id"]
        password = secrets.token_hex(8)
        resp = client.post("/identity/v3/users", headers=admin, json={"user": {
            "name": f"fuzz-{suffix}", "password": password, "default_project_id": project}})
        assert resp.status_code == 201, resp.text
        user = resp.json()["user"]["id"]
        roles = client.get("/identity/v3/roles", params={"name": "member"}, headers=admin)
        role = roles.json()["roles"][0]["id"]
        resp = client.put(f"/identity/v3/projects/{project}/users/{user}/roles/{role}",
                          headers=admin)
        assert resp.status_code == 204, resp.text
        login = _password_body(f"fuzz-{suffix}", password, f"fuzz-{suffix}")
        resp = client.post("/identity/v3/auth/tokens", json=login)
        assert resp.status_code == 201, resp.text
        member = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
        seeds = _make_seeds(client, admin, project)
        for who in (admin, member):
            # First contact creates a project's default security group: done
            # here, not as a side effect inside some fuzz case's snapshot.
            assert client.get("/v2.0/security-groups", headers=who).status_code == 200
        yield FuzzTarget(backend, server.url, server, client, admin, member, project, seeds,
                         login)
    finally:
        client.close()
        server.stop()
