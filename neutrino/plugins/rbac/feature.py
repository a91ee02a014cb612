"""The rbac helper's catalogue entry (neutrino.plugins.features): the
rbac-policies collection, networks as an RBAC object type, their policy
defaults (upstream's neutron/conf/policies/rbac.py) and the quota."""
from __future__ import annotations

from neutrino.plugins.rbac import networks
from neutrino.plugins.rbac.policies import RBAC_POLICY, RbacPolicyPlugin

EXTENSIONS = [
    ("rbac-policies", "RBAC Policies",
     "Allows creation and modification of policies that control tenant access to resources."),
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
}


def install(api) -> list:
    from neutrino.api.controller import Controller
    core = api.core
    d = core.cfg.DEFAULT
    plugin = RbacPolicyPlugin(core)
    api.plugins[RBAC_POLICY.collection] = plugin
    api.controllers[RBAC_POLICY.collection] = Controller(
        RBAC_POLICY, plugin, core.policy, d.pagination_max_limit, d.max_filter_values,
        d.max_allowed_address_pair)
    return []


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.api import openapi as oa
    schemas.update(oa.resource_schemas(RBAC_POLICY))
    paths.update(oa._resource_paths(RBAC_POLICY))
