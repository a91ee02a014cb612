"""GET /v2.0/qos/rule-types (qos-rule-type-filter: all_supported,
all_rules) and GET /v2.0/qos/rule-types/{type} (qos-rule-type-details):
what the loaded QoS driver — the Linux bridge agent's — enforces."""
from __future__ import annotations

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.plugins.qos import faults as qf
from neutrino.plugins.qos.resources import (LINUXBRIDGE_DRIVER, LINUXBRIDGE_SUPPORTED,
                                            RULE_TYPES)

_FILTERS = ("all_supported", "all_rules")


class RuleTypes:
    def __init__(self, core):
        self.core = core

    def list(self, ctx: Context, params: list[tuple[str, str]]) -> dict:
        """Any caller may list them (a deviation: upstream's get_rule_type
        default is admin-only, which would hide them from the projects that
        must choose rules; neutron-tempest-plugin lists them as a user).
        Unknown query parameters are ignored, as upstream's."""
        flags = {}
        fields = [v for k, v in params if k == "fields"]
        for key, raw in params:
            if key in _FILTERS:
                flags[key] = a.to_boolean(raw)
        if flags.get("all_supported") and flags.get("all_rules"):
            raise faults.HTTPBadRequest(
                "Invalid input for operation: all_rules and all_supported cannot be used "
                "together.")
        names = sorted(RULE_TYPES) if flags.get("all_rules") else sorted(LINUXBRIDGE_SUPPORTED)
        types = [{"type": n} for n in names]
        if fields:
            types = [{k: v for k, v in t.items() if k in fields} for t in types]
        return {"rule_types": types}

    def show(self, ctx: Context, rule_type: str) -> dict:
        self.core.policy.enforce(ctx, "get_rule_type", {})
        if rule_type not in RULE_TYPES:
            raise qf.QosRuleTypeNotFound(rule_type=rule_type)
        drivers = []
        if rule_type in LINUXBRIDGE_SUPPORTED:
            drivers.append({"name": LINUXBRIDGE_DRIVER,
                            "supported_parameters": LINUXBRIDGE_SUPPORTED[rule_type]})
        return {"rule_type": {"type": rule_type, "drivers": drivers}}
