"""The get-me-a-network part of GET /openapi.json."""
from __future__ import annotations

from typing import Any


def extend(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    from neutrino.api import openapi as oa
    topology = oa._object({"auto_allocated_topology": oa._object(
        {"id": {"type": "string"}, "tenant_id": {"type": "string"},
         "project_id": {"type": "string"}}, ("id",), closed=False)},
        ("auto_allocated_topology",), closed=False)
    tag = ["auto-allocated-topology"]
    paths["/v2.0/auto-allocated-topology/{project_id}"] = {
        "parameters": [oa._path_param("project_id", {"type": "string"},
                                      "the project (\"None\": the caller's)")],
        "get": {"operationId": "show_auto_allocated_topology", "tags": tag,
                "summary": "The project's topology, made on first use",
                "parameters": [oa._query("fields", {"type": "string", "enum": ["dry-run"]},
                                         "dry-run: only check that it can be made")],
                "responses": {"200": oa._ok("the network", topology),
                              **oa._errors(400, 401, 403, 409)}},
        "delete": {"operationId": "delete_auto_allocated_topology", "tags": tag,
                   "summary": "Remove the project's topology",
                   "responses": {"204": oa._ok("deleted"), **oa._errors(401, 403, 409)}}}
