"""The trunk feature (aliases trunk, trunk-details): /v2.0/trunks with the
add_subports, remove_subports and get_subports actions, trunk_details on
parent ports, and the subports' wiring by the Linux bridge agent (VLAN
subinterfaces of the parent's tap, neutrino.agent.l2.trunk)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from neutrino.plugins.trunk.details import TRUNK_DETAILS

EXTENSIONS = [
    ("trunk", "Trunk Extension", "Provides support for trunk ports"),
    ("trunk-details", "Trunk port details", "Expose trunk port details"),
]

RESOURCE_EXTENSIONS = [TRUNK_DETAILS]

_MEMBER = "rule:admin_only or (role:member and project_id:%(project_id)s)"
_READER = "rule:admin_only or (role:reader and project_id:%(project_id)s)"
POLICY_RULES = {
    "create_trunk": _MEMBER, "get_trunk": _READER, "update_trunk": _MEMBER,
    "delete_trunk": _MEMBER, "get_subports": _READER, "add_subports": _MEMBER,
    "remove_subports": _MEMBER,
}


def install(api) -> list[Route]:
    from neutrino.api.controller import Controller
    from neutrino.plugins.trunk import binding
    from neutrino.plugins.trunk.plugin import TrunkPlugin
    from neutrino.plugins.trunk.resources import TRUNK
    core = api.core
    binding.register(core)
    plugin = TrunkPlugin(core)
    d = core.cfg.DEFAULT
    api.plugins["trunks"] = plugin
    api.controllers["trunks"] = Controller(TRUNK, plugin, core.policy, d.pagination_max_limit,
                                           d.max_filter_values, d.max_allowed_address_pair)

    def change(name: str, fn):
        def run(ctx, trunk_id, body):
            def authorize(row) -> None:
                # found as the caller (else 404): may read, so 403 if not allowed
                core.policy.enforce(ctx, name, {"project_id": row["project_id"],
                                                "tenant_id": row["project_id"]})
            return fn(ctx, trunk_id, body, authorize)

        async def endpoint(request: Request):
            return await api.call(request, run, request.path_params["id"], needs_body=True)
        return Route(f"/v2.0/trunks/{{id}}/{name}", endpoint, methods=["PUT"])

    async def get_subports(request: Request):
        return await api.call(request, plugin.get_subports, request.path_params["id"])

    return [change("add_subports", plugin.add_subports),
            change("remove_subports", plugin.remove_subports),
            Route("/v2.0/trunks/{id}/get_subports", get_subports, methods=["GET"])]


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.api import openapi as oa
    from neutrino.plugins.trunk.resources import TRUNK
    schemas.update(oa.resource_schemas(TRUNK))
    paths.update(oa._resource_paths(TRUNK))
    sub = oa._object({"port_id": oa.UUID, "segmentation_type": {"type": "string"},
                      "segmentation_id": {"type": "integer"}}, ("port_id",), closed=False)
    body = oa._object({"sub_ports": {"type": "array", "items": sub}}, ("sub_ports",),
                      closed=False)
    for action in ("add_subports", "remove_subports"):
        paths[f"/v2.0/trunks/{{id}}/{action}"] = {
            "parameters": [oa._path_param("id")],
            "put": {"operationId": f"{action}_trunk", "tags": ["trunks"],
                    "summary": action.replace("_", " ").capitalize(),
                    "requestBody": oa._json_body(body),
                    "responses": {"200": oa._ok("the trunk (no envelope)", oa._ref("Trunk")),
                                  **oa._errors(400, 401, 403, 404, 409, 413)}}}
    paths["/v2.0/trunks/{id}/get_subports"] = {
        "parameters": [oa._path_param("id")],
        "get": {"operationId": "get_subports_trunk", "tags": ["trunks"],
                "summary": "List the subports",
                "responses": {"200": oa._ok("the subports", body),
                              **oa._errors(401, 403, 404)}}}
