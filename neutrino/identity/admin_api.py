"""Write side of the embedded identity's admin API (admin role required), what
`openstack project/user/role ...` and tempest's dynamic credentials use:

    POST /v3/projects, PATCH|DELETE /v3/projects/{id}
    POST /v3/users,    PATCH|DELETE /v3/users/{id}   (password, enabled, default project)
    POST /v3/roles,    DELETE /v3/roles/{id}
    GET  /v3/{projects|domains}/{id}/users/{user}/roles
    PUT|HEAD|DELETE /v3/{projects|domains}/{id}/users/{user}/roles/{role}

The `neutrino identity` CLI does the same on the database directly.
"""
from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from neutrino.identity.api import IdentityApi, _json
from neutrino.identity.service import PREFIX
from neutrino.identity.store import IdentityError, NotFound


# Keystone's request schemas, reduced to the fields stored here: the type and
# the column's length (None: unbounded); null is allowed except for `enabled`.
_FIELDS: dict[str, dict[str, tuple[type, int | None]]] = {
    "project": {"name": (str, 255), "domain_id": (str, 64), "description": (str, None),
                "enabled": (bool, None)},
    "user": {"name": (str, 255), "password": (str, 4096), "domain_id": (str, 64),
             "default_project_id": (str, 64), "project_id": (str, 64), "email": (str, 255),
             "description": (str, None), "enabled": (bool, None)},
    "role": {"name": (str, 255), "description": (str, None)},
}


def _invalid(field: str, why: str) -> IdentityError:
    return IdentityError(f"Invalid input for field '{field}': {why}")


def _body(raw: bytes, key: str) -> dict:
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise IdentityError("The request body is not valid JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise IdentityError(f"Expecting to find {key} in the request body.")
    for field, (kind, max_len) in _FIELDS.get(key, {}).items():
        value = body[key].get(field)
        if value is None and not (field == "enabled" and field in body[key]):
            continue
        if not isinstance(value, kind):
            raise _invalid(field, f"{value!r} is not of type '{kind.__name__}'")
        if kind is str and "\x00" in value:  # no database text column holds one
            raise _invalid(field, "NUL characters are not allowed")
        if max_len is not None and len(value) > max_len:
            raise _invalid(field, f"it is longer than {max_len} characters")
    return body[key]


class AdminApi:
    def __init__(self, api: IdentityApi):
        self.api = api
        self.store = api.svc.store

    async def _call(self, request: Request, fn, *args) -> Response:
        raw = await request.body() if request.method in ("POST", "PATCH") else b""

        def run(request):
            self.api._admin(request)
            return fn(request, raw, *args)
        return await self.api._run(request, run)

    def _existing(self, kind: str, request) -> str:
        """The id in the path, of a `kind` that exists (else Keystone's 404)."""
        ident = request.path_params["id"]
        if self.store.get(kind, ident) is None:
            raise NotFound(f"Could not find {kind}: {ident}.")
        return ident

    # --- projects ------------------------------------------------------------------
    def _create_project(self, request, raw) -> Response:
        p = _body(raw, "project")
        if not p.get("name"):
            raise IdentityError("Expecting to find name in project.")
        row = self.store.create_project(str(p["name"]), domain=p.get("domain_id"),
                                        description=str(p.get("description") or ""),
                                        enabled=bool(p.get("enabled", True)))
        return _json({"project": self.api._project(request, row)}, 201)

    def _project_member(self, request, raw) -> Response:
        pid = self._existing("project", request)
        if request.method == "DELETE":
            self.store.delete_project(pid)
            return Response(status_code=204)
        p = _body(raw, "project")
        if "enabled" in p:
            self.store.set_project_enabled(pid, bool(p["enabled"]))
        return _json({"project": self.api._project(request, self.store.get("project", pid))})

    # --- users ------------------------------------------------------------------------
    def _create_user(self, request, raw) -> Response:
        u = _body(raw, "user")
        if not u.get("name"):
            raise IdentityError("Expecting to find name in user.")
        row = self.store.create_user(
            str(u["name"]), u.get("password"), domain=u.get("domain_id"),
            default_project=u.get("default_project_id") or u.get("project_id"),
            email=str(u.get("email") or ""), description=str(u.get("description") or ""),
            enabled=bool(u.get("enabled", True)))
        return _json({"user": self.api._user(request, row)}, 201)

    def _user_member(self, request, raw) -> Response:
        uid = self._existing("user", request)
        if request.method == "DELETE":
            self.store.delete_user(uid)
            return Response(status_code=204)
        u = _body(raw, "user")
        if u.get("password"):
            self.store.set_password(uid, str(u["password"]))
        if "enabled" in u:
            self.store.set_user_enabled(uid, bool(u["enabled"]))
        return _json({"user": self.api._user(request, self.store.get("user", uid))})

    # --- roles -----------------------------------------------------------------------------
    def _create_role(self, request, raw) -> Response:
        r = _body(raw, "role")
        if not r.get("name"):
            raise IdentityError("Expecting to find name in role.")
        row = self.store.create_role(str(r["name"]), str(r.get("description") or ""))
        return _json({"role": self.api._role(request, row)}, 201)

    def _delete_role(self, request, raw) -> Response:
        rid = self._existing("role", request)
        self.store.delete_role(rid)
        return Response(status_code=204)

    # --- grants -------------------------------------------------------------------------------
    def _grant(self, request, raw, kind: str) -> Response:
        target, uid = request.path_params["target"], request.path_params["user"]
        for k, ident in ((kind, target), ("user", uid)):
            if self.store.get(k, ident) is None:
                raise NotFound(f"Could not find {k}: {ident}.")
        where: dict[str, Any] = {kind: target}
        if request.method == "GET" and "role" not in request.path_params:
            rows = self.store.assignments(user=uid, **where)
            roles = [self.store.get("role", a["role_id"]) for a in rows]
            return _json({"roles": [self.api._role(request, r) for r in roles if r],
                          "links": self.api._links(request, request.url.path)})
        rid = request.path_params["role"]
        if self.store.get("role", rid) is None:
            raise NotFound(f"Could not find role: {rid}.")
        if request.method == "PUT":
            self.store.assign(uid, rid, **where)
        elif request.method == "DELETE":
            self.store.unassign(uid, rid, **where)
        elif not any(a["role_id"] == rid for a in self.store.assignments(user=uid, **where)):
            raise NotFound("Could not find role assignment.")
        return Response(status_code=204)

    def routes(self) -> list[Route]:
        v3 = PREFIX + "/v3"

        def ep(fn, *args):
            async def endpoint(request: Request) -> Response:
                return await self._call(request, fn, *args)
            return endpoint
        routes = [Route(f"{v3}/projects", ep(self._create_project), methods=["POST"]),
                  Route(f"{v3}/projects/{{id}}", ep(self._project_member),
                        methods=["PATCH", "DELETE"]),
                  Route(f"{v3}/users", ep(self._create_user), methods=["POST"]),
                  Route(f"{v3}/users/{{id}}", ep(self._user_member), methods=["PATCH", "DELETE"]),
                  Route(f"{v3}/roles", ep(self._create_role), methods=["POST"]),
                  Route(f"{v3}/roles/{{id}}", ep(self._delete_role), methods=["DELETE"])]
        for plural, kind in (("projects", "project"), ("domains", "domain")):
            base = f"{v3}/{plural}/{{target}}/users/{{user}}/roles"
            routes += [Route(base, ep(self._grant, kind), methods=["GET"]),
                       Route(base + "/{role}", ep(self._grant, kind),
                             methods=["PUT", "HEAD", "DELETE"])]
        return routes
