"""neutron-fwaas's default policy rules (its Secure RBAC defaults): the
owner's members and admins write, readers of the owner and everyone for
shared objects read, only admins set `shared`. Merged into
neutrino.api.policy.DEFAULT_RULES."""
from __future__ import annotations

_OWNER = "project_id:%(project_id)s"
_ADMIN = "rule:admin_only"
_MEMBER = f"rule:admin_only or (role:member and {_OWNER})"
_READER = f"rule:admin_only or (role:reader and {_OWNER})"

RULES: dict[str, str] = {
    "insert_rule": _MEMBER,
    "remove_rule": _MEMBER,
    # neutrino's: the L3 agents' reasons of an ERROR status
    "get_firewall_group:status_reason": _ADMIN,
}
for _singular, _plural in (("firewall_rule", "firewall_rules"),
                           ("firewall_policy", "firewall_policies"),
                           ("firewall_group", "firewall_groups")):
    RULES[f"shared_{_plural}"] = f"field:{_plural}:shared=True"
    RULES[f"get_{_singular}"] = f"{_READER} or rule:shared_{_plural}"
    for _action in ("create", "update", "delete"):
        RULES[f"{_action}_{_singular}"] = _MEMBER
        RULES[f"{_action}_{_singular}:shared"] = _ADMIN
