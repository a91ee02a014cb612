"""neutron's QoS policy defaults (Secure RBAC): admins write policies and
rules, the owner's readers and everyone for shared policies read.

The generic controller names a rule's actions after its body key
(get_bandwidth_limit_rule); those point at upstream's names
(get_policy_bandwidth_limit_rule), so operators override upstream's."""
from __future__ import annotations

from neutrino.api.policy import ADMIN, READER
from neutrino.plugins.qos.resources import ALIASED, RULE_TYPES

_SHARED = "rule:shared_qos_policy"

RULES: dict[str, str] = {
    "shared_qos_policy": "field:policies:shared=True",
    "get_policy": f"{READER} or {_SHARED}",
    "create_policy": ADMIN,
    "update_policy": ADMIN,
    "delete_policy": ADMIN,
    "get_rule_type": ADMIN,
}
for _t in RULE_TYPES:
    for _action in ("get", "create", "update", "delete"):
        RULES[f"{_action}_policy_{_t}_rule"] = (f"{READER} or {_SHARED}" if _action == "get"
                                                else ADMIN)
        RULES[f"{_action}_{_t}_rule"] = f"rule:{_action}_policy_{_t}_rule"
for _rt in ALIASED:
    RULES[f"get_alias_{_rt.type}_rule"] = f"{READER} or {_SHARED}"
    RULES[f"update_alias_{_rt.type}_rule"] = ADMIN
    RULES[f"delete_alias_{_rt.type}_rule"] = ADMIN
