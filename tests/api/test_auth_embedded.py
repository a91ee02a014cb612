"""auth_strategy = keystone with the embedded identity, in process, on every
database backend: tokens in, Keystone-format identity API, 401s with
WWW-Authenticate, revocation, and roles/projects of the token driving the
policy (reader lists but cannot create; projects are isolated)."""
from __future__ import annotations

import pytest

from neutrino.identity.store import IdentityStore
from neutrino.identity.tokens import TokenData, new_audit_id, now_us
from tests.api.helpers import Persona, expect, rand

ADMIN_PASSWORD = "embedded-admin-pw"
KEYSTONE = {"DEFAULT": {"auth_strategy": "keystone"},
            "identity": {"admin_password": ADMIN_PASSWORD, "revocation_check_interval": "0"}}
WWW = 'Keystone uri="http://testserver/identity"'


class TokenPersona(Persona):
    def __init__(self, api, token: str, user: str = "", project: str = ""):
        super().__init__(api, None, None)
        self.token, self.user_name, self.project_name = token, user, project

    @property
    def headers(self):
        return {"X-Auth-Token": self.token}


def password_body(user: str, password: str, project: str | None = None,
                  domain_scope: str | None = None) -> dict:
    body: dict = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}}}}
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    if domain_scope:
        body["auth"]["scope"] = {"domain": {"name": domain_scope}}
    return body


class Cloud:
    """The keystone-mode app of one backend, with helpers to make tenants."""

    def __init__(self, api):
        self.api = api
        self.client = api.client
        self.store = IdentityStore(api.core.db)
        self.auth = api.app.state.api.auth

    def issue(self, user: str, password: str, project: str | None = None, status: int = 201,
              **kw):
        resp = self.client.post("/identity/v3/auth/tokens",
                                json=password_body(user, password, project, **kw))
        assert resp.status_code == status, resp.text
        return resp

    def login(self, user: str, password: str, project: str) -> TokenPersona:
        resp = self.issue(user, password, project)
        return TokenPersona(self.api, resp.headers["X-Subject-Token"], user, project)

    def tenant(self, role: str = "member", project: str | None = None) -> TokenPersona:
        project = project or rand("proj")
        if not any(p["name"] == project for p in self.store.list("project", name=project)):
            self.store.create_project(project)
        user, password = rand("user"), rand("pw")
        self.store.create_user(user, password, default_project=project)
        self.store.assign(user, role, project=project)
        persona = self.login(user, password, project)
        persona.password = password
        return persona

    def admin(self) -> TokenPersona:
        return self.login("admin", ADMIN_PASSWORD, "admin")


@pytest.fixture(scope="module")
def cloud(make_api) -> Cloud:
    return Cloud(make_api(KEYSTONE))


# --- 401s ----------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/v2.0/networks"), ("POST", "/v2.0/networks"), ("GET", "/v2.0/ports/x"),
    ("GET", "/v2.0/extensions"), ("GET", "/v2.0"), ("GET", "/v2.0/quotas")])
def test_missing_token_401(cloud, method, path):
    resp = cloud.client.request(method, path, json={"network": {}} if method == "POST" else None)
    err = expect(resp, 401, "HTTPUnauthorized",
                 "The request you have made requires authentication.")
    assert err["detail"] == ""
    assert resp.headers["WWW-Authenticate"] == WWW


def test_version_document_needs_no_token(cloud):
    expect(cloud.client.get("/"), 200)
    assert cloud.client.get("/identity").status_code == 300
    v3 = expect(cloud.client.get("/identity/v3"), 200)["version"]
    assert v3["id"].startswith("v3") and v3["links"][0]["href"] == "http://testserver/identity/v3/"


@pytest.mark.parametrize("token", ["garbage", "n1.e30.AAAA", "x" * 9000, "gAAAAABfernet"])
def test_bad_token_401(cloud, token):
    resp = cloud.client.get("/v2.0/networks", headers={"X-Auth-Token": token})
    expect(resp, 401, "HTTPUnauthorized")
    assert resp.headers["WWW-Authenticate"] == WWW


def test_tampered_token_401(cloud):
    me = cloud.tenant()
    expect(me.get("networks"), 200)
    payload = me.token.split(".")[1]
    forged = me.token.replace(payload, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"))
    expect(TokenPersona(cloud.api, forged).get("networks"), 401, "HTTPUnauthorized")


def test_expired_token_401(cloud):
    me = cloud.tenant()
    signer = cloud.auth.validator.signer
    project = cloud.store.find("project", me.project_name)["id"]
    user = cloud.store.find("user", me.user_name)["id"]
    old = signer.issue(TokenData(user, project, None, ("member", "reader"), now_us() - 10**8,
                                 now_us() - 1, new_audit_id()))
    expect(TokenPersona(cloud.api, old).get("networks"), 401, "HTTPUnauthorized")
    fresh = signer.issue(TokenData(user, project, None, ("member", "reader"), now_us(),
                                   now_us() + 10**7, new_audit_id()))
    expect(TokenPersona(cloud.api, fresh).get("networks"), 200)


# --- issuing tokens ---------------------------------------------------------------------

def test_issue_token_body_and_catalog(cloud):
    resp = cloud.issue("admin", ADMIN_PASSWORD, "admin")
    token = resp.headers["X-Subject-Token"]
    tok = resp.json()["token"]
    assert tok["methods"] == ["password"]
    assert tok["user"]["name"] == "admin" and tok["user"]["domain"] == {
        "id": "default", "name": "Default"}
    assert tok["project"]["name"] == "admin"
    assert {r["name"] for r in tok["roles"]} >= {"admin", "member", "reader"}
    assert tok["expires_at"].endswith("Z") and tok["issued_at"] < tok["expires_at"]
    services = {s["type"]: s for s in tok["catalog"]}
    net = services["network"]["endpoints"]
    assert {e["interface"] for e in net} == {"public", "internal", "admin"}
    assert {e["url"] for e in net} == {"http://testserver"}
    assert services["identity"]["endpoints"][0]["url"] == "http://testserver/identity"
    assert len(token) < 1024
    nocat = cloud.client.post("/identity/v3/auth/tokens?nocatalog",
                              json=password_body("admin", ADMIN_PASSWORD, "admin"))
    assert "catalog" not in nocat.json()["token"]


@pytest.mark.parametrize("case", ["password", "user", "project", "no-role", "disabled"])
def test_bad_credentials_401(cloud, case):
    me = cloud.tenant()
    user, password, project = me.user_name, me.password, me.project_name
    if case == "password":
        password = "wrong"
    elif case == "user":
        user = rand("nobody")
    elif case == "project":
        project = rand("noproject")
    elif case == "no-role":
        project = cloud.tenant().project_name
    else:
        cloud.store.set_user_enabled(user, False)
    resp = cloud.issue(user, password, project, status=401)
    assert resp.json()["error"]["code"] == 401
    assert resp.headers["WWW-Authenticate"] == WWW
    assert password not in resp.text


@pytest.mark.parametrize("body", [None, {}, {"auth": {}}, {"auth": {"identity": {}}},
                                  {"auth": {"identity": {"methods": ["password"],
                                                         "password": {"user": {}}}}}])
def test_malformed_auth_400(cloud, body):
    resp = cloud.client.post("/identity/v3/auth/tokens", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == 400


def test_unscoped_token_uses_default_project(cloud):
    me = cloud.tenant()
    resp = cloud.issue(me.user_name, me.password)
    assert resp.json()["token"]["project"]["name"] == me.project_name


def test_domain_scoped_token(cloud):
    me = cloud.tenant()
    cloud.store.assign(me.user_name, "reader", domain="Default")
    tok = cloud.issue(me.user_name, me.password, domain_scope="Default").json()["token"]
    assert tok["domain"] == {"id": "default", "name": "Default"} and "project" not in tok
    assert [r["name"] for r in tok["roles"]] == ["reader"]


def test_rescope_with_token_method(cloud):
    me = cloud.tenant()
    other = rand("proj")
    cloud.store.create_project(other)
    cloud.store.assign(me.user_name, "reader", project=other)
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": me.token}},
                     "scope": {"project": {"name": other, "domain": {"id": "default"}}}}}
    resp = cloud.client.post("/identity/v3/auth/tokens", json=body)
    assert resp.status_code == 201, resp.text
    tok = resp.json()["token"]
    assert tok["project"]["name"] == other and [r["name"] for r in tok["roles"]] == ["reader"]
    rescoped = TokenPersona(cloud.api, resp.headers["X-Subject-Token"])
    expect(rescoped.post("networks", {"network": {"name": "x"}}), 403)
    # Revoking the original token revokes the one rescoped from it.
    expect(cloud.client.delete("/identity/v3/auth/tokens", headers={
        "X-Auth-Token": me.token, "X-Subject-Token": me.token}), 204)
    expect(rescoped.get("networks"), 401)


# --- validation and revocation ---------------------------------------------------------------

def test_validate_own_and_others_tokens(cloud):
    me, other, admin = cloud.tenant(), cloud.tenant(), cloud.admin()

    def validate(caller, subject, method="GET"):
        return cloud.client.request(method, "/identity/v3/auth/tokens", headers={
            "X-Auth-Token": caller.token, "X-Subject-Token": subject})
    resp = validate(me, me.token)
    assert resp.status_code == 200 and resp.headers["X-Subject-Token"] == me.token
    assert resp.json()["token"]["project"]["name"] == me.project_name
    assert validate(me, me.token, "HEAD").status_code == 200
    assert validate(me, other.token).status_code == 403
    assert validate(admin, other.token).status_code == 200
    assert validate(admin, "n1.bogus.token").status_code == 404
    assert validate(TokenPersona(cloud.api, "bad"), me.token).status_code == 401


def test_revoke_token(cloud):
    me = cloud.tenant()
    expect(me.get("networks"), 200)          # validated and cached
    headers = {"X-Auth-Token": me.token, "X-Subject-Token": me.token}
    assert cloud.client.delete("/identity/v3/auth/tokens", headers=headers).status_code == 204
    expect(me.get("networks"), 401, "HTTPUnauthorized")
    admin = cloud.admin()
    assert cloud.client.get("/identity/v3/auth/tokens", headers={
        "X-Auth-Token": admin.token, "X-Subject-Token": me.token}).status_code == 404


def test_password_change_and_disable_revoke_tokens(cloud):
    me = cloud.tenant()
    expect(me.get("networks"), 200)
    cloud.store.set_password(me.user_name, "new-password")
    expect(me.get("networks"), 401)
    again = cloud.login(me.user_name, "new-password", me.project_name)
    expect(again.get("networks"), 200)
    cloud.store.set_user_enabled(me.user_name, False)
    expect(again.get("networks"), 401)


def test_unassign_role_revokes_project_tokens(cloud):
    me = cloud.tenant()
    expect(me.get("networks"), 200)
    cloud.store.unassign(me.user_name, "member", project=me.project_name)
    expect(me.get("networks"), 401)


def test_validated_tokens_are_cached(cloud):
    me = cloud.tenant()
    expect(me.get("networks"), 200)
    assert cloud.auth.cache.get(me.token) is not None


# --- roles and projects drive the policy ----------------------------------------------------------

def test_reader_lists_but_cannot_create(cloud):
    member = cloud.tenant("member")
    reader = cloud.tenant("reader", project=member.project_name)
    net = member.network()
    assert net["id"] in [n["id"] for n in reader.list("networks")]
    expect(reader.post("networks", {"network": {"name": "r"}}), 403, "PolicyNotAuthorized")
    expect(reader.put(f"networks/{net['id']}", {"network": {"name": "r"}}), 403)
    expect(reader.delete(f"networks/{net['id']}"), 403)


def test_projects_are_isolated_admin_sees_all(cloud):
    a, b, admin = cloud.tenant(), cloud.tenant(), cloud.admin()
    net_a, net_b = a.network(), b.network()
    assert net_a["project_id"] == cloud.store.find("project", a.project_name)["id"]
    ids_a = {n["id"] for n in a.list("networks")}
    assert net_a["id"] in ids_a and net_b["id"] not in ids_a
    expect(a.get(f"networks/{net_b['id']}"), 404, "NetworkNotFound")
    expect(b.delete(f"networks/{net_a['id']}"), 404)
    expect(a.post("ports", {"port": {"network_id": net_b["id"]}}), 404)
    all_ids = {n["id"] for n in admin.list("networks")}
    assert {net_a["id"], net_b["id"]} <= all_ids
    shared = admin.network(shared=True)
    assert shared["id"] in {n["id"] for n in b.list("networks")}


# --- identity administration API --------------------------------------------------------

def test_identity_admin_reads(cloud):
    admin, me = cloud.admin(), cloud.tenant()
    h = {"X-Auth-Token": admin.token}
    projects = cloud.client.get("/identity/v3/projects", headers=h).json()["projects"]
    assert me.project_name in {p["name"] for p in projects}
    users = cloud.client.get("/identity/v3/users", params={"name": me.user_name},
                             headers=h).json()["users"]
    assert [u["name"] for u in users] == [me.user_name]
    uid = users[0]["id"]
    mine = {"X-Auth-Token": me.token}
    assert cloud.client.get("/identity/v3/projects", headers=mine).status_code == 403
    assert cloud.client.get(f"/identity/v3/users/{uid}", headers=mine).status_code == 200
    own = cloud.client.get(f"/identity/v3/users/{uid}/projects", headers=mine).json()
    assert [p["name"] for p in own["projects"]] == [me.project_name]
    auth_projects = cloud.client.get("/identity/v3/auth/projects", headers=mine).json()
    assert [p["name"] for p in auth_projects["projects"]] == [me.project_name]
    roles = cloud.client.get("/identity/v3/roles", headers=h).json()["roles"]
    assert {"admin", "member", "reader"} <= {r["name"] for r in roles}
    ra = cloud.client.get("/identity/v3/role_assignments",
                          params={"user.id": uid, "include_names": "1"}, headers=h).json()
    assert [a["role"]["name"] for a in ra["role_assignments"]] == ["member"]
    cat = cloud.client.get("/identity/v3/auth/catalog", headers=mine).json()["catalog"]
    assert {s["type"] for s in cat} == {"identity", "network", "load-balancer"}
