"""The FWaaS part of GET /openapi.json: the three collections under
/v2.0/fwaas/ (from their attribute maps, as the core resources') and the
policy actions."""
from __future__ import annotations

from typing import Any

from neutrino.plugins.fwaas.resources import RESOURCES


def extend(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    from neutrino.api import openapi as oa
    for res in RESOURCES:
        schemas.update(oa.resource_schemas(res))
        for path, item in oa._resource_paths(res).items():
            paths[path.replace("/v2.0/", "/v2.0/fwaas/", 1)] = item
    info = oa._object({"firewall_rule_id": oa.UUID, "insert_before": oa._null(oa.UUID),
                       "insert_after": oa._null(oa.UUID)}, ("firewall_rule_id",),
                      closed=False)
    for action, summary in (("insert_rule", "Insert a rule (first, or before or after "
                                            "another)"),
                            ("remove_rule", "Remove a rule")):
        paths[f"/v2.0/fwaas/firewall_policies/{{id}}/{action}"] = {
            "parameters": [oa._path_param("id")],
            "put": {"operationId": f"{action}_firewall_policy", "tags": ["firewall_policies"],
                    "summary": summary, "requestBody": oa._json_body(info),
                    "responses": {"200": oa._ok("the policy (no envelope)",
                                                oa._ref("FirewallPolicy")),
                                  **oa._errors(400, 401, 403, 404, 409, 413)}}}
