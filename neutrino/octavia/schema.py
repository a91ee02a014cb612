"""Attribute types of the Octavia v2 API and the validation of request
bodies, worded as WSME words it (Octavia's types: octavia/api/v2/types/).

`parse(key, body, fields, create)` returns the attributes given (with the
POST defaults when creating), converted; anything wrong is a 400.
"""
from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from typing import Any

from neutrino.octavia import faults

MISSING = object()


@dataclass(frozen=True)
class Field:
    name: str
    kind: str                     # str uuid bool int ip enum dict list-cidr tags object
    default: Any = MISSING        # POST default (MISSING: absent stays absent)
    post: bool = True
    put: bool = True
    mandatory: bool = False       # on POST
    choices: tuple = ()
    lo: int | None = None
    hi: int | None = None
    max_length: int | None = None


def _bad(field: str, value: Any, reason: str) -> faults.InvalidInput:
    return faults.InvalidInput(field=field, value=value, reason=reason)


def _check_int(f: Field, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v)
        else:
            raise _bad(f.name, v, f"Wrong type. Expected '<class 'int'>', got "
                                  f"'{type(v)}'")
    if f.lo is not None and v < f.lo:
        raise _bad(f.name, v, f"Value should be greater or equal to {f.lo}")
    if f.hi is not None and v > f.hi:
        raise _bad(f.name, v, f"Value should be lower or equal to {f.hi}")
    return v


def _check_str(f: Field, v: Any) -> str:
    if not isinstance(v, str):
        raise _bad(f.name, v, f"Wrong type. Expected '<class 'str'>', got '{type(v)}'")
    if f.max_length is not None and len(v) > f.max_length:
        raise _bad(f.name, v, f"Value should have a maximum character requirement of "
                              f"{f.max_length}")
    return v


def is_uuid(v: Any) -> bool:
    try:
        uuid.UUID(str(v))
        return isinstance(v, str)
    except ValueError:
        return False


def convert(f: Field, v: Any) -> Any:
    """One attribute's value, checked and converted (None stays None)."""
    if v is None:
        return None
    kind = f.kind
    if kind == "str":
        return _check_str(f, v)
    if kind == "uuid":
        if not is_uuid(v):
            raise _bad(f.name, v, "Value should be UUID format")
        return str(uuid.UUID(v))
    if kind == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        raise _bad(f.name, v, f"Wrong type. Expected '<class 'bool'>', got '{type(v)}'")
    if kind == "int":
        return _check_int(f, v)
    if kind == "ip":      # validated, kept as written (Octavia echoes it as given)
        try:
            ipaddress.ip_address(str(v))
        except ValueError:
            raise _bad(f.name, v, "Value should be IPv4 or IPv6 format") from None
        if not isinstance(v, str):
            raise _bad(f.name, v, "Value should be IPv4 or IPv6 format")
        return v
    if kind == "enum":
        if v not in f.choices:
            raise _bad(f.name, v, "Value should be one of: " + ", ".join(f.choices))
        return v
    if kind == "dict":
        if not isinstance(v, dict) or not all(isinstance(x, str) and isinstance(y, str)
                                              for x, y in v.items()):
            raise _bad(f.name, v, "Value should be a dictionary of strings")
        for y in v.values():
            if len(y) > 255:
                raise _bad(f.name, v, "Value should have a maximum character requirement "
                                      "of 255")
        return dict(v)
    if kind == "list-cidr":
        if not isinstance(v, list):
            raise _bad(f.name, v, "Value should be a list")
        out = []
        for item in v:
            try:
                out.append(str(ipaddress.ip_network(str(item), strict=False)))
            except ValueError:
                raise _bad(f.name, item, "Value should be IPv4 or IPv6 CIDR format") from None
        return out
    if kind == "tags":
        if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
            raise _bad(f.name, v, "Value should be a list of strings")
        for t in v:
            if len(t) > 255:
                raise _bad(f.name, t, "Value should have a maximum character requirement "
                                      "of 255")
        return list(dict.fromkeys(v))
    if kind == "object":
        if not isinstance(v, dict):
            raise _bad(f.name, v, "Value should be an object")
        return v
    if kind == "list":
        if not isinstance(v, list):
            raise _bad(f.name, v, "Value should be a list")
        return v
    raise AssertionError(kind)


def parse(key: str, body: Any, fields: tuple[Field, ...], create: bool) -> dict:
    """The `key` object of `body`, validated against `fields`."""
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise faults.InvalidInput(field=key, value=body if not isinstance(body, dict)
                                  else body.get(key), reason="Mandatory field missing.")
    return parse_object(key, body[key], fields, create)


def parse_object(key: str, obj: dict, fields: tuple[Field, ...], create: bool) -> dict:
    allowed = {f.name: f for f in fields if (f.post if create else f.put)}
    if "tenant_id" in obj and "project_id" in allowed:     # Octavia's alias
        obj = dict(obj)
        tenant = obj.pop("tenant_id")
        obj.setdefault("project_id", tenant)
    unknown = sorted(k for k in obj if k not in allowed)
    if unknown:
        raise faults.UnknownAttribute(arg=key, names=", ".join(unknown))
    out: dict[str, Any] = {}
    for name, f in allowed.items():
        if name in obj:
            out[name] = convert(f, obj[name])
            if name == "admin_state_up" and out[name] is None:
                out[name] = False     # Octavia: null means false
            if out[name] is None and create and f.default is not MISSING:
                out[name] = f.default
        elif create:
            if f.mandatory:
                raise _bad(name, "Unset", "Mandatory field missing.")
            if f.default is not MISSING:
                out[name] = f.default
    if create:
        for name, f in allowed.items():
            if f.mandatory and out.get(name) is None:
                raise _bad(name, obj.get(name), "Mandatory field missing.")
    return out


def common(name_post: bool = True) -> tuple[Field, ...]:
    """name, description, admin_state_up, tags: as on every Octavia object."""
    return (Field("name", "str", "", max_length=255, post=name_post, put=name_post),
            Field("description", "str", "", max_length=255, post=name_post, put=name_post),
            Field("admin_state_up", "bool", True),
            Field("tags", "tags", []))


PROJECT = Field("project_id", "str", put=False, max_length=36)
