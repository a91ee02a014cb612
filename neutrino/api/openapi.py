"""An OpenAPI 3 description of the API neutrino serves, built from the
attribute maps (api/resources.py) and the routes of api/app.py; the
identity's, FWaaS's, Octavia's and the feature catalogue's parts come from
identity/openapi.py, plugins/fwaas/openapi.py, octavia/openapi.py and
plugins/features.py. Served at GET /openapi.json; tests/fuzz drives
schemathesis with it. Upstream Neutron has none: it is neutrino's own.

Attr says what may be posted, updated, filtered and sorted; the JSON type of
an attribute comes from TYPES below where the Attr's converter or validator
does not tell (a to_boolean converter, a string(n) or values(...) validator
do). The schemas describe valid input: the fuzzer's negative mode derives
everything else from them.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

from neutrino.api import attributes as a
from neutrino.api.resources import (AGENT, FLOATINGIP, NETWORK, PORT, ROUTER,
                                    SECURITY_GROUP, SECURITY_GROUP_RULE, SUBNET, Resource)

OPENAPI = "3.0.3"
RESOURCES: tuple[Resource, ...] = (NETWORK, SUBNET, PORT, SECURITY_GROUP, SECURITY_GROUP_RULE,
                                   AGENT, ROUTER, FLOATINGIP)
NEUTRON_ERROR = {"$ref": "#/components/responses/NeutronError"}
KEYSTONE_ERROR = {"$ref": "#/components/responses/KeystoneError"}

# --- attribute types -----------------------------------------------------------------

UUID = {"type": "string", "format": "uuid"}
STR255 = {"type": "string", "maxLength": 255}
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IP = {"type": "string", "description": "an IPv4 or IPv6 address",
      "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
CIDR = {"type": "string", "description": "an IPv4 or IPv6 network, address/prefixlen",
        "anyOf": [{"pattern": f"^{_OCTET}(\\.{_OCTET}){{3}}/([0-9]|[12][0-9]|3[0-2])$"},
                  {"pattern": "^[0-9a-f]{1,4}(:[0-9a-f]{0,4}){1,7}"
                              "/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$"}]}
MAC = {"type": "string", "pattern": "^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$"}
TIME = {"type": "string", "format": "date-time"}


def _null(schema: dict) -> dict:
    return {**schema, "nullable": True}


def _array(items: dict, **kw) -> dict:
    return {"type": "array", "items": items, **kw}


def _object(props: dict, required: Iterable[str] = (), closed: bool = True) -> dict:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


_ROUTE = _object({"destination": CIDR, "nexthop": IP}, ("destination", "nexthop"))
_FIXED_IP = _object({"subnet_id": UUID, "ip_address": IP})
_PAIR = _object({"ip_address": {"type": "string", "description": "an address or CIDR"},
                 "mac_address": MAC}, ("ip_address",))

# By attribute name, then (resource, name) where resources differ.
TYPES: dict[str, dict] = {
    "id": UUID, "name": STR255, "description": STR255,
    "project_id": STR255, "tenant_id": STR255,
    "admin_state_up": {"type": "boolean"}, "status": {"type": "string"},
    "tags": _array({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,]*$"}),
    "created_at": TIME, "updated_at": TIME, "revision_number": {"type": "integer"},
    "network_id": UUID, "subnet_id": _null(UUID), "subnets": _array(UUID),
    "mtu": _null({"type": "integer", "minimum": 0}),
    "provider:network_type": _null({"type": "string", "maxLength": 32}),
    "provider:physical_network": _null({"type": "string", "maxLength": 64}),
    "provider:segmentation_id": _null({"type": "integer", "minimum": 0}),
    "availability_zone_hints": _array({"type": "string", "maxLength": 255}),
    "availability_zones": _array({"type": "string"}),
    "ipv4_address_scope": _null(UUID), "ipv6_address_scope": _null(UUID),
    "is_default": {"type": "boolean"},
    "ip_version": {"type": "integer", "enum": [4, 6]},
    "cidr": _null(CIDR), "prefixlen": {"type": "integer", "minimum": 0, "maximum": 128},
    "subnetpool_id": _null(UUID), "gateway_ip": _null(IP),
    "allocation_pools": _null(_array(_object({"start": IP, "end": IP}, ("start", "end")))),
    "dns_nameservers": _array(IP, uniqueItems=True),
    "host_routes": _array(_ROUTE), "routes": _null(_array(_ROUTE)),
    "ipv6_ra_mode": _null({"type": "string",
                           "enum": ["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]}),
    "ipv6_address_mode": _null({"type": "string",
                                "enum": ["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]}),
    "service_types": _array({"type": "string", "maxLength": 255}),
    "segment_id": _null(UUID),
    "mac_address": _null(MAC), "fixed_ips": _null(_array(_FIXED_IP)),
    "device_id": STR255, "device_owner": STR255,
    "security_groups": _null(_array(UUID, uniqueItems=True)),
    "port_security_enabled": {"type": "boolean"},
    "allowed_address_pairs": _null(_array(_PAIR)),
    "extra_dhcp_opts": _array({"type": "object"}),
    "binding:host_id": STR255, "binding:profile": {"type": "object"},
    "binding:vif_type": {"type": "string"}, "binding:vif_details": {"type": "object"},
    "ip_allocation": {"type": "string"},
    "stateful": {"type": "boolean"}, "security_group_rules": _array({"type": "object"}),
    "security_group_id": UUID, "remote_group_id": _null(UUID),
    "remote_address_group_id": _null(UUID),
    "protocol": _null({"type": "string", "maxLength": 40,
                       "description": "a protocol name or number (0-255)"}),
    "port_range_min": _null({"type": "integer", "minimum": 0, "maximum": 65535}),
    "port_range_max": _null({"type": "integer", "minimum": 0, "maximum": 65535}),
    "ethertype": {"type": "string", "enum": ["IPv4", "IPv6"]},
    "direction": {"type": "string", "enum": ["ingress", "egress"]},
    "remote_ip_prefix": _null(CIDR), "normalized_cidr": _null(CIDR),
    "belongs_to_default_sg": _null({"type": "boolean"}),
    "agent_type": {"type": "string"}, "binary": {"type": "string"},
    "topic": {"type": "string"}, "host": {"type": "string"},
    "availability_zone": _null({"type": "string"}), "alive": {"type": "boolean"},
    "configurations": {"type": "object"}, "resource_versions": {"type": "object"},
    "load": {"type": "integer"}, "started_at": TIME, "heartbeat_timestamp": TIME,
    "external_gateway_info": _null(_object({
        "network_id": UUID, "enable_snat": {"type": "boolean"},
        "external_fixed_ips": _array(_FIXED_IP)}, ("network_id",))),
    "floating_ip_address": _null(IP), "floating_network_id": UUID,
    "router_id": _null(UUID), "port_id": _null(UUID), "fixed_ip_address": _null(IP),
    "shared": {"type": "boolean"}, "router:external": {"type": "boolean"},
    "enable_dhcp": {"type": "boolean"},
}
RESOURCE_TYPES: dict[tuple[str, str], dict] = {
    ("agent", "description"): _null(STR255),
    ("port", "port_security_enabled"): _null({"type": "boolean"}),
}


def _closure(fn) -> dict[str, Any]:
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    cells = getattr(fn, "__closure__", None) or ()
    return {n: c.cell_contents for n, c in zip(names, cells)}


def _from_attr(attr: a.Attr) -> dict | None:
    """What the converter or validator tells, or None."""
    explicit = getattr(attr, "schema", None)  # if the Attr ever carries one
    if isinstance(explicit, dict):
        return copy.deepcopy(explicit)
    if attr.convert is a.to_boolean:
        return {"type": "boolean"}
    if attr.convert in (a.to_int, a.to_int_or_none):
        return _null({"type": "integer"}) if attr.convert is a.to_int_or_none else {
            "type": "integer"}
    if attr.convert is a.to_datetime:
        return dict(TIME)
    check = attr.validate
    qual = getattr(check, "__qualname__", "")
    env = _closure(check) if check is not None else {}
    if qual.startswith("string.") and "max_len" in env:
        out = {"type": "string", "maxLength": env["max_len"]}
        return _null(out) if env.get("nullable") else out
    if qual.startswith("values.") and "allowed" in env:
        kinds = {type(v) for v in env["allowed"]}
        kind = {str: "string", int: "integer"}.get(kinds.pop()) if len(kinds) == 1 else None
        return {"type": kind, "enum": list(env["allowed"])} if kind else {
            "enum": list(env["allowed"])}
    if qual.startswith("int_range.") and {"lo", "hi"} <= set(env):
        return {"type": "integer", "minimum": env["lo"], "maximum": env["hi"]}
    if check in (a.uuid_check,):
        return dict(UUID)
    if check in (a.uuid_or_none,):
        return _null(UUID)
    if check in (a.ip_or_none,):
        return _null(IP)
    if check in (a.dict_check,):
        return {"type": "object"}
    return None


def attr_schema(resource: Resource, attr: a.Attr) -> dict:
    """The JSON Schema of one attribute's value."""
    known = RESOURCE_TYPES.get((resource.singular, attr.name)) or TYPES.get(attr.name)
    if known is not None:
        return copy.deepcopy(known)
    derived = _from_attr(attr)
    if derived is not None:
        return derived
    return {"description": "any JSON value"}


# --- building blocks -------------------------------------------------------------------

def _key(resource: Resource) -> str:
    return resource.collection.replace("-", "_")


def _component(resource: Resource) -> str:
    return "".join(p.capitalize() for p in resource.singular.split("_"))


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict | None = None) -> dict:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _errors(*codes: int, keystone: bool = False) -> dict:
    ref = KEYSTONE_ERROR if keystone else NEUTRON_ERROR
    return {str(c): ref for c in codes}


def _path_param(name: str, schema: dict | None = None, description: str = "") -> dict:
    out = {"name": name, "in": "path", "required": True,
           "schema": schema or {"type": "string", "minLength": 1}}
    if description:
        out["description"] = description
    return out


def _query(name: str, schema: dict, description: str = "", array: bool = False) -> dict:
    out: dict[str, Any] = {"name": name, "in": "query", "required": False,
                           "schema": _array(schema) if array else schema}
    if array:
        out["style"], out["explode"] = "form", True
    if description:
        out["description"] = description
    return out


def _filter_schema(schema: dict) -> dict:
    """A filter value is one item of a query string: scalars only."""
    kind = schema.get("type")
    if kind in ("boolean", "integer"):
        return {"type": kind}
    if "enum" in schema:
        return {"type": kind or "string", "enum": schema["enum"]}
    return {"type": "string"}


def _fields_param(resource: Resource) -> dict:
    names = [x.name for x in resource.attrs if x.visible]
    return _query("fields", {"type": "string", "enum": names},
                  "attributes to return (repeat for more)", array=True)


def _list_params(resource: Resource) -> list[dict]:
    sortable = [x.name for x in resource.attrs if x.sort and x.visible]
    params = [
        _fields_param(resource),
        _query("limit", {"type": "integer", "minimum": 0},
               "page size (capped by pagination_max_limit)"),
        _query("marker", UUID, "id of the last item of the previous page"),
        _query("page_reverse", {"type": "boolean"}),
        _query("sort_key", {"type": "string", "enum": sortable}, array=True),
        _query("sort_dir", {"type": "string", "enum": ["asc", "desc"]}, array=True),
    ]
    for attr in resource.attrs:
        if attr.filter and attr.name != "tags":
            params.append(_query(attr.name, _filter_schema(attr_schema(resource, attr)),
                                 "filter (repeat: any of the values)", array=True))
    if resource.tags:
        for name in ("tags", "tags-any", "not-tags", "not-tags-any"):
            params.append(_query(name, {"type": "string"}, "comma-separated tags"))
    return params


def resource_schemas(resource: Resource) -> dict[str, dict]:
    """<Name> (what is returned), <Name>Create and <Name>Update (what may be sent)."""
    name = _component(resource)
    shown = {x.name: attr_schema(resource, x) for x in resource.attrs if x.visible}
    create = {x.name: attr_schema(resource, x) for x in resource.attrs if x.post}
    if resource.tags:
        create["tags"] = copy.deepcopy(TYPES["tags"])
    required = [x.name for x in resource.attrs if x.required]
    update = {x.name: attr_schema(resource, x) for x in resource.attrs if x.put}
    return {name: _object(shown, closed=False),
            name + "Create": _object(create, required),
            name + "Update": _object(update)}


# --- paths ---------------------------------------------------------------------------------

def _resource_paths(resource: Resource) -> dict[str, dict]:
    key, single, name = _key(resource), resource.singular, _component(resource)
    base = f"/v2.0/{resource.collection}"
    one = _object({single: _ref(name)}, (single,), closed=False)
    many = _object({key: _array(_ref(name))}, (key,), closed=False)
    tag = [resource.collection]
    collection: dict[str, Any] = {"get": {
        "operationId": f"list_{key}", "tags": tag, "summary": f"List {key}",
        "parameters": _list_params(resource),
        "responses": {"200": _ok(f"the {key} the caller may see", many),
                      **_errors(400, 401)}}}
    if resource is not AGENT:
        collection["post"] = {
            "operationId": f"create_{single}", "tags": tag,
            "summary": f"Create a {single}, or several at once (bulk: all or nothing)",
            "requestBody": _json_body({"oneOf": [
                _object({single: _ref(name + "Create")}, (single,)),
                _object({key: _array(_ref(name + "Create"), minItems=1)}, (key,))]}),
            "responses": {"201": _ok("created", {"oneOf": [one, many]}),
                          **_errors(400, 401, 403, 404, 409, 413)}}
    member = {
        "parameters": [_path_param("id", description=f"the {single}'s id")],
        "get": {"operationId": f"show_{single}", "tags": tag, "summary": f"Show a {single}",
                "parameters": [_fields_param(resource)],
                "responses": {"200": _ok(f"the {single}", one), **_errors(400, 401, 404)}},
        "put": {"operationId": f"update_{single}", "tags": tag, "summary": f"Update a {single}",
                "parameters": [{"name": "If-Match", "in": "header", "required": False,
                                "schema": {"type": "string",
                                           "pattern": "^revision_number=[0-9]+$"}}],
                "requestBody": _json_body(_object({single: _ref(name + "Update")}, (single,))),
                "responses": {"200": _ok("updated", one),
                              **_errors(400, 401, 403, 404, 409, 412, 413)}},
        "delete": {"operationId": f"delete_{single}", "tags": tag,
                   "summary": f"Delete a {single}",
                   "responses": {"204": _ok("deleted"), **_errors(401, 403, 404, 409)}},
    }
    paths = {base: collection, base + "/{id}": member}
    if resource.tags:
        paths.update(_tag_paths(resource, base))
    return paths


def _tag_paths(resource: Resource, base: str) -> dict[str, dict]:
    single, tag = resource.singular, [resource.collection]
    tags_body = _object({"tags": copy.deepcopy(TYPES["tags"])}, ("tags",))
    return {
        base + "/{id}/tags": {
            "parameters": [_path_param("id")],
            "get": {"operationId": f"list_{single}_tags", "tags": tag,
                    "responses": {"200": _ok("the tags", tags_body), **_errors(401, 404)}},
            "put": {"operationId": f"replace_{single}_tags", "tags": tag,
                    "requestBody": _json_body(tags_body),
                    "responses": {"200": _ok("the new tags", tags_body),
                                  **_errors(400, 401, 403, 404, 413)}},
            "delete": {"operationId": f"delete_{single}_tags", "tags": tag,
                       "responses": {"204": _ok("all removed"), **_errors(401, 403, 404)}}},
        base + "/{id}/tags/{tag}": {
            "parameters": [_path_param("id"),
                           _path_param("tag", {"type": "string", "minLength": 1,
                                               "maxLength": 255, "pattern": "^[^,/]*$"})],
            "get": {"operationId": f"check_{single}_tag", "tags": tag,
                    "responses": {"204": _ok("the tag is set"), **_errors(401, 404)}},
            "put": {"operationId": f"add_{single}_tag", "tags": tag,
                    "responses": {"201": _ok("added"), **_errors(400, 401, 403, 404)}},
            "delete": {"operationId": f"delete_{single}_tag", "tags": tag,
                       "responses": {"204": _ok("removed"), **_errors(401, 403, 404)}}},
    }


def _router_action_paths() -> dict[str, dict]:
    iface = _object({"subnet_id": UUID, "port_id": UUID}, closed=False)
    iface["minProperties"] = 1
    info = _object({"id": UUID, "tenant_id": STR255, "project_id": STR255, "port_id": UUID,
                    "subnet_id": UUID, "subnet_ids": _array(UUID), "network_id": UUID},
                   closed=False)
    out = {}
    for action in ("add_router_interface", "remove_router_interface"):
        out[f"/v2.0/routers/{{id}}/{action}"] = {
            "parameters": [_path_param("id")],
            "put": {"operationId": action, "tags": ["routers"],
                    "summary": "Attach a subnet or port" if action.startswith("add")
                    else "Detach a subnet or port",
                    "requestBody": _json_body(iface),
                    "responses": {"200": _ok("the interface", info),
                                  **_errors(400, 401, 403, 404, 409, 413)}}}
    out["/v2.0/routers/{id}/l3-agents"] = {
        "parameters": [_path_param("id")],
        "get": {"operationId": "list_l3_agents_hosting_router", "tags": ["l3_agent_scheduler"],
                "responses": {"200": _ok("agents", _object({"agents": _array(_ref("Agent"))},
                                                           closed=False)),
                              **_errors(401, 403, 404)}}}
    return out


def _scheduler_paths() -> dict[str, dict]:
    def listing(op, key, ref, tag):
        return {"operationId": op, "tags": [tag],
                "responses": {"200": _ok(key, _object({key: _array(_ref(ref))}, closed=False)),
                              **_errors(400, 401, 403, 404)}}

    def add(op, field, tag):
        return {"operationId": op, "tags": [tag],
                "requestBody": _json_body(_object({field: UUID}, (field,), closed=False)),
                "responses": {"201": _ok("scheduled"), **_errors(400, 401, 403, 404, 409)}}

    def remove(op, tag):
        return {"operationId": op, "tags": [tag],
                "responses": {"204": _ok("unscheduled"), **_errors(400, 401, 403, 404)}}
    dhcp, l3 = "dhcp_agent_scheduler", "l3_agent_scheduler"
    return {
        "/v2.0/agents/{id}/dhcp-networks": {
            "parameters": [_path_param("id")],
            "get": listing("list_networks_on_dhcp_agent", "networks", "Network", dhcp),
            "post": add("add_network_to_dhcp_agent", "network_id", dhcp)},
        "/v2.0/agents/{id}/dhcp-networks/{nid}": {
            "parameters": [_path_param("id"), _path_param("nid")],
            "delete": remove("remove_network_from_dhcp_agent", dhcp)},
        "/v2.0/networks/{id}/dhcp-agents": {
            "parameters": [_path_param("id")],
            "get": listing("list_dhcp_agents_hosting_network", "agents", "Agent", dhcp)},
        "/v2.0/agents/{id}/l3-routers": {
            "parameters": [_path_param("id")],
            "get": listing("list_routers_on_l3_agent", "routers", "Router", l3),
            "post": add("add_router_to_l3_agent", "router_id", l3)},
        "/v2.0/agents/{id}/l3-routers/{rid}": {
            "parameters": [_path_param("id"), _path_param("rid")],
            "delete": remove("remove_router_from_l3_agent", l3)},
    }


def _quota_paths() -> dict[str, dict]:
    from neutrino.plugins.quotas import RESOURCES as QUOTA_RESOURCES
    limit = {"type": "integer", "minimum": -1, "maximum": 2 ** 31 - 1}
    limits = _object({r: {"type": "integer"} for r in QUOTA_RESOURCES}, closed=False)
    update = _object({**{r: limit for r in QUOTA_RESOURCES}, "force": {"type": "boolean"}})
    detail = _object({r: _object({"limit": {"type": "integer"}, "used": {"type": "integer"},
                                  "reserved": {"type": "integer"}}, closed=False)
                      for r in QUOTA_RESOURCES}, closed=False)
    project = _path_param("project_id", {"type": "string", "minLength": 1, "maxLength": 255})
    tag = ["quotas"]

    def show(op, schema, summary):
        return {"operationId": op, "tags": tag, "summary": summary,
                "responses": {"200": _ok("quota", _object({"quota": schema}, closed=False)),
                              **_errors(401, 403, 404)}}
    tenant = {"operationId": "show_quota_project", "tags": tag,
              "summary": "The caller's project id",
              "responses": {"200": _ok("the project", {"type": "object"}), **_errors(401)}}
    return {
        "/v2.0/quotas": {"get": {
            "operationId": "list_quotas", "tags": tag, "summary": "Projects with own limits",
            "responses": {"200": _ok("quotas", _object({"quotas": _array(limits)},
                                                       closed=False)),
                          **_errors(401, 403)}}},
        "/v2.0/quotas/tenant": {"get": {**tenant, "operationId": "show_quota_tenant"}},
        "/v2.0/quotas/project": {"get": tenant},
        "/v2.0/quotas/{project_id}/default": {
            "parameters": [project],
            "get": show("show_quota_default", limits, "The default limits")},
        "/v2.0/quotas/{project_id}/details.json": {
            "parameters": [project],
            "get": show("show_quota_details_json", detail, "Limits and usage")},
        "/v2.0/quotas/{project_id}/details": {
            "parameters": [project],
            "get": show("show_quota_details", detail, "Limits and usage")},
        "/v2.0/quotas/{project_id}": {
            "parameters": [project],
            "get": show("show_quota", limits, "A project's limits"),
            "put": {"operationId": "update_quota", "tags": tag,
                    "requestBody": _json_body(_object({"quota": update}, ("quota",))),
                    "responses": {"200": _ok("the new limits",
                                             _object({"quota": limits}, closed=False)),
                                  **_errors(400, 401, 403, 409, 413)}},
            "delete": {"operationId": "delete_quota", "tags": tag,
                       "summary": "Back to the defaults",
                       "responses": {"204": _ok("reset"), **_errors(401, 403)}}},
    }


def _discovery_paths() -> dict[str, dict]:
    ext = _object({"alias": {"type": "string"}, "name": {"type": "string"},
                   "description": {"type": "string"}, "updated": {"type": "string"},
                   "links": _array({"type": "object"})}, closed=False)
    v2 = {"operationId": "list_resources", "tags": ["discovery"],
          "responses": {"200": _ok("resources", _object({"resources": _array({"type": "object"})},
                                                        closed=False)), **_errors(401)}}
    return {
        "/": {"get": {"operationId": "list_versions", "tags": ["discovery"], "security": [],
                      "responses": {"200": _ok("versions", _object(
                          {"versions": _array({"type": "object"})}, closed=False))}}},
        "/openapi.json": {"get": {"operationId": "openapi", "tags": ["discovery"],
                                  "security": [], "summary": "This document",
                                  "responses": {"200": _ok("OpenAPI 3", {"type": "object"})}}},
        "/v2.0": {"get": v2},
        "/v2.0/": {"get": {**v2, "operationId": "list_resources_slash"}},
        "/v2.0/extensions": {"get": {
            "operationId": "list_extensions", "tags": ["discovery"],
            "responses": {"200": _ok("extensions", _object({"extensions": _array(ext)},
                                                           closed=False)), **_errors(401)}}},
        "/v2.0/extensions/{alias}": {
            "parameters": [_path_param("alias")],
            "get": {"operationId": "show_extension", "tags": ["discovery"],
                    "responses": {"200": _ok("extension", _object({"extension": ext},
                                                                  closed=False)),
                                  **_errors(401, 404)}}},
    }


# --- the document ----------------------------------------------------------------------------

def document(identity: bool = False, token_auth: bool = False) -> dict:
    """The whole description. `identity`: the embedded identity is served
    (its paths are included); `token_auth`: requests need X-Auth-Token."""
    schemas: dict[str, dict] = {}
    paths: dict[str, dict] = {}
    paths.update(_discovery_paths())
    for resource in RESOURCES:
        schemas.update(resource_schemas(resource))
        paths.update(_resource_paths(resource))
    paths.update(_router_action_paths())
    paths.update(_scheduler_paths())
    paths.update(_quota_paths())
    from neutrino.plugins.fwaas.openapi import extend as fwaas_paths
    fwaas_paths(schemas, paths)     # FWaaS v2 under /v2.0/fwaas/
    from neutrino.plugins import features
    features.openapi(schemas, paths)  # the catalogue's collections
    from neutrino.octavia.openapi import extend as octavia_paths
    octavia_paths(schemas, paths)   # the Octavia v2 API (/v2/lbaas, /load-balancer)
    if identity:
        from neutrino.identity.openapi import paths as identity_paths
        paths.update(identity_paths())
    schemas["NeutronError"] = _object({"NeutronError": _object({
        "type": {"type": "string"}, "message": {"type": "string"},
        "detail": {"type": "string"}}, ("type", "message", "detail"), closed=False)},
        ("NeutronError",), closed=False)
    schemas["KeystoneError"] = _object({"error": _object({
        "code": {"type": "integer"}, "title": {"type": "string"},
        "message": {"type": "string"}}, ("code", "title", "message"), closed=False)},
        ("error",), closed=False)
    doc: dict[str, Any] = {
        "openapi": OPENAPI,
        "info": {"title": "neutrino: OpenStack Networking API v2.0",
                 "version": "2.0",
                 "description": "Neutron v2.0 as neutrino serves it (docs/api.md lists the "
                                "deviations)" + ("; and a Keystone v3 subset under /identity"
                                                 if identity else "") + "."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "NeutronError": _ok("an error, in Neutron's format", _ref("NeutronError")),
                "KeystoneError": _ok("an error, in Keystone's format", _ref("KeystoneError"))},
        },
    }
    if token_auth:
        doc["components"]["securitySchemes"] = {"keystone": {
            "type": "apiKey", "in": "header", "name": "X-Auth-Token",
            "description": "a Keystone token (the embedded identity's or a real Keystone's)"}}
        doc["security"] = [{"keystone": []}]
    return doc


def route(auth) -> "Route":
    """GET /openapi.json: without authentication, as the version document
    at / (it describes the API, not anybody's data); built once per worker."""
    import orjson
    from starlette.responses import Response
    from starlette.routing import Route

    from neutrino.api.auth import NoAuth
    body = orjson.dumps(document(identity=bool(auth.routes),
                                 token_auth=not isinstance(auth, NoAuth)))

    async def endpoint(request) -> Response:
        return Response(body, media_type="application/json")
    return Route("/openapi.json", endpoint, methods=["GET"])
