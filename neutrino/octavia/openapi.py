"""The Octavia part of GET /openapi.json: every route of routes.py, with
request bodies from the resources' Field lists (schema.py) and Octavia's
fault body for errors."""
from __future__ import annotations

from typing import Any

from neutrino.octavia import healthmonitors, l7, listeners, loadbalancers, members, pools
from neutrino.octavia.quotas import PUT_FIELDS as QUOTA_FIELDS
from neutrino.octavia.routes import CATALOG_PATH, PREFIXES
from neutrino.octavia.schema import Field

FAULT = {"description": "an error, in Octavia's format",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/"
                                                             "OctaviaFault"}}}}
# (path under the prefix, body key, POST fields, PUT fields, tag)
RESOURCES = (
    ("/loadbalancers", "loadbalancer", loadbalancers.POST_FIELDS, loadbalancers.PUT_FIELDS),
    ("/listeners", "listener", listeners.FIELDS, None),
    ("/pools", "pool", pools.FIELDS, None),
    ("/pools/{pool_id}/members", "member", members.FIELDS, None),
    ("/healthmonitors", "healthmonitor", healthmonitors.FIELDS, None),
    ("/l7policies", "l7policy", l7.POLICY_FIELDS, None),
    ("/l7policies/{policy_id}/rules", "rule", l7.RULE_FIELDS, None),
)


def _type(f: Field) -> dict[str, Any]:
    from neutrino.api import openapi as oa
    kind = f.kind
    if kind == "str":
        out = {"type": "string"}
        if f.max_length:
            out["maxLength"] = f.max_length
    elif kind == "uuid":
        out = dict(oa.UUID)
    elif kind == "bool":
        out = {"type": "boolean"}
    elif kind == "int":
        out = {"type": "integer"}
        if f.lo is not None:
            out["minimum"] = f.lo
        if f.hi is not None:
            out["maximum"] = f.hi
    elif kind == "ip":
        out = dict(oa.IP)
    elif kind == "enum":
        out = {"type": "string", "enum": list(f.choices)}
    elif kind == "dict":
        out = {"type": "object", "additionalProperties": {"type": "string"}}
    elif kind == "list-cidr":
        out = oa._array(oa.CIDR)
    elif kind == "tags":
        out = oa._array({"type": "string", "maxLength": 255})
    elif kind == "object":
        out = {"type": "object"}
    else:
        out = {"type": "array", "items": {}}
    return out if f.mandatory else oa._null(out)


def _body(key: str, fields: tuple[Field, ...], create: bool) -> dict:
    from neutrino.api import openapi as oa
    chosen = [f for f in fields if (f.post if create else f.put)]
    inner = oa._object({f.name: _type(f) for f in chosen},
                       [f.name for f in chosen if f.mandatory and create])
    return oa._json_body(oa._object({key: inner}, (key,)))


def _op(op_id: str, tag: str, summary: str, ok: str, status: int = 200,
        body: dict | None = None, errors=(400, 401, 403, 404, 409)) -> dict:
    from neutrino.api import openapi as oa
    out: dict[str, Any] = {"operationId": op_id, "tags": [tag], "summary": summary,
                           "responses": {str(status): oa._ok(ok, None if status in (202, 204)
                                                             and body is None
                                                             else {"type": "object"}),
                                         **{str(c): FAULT for c in errors}}}
    if body is not None:
        out["requestBody"] = body
    return out


def _params(path: str) -> list[dict]:
    from neutrino.api import openapi as oa
    return [oa._path_param(p.strip("{}")) for p in path.split("/") if p.startswith("{")]


def _prefix_paths(base: str, tag_suffix: str) -> dict[str, Any]:
    from neutrino.api import openapi as oa
    paths: dict[str, Any] = {}
    name = base.strip("/").replace("/", "_").replace(".", "_").replace("-", "_")
    for path, key, post, put in RESOURCES:
        tag = "lbaas-" + path.rsplit("/", 1)[1] + tag_suffix
        coll, item = base + path, base + path + "/{id}"
        list_params = [oa._query(q, {"type": "string"}) for q in
                       ("limit", "marker", "page_reverse", "sort", "fields")]
        paths[coll] = {
            "get": {**_op(f"{name}_list_{key}", tag, f"List {key} objects", "the list"),
                    "parameters": _params(path) + list_params},
            "post": {**_op(f"{name}_create_{key}", tag, f"Create a {key}", "created", 201,
                           _body(key, post, True)), "parameters": _params(path)}}
        paths[item] = {
            "parameters": _params(path + "/{id}"),
            "get": _op(f"{name}_show_{key}", tag, f"Show a {key}", "the object"),
            "put": _op(f"{name}_update_{key}", tag, f"Update a {key}", "updated", 200,
                       _body(key, put or post, False)),
            "delete": _op(f"{name}_delete_{key}", tag, f"Delete a {key}", "deleted (pending)",
                          204)}
    lb = base + "/loadbalancers/{id}"
    tag = "lbaas-loadbalancers" + tag_suffix
    paths[base + "/loadbalancers/{id}"]["delete"]["parameters"] = [
        oa._query("cascade", {"type": "boolean"}, "delete everything under it too")]
    for suffix, what in (("status", "The status tree"), ("statuses", "The status tree"),
                         ("stats", "Traffic counters")):
        paths[f"{lb}/{suffix}"] = {"parameters": _params(lb), "get": _op(
            f"{name}_loadbalancer_{suffix}", tag, what, what)}
    paths[f"{lb}/failover"] = {"parameters": _params(lb), "put": _op(
        f"{name}_loadbalancer_failover", tag, "Rebuild it (admin)", "accepted", 202)}
    paths[base + "/listeners/{id}/stats"] = {
        "parameters": _params("/{id}"),
        "get": _op(f"{name}_listener_stats", "lbaas-listeners" + tag_suffix,
                   "Traffic counters", "counters")}
    members_body = oa._json_body(oa._object({"members": oa._array(
        _body("m", members.FIELDS, True)["content"]["application/json"]["schema"][
            "properties"]["m"])}, ("members",)))
    paths[base + "/pools/{pool_id}/members"]["put"] = {
        **_op(f"{name}_batch_update_members", "lbaas-members" + tag_suffix,
              "Replace the pool's members", "accepted", 202, members_body),
        "parameters": _params("/{pool_id}") + [oa._query("additive_only",
                                                         {"type": "boolean"})]}
    misc = "lbaas-misc" + tag_suffix
    paths[base + "/providers"] = {"get": _op(f"{name}_providers", misc, "Providers",
                                             "the providers")}
    for kind in ("flavor_capabilities", "availability_zone_capabilities"):
        paths[base + "/providers/{provider}/" + kind] = {
            "parameters": _params("/{provider}"),
            "get": _op(f"{name}_provider_{kind}", misc, kind, "none")}
    paths[base + "/flavors"] = {"get": _op(f"{name}_flavors", misc, "Flavors", "none")}
    paths[base + "/flavors/{id}"] = {"parameters": _params("/{id}"),
                                     "get": _op(f"{name}_flavor", misc, "A flavor", "never")}
    paths[base + "/availabilityzones"] = {"get": _op(f"{name}_zones", misc,
                                                     "Availability zones", "none")}
    quota_body = oa._json_body(oa._object({"quota": oa._object(
        {f.name: _type(f) for f in QUOTA_FIELDS})}, ("quota",)))
    qtag = "lbaas-quotas" + tag_suffix
    paths[base + "/quotas"] = {"get": {**_op(f"{name}_quotas", qtag, "Quotas set",
                                             "the quotas"),
                                       "parameters": [oa._query("project_id",
                                                                {"type": "string"})]}}
    paths[base + "/quotas/{project_id}/default"] = {
        "parameters": _params("/{project_id}"),
        "get": _op(f"{name}_quota_defaults", qtag, "Default quotas", "the defaults")}
    paths[base + "/quotas/{project_id}"] = {
        "parameters": _params("/{project_id}"),
        "get": _op(f"{name}_quota_show", qtag, "A project's quotas", "the quotas"),
        "put": _op(f"{name}_quota_update", qtag, "Set a project's quotas", "accepted",
                   202, quota_body),
        "delete": _op(f"{name}_quota_reset", qtag, "Reset a project's quotas", "accepted",
                      202)}
    return paths


def extend(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    from neutrino.api import openapi as oa
    schemas["OctaviaFault"] = oa._object({"faultcode": {"type": "string"},
                                          "faultstring": {"type": "string"},
                                          "debuginfo": oa._null({"type": "string"})},
                                         ("faultcode", "faultstring", "debuginfo"))
    versions = {"get": {"operationId": "load_balancer_versions", "tags": ["lbaas-misc"],
                        "summary": "Octavia's API versions", "security": [],
                        "responses": {"200": oa._ok("the versions", {"type": "object"})}}}
    paths[CATALOG_PATH] = versions
    paths[CATALOG_PATH + "/"] = {"get": {**versions["get"],
                                         "operationId": "load_balancer_versions_slash"}}
    for base in PREFIXES:
        suffix = "" if base == "/v2/lbaas" else f" ({base})"
        paths.update(_prefix_paths(base, suffix))
