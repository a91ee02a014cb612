"""The attribute maps of the QoS resources, as neutron-lib's qos,
qos-bw-limit-direction, qos-default, qos-bw-minimum-ingress, qos-pps and
qos-pps-minimum definitions, and the rule types (what each rule holds)."""
from __future__ import annotations

from dataclasses import dataclass

from neutrino import validators as v
from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.api.resources import Resource

EGRESS, INGRESS, ANY = "egress", "ingress", "any"
# neutron-lib's VALID_DSCP_MARKS
VALID_DSCP_MARKS = (0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40,
                    46, 48, 56)
INT_MAX = v.INT32_MAX

POLICY = Resource("policy", "policies", (
    Attr("id", column="id"),
    Attr("name", post=True, put=True, default="", validate=a.name_string(255), column="name"),
    Attr("description", post=True, put=True, default="", validate=a.string(255),
         column="description"),
    *a.owner_attrs(),
    Attr("shared", post=True, put=True, default=False, convert=a.to_boolean,
         column="shared"),
    Attr("rules", filter=False, sort=False),
    # qos-default; filtered by the plugin (a row in qos_default_policies)
    Attr("is_default", post=True, put=True, default=False, convert=a.to_boolean, sort=False),
    *a.standard_attrs(),
), not_found="QosPolicyNotFound")


def _amount(name: str, required: bool = True) -> Attr:
    return Attr(name, post=True, put=True, default=a.MISSING if required else 0,
                convert=a.to_int, validate=a.int_range(0, INT_MAX), column=name)


def _direction(*allowed: str) -> Attr:
    return Attr("direction", post=True, put=True, default=EGRESS,
                validate=a.values(*allowed), column="direction")


@dataclass(frozen=True)
class RuleType:
    type: str                  # "bandwidth_limit"
    resource: Resource         # singular "bandwidth_limit_rule"
    fields: tuple[str, ...]    # the columns it shows, besides id (and direction)
    directions: tuple[str, ...] = ()   # () : no direction attribute

    @property
    def singular(self) -> str:
        return self.resource.singular

    @property
    def collection(self) -> str:
        return self.resource.collection


def _rule(rtype: str, attrs: tuple[Attr, ...], directions: tuple[str, ...]) -> RuleType:
    res = Resource(f"{rtype}_rule", f"{rtype}_rules",
                   (Attr("id", column="id"), *attrs,
                    *((_direction(*directions),) if directions else ())),
                   not_found="QosRuleNotFound", tags=False, has_owner=False)
    return RuleType(rtype, res, tuple(x.name for x in attrs), directions)


BANDWIDTH_LIMIT = _rule("bandwidth_limit", (_amount("max_kbps"),
                                            _amount("max_burst_kbps", False)),
                        (EGRESS, INGRESS))
DSCP_MARKING = _rule("dscp_marking", (
    Attr("dscp_mark", post=True, put=True, convert=a.to_int,
         validate=a.values(*VALID_DSCP_MARKS), column="dscp_mark"),), ())
MINIMUM_BANDWIDTH = _rule("minimum_bandwidth", (_amount("min_kbps"),), (EGRESS, INGRESS))
MINIMUM_PACKET_RATE = _rule("minimum_packet_rate", (_amount("min_kpps"),),
                            (ANY, EGRESS, INGRESS))
PACKET_RATE_LIMIT = _rule("packet_rate_limit", (_amount("max_kpps"),
                                                _amount("max_burst_kpps", False)),
                          (EGRESS, INGRESS))

RULE_TYPES: dict[str, RuleType] = {t.type: t for t in (
    BANDWIDTH_LIMIT, DSCP_MARKING, MINIMUM_BANDWIDTH, MINIMUM_PACKET_RATE, PACKET_RATE_LIMIT)}
# qos-rules-alias: the rules reachable by id alone (not the pps limit rule)
ALIASED = (BANDWIDTH_LIMIT, DSCP_MARKING, MINIMUM_BANDWIDTH, MINIMUM_PACKET_RATE)

# What the Linux bridge agent enforces (upstream's linuxbridge QoS driver):
# the rule types listed by GET /v2.0/qos/rule-types and allowed on its ports.
LINUXBRIDGE_DRIVER = "linuxbridge"
LINUXBRIDGE_SUPPORTED: dict[str, list[dict]] = {
    "bandwidth_limit": [
        {"parameter_name": "max_kbps", "parameter_type": "range",
         "parameter_values": {"start": 0, "end": INT_MAX}},
        {"parameter_name": "max_burst_kbps", "parameter_type": "range",
         "parameter_values": {"start": 0, "end": INT_MAX}},
        {"parameter_name": "direction", "parameter_type": "choices",
         "parameter_values": [EGRESS, INGRESS]}],
    "dscp_marking": [
        {"parameter_name": "dscp_mark", "parameter_type": "choices",
         "parameter_values": list(VALID_DSCP_MARKS)}],
}
