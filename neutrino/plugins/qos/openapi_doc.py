"""The QoS part of GET /openapi.json: policies (with tags), each rule type
under its policy, the alias rules and the rule types."""
from __future__ import annotations

import copy
from typing import Any

from neutrino.plugins.qos.resources import ALIASED, POLICY, RULE_TYPES


def extend(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    from neutrino.api import openapi as oa
    from neutrino.plugins.qos.routes import TAGS_BASE, alias_resource
    schemas.update(oa.resource_schemas(POLICY))
    for path, item in oa._resource_paths(POLICY).items():
        paths[path.replace("/v2.0/", "/v2.0/qos/", 1)] = item
    for path, item in oa._tag_paths(POLICY, TAGS_BASE).items():    # upstream's tag URLs
        item = copy.deepcopy(item)
        for op in item.values():
            if isinstance(op, dict) and "operationId" in op:
                op["operationId"] += "_by_tag_extension_path"
        paths[path] = item
    policy_param = oa._path_param("policy_id", description="the QoS policy's id")
    for rtype in RULE_TYPES.values():
        res = rtype.resource
        schemas.update(oa.resource_schemas(res))
        for path, item in oa._resource_paths(res).items():
            item = dict(item)
            item["parameters"] = [policy_param, *item.get("parameters", [])]
            paths[path.replace("/v2.0/", "/v2.0/qos/policies/{policy_id}/", 1)] = item
    for rtype in ALIASED:
        res = alias_resource(rtype)
        schemas.update(oa.resource_schemas(res))
        for path, item in oa._resource_paths(res).items():
            if path.endswith("/{id}"):
                paths[path.replace("/v2.0/", "/v2.0/qos/", 1)] = item
    rule_type = oa._object({"type": {"type": "string"}}, (), closed=False)
    paths["/v2.0/qos/rule-types"] = {"get": {
        "operationId": "list_qos_rule_types", "tags": ["qos"],
        "summary": "List the rule types the QoS driver enforces",
        "parameters": [oa._query("all_supported", {"type": "boolean"}),
                       oa._query("all_rules", {"type": "boolean"})],
        "responses": {"200": oa._ok("the rule types",
                                    oa._object({"rule_types": oa._array(rule_type)},
                                               ("rule_types",), closed=False)),
                      **oa._errors(400, 401)}}}
    paths["/v2.0/qos/rule-types/{rule_type}"] = {
        "parameters": [oa._path_param("rule_type", {"type": "string"})],
        "get": {"operationId": "show_qos_rule_type", "tags": ["qos"],
                "summary": "Show a rule type and the drivers' supported parameters (admin)",
                "responses": {"200": oa._ok("the rule type",
                                            oa._object({"rule_type": rule_type},
                                                       ("rule_type",), closed=False)),
                              **oa._errors(401, 403, 404)}}}
