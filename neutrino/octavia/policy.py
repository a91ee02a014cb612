"""Octavia's default policy (octavia/policies/*.py, keystone default roles),
merged into the server's enforcer (neutrino/api/policy.py), so one
policy.yaml overrides either API.

The roles: admin; member and reader of the object's project; and Octavia's
older load-balancer_* roles (load-balancer_admin, _member, _observer,
_global_observer, _quota_admin), which upstream keeps as deprecated
alternatives of the same rules: they are ORed in, as oslo.policy does while a
deprecated rule is still honoured.
"""
from __future__ import annotations

_OWNER = "project_id:%(project_id)s"

BASE_RULES: dict[str, str] = {
    "load-balancer:owner": _OWNER,
    "load-balancer:admin": "is_admin:True or role:admin or role:load-balancer_admin",
    "load-balancer:global_observer": "role:admin or role:load-balancer_global_observer",
    "load-balancer:member_and_owner":
        f"(role:member or role:load-balancer_member) and {_OWNER}",
    "load-balancer:observer_and_owner":
        f"(role:reader or role:load-balancer_observer) and {_OWNER}",
    "load-balancer:quota-admin": "role:admin or role:load-balancer_quota_admin",
    "load-balancer:read": "rule:load-balancer:observer_and_owner or "
                          "rule:load-balancer:global_observer or "
                          "rule:load-balancer:member_and_owner or rule:load-balancer:admin",
    "load-balancer:read-global": "rule:load-balancer:global_observer or "
                                 "rule:load-balancer:admin",
    "load-balancer:write": "rule:load-balancer:member_and_owner or rule:load-balancer:admin",
    "load-balancer:read-quota": "rule:load-balancer:observer_and_owner or "
                                "rule:load-balancer:global_observer or "
                                "rule:load-balancer:member_and_owner or "
                                "rule:load-balancer:quota-admin or rule:load-balancer:admin",
    "load-balancer:read-quota-global": "rule:load-balancer:global_observer or "
                                       "rule:load-balancer:quota-admin or "
                                       "rule:load-balancer:admin",
    "load-balancer:write-quota": "rule:load-balancer:quota-admin or rule:load-balancer:admin",
}

_READ, _WRITE = "rule:load-balancer:read", "rule:load-balancer:write"
_GLOBAL = "rule:load-balancer:read-global"


def _resource(name: str, global_list: bool = True, stats: bool = False) -> dict[str, str]:
    rules = {f"os_load-balancer_api:{name}:get_all": _READ,
             f"os_load-balancer_api:{name}:post": _WRITE,
             f"os_load-balancer_api:{name}:get_one": _READ,
             f"os_load-balancer_api:{name}:put": _WRITE,
             f"os_load-balancer_api:{name}:delete": _WRITE}
    if global_list:
        rules[f"os_load-balancer_api:{name}:get_all-global"] = _GLOBAL
    if stats:
        rules[f"os_load-balancer_api:{name}:get_stats"] = _READ
    return rules


RULES: dict[str, str] = {
    **BASE_RULES,
    **_resource("loadbalancer", stats=True),
    "os_load-balancer_api:loadbalancer:get_status": _READ,
    "os_load-balancer_api:loadbalancer:put_failover": "rule:load-balancer:admin",
    **_resource("listener", stats=True),
    **_resource("pool"),
    **_resource("member", global_list=False),
    **_resource("healthmonitor"),
    **_resource("l7policy"),
    **_resource("l7rule", global_list=False),
    "os_load-balancer_api:quota:get_all": "rule:load-balancer:read-quota",
    "os_load-balancer_api:quota:get_all-global": "rule:load-balancer:read-quota-global",
    "os_load-balancer_api:quota:get_one": "rule:load-balancer:read-quota",
    "os_load-balancer_api:quota:put": "rule:load-balancer:write-quota",
    "os_load-balancer_api:quota:delete": "rule:load-balancer:write-quota",
    "os_load-balancer_api:quota:get_defaults": "rule:load-balancer:read-quota",
    "os_load-balancer_api:provider:get_all": _READ,
    "os_load-balancer_api:provider-flavor:get_all": "rule:load-balancer:admin",
    "os_load-balancer_api:provider-availability-zone:get_all": "rule:load-balancer:admin",
    "os_load-balancer_api:flavor:get_all": _READ,
    "os_load-balancer_api:flavor:get_one": _READ,
    "os_load-balancer_api:availability-zone:get_all": _READ,
    "os_load-balancer_api:availability-zone:get_one": _READ,
}


def authorize(policy, ctx, resource: str, action: str, project_id: str) -> None:
    """Octavia's _auth_validate_action: 403 with its wording."""
    from neutrino.octavia import faults
    if not policy.check(ctx, f"os_load-balancer_api:{resource}:{action}",
                        {"project_id": project_id}):
        raise faults.Forbidden()


def can(policy, ctx, resource: str, action: str, project_id: str) -> bool:
    return policy.check(ctx, f"os_load-balancer_api:{resource}:{action}",
                        {"project_id": project_id})
