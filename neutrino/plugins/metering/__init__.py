"""Feature: metering (metering, metering_source_and_destination_fields):
/v2.0/metering/metering-labels and /v2.0/metering/metering-label-rules on the
generic Controller; the L3 agent counts each label's traffic through the
routers it meters (neutrino.agent.l3.metering) and reports it."""
from __future__ import annotations

from neutrino.api.controller import Controller
from neutrino.plugins.metering.plugin import MeteringLabelPlugin, MeteringLabelRulePlugin
from neutrino.plugins.metering.resource import METERING_LABEL, METERING_LABEL_RULE

EXTENSIONS = [
    ("metering", "Neutron Metering", "Neutron Metering extension."),
    ("metering_source_and_destination_fields",
     "Neutron Metering with source and destination filtering",
     "Neutron Metering extension that enables the use of source and destination IP "
     "prefixes to create metering label rules."),
]

PREFIX = "metering/"
POLICY_RULES = {f"{action}_{res}": "rule:admin_only"
                for action in ("create", "get", "delete")
                for res in ("metering_label", "metering_label_rule")}


def install(api) -> list:
    core = api.core
    d = core.cfg.DEFAULT
    for res, plugin in ((METERING_LABEL, MeteringLabelPlugin(core)),
                        (METERING_LABEL_RULE, MeteringLabelRulePlugin(core))):
        key = PREFIX + res.collection
        api.plugins[key] = plugin
        api.controllers[key] = Controller(res, plugin, core.policy, d.pagination_max_limit,
                                          d.max_filter_values, d.max_allowed_address_pair)
    return []


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.plugins import l3x_openapi
    for res in (METERING_LABEL, METERING_LABEL_RULE):
        l3x_openapi.collection(schemas, paths, res, PREFIX)
