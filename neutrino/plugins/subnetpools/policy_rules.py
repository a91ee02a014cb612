"""Neutron's default policy rules for address scopes, subnet pools, their
actions and network IP availabilities (Secure RBAC defaults)."""
from __future__ import annotations

from neutrino.api.policy import ADMIN, MEMBER, READER

RULES: dict[str, str] = {
    "shared_address_scopes": "field:address_scopes:shared=True",
    "create_address_scope": MEMBER,
    "create_address_scope:shared": ADMIN,
    "get_address_scope": f"{READER} or rule:shared_address_scopes",
    "update_address_scope": MEMBER,
    "update_address_scope:shared": ADMIN,
    "delete_address_scope": MEMBER,
    "shared_subnetpools": "field:subnetpools:shared=True",
    "create_subnetpool": MEMBER,
    "create_subnetpool:shared": ADMIN,
    "create_subnetpool:is_default": ADMIN,
    "get_subnetpool": f"{READER} or rule:shared_subnetpools",
    "update_subnetpool": MEMBER,
    "update_subnetpool:is_default": ADMIN,
    "delete_subnetpool": MEMBER,
    "onboard_network_subnets": MEMBER,
    "add_prefixes": MEMBER,
    "remove_prefixes": MEMBER,
    "get_network_ip_availability": ADMIN,
}
