"""The segments part of GET /openapi.json: /v2.0/segments,
/v2.0/network-segment-ranges (from their attribute maps) and the
read-only /v2.0/service-providers."""
from __future__ import annotations

from typing import Any

from neutrino.plugins.segments.providers import SERVICE_PROVIDER
from neutrino.plugins.segments.resources import NETWORK_SEGMENT_RANGE, SEGMENT


def extend(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    from neutrino.api import openapi as oa
    for res in (SEGMENT, NETWORK_SEGMENT_RANGE):
        schemas.update(oa.resource_schemas(res))
        paths.update(oa._resource_paths(res))
    # the same collection at the underscore spelling (openstacksdk's)
    for path, item in oa._resource_paths(NETWORK_SEGMENT_RANGE).items():
        alias = {}
        for method, op in item.items():
            alias[method] = ({**op, "operationId": op["operationId"] + "_"}
                             if isinstance(op, dict) and "operationId" in op else op)
        paths[path.replace("network-segment-ranges", "network_segment_ranges")] = alias
    schemas.update(oa.resource_schemas(SERVICE_PROVIDER))
    listing = oa._resource_paths(SERVICE_PROVIDER)["/v2.0/service_providers"]["get"]
    paths["/v2.0/service-providers"] = {"get": {**listing, "tags": ["service-providers"]}}
