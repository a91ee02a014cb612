"""The address scope / subnet pool part of GET /openapi.json: the two
collections (from their attribute maps), the pool actions and the network
IP availabilities."""
from __future__ import annotations

from typing import Any

from neutrino.plugins.subnetpools.resources import (ADDRESS_SCOPE, NETWORK_IP_AVAILABILITY,
                                                    SUBNETPOOL)


def extend(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    from neutrino.api import openapi as oa
    for res in (ADDRESS_SCOPE, SUBNETPOOL):
        schemas.update(oa.resource_schemas(res))
        paths.update(oa._resource_paths(res))
    prefixes = oa._object({"prefixes": {"type": "array", "items": {"type": "string"}}},
                          ("prefixes",), closed=False)
    for action, summary in (("add_prefixes", "Add prefixes to a subnet pool"),
                            ("remove_prefixes", "Remove prefixes from a subnet pool")):
        paths[f"/v2.0/subnetpools/{{id}}/{action}"] = {
            "parameters": [oa._path_param("id")],
            "put": {"operationId": f"{action}_subnetpool", "tags": ["subnetpools"],
                    "summary": summary, "requestBody": oa._json_body(prefixes),
                    "responses": {"200": oa._ok("the pool's prefixes", prefixes),
                                  **oa._errors(400, 401, 403, 404, 413)}}}
    onboard = oa._object({"network_id": oa.UUID}, ("network_id",), closed=False)
    paths["/v2.0/subnetpools/{id}/onboard_network_subnets"] = {
        "parameters": [oa._path_param("id")],
        "put": {"operationId": "onboard_network_subnets", "tags": ["subnetpools"],
                "summary": "Move a network's subnets into the pool",
                "requestBody": oa._json_body(onboard),
                "responses": {"200": oa._ok("the onboarded subnets (id, cidr)",
                                            {"type": "array", "items": {"type": "object"}}),
                              **oa._errors(400, 401, 403, 404, 413)}}}
    schemas.update(oa.resource_schemas(NETWORK_IP_AVAILABILITY))
    for path, item in oa._resource_paths(NETWORK_IP_AVAILABILITY).items():
        get_only = {k: v for k, v in item.items() if k in ("get", "parameters")}
        paths[path] = get_only
