"""The embedded identity's HTTP API: a Keystone v3 subset under /identity on
the API port (OS_AUTH_URL=http://<host>:9696/identity/v3).

    GET  /identity                      versions (300, as Keystone)
    GET  /identity/v3                   version document
    POST /identity/v3/auth/tokens       password or token method; project or domain
                                        scope (or the user's default project); ?nocatalog
    GET/HEAD /identity/v3/auth/tokens   validate X-Subject-Token (admin/service, or own)
    DELETE /identity/v3/auth/tokens     revoke X-Subject-Token (admin/service, or own)
    GET  /identity/v3/auth/{catalog,projects,domains}
    GET  /identity/v3/{projects,users,roles,domains}[/{id}], /users/{id}/projects,
         /role_assignments              read-only (admin; a user may read itself)

Users, projects and role assignments are managed with `neutrino identity`.
Errors are Keystone's: {"error": {"code", "title", "message"}}; a 401 has
`WWW-Authenticate: Keystone uri="<identity url>"`.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from neutrino.identity.service import PREFIX, AuthFailed, Forbidden, IdentityService
from neutrino.identity.store import IdentityError, NotFound
from neutrino.identity.tokens import InvalidToken, TokenData

LOG = logging.getLogger(__name__)
JSON = "application/json"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          409: "Conflict", 413: "Request Entity Too Large", 429: "Too Many Requests",
          500: "Internal Server Error", 503: "Service Unavailable"}
V3_UPDATED = "2020-04-07T00:00:00Z"
PRIVILEGED = ("admin", "service")


def _json(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


class IdentityApi:
    def __init__(self, service: IdentityService):
        self.svc = service

    # --- plumbing ------------------------------------------------------------------
    def _error(self, request: Request, status: int, message: str,
               extra_headers: dict | None = None) -> Response:
        headers = dict(extra_headers or {}) or None
        if status == 401:
            headers = {**(headers or {}), "WWW-Authenticate":
                       f'Keystone uri="{self.svc.identity_url(str(request.base_url))}"'}
        return _json({"error": {"code": status, "title": TITLES.get(status, "Error"),
                                "message": message}}, status, headers)

    async def _run(self, request: Request, fn: Callable[..., Any], *args) -> Response:
        try:
            return await run_in_threadpool(fn, request, *args)
        except IdentityError as exc:
            return self._error(request, exc.status, str(exc), getattr(exc, "headers", None))
        except Exception:  # never a traceback (or a secret) to the client
            LOG.exception("%s %s failed", request.method, request.url.path)
            return self._error(request, 500, "An unexpected error prevented the server "
                                             "from fulfilling your request.")

    def _caller(self, request: Request) -> TokenData:
        token = request.headers.get("x-auth-token")
        if not token:
            raise AuthFailed()
        try:
            return self.svc.check(token)
        except InvalidToken:
            raise AuthFailed() from None

    @staticmethod
    def _privileged(caller: TokenData) -> bool:
        return any(r in caller.roles for r in PRIVILEGED)

    def _admin(self, request: Request) -> TokenData:
        caller = self._caller(request)
        if "admin" not in caller.roles:
            raise Forbidden("You are not authorized to perform the requested action.")
        return caller

    def _base(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def _links(self, request: Request, path: str) -> dict:
        return {"self": self.svc.identity_url(self._base(request)) + "/v3" + path}

    # --- versions ------------------------------------------------------------------
    def _v3(self, request: Request) -> dict:
        return {"id": "v3.14", "status": "stable", "updated": V3_UPDATED,
                "links": [{"rel": "self",
                           "href": self.svc.identity_url(self._base(request)) + "/v3/"}],
                "media-types": [{"base": "application/json",
                                 "type": "application/vnd.openstack.identity-v3+json"}]}

    async def versions(self, request: Request) -> Response:
        return _json({"versions": {"values": [self._v3(request)]}}, 300)

    async def version(self, request: Request) -> Response:
        return _json({"version": self._v3(request)})

    # --- tokens ----------------------------------------------------------------------
    async def tokens(self, request: Request) -> Response:
        if request.method == "POST":
            raw = await request.body()
            try:
                body = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                return self._error(request, 400, "The request body is not valid JSON.")
            return await self._run(request, self._issue, body)
        return await self._run(request, self._subject)

    def _issue(self, request: Request, body: Any) -> Response:
        issued = self.svc.authenticate(body, request.client.host if request.client else "")
        nocatalog = "nocatalog" in request.query_params
        return _json(self.svc.token_body(issued.data, self._base(request), not nocatalog), 201,
                     {"X-Subject-Token": issued.token})

    def _subject(self, request: Request) -> Response:
        caller = self._caller(request)
        subject_token = request.headers.get("x-subject-token", "")
        try:
            subject = self.svc.check(subject_token)
        except InvalidToken:
            raise NotFound("Could not find token.") from None
        if subject.user_id != caller.user_id and not self._privileged(caller):
            raise Forbidden("You are not authorized to perform the requested action: "
                            "identity:validate_token.")
        if request.method == "DELETE":
            self.svc.revoke(subject)
            return Response(status_code=204)
        if request.method == "HEAD":
            return Response(status_code=200, headers={"X-Subject-Token": subject_token})
        nocatalog = "nocatalog" in request.query_params
        return _json(self.svc.token_body(subject, self._base(request), not nocatalog), 200,
                     {"X-Subject-Token": subject_token})

    # --- auth/* -----------------------------------------------------------------------------
    async def auth_catalog(self, request: Request) -> Response:
        def fn(request):
            caller = self._caller(request)
            if not (caller.project_id or caller.domain_id):
                raise Forbidden("The service catalog needs a scoped token.")
            return _json({"catalog": self.svc.catalog(self._base(request)),
                          "links": self._links(request, "/auth/catalog")})
        return await self._run(request, fn)

    async def auth_projects(self, request: Request) -> Response:
        def fn(request):
            caller = self._caller(request)
            projects = [p for p in self.svc.store.projects_of_user(caller.user_id) if p["enabled"]]
            return _json({"projects": [self._project(request, p) for p in projects],
                          "links": self._links(request, "/auth/projects")})
        return await self._run(request, fn)

    async def auth_domains(self, request: Request) -> Response:
        def fn(request):
            caller = self._caller(request)
            doms = {a["target_id"] for a in self.svc.store.assignments(user=caller.user_id)
                    if a["target_type"] == "domain"}
            rows = [d for d in self.svc.store.list("domain") if d["id"] in doms]
            return _json({"domains": [self._domain(request, d) for d in rows],
                          "links": self._links(request, "/auth/domains")})
        return await self._run(request, fn)

    # --- read-only administration --------------------------------------------------------------
    def _project(self, request, p: dict) -> dict:
        return {"id": p["id"], "name": p["name"], "domain_id": p["domain_id"],
                "description": p["description"], "enabled": p["enabled"], "is_domain": False,
                "parent_id": p["domain_id"], "tags": [], "options": {},
                "links": self._links(request, f"/projects/{p['id']}")}

    def _user(self, request, u: dict) -> dict:
        out = {"id": u["id"], "name": u["name"], "domain_id": u["domain_id"],
               "enabled": u["enabled"], "password_expires_at": None, "options": {},
               "links": self._links(request, f"/users/{u['id']}")}
        if u["default_project_id"]:
            out["default_project_id"] = u["default_project_id"]
        if u["email"]:
            out["email"] = u["email"]
        if u["description"]:
            out["description"] = u["description"]
        return out

    def _role(self, request, r: dict) -> dict:
        return {"id": r["id"], "name": r["name"], "domain_id": None,
                "description": r["description"], "options": {},
                "links": self._links(request, f"/roles/{r['id']}")}

    def _domain(self, request, d: dict) -> dict:
        return {"id": d["id"], "name": d["name"], "description": d["description"],
                "enabled": d["enabled"], "tags": [], "options": {},
                "links": self._links(request, f"/domains/{d['id']}")}

    def collection(self, kind: str, plural: str) -> Callable:
        render = {"project": self._project, "user": self._user, "role": self._role,
                  "domain": self._domain}[kind]

        async def list_ep(request: Request) -> Response:
            def fn(request):
                self._admin(request)
                q = request.query_params
                filters = {"name": q.get("name"), "domain_id": q.get("domain_id")}
                if q.get("enabled") is not None:
                    filters["enabled"] = q.get("enabled").lower() in ("true", "1", "yes")
                rows = self.svc.store.list(kind, **filters)
                return _json({plural: [render(request, r) for r in rows],
                              "links": {**self._links(request, f"/{plural}"),
                                        "next": None, "previous": None}})
            return await self._run(request, fn)

        async def show_ep(request: Request) -> Response:
            def fn(request):
                caller = self._caller(request)
                ident = request.path_params["id"]
                own = ((kind == "user" and ident == caller.user_id)
                       or (kind == "project" and ident == caller.project_id))
                if not own and "admin" not in caller.roles:
                    raise Forbidden("You are not authorized to perform the requested action.")
                row = self.svc.store.get(kind, ident)
                if row is None:
                    raise NotFound(f"Could not find {kind}: {ident}.")
                return _json({kind: render(request, row)})
            return await self._run(request, fn)
        return list_ep, show_ep

    async def user_projects(self, request: Request) -> Response:
        def fn(request):
            caller = self._caller(request)
            uid = request.path_params["id"]
            if uid != caller.user_id and "admin" not in caller.roles:
                raise Forbidden("You are not authorized to perform the requested action.")
            rows = self.svc.store.projects_of_user(uid)
            return _json({"projects": [self._project(request, p) for p in rows],
                          "links": self._links(request, f"/users/{uid}/projects")})
        return await self._run(request, fn)

    async def role_assignments(self, request: Request) -> Response:
        def fn(request):
            self._admin(request)
            q = request.query_params
            rows = self.svc.store.assignments(user=q.get("user.id"),
                                              project=q.get("scope.project.id"),
                                              domain=q.get("scope.domain.id"))
            names = "include_names" in q
            out = []
            for a in rows:
                item = {"user": {"id": a["user_id"]}, "role": {"id": a["role_id"]},
                        "scope": {a["target_type"]: {"id": a["target_id"]}}}
                if names:
                    item["user"]["name"] = a["user_name"]
                    item["role"]["name"] = a["role_name"]
                out.append(item)
            return _json({"role_assignments": out,
                          "links": self._links(request, "/role_assignments")})
        return await self._run(request, fn)

    # --- routing ------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        v3 = PREFIX + "/v3"
        routes = [Route(PREFIX, self.versions, methods=["GET"]),
                  Route(PREFIX + "/", self.versions, methods=["GET"]),
                  Route(v3, self.version, methods=["GET"]),
                  Route(v3 + "/", self.version, methods=["GET"]),
                  Route(v3 + "/auth/tokens", self.tokens,
                        methods=["GET", "HEAD", "POST", "DELETE"]),
                  Route(v3 + "/auth/catalog", self.auth_catalog, methods=["GET"]),
                  Route(v3 + "/auth/projects", self.auth_projects, methods=["GET"]),
                  Route(v3 + "/auth/domains", self.auth_domains, methods=["GET"]),
                  Route(v3 + "/users/{id}/projects", self.user_projects, methods=["GET"]),
                  Route(v3 + "/role_assignments", self.role_assignments, methods=["GET"])]
        for kind, plural in (("project", "projects"), ("user", "users"), ("role", "roles"),
                             ("domain", "domains")):
            list_ep, show_ep = self.collection(kind, plural)
            routes += [Route(f"{v3}/{plural}", list_ep, methods=["GET"]),
                       Route(f"{v3}/{plural}/{{id}}", show_ep, methods=["GET"])]
        return routes
