"""The rbac helper's catalogue entry (neutrino.plugins.features): the
rbac-policies and address-groups collections, networks, security groups
and address groups as RBAC object types, their policy defaults (upstream's
neutron/conf/policies/rbac.py and address_group.py)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from neutrino.plugins.rbac import networks
from neutrino.plugins.rbac.address_groups import ADDRESS_GROUP, AddressGroupPlugin
from neutrino.plugins.rbac.policies import RBAC_POLICY, RbacPolicyPlugin
from neutrino.plugins.secgroup_defaults import DEFAULT_SG_RULE, DefaultRulePlugin

EXTENSIONS = [
    ("rbac-policies", "RBAC Policies",
     "Allows creation and modification of policies that control tenant access to resources."),
    ("rbac-security-groups", "Add security_group type to network RBAC",
     "Add security_group type to network RBAC"),
    ("address-group", "Address group", "Support address group"),
    ("rbac-address-group", "Add address_group type to RBAC",
     "Add address_group type to network RBAC"),
    ("security-groups-remote-address-group",
     "Remote address group id field for security group rules",
     "Add new field of remote address group id in SG rules"),
    ("security-groups-shared-filtering", "Security group filtering on the shared field",
     "Support filtering security groups on the shared field"),
    ("port-security-groups-filtering", "Port filtering on security groups",
     "Provides security groups filtering when listing ports"),
    ("security-groups-default-rules", "Default rules for security groups",
     "Configure set of security group rules used as default rules for every new security "
     "group"),
    ("security-groups-rules-belongs-to-default-sg",
     "Security group rule belongs to the project's default security group",
     "Flag to determine if the security group rule belongs to the project's default "
     "security group"),
]

RESOURCE_EXTENSIONS = [networks.NETWORK_GRANTS]

_OWNER = "project_id:%(project_id)s"
_MEMBER = f"rule:admin_only or (role:member and {_OWNER})"
_READER = f"rule:admin_only or (role:reader and {_OWNER})"
POLICY_RULES = {
    # only admins grant to every project
    "restrict_wildcard": "(not field:rbac_policy:target_tenant=*) or rule:admin_only",
    "create_rbac_policy": _MEMBER,
    "create_rbac_policy:target_tenant": "rule:restrict_wildcard",
    "update_rbac_policy": _MEMBER,
    "update_rbac_policy:target_tenant": f"rule:restrict_wildcard and ({_MEMBER})",
    "get_rbac_policy": _READER,
    "delete_rbac_policy": _MEMBER,
    # address groups: readers of the owner, and projects it is shared with
    "shared_address_groups": "field:address_groups:shared=True",
    "create_address_group": _MEMBER,
    "create_address_group:shared": "rule:admin_only",
    "get_address_group": f"{_READER} or rule:shared_address_groups",
    # upstream's `shared` of an address group is not visible (it only
    # serves the rule above)
    "get_address_group:shared": "!",
    "update_address_group": _MEMBER,
    "delete_address_group": _MEMBER,
    "add_addresses": _MEMBER,
    "remove_addresses": _MEMBER,
    # security groups shared by RBAC are readable by their targets
    "shared_security_groups": "field:security_groups:shared=True",
    "get_security_group": f"{_READER} or rule:shared_security_groups",
    # the templates: admins write, everyone reads
    "create_default_security_group_rule": "rule:admin_only",
    "get_default_security_group_rule": "role:reader",
    "update_default_security_group_rule": "rule:admin_only",
    "delete_default_security_group_rule": "rule:admin_only",
}


def _controller(api, res, plugin):
    from neutrino.api.controller import Controller
    d = api.core.cfg.DEFAULT
    api.plugins[res.collection] = plugin
    api.controllers[res.collection] = Controller(
        res, plugin, api.core.policy, d.pagination_max_limit, d.max_filter_values,
        d.max_allowed_address_pair)


def install(api) -> list:
    core = api.core
    _controller(api, RBAC_POLICY, RbacPolicyPlugin(core))
    groups = AddressGroupPlugin(core)
    _controller(api, ADDRESS_GROUP, groups)
    _controller(api, DEFAULT_SG_RULE,
                DefaultRulePlugin(core, api.plugins["security-groups"].validate_rule))

    def action(name: str, add: bool):
        def run(ctx, group_id, body):
            def authorize(row) -> None:
                core.policy.enforce(ctx, name, {"project_id": row["project_id"],
                                                "tenant_id": row["project_id"]})
            view = groups.change_addresses(ctx, group_id, body, add, authorize)
            return {"address_group": view}

        async def endpoint(request: Request):
            return await api.call(request, run, request.path_params["id"], needs_body=True)
        return Route(f"/v2.0/address-groups/{{id}}/{name}", endpoint, methods=["PUT"])

    return [action("add_addresses", True), action("remove_addresses", False)]


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.api import openapi as oa
    for res in (RBAC_POLICY, ADDRESS_GROUP, DEFAULT_SG_RULE):
        schemas.update(oa.resource_schemas(res))
        paths.update(oa._resource_paths(res))
    body = oa._object({"addresses": {"type": "array", "items": {"type": "string"}}},
                      ("addresses",))
    for name, summary in (("add_addresses", "Add addresses to an address group"),
                          ("remove_addresses", "Remove addresses from an address group")):
        paths[f"/v2.0/address-groups/{{id}}/{name}"] = {
            "parameters": [oa._path_param("id")],
            "put": {"operationId": f"{name}_address_group", "tags": ["address_groups"],
                    "summary": summary, "requestBody": oa._json_body(body),
                    "responses": {"200": oa._ok("the address group",
                                                oa._ref("AddressGroup")),
                                  **oa._errors(400, 401, 403, 404, 413)}}}
