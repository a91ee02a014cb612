"""Attribute maps of address scopes, subnet pools and network IP
availabilities, as neutron-lib's address_scope, subnetpool (with
default-subnetpools' is_default) and network_ip_availability definitions."""
from __future__ import annotations

from typing import Any

from neutrino import validators as v
from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.api.resources import Resource


def subnet_list(value: Any) -> str | None:
    """type:subnet_list."""
    if not isinstance(value, list):
        return f"'{v.shown(value)}' is not a list"
    dups = v.duplicates(value)
    if dups:
        return f"Duplicate items in the list: '{', '.join(map(str, dups))}'"
    for item in value:
        reason = v.validate_subnet(item)
        if reason:
            return reason
    return None


def int_or_none(value: Any) -> Any:
    return None if value is None else a.to_int(value)


def non_negative_or_none(value: Any) -> str | None:
    return None if value is None else v.validate_non_negative(value)


_ID = Attr("id", column="id")
_NAME = Attr("name", post=True, put=True, default="", validate=a.name_string(255), column="name")
_DESC = Attr("description", post=True, put=True, default="", validate=a.string(255),
             column="description")


def _prefixlen(name: str) -> Attr:
    return Attr(name, post=True, put=True, default=a.UNSET, convert=a.to_int,
                validate=a.non_negative, column=name)


ADDRESS_SCOPE = Resource("address_scope", "address-scopes", (
    _ID, _NAME, _DESC, *a.owner_attrs(),
    Attr("shared", post=True, put=True, default=False, convert=a.to_boolean, policy=True,
         column="shared"),
    Attr("ip_version", post=True, convert=a.to_int, validate=a.values(4, 6),
         column="ip_version"),
    *a.standard_attrs(),
), not_found="AddressScopeNotFound")

SUBNETPOOL = Resource("subnetpool", "subnetpools", (
    _ID, _NAME, _DESC, *a.owner_attrs(),
    Attr("prefixes", post=True, put=True, validate=subnet_list, filter=False, sort=False),
    Attr("default_quota", post=True, put=True, default=None, convert=int_or_none,
         validate=non_negative_or_none, column="default_quota"),
    Attr("ip_version", column="ip_version", convert=a.to_int),
    _prefixlen("default_prefixlen"), _prefixlen("min_prefixlen"), _prefixlen("max_prefixlen"),
    Attr("is_default", post=True, put=True, default=False, convert=a.to_boolean, policy=True,
         column="is_default"),
    Attr("shared", post=True, default=False, convert=a.to_boolean, policy=True,
         column="shared"),
    Attr("address_scope_id", post=True, put=True, default=None, validate=a.uuid_or_none,
         column="address_scope_id"),
    *a.standard_attrs(),
), not_found="SubnetPoolNotFound")

NETWORK_IP_AVAILABILITY = Resource("network_ip_availability", "network-ip-availabilities", (
    Attr("network_id", column="id"),
    Attr("network_name", column="name"),
    Attr("tenant_id", column="project_id"),
    Attr("project_id", column="project_id"),
    Attr("total_ips", filter=False, sort=False),
    Attr("used_ips", filter=False, sort=False),
    Attr("subnet_ip_availability", filter=False, sort=False),
    Attr("ip_version", visible=False, sort=False, convert=a.to_int),
), not_found="NetworkNotFound", tags=False)
