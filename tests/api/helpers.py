"""Personas and small helpers for the API tests.

`api.admin`, `api.member_a`, `api.member_b` and `api.reader_a` act as the
admin (of its own project), members of projects A and B, and a reader of
project A: the noauth headers X-Project-Id / X-Roles / X-User-Id.
`api.project()` gives a member (or other role) of a brand-new project, for
tests that count things per project (quotas, lists).
"""
from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def rand(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def new_project() -> str:
    return secrets.token_hex(16)


def fault(resp) -> dict:
    body = resp.json()
    assert "NeutronError" in body, body
    return body["NeutronError"]


def expect(resp, status: int, error_type: str | None = None,
           message: str | None = None, contains: str | None = None) -> Any:
    """Assert the status (and the NeutronError type/message); return the body."""
    text = resp.text
    assert resp.status_code == status, f"HTTP {resp.status_code} (want {status}): {text}"
    if error_type is not None or message is not None or contains is not None:
        err = fault(resp)
        if error_type is not None:
            assert err["type"] == error_type, err
        if message is not None:
            assert err["message"] == message, err
        if contains is not None:
            assert contains in err["message"], err
        return err
    if status == 204:
        assert resp.content == b"", text
        return None
    return resp.json()


class Persona:
    def __init__(self, api: "Api", project_id: str | None, roles: str | None,
                 user_id: str = ""):
        self.api = api
        self.project_id = project_id
        self.roles = roles
        self.user_id = user_id or rand("user")

    @property
    def headers(self) -> dict[str, str]:
        if self.project_id is None and self.roles is None:
            return {}
        h = {"X-User-Id": self.user_id}
        if self.project_id is not None:
            h["X-Project-Id"] = self.project_id
        if self.roles is not None:
            h["X-Roles"] = self.roles
        return h

    def request(self, method: str, path: str, json: Any = None, params=None,
                content: str | bytes | None = None, headers: dict | None = None):
        if not path.startswith(("/", "http")):
            path = "/v2.0/" + path
        h = dict(self.headers)
        h.update(headers or {})
        kw: dict[str, Any] = {"headers": h}
        if params is not None:
            kw["params"] = params
        if content is not None:
            kw["content"] = content
            h.setdefault("Content-Type", "application/json")
        elif json is not None:
            kw["json"] = json
        return self.api.client.request(method, path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # --- creating things (asserting success) ---------------------------------
    def create(self, collection: str, **attrs) -> dict:
        singular = collection.replace("-", "_")[:-1]
        resp = self.post(collection, {singular: attrs})
        return expect(resp, 201)[singular]

    def network(self, **attrs) -> dict:
        attrs.setdefault("name", rand("net"))
        return self.create("networks", **attrs)

    def subnet(self, network_id: str, cidr: str = "10.0.0.0/24", **attrs) -> dict:
        attrs.setdefault("name", rand("sub"))
        attrs.setdefault("ip_version", 6 if ":" in cidr else 4)
        return self.create("subnets", network_id=network_id, cidr=cidr, **attrs)

    def port(self, network_id: str, **attrs) -> dict:
        attrs.setdefault("name", rand("port"))
        return self.create("ports", network_id=network_id, **attrs)

    def net_with_subnet(self, cidr: str = "10.0.0.0/24", net: dict | None = None,
                        **subnet_attrs) -> tuple[dict, dict]:
        net = net or self.network()
        return net, self.subnet(net["id"], cidr, **subnet_attrs)

    def show(self, collection: str, rid: str, status: int = 200) -> dict:
        body = expect(self.get(f"{collection}/{rid}"), status)
        return body[collection.replace("-", "_")[:-1]] if status == 200 else body

    def list(self, collection: str, params=None) -> list[dict]:
        body = expect(self.get(collection, params=params), 200)
        return body[collection.replace("-", "_")]

    def update(self, collection: str, rid: str, **attrs) -> dict:
        singular = collection.replace("-", "_")[:-1]
        return expect(self.put(f"{collection}/{rid}", {singular: attrs}), 200)[singular]

    def remove(self, collection: str, rid: str) -> None:
        expect(self.delete(f"{collection}/{rid}"), 204)


class Api:
    """One in-process app (Starlette TestClient) and its personas."""

    def __init__(self, client, app, core, backend: str):
        self.client = client
        self.app = app
        self.core = core
        self.backend = backend
        self.project_a = new_project()
        self.project_b = new_project()
        self.admin_project = new_project()
        self.admin = Persona(self, self.admin_project, "admin", "admin-user")
        self.member_a = Persona(self, self.project_a, "member", "member-a")
        self.member_b = Persona(self, self.project_b, "member", "member-b")
        self.reader_a = Persona(self, self.project_a, "reader", "reader-a")
        self.anonymous = Persona(self, None, None)  # no headers: noauth admin

    def project(self, roles: str = "member", project_id: str | None = None) -> Persona:
        return Persona(self, project_id or new_project(), roles)

    def as_project(self, persona: Persona, roles: str) -> Persona:
        return Persona(self, persona.project_id, roles)

    @property
    def agents(self):
        return self.app.state.api.plugins["agents"]

    def register_agent(self, host: str | None = None, **conf) -> str:
        """A live Linux bridge agent on `host` (heartbeat now)."""
        host = host or rand("host")
        configurations = {"interface_mappings": {"physnet1": "eth1", "physnet2": "eth2"},
                          "tunnel_types": ["vxlan"]}
        configurations.update(conf)
        self.agents.report_state({"agent_type": "Linux bridge agent", "host": host,
                                  "binary": "neutrino-linuxbridge-agent", "topic": "N/A",
                                  "configurations": configurations, "start_flag": True})
        return host


def normalize(text: Any, mapping: dict[str, str] | None = None) -> Any:
    """Replace UUIDs (and MACs) by stable placeholders, in order of first
    appearance, so messages from two servers compare equal."""
    mapping = {} if mapping is None else mapping
    if isinstance(text, dict):
        return {k: normalize(v, mapping) for k, v in text.items()}
    if isinstance(text, list):
        return [normalize(v, mapping) for v in text]
    if not isinstance(text, str):
        return text

    def sub(match):
        key = match.group(0)
        return mapping.setdefault(key, f"<id{len(mapping)}>")
    text = UUID_RE.sub(sub, text)
    return re.sub(r"fa:16:3e(:[0-9a-f]{2}){3}", "<mac>", text)


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError):
        return False


# Segment ids handed out to tests that ask for a specific one: unique per
# session, outside the tenant ranges of conftest.BASE_OVERRIDES (vxlan
# 1000:99999, physnet1 1000:1500) and away from the ids the reference-error
# replay uses (physnet1 VLAN 1999, VNI 200000).
_vnis = iter(range(300000, 16000000))
_vlans = iter(range(3000, 4095))


def next_vni() -> int:
    return next(_vnis)


def next_vlan() -> int:
    return next(_vlans)


UNLIMITED_QUOTAS = {"default_quota": "-1", "quota_network": "-1", "quota_subnet": "-1",
                    "quota_port": "-1", "quota_router": "-1", "quota_security_group": "-1",
                    "quota_security_group_rule": "-1"}


def two_worker_config(db_url: str, **sections: dict[str, str]) -> dict[str, dict[str, str]]:
    """A real server with two API workers (so requests race across processes)
    on db_url, every network type, vxlan tenant networks; plus `sections`."""
    return {"DEFAULT": {"api_workers": "2"},
            # 2 idle connections per worker: servers of several modules may be
            # up at once, and PostgreSQL allows 100 connections in all
            "database": {"connection": db_url, "max_pool_size": "2"},
            "ml2": {"tenant_network_types": "vxlan", "type_drivers": "local,flat,vlan,vxlan"},
            "ml2_type_vxlan": {"vni_ranges": "1000:99999"},
            **sections}
