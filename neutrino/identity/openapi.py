"""The identity part of GET /openapi.json (neutrino.api.openapi): the
Keystone v3 subset the embedded identity serves, errors in Keystone's
format."""
from __future__ import annotations


def paths() -> dict[str, dict]:
    """The Keystone v3 subset's paths (identity/api.py, admin_api.py)."""
    # (imported here: api/openapi.py imports this module when it builds the document)
    from neutrino.api.openapi import (_array, _errors, _json_body, _object, _ok, _path_param,
                                      _query)
    id_ref = _object({"id": {"type": "string"}, "name": {"type": "string"}}, closed=False)
    v3, tag = "/identity/v3", ["identity"]
    user = _object({"id": {"type": "string"}, "name": {"type": "string"},
                    "domain": id_ref, "password": {"type": "string"}}, closed=False)
    auth = _object({"auth": _object({
        "identity": _object({
            "methods": _array({"type": "string", "enum": ["password", "token"]}, minItems=1),
            "password": _object({"user": user}, ("user",), closed=False),
            "token": _object({"id": {"type": "string"}}, ("id",), closed=False)},
            ("methods",), closed=False),
        "scope": _object({"project": _object({"id": {"type": "string"},
                                              "name": {"type": "string"},
                                              "domain": id_ref}, closed=False),
                          "domain": id_ref, "system": {"type": "object"}}, closed=False)},
        ("identity",), closed=False)}, ("auth",), closed=False)
    subject = {"name": "X-Subject-Token", "in": "header", "required": True,
               "schema": {"type": "string"}}
    nocatalog = _query("nocatalog", {"type": "string"}, "leave the catalog out")
    token_body = _object({"token": {"type": "object"}}, closed=False)
    errs = lambda *c: _errors(*c, keystone=True)  # noqa: E731
    out: dict[str, dict] = {}
    version = {"operationId": "identity_version", "tags": tag, "security": [],
               "responses": {"200": _ok("v3", _object({"version": {"type": "object"}},
                                                      closed=False))}}
    versions = {"operationId": "identity_versions", "tags": tag, "security": [],
                "responses": {"300": _ok("the versions", {"type": "object"})}}
    out["/identity"] = {"get": versions}
    out["/identity/"] = {"get": {**versions, "operationId": "identity_versions_slash"}}
    out[v3] = {"get": version}
    out[v3 + "/"] = {"get": {**version, "operationId": "identity_version_slash"}}
    out[v3 + "/auth/tokens"] = {
        "post": {"operationId": "issue_token", "tags": tag, "security": [],
                 "summary": "Password or token authentication",
                 "parameters": [nocatalog], "requestBody": _json_body(auth),
                 "responses": {"201": _ok("the token (in X-Subject-Token)", token_body),
                               **errs(400, 401, 403, 404, 413, 429)}},
        "get": {"operationId": "validate_token", "tags": tag,
                "parameters": [subject, nocatalog],
                "responses": {"200": _ok("the token", token_body), **errs(401, 403, 404)}},
        "head": {"operationId": "check_token", "tags": tag, "parameters": [subject],
                 "responses": {"200": _ok("valid"), **errs(401, 403, 404)}},
        "delete": {"operationId": "revoke_token", "tags": tag, "parameters": [subject],
                   "responses": {"204": _ok("revoked"), **errs(401, 403, 404)}}}
    for what in ("catalog", "projects", "domains"):
        out[f"{v3}/auth/{what}"] = {"get": {
            "operationId": f"auth_{what}", "tags": tag,
            "responses": {"200": _ok(what, {"type": "object"}), **errs(401, 403)}}}
    kinds = {"project": "projects", "user": "users", "role": "roles", "domain": "domains"}
    filters = [_query("name", {"type": "string"}), _query("domain_id", {"type": "string"}),
               _query("enabled", {"type": "boolean"})]
    ident = _path_param("id")
    for kind, plural in kinds.items():
        out[f"{v3}/{plural}"] = {"get": {
            "operationId": f"list_identity_{plural}", "tags": tag, "parameters": filters,
            "responses": {"200": _ok(plural, {"type": "object"}), **errs(401, 403)}}}
        out[f"{v3}/{plural}/{{id}}"] = {"parameters": [ident], "get": {
            "operationId": f"show_identity_{kind}", "tags": tag,
            "responses": {"200": _ok(kind, {"type": "object"}), **errs(401, 403, 404)}}}
    out[f"{v3}/users/{{id}}/projects"] = {"parameters": [ident], "get": {
        "operationId": "list_user_projects", "tags": tag,
        "responses": {"200": _ok("projects", {"type": "object"}), **errs(401, 403)}}}
    out[f"{v3}/role_assignments"] = {"get": {
        "operationId": "list_role_assignments", "tags": tag,
        "parameters": [_query("user.id", {"type": "string"}),
                       _query("scope.project.id", {"type": "string"}),
                       _query("scope.domain.id", {"type": "string"}),
                       _query("include_names", {"type": "string"})],
        "responses": {"200": _ok("assignments", {"type": "object"}), **errs(401, 403)}}}
    # The admin write side (identity/admin_api.py).
    text = {"type": "string", "maxLength": 255}
    bodies = {
        "project": (_object({"name": text, "domain_id": text, "description": text,
                             "enabled": {"type": "boolean"}}, ("name",), closed=False),
                    _object({"enabled": {"type": "boolean"}}, closed=False)),
        "user": (_object({"name": text, "password": {"type": "string"}, "domain_id": text,
                          "default_project_id": text, "email": text, "description": text,
                          "enabled": {"type": "boolean"}}, ("name",), closed=False),
                 _object({"password": {"type": "string"}, "enabled": {"type": "boolean"}},
                         closed=False)),
        "role": (_object({"name": text, "description": text}, ("name",), closed=False), None),
    }
    for kind, (create, patch) in bodies.items():
        plural = kinds[kind]
        out[f"{v3}/{plural}"]["post"] = {
            "operationId": f"create_identity_{kind}", "tags": tag,
            "requestBody": _json_body(_object({kind: create}, (kind,), closed=False)),
            "responses": {"201": _ok("created", {"type": "object"}),
                          **errs(400, 401, 403, 404, 409, 413)}}
        member = out[f"{v3}/{plural}/{{id}}"]
        if patch is not None:
            member["patch"] = {
                "operationId": f"update_identity_{kind}", "tags": tag,
                "requestBody": _json_body(_object({kind: patch}, (kind,), closed=False)),
                "responses": {"200": _ok("updated", {"type": "object"}),
                              **errs(400, 401, 403, 404, 413)}}
        member["delete"] = {"operationId": f"delete_identity_{kind}", "tags": tag,
                            "responses": {"204": _ok("deleted"), **errs(401, 403, 404, 409)}}
    for plural, kind in (("projects", "project"), ("domains", "domain")):
        base = f"{v3}/{plural}/{{target}}/users/{{user}}/roles"
        where = [_path_param("target"), _path_param("user")]
        out[base] = {"parameters": where, "get": {
            "operationId": f"list_{kind}_user_roles", "tags": tag,
            "responses": {"200": _ok("roles", {"type": "object"}), **errs(401, 403, 404)}}}
        out[base + "/{role}"] = {"parameters": where + [_path_param("role")], **{
            method: {"operationId": f"{verb}_{kind}_user_role", "tags": tag,
                     "responses": {"204": _ok(verb), **errs(401, 403, 404)}}
            for method, verb in (("put", "grant"), ("head", "check"), ("delete", "revoke"))}}
    return out
