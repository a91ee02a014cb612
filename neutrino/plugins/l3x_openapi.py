"""The /openapi.json parts of the L3 extensions' features (port forwardings,
conntrack helpers, metering, flavors, the router and floating IP extras),
built from their attribute maps as the core resources' are."""
from __future__ import annotations




def collection(schemas: dict, paths: dict, res, prefix: str = "") -> None:
    """A top-level collection (under /v2.0/<prefix>)."""
    from neutrino.api import openapi as oa
    schemas.update(oa.resource_schemas(res))
    for path, item in oa._resource_paths(res).items():
        paths[path.replace("/v2.0/", f"/v2.0/{prefix}", 1)] = item


def sub_collection(schemas: dict, paths: dict, res, parent: str, param: str) -> None:
    """A collection under one parent: /v2.0/<parent>/{<param>}/<collection>."""
    from neutrino.api import openapi as oa
    schemas.update(oa.resource_schemas(res))
    owner = oa._path_param(param, description=f"the parent's id ({parent})")
    for path, item in oa._resource_paths(res).items():
        item = dict(item)
        item["parameters"] = [owner] + list(item.get("parameters", ()))
        paths[path.replace("/v2.0/", f"/v2.0/{parent}/{{{param}}}/", 1)] = item


def l3extras(schemas: dict, paths: dict) -> None:
    from neutrino.api import openapi as oa
    pool = oa._object({"subnet_id": oa.UUID, "subnet_name": {"type": "string"},
                       "network_id": oa.UUID, "cidr": {"type": "string"},
                       "project_id": {"type": "string"}, "tenant_id": {"type": "string"}},
                      closed=False)
    pools = oa._object({"floatingip_pools": oa._array(pool)}, ("floatingip_pools",),
                       closed=False)
    for path in ("/v2.0/floatingip_pools", "/v2.0/floatingip-pools"):
        paths[path] = {"get": {
            "operationId": "list_floatingip_pools" + ("" if "_" in path else "_hyphen"),
            "tags": ["floatingip_pools"],
            "summary": "The IPv4 subnets of the external networks the caller sees",
            "parameters": [oa._query("fields", {"type": "string"}, array=True)],
            "responses": {"200": oa._ok("the pools", pools), **oa._errors(401, 403)}}}
    route = oa._object({"destination": {"type": "string"}, "nexthop": {"type": "string"}},
                       ("destination", "nexthop"))
    body = oa._object({"router": oa._object({"routes": oa._array(route)}, ("routes",))},
                      ("router",))
    for action, summary in (("add_extraroutes", "Add routes (set union), atomically"),
                            ("remove_extraroutes", "Remove routes, atomically")):
        paths[f"/v2.0/routers/{{id}}/{action}"] = {
            "parameters": [oa._path_param("id")],
            "put": {"operationId": action, "tags": ["routers"], "summary": summary,
                    "requestBody": oa._json_body(body),
                    "responses": {"200": oa._ok("the router", oa._object(
                        {"router": oa._ref("Router")}, ("router",), closed=False)),
                        **oa._errors(400, 401, 403, 404, 409, 413)}}}


def flavor_bindings(paths: dict) -> None:
    from neutrino.api import openapi as oa
    ref = oa._object({"service_profile": oa._object({"id": oa.UUID}, ("id",))},
                     ("service_profile",))
    listed = oa._object({"service_profiles": oa._array(oa._object({"id": oa.UUID}))},
                        ("service_profiles",), closed=False)
    base = "/v2.0/flavors/{id}/service_profiles"
    paths[base] = {
        "parameters": [oa._path_param("id")],
        "get": {"operationId": "list_flavor_service_profiles", "tags": ["flavors"],
                "summary": "The service profiles of a flavor",
                "responses": {"200": oa._ok("their ids", listed), **oa._errors(401, 403, 404)}},
        "post": {"operationId": "create_flavor_service_profile", "tags": ["flavors"],
                 "summary": "Bind a service profile to a flavor",
                 "requestBody": oa._json_body(ref),
                 "responses": {"201": oa._ok("bound", ref),
                               **oa._errors(400, 401, 403, 404, 409, 413)}}}
    paths[base + "/{sp}"] = {
        "parameters": [oa._path_param("id"), oa._path_param("sp")],
        "delete": {"operationId": "delete_flavor_service_profile", "tags": ["flavors"],
                   "summary": "Unbind a service profile from a flavor",
                   "responses": {"204": oa._ok("unbound"), **oa._errors(401, 403, 404)}}}


