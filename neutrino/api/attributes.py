"""Attribute definitions, converters and validators, worded as neutron-lib's.

Converters raise InvalidInput ("Invalid input for operation: …"); validators
return a reason, which the controller turns into HTTPBadRequest
("Invalid input for <attr>. Reason: <reason>.") — the two shapes real Neutron
answers with.
"""
from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable

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


# --- converters ----------------------------------------------------------

def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
    raise faults.invalid_input(f"'{value}' cannot be converted to boolean")


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise faults.invalid_input(f"'{value}' is not an integer")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise faults.invalid_input(f"'{value}' is not an integer") from None


def to_int_or_none(value: Any) -> int | None:
    return None if value is None else to_int(value)


def to_datetime(value: Any):
    """A timestamp filter value ("2026-11-26T14:50:01Z") as the naive UTC
    datetime the database stores."""
    import datetime as dt
    try:
        when = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise faults.invalid_input(f"'{value}' is not a valid timestamp") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def to_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def to_mac(value: Any) -> str:
    if isinstance(value, str):
        text = value.strip().lower().replace("-", ":")
        if re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", text):
            return text
    return value  # validate_mac reports it


# --- validators (return a reason or None) ----------------------------------

def string(max_len: int = 255, nullable: bool = False):
    def check(value):
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            return f"'{value}' is not a valid string"
        if len(value) > max_len:
            return f"'{value}' exceeds maximum length of {max_len}"
        return None
    return check


def is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return isinstance(value, str)
    except (ValueError, AttributeError):
        return False


def uuid_check(value):
    return None if is_uuid(value) else f"'{value}' is not a valid UUID"


def uuid_or_none(value):
    return None if value is None else uuid_check(value)


def uuid_list(value):
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    for item in value:
        if not is_uuid(item):
            return f"'{item}' is not a valid UUID"
    if len(set(value)) != len(value):
        return f"Duplicate items in the list: '{', '.join(value)}'"
    return None


def values(*allowed):
    def check(value):
        return None if value in allowed else f"{value} is not in valid_values"
    return check


def mac_check(value):
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", value):
        if value == "00:00:00:00:00:00" or int(value.split(":")[0], 16) & 1:
            return f"'{value}' is not a valid MAC address"
        return None
    return f"'{value}' is not a valid MAC address"


def ip_check(value):
    try:
        ipaddress.ip_address(value)
    except (ValueError, TypeError):
        return f"'{value}' is not a valid IP address"
    if not isinstance(value, str):
        return f"'{value}' is not a valid IP address"
    return None


def ip_or_none(value):
    return None if value is None else ip_check(value)


def int_range(lo: int, hi: int):
    def check(value):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"'{value}' is not an integer"
        if not lo <= value <= hi:
            return f"'{value}' is not in range {lo} through {hi}"
        return None
    return check


def dict_check(value):
    return None if isinstance(value, dict) else f"'{value}' is not a dictionary"


def list_of_dicts(keys: set[str]):
    def check(value):
        if not isinstance(value, list):
            return f"'{value}' is not a list"
        for item in value:
            if not isinstance(item, dict):
                return f"'{item}' is not a dictionary"
            extra = set(item) - keys
            if extra:
                return f"Unexpected keys supplied: {', '.join(sorted(extra))}"
        return None
    return check


def ip_list(value):
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    for item in value:
        reason = ip_check(item)
        if reason:
            return f"'{item}' is not a valid nameserver. {reason}"
    if len(set(value)) != len(value):
        return f"Duplicate nameserver '{value}'"
    return None


def tag_list(value):
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    for tag in value:
        if not isinstance(tag, str) or not tag or len(tag) > 255 or "," in tag:
            return f"'{tag}' is not a valid tag"
    return None


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
