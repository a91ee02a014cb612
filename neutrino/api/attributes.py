"""Attribute definitions, converters and validators, worded as neutron-lib's.

Converters raise InvalidInput ("Invalid input for operation: …"); validators
return a reason, which the controller turns into HTTPBadRequest
("Invalid input for <attr>. Reason: <reason>.") — the two shapes real Neutron
answers with.
"""
from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from neutrino import validators as v
from neutrino.api import faults

MISSING = object()   # no default: required on create
UNSET = object()     # optional; the plugin decides the default


@dataclass(frozen=True)
class Attr:
    name: str
    post: bool = False
    put: bool = False
    default: Any = MISSING          # MISSING and post: required on create
    convert: Callable[[Any], Any] | None = None
    validate: Callable[[Any], str | None] | None = None
    visible: bool = True
    filter: bool = True
    sort: bool = True
    policy: bool = False            # has per-attribute policy rules
    column: str | None = None       # DB column, when it differs / exists

    @property
    def required(self) -> bool:
        return self.post and self.default is MISSING


# --- converters (raise InvalidInput, as neutron-lib's) ---------------------------

def to_boolean(value: Any) -> bool:
    """convert_to_boolean: oslo's strict bool_from_string ("yes", "1", True...)."""
    result = v.boolean_value(value)
    if result is None:
        raise faults.invalid_input(f"'{v.shown(value)}' cannot be converted to boolean")
    return result


def to_int(value: Any) -> int:
    """convert_to_int (the attribute's validator bounds it: see db_int)."""
    if isinstance(value, bool):
        raise faults.invalid_input(f"'{value}' is not an integer")
    if not isinstance(value, int):
        try:
            value = int(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError, OverflowError):
            raise faults.invalid_input(f"'{v.shown(value)}' is not an integer") from None
    return value


def in_db_int(value: Any) -> None:
    """An integer filter value beyond the 32-bit columns is refused (the
    database would raise, not answer "no match")."""
    if isinstance(value, int) and not isinstance(value, bool):
        reason = v.validate_range(value, -v.INT32_MAX - 1, v.INT32_MAX)
        if reason:
            raise faults.invalid_input(reason)


def to_int_or_none(value: Any) -> int | None:
    return None if value is None else to_int(value)


def to_datetime(value: Any):
    """A timestamp filter value ("2026-11-26T14:50:01Z") as the naive UTC
    datetime the database stores."""
    import datetime as dt
    try:
        when = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise faults.invalid_input(f"'{v.shown(value)}' is not a valid timestamp") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def to_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def none_to_empty_list(value: Any) -> Any:
    """convert_none_to_empty_list: the validator judges anything else."""
    return [] if value is None else value


def to_mac(value: Any) -> str:
    if isinstance(value, str):
        text = value.strip().lower().replace("-", ":")
        if re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", text):
            return text
    return value  # validate_mac reports it


def to_canonical_ip(value: Any) -> Any:
    """convert_ip_to_canonical_format: IPv6 compressed, anything else as is."""
    if isinstance(value, str) and ":" in value and not v.validate_ip_address(value):
        return str(ipaddress.ip_address(value))
    return value


def to_ip_prefix(value: Any) -> str | None:
    """convert_ip_prefix_to_cidr (security group rules): "10.0.0.1" ->
    "10.0.0.1/32"; "" and null: no prefix. Unlike upstream, a JSON number or
    boolean is refused rather than read as "no prefix" or an address."""
    try:
        return v.ip_prefix_to_cidr(value)
    except ValueError:
        raise faults.InvalidCIDR(input=v.shown(value)) from None


def to_ethertype(value: Any) -> str:
    """convert_ethertype_to_case_insensitive."""
    if isinstance(value, str):
        for known in ("IPv4", "IPv6"):
            if known.lower() == value.lower():
                return known
    raise faults.SecurityGroupRuleInvalidEtherType(ethertype=v.shown(value),
                                                   values="['IPv4', 'IPv6']")


def to_port_or_none(value: Any) -> int | None:
    """convert_validate_port_value: a port (or ICMP type/code) 0..65535."""
    if value is None:
        return None
    number = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if v.validate_port_number(number):
        raise faults.SecurityGroupInvalidPortValue(port=v.shown(value))
    return number


def address_pairs(value: Any) -> list:
    """allowed_address_pairs, checked as neutron-lib's validator (which
    raises its own errors rather than returning a reason)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise faults.HTTPBadRequest("Allowed address pairs must be a list.")
    seen = set()
    for pair in value:
        reason = v.validate_dict(pair)
        if reason:
            raise faults.HTTPBadRequest(
                f"Invalid input for allowed_address_pairs. Reason: {reason}.")
        if "mac_address" in pair:
            mac = to_mac(pair["mac_address"])
            reason = v.validate_mac_address(mac)
            if reason:
                raise faults.HTTPBadRequest(reason)
            pair = {**pair, "mac_address": mac}
        if "ip_address" not in pair:
            raise faults.AllowedAddressPairsMissingIP()
        key = (pair.get("mac_address"), pair["ip_address"])
        if str(key) in seen:
            raise faults.DuplicateAddressPairInRequest(mac_address=key[0],
                                                       ip_address=v.shown(key[1]))
        seen.add(str(key))
        extra = set(pair) - {"mac_address", "ip_address"}
        if extra:
            raise faults.HTTPBadRequest(
                "Unrecognized attribute(s) '%s'" % ", ".join(sorted(extra)))
        reason = v.validate_ip_or_subnet(pair["ip_address"])
        if reason:
            raise faults.HTTPBadRequest(reason)
    return [{**p, "mac_address": to_mac(p["mac_address"])} if "mac_address" in p else p
            for p in value]


# neutron-lib adds the compute prefix to its list as a string, so a type
# starting with any of its characters passes ("test:x" does): the same here
SERVICE_TYPE_PREFIXES = ("network:", "neutron:") + tuple("compute:")


def service_types(value: Any) -> Any:
    """validate_subnet_service_types (raises, as upstream's does)."""
    if value is None:
        return []
    if value:
        if not isinstance(value, list):
            raise faults.HTTPBadRequest("Subnet service types must be a list.")
        for item in value:
            if not isinstance(item, str):
                raise faults.InvalidInputSubnetServiceType(service_type=v.shown(item))
            if not item.startswith(SERVICE_TYPE_PREFIXES) or "\x00" in item:
                raise faults.InvalidSubnetServiceType(service_type=v.shown(item))
    return value


def gateway_info(value: Any) -> dict | None:
    """external_gateway_info: type:dict_or_nodata with key specs network_id
    (uuid, required), external_fixed_ips (fixed_ips), enable_snat
    (converted to boolean), qos_policy_id (uuid or null, qos-gateway-ip)."""
    if not value:
        return None
    reason = v.validate_dict(value)
    if reason is None:
        reason = v.verify_dict_keys(["network_id"], value, strict=False)
    if reason is None:
        extra = [k for k in value if k not in ("network_id", "external_fixed_ips",
                                              "enable_snat", "qos_policy_id")]
        if extra:
            reason = "Unexpected keys supplied: %s" % ", ".join(extra)
    if reason is None:
        reason = v.validate_uuid(value["network_id"])
    if reason is None and "external_fixed_ips" in value:
        reason = v.validate_fixed_ips(value["external_fixed_ips"])
    if reason is None and "qos_policy_id" in value:     # qos-gateway-ip
        reason = v.validate_uuid_or_none(value["qos_policy_id"])
    if reason:
        raise faults.HTTPBadRequest(
            f"Invalid input for external_gateway_info. Reason: {reason}.")
    out = dict(value)
    if "enable_snat" in value:
        out["enable_snat"] = to_boolean(value["enable_snat"])
    return out


# --- validators (return a reason or None) ----------------------------------

def string(max_len: int = 255, nullable: bool = False):
    def check(value):
        if value is None and nullable:
            return None
        return v.validate_string(value, max_len)
    return check


def name_string(max_len: int = 255):
    """type:name_string: printable, no surrounding whitespace."""
    def check(value):
        return v.validate_name_string(value, max_len)
    return check


def is_uuid(value) -> bool:
    return v.is_uuid_like(value)


def uuid_check(value):
    return v.validate_uuid(value)


def uuid_or_none(value):
    return v.validate_uuid_or_none(value)


def uuid_list(value):
    return v.validate_uuid_list(value)


def values(*allowed):
    def check(value):
        return v.validate_values(value, allowed)
    return check


def mac_check(value):
    return v.validate_mac_address(value)


def ip_check(value):
    return v.validate_ip_address(value)


def ip_or_none(value):
    return v.validate_ip_address_or_none(value)


def int_range(lo: int, hi: int):
    def check(value):
        return v.validate_range(value, lo, hi)
    return check


def non_negative(value):
    return v.validate_non_negative(value)


def db_int_or_none(value):
    """An integer the 32-bit columns hold (type:range over their bounds)."""
    return None if value is None else v.validate_range(value, -v.INT32_MAX - 1, v.INT32_MAX)


def dict_check(value):
    return v.validate_dict(value)


def dict_or_none(value):
    return v.validate_dict_or_none(value)


def list_of_dicts(keys: set[str]):
    def check(value):
        if not isinstance(value, list):
            return f"'{v.shown(value)}' is not a list"
        for item in value:
            if not isinstance(item, dict):
                return f"'{v.shown(item)}' is not a dictionary"
            extra = set(item) - keys
            if extra:
                return f"Unexpected keys supplied: {', '.join(sorted(extra))}"
        return None
    return check


def fixed_ips(value):
    """type:fixed_ips, and no keys but subnet_id and ip_address."""
    return v.validate_fixed_ips(value) or list_of_dicts({"subnet_id", "ip_address"})(value)


def ip_list(value):
    return v.validate_nameservers(value)


def hostroutes(value):
    return v.validate_hostroutes(value)


def ip_pools_or_none(value):
    return None if value is None else v.validate_ip_pools(value)


def subnet_or_none(value):
    """The cidr of a subnet: any address/length text the plugin can read
    (the plugin words the upstream "is not in a CIDR format" error)."""
    if value is None or isinstance(value, str):
        return None
    return f"'{v.shown(value)}' is not a valid IP subnet"


AZ_HINTS_DB_LEN = 255


def az_hints(value):
    """type:availability_zone_hint_list: unique strings whose JSON fits 255."""
    reason = v.validate_list_of_unique_strings(value, 255)
    if reason:
        return reason
    if len(json.dumps(value)) > AZ_HINTS_DB_LEN:
        raise faults.invalid_input("Too many availability_zone_hints specified")
    return None


MAX_TAGS = 50   # per resource, as upstream's tagging extension (MAX_TAGS_COUNT)


def check_tag_count(singular: str, count: int) -> None:
    if count > MAX_TAGS:
        raise faults.BadRequest(
            resource=singular,
            msg=f"The number of tags exceed the per-resource limit of {MAX_TAGS}")


def tag_list(value):
    if not isinstance(value, list):
        return f"'{v.shown(value)}' is not a list"
    for tag in value:
        if (not isinstance(tag, str) or not tag or len(tag) > 255 or "," in tag
                or "\x00" in tag):
            return f"'{v.shown(tag)}' is not a valid tag"
    return None


def remote_group(value):
    """A rule's remote_group_id: a string the plugin looks up (404 when no
    such group), but never the empty string."""
    if value is None:
        return None
    reason = v.validate_string(value, 255)
    if reason is None and not value:
        reason = "'' is not a valid UUID"
    return reason


def project_id_check(value):
    return string(255)(value)


# Attributes common to every standard resource.
def standard_attrs() -> tuple[Attr, ...]:
    return (
        Attr("created_at", column="created_at", filter=True, convert=to_datetime),
        Attr("updated_at", column="updated_at", filter=True, convert=to_datetime),
        Attr("revision_number", column="revision_number", convert=to_int),
        Attr("tags", filter=False, sort=False),
    )


def owner_attrs() -> tuple[Attr, ...]:
    return (
        Attr("project_id", post=True, default=None, validate=project_id_check,
             column="project_id"),
        Attr("tenant_id", post=True, default=None, validate=project_id_check,
             column="project_id"),
    )
