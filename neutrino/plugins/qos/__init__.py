"""Quality of Service (neutron's qos service plugin with the Linux bridge
driver): policies and their rules, qos_policy_id on ports, networks and
floating IPs; the L2 agent enforces bandwidth limits and DSCP marks on the
taps (neutrino.agent.l2.qos)."""
from __future__ import annotations

from neutrino.plugins.qos import sharing  # noqa: F401  (the RBAC object type)
from neutrino.plugins.qos.bindings import RESOURCE_EXTENSIONS  # noqa: F401
from neutrino.plugins.qos.policy_rules import RULES as POLICY_RULES  # noqa: F401


def install(api):
    from neutrino.plugins.qos.routes import install as _install
    return _install(api)


def openapi(schemas, paths) -> None:
    from neutrino.plugins.qos.openapi_doc import extend
    extend(schemas, paths)


EXTENSIONS = [
    ("qos", "Quality of Service", "The Quality of Service extension."),
    ("qos-bw-limit-direction", "Direction for QoS bandwidth limit rule",
     "Allow to configure QoS bandwidth limit rule with specific direction: ingress or "
     "egress"),
    ("qos-default", "QoS default policy", "Expose the QoS default policy per project"),
    ("qos-rules-alias", "Quality of Service rules alias API",
     "API to enable GET, PUT and DELETE operations on QoS policy rules without specifying "
     "policy ID"),
    ("qos-rule-type-details", "QoS rule type details",
     "Expose details about QoS rule types supported by loaded backend drivers"),
    ("qos-rule-type-filter", "QoS rule type filter",
     "Add filters to the QoS rule types listing"),
    ("qos-port-network-policy", "QoS port network policy ID",
     "Adds a the QoS network ID to the port definition"),
    ("qos-bw-minimum-ingress", "Ingress direction for QoS minimum bandwidth rule",
     "Allow to configure QoS minumum bandwidth rule with ingress direction."),
    ("qos-pps", "QoS packet rate limit rule", "Add QoS Rule attributes for packet rate limit"),
    ("qos-pps-minimum", "QoS minimum packet rate rule",
     "Add QoS Rule attributes for minimum packet rate"),
    ("qos-pps-minimum-rule-alias", "QoS minimum packet rate rule alias",
     "API to enable GET, PUT and DELETE operations on QoS minimum packet rate rule without "
     "specifying policy ID"),
    ("qos-fip", "Floating IP QoS", "The floating IP Quality of Service extension"),
    ("qos-gateway-ip", "Router gateway IP QoS",
     "The Router gateway IP Quality of Service extension"),
]
