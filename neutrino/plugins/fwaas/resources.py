"""The attribute maps of the FWaaS v2 resources, as neutron-lib's
firewall_v2 definition (plus the standard attributes of
standard-attr-fwaas-v2), with its converters and validators."""
from __future__ import annotations

from typing import Any

from neutrino import validators as v
from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.api.resources import Resource

# neutron-lib's IPTABLES_PROTOCOL_MAP keys: the protocol names the API takes.
PROTOCOL_NAMES = ("dccp", "icmp", "ipv6-icmp", "sctp", "tcp", "udp")
ACTIONS = ("allow", "deny", "reject")


def to_protocol(value: Any) -> Any:
    """convert_to_protocol: a name (lower case) or a number 0..255, kept as
    a string ("6"); anything else is InvalidInput, worded as upstream."""
    if value is None:
        return None
    if not isinstance(value, str) and (isinstance(value, bool) or not isinstance(value, int)):
        raise faults.invalid_input(f"Input value {v.shown(value)} must be string type")
    if isinstance(value, str) and value.lower() in PROTOCOL_NAMES:
        return value
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except ValueError:
        number = -1
    if not 0 <= number <= 255:
        raise faults.invalid_input(
            f"IP protocol '{v.shown(value)}' is not supported. Only protocol names and their "
            "integer representation (0 to 255) are supported")
    return str(number)


def protocol_check(value: Any) -> str | None:
    """type:values over the names; numbers (converted above) pass too (a
    deviation: upstream's definition refuses the numbers its converter
    accepts, see docs/api.md)."""
    if value is None or value in PROTOCOL_NAMES or (isinstance(value, str) and value.isdigit()):
        return None
    return f"{v.shown(value)} is not in valid_values"


def to_lower(value: Any) -> Any:
    """convert_string_to_case_insensitive."""
    if not isinstance(value, str):
        raise faults.invalid_input(f"Input value {v.shown(value)} must be string type")
    return value.lower()


def to_string_or_none(value: Any) -> Any:
    """convert_to_string: what the port range validator reads (22 -> "22")."""
    return None if value is None else str(value)


def port_range(value: Any) -> str | None:
    """type:port_range (validate_port_range_or_none): "N" or "N:M", 0..65535,
    N <= M."""
    if value is None:
        return None
    ports = value.split(":")
    if len(ports) > 2:
        return "Port range must be two integers separated by a colon"
    for p in ports:
        if not p:
            return "Port range must be two integers separated by a colon"
        if not (p.isascii() and p.isdigit()) or int(p) > 65535:
            return f"Invalid port: {v.shown(p)}"
    if len(ports) > 1 and int(ports[0]) > int(ports[1]):
        return "First port in a port range must be lower than the second port"
    return None


def ip_or_subnet_or_none(value: Any) -> str | None:
    if value is None or v.validate_ip_address(value) is None or v.validate_subnet(value) is None:
        return None
    return f"'{v.shown(value)}' is neither a valid IP address, nor is it a valid IP subnet"


_ID = Attr("id", column="id")
_NAME = Attr("name", post=True, put=True, default="", validate=a.name_string(255), column="name")
_DESC = Attr("description", post=True, put=True, default="", validate=a.string(255),
             column="description")
_SHARED = Attr("shared", post=True, put=True, default=False, convert=a.to_boolean,
               policy=True, column="shared")

FIREWALL_RULE = Resource("firewall_rule", "firewall_rules", (
    _ID, _NAME, _DESC, *a.owner_attrs(),
    Attr("firewall_policy_id", filter=False, sort=False),
    _SHARED,
    Attr("protocol", post=True, put=True, default=None, convert=to_protocol,
         validate=protocol_check, column="protocol"),
    Attr("ip_version", post=True, put=True, default=4, convert=a.to_int,
         validate=a.values(4, 6), column="ip_version"),
    Attr("source_ip_address", post=True, put=True, default=None,
         validate=ip_or_subnet_or_none, column="source_ip_address"),
    Attr("destination_ip_address", post=True, put=True, default=None,
         validate=ip_or_subnet_or_none, column="destination_ip_address"),
    Attr("source_port", post=True, put=True, default=None, convert=to_string_or_none,
         validate=port_range, filter=False, sort=False),
    Attr("destination_port", post=True, put=True, default=None, convert=to_string_or_none,
         validate=port_range, filter=False, sort=False),
    Attr("position", filter=False, sort=False),      # v1's; read-only, never shown
    Attr("action", post=True, put=True, default="deny", convert=to_lower,
         validate=a.values(*ACTIONS), column="action"),
    Attr("enabled", post=True, put=True, default=True, convert=a.to_boolean, column="enabled"),
    *a.standard_attrs(),
), not_found="FirewallRuleNotFound")

FIREWALL_POLICY = Resource("firewall_policy", "firewall_policies", (
    _ID, _NAME, _DESC, *a.owner_attrs(), _SHARED,
    Attr("firewall_rules", post=True, put=True, default=None, sort=False,
         convert=a.none_to_empty_list, validate=a.uuid_list),
    Attr("audited", post=True, put=True, default=False, convert=a.to_boolean,
         column="audited"),
    *a.standard_attrs(),
), not_found="FirewallPolicyNotFound")

FIREWALL_GROUP = Resource("firewall_group", "firewall_groups", (
    _ID, _NAME, _DESC,
    Attr("admin_state_up", post=True, put=True, default=True, convert=a.to_boolean,
         column="admin_state_up"),
    Attr("status", column="status"),
    # neutrino's: why the status is ERROR (the agents' reasons), admins only
    Attr("status_reason", filter=False, sort=False, policy=True),
    _SHARED,
    Attr("ports", post=True, put=True, default=None, sort=False,
         convert=a.none_to_empty_list, validate=a.uuid_list),
    *a.owner_attrs(),
    Attr("ingress_firewall_policy_id", post=True, put=True, default=None,
         validate=a.uuid_or_none, column="ingress_firewall_policy_id"),
    Attr("egress_firewall_policy_id", post=True, put=True, default=None,
         validate=a.uuid_or_none, column="egress_firewall_policy_id"),
    *a.standard_attrs(),
), not_found="FirewallGroupNotFound")

RESOURCES = (FIREWALL_RULE, FIREWALL_POLICY, FIREWALL_GROUP)
