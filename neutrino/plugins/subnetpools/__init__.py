"""Address scopes and subnet pools: the feature module of address-scope,
subnet_allocation, default-subnetpools, subnetpool-prefix-ops,
subnet_onboard, network-ip-availability and the RBAC object types
address_scope and subnetpool (neutrino.plugins.features)."""
from __future__ import annotations

from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.subnetpools import common  # noqa: F401  (registers the RBAC types)
from neutrino.plugins.subnetpools.network_scopes import NETWORKS
from neutrino.plugins.subnetpools.policy_rules import RULES as POLICY_RULES  # noqa: F401

EXTENSIONS = [
    ("address-scope", "Address scope", "Address scopes extension."),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    ("default-subnetpools", "Default Subnetpools",
     "Provides ability to mark and use a subnetpool as the default."),
    ("subnetpool-prefix-ops", "Subnet Pool Prefix Operations",
     "Provides support for adjusting the prefix list of subnet pools"),
    ("subnet_onboard", "Subnet Onboard",
     "Provides support for onboarding subnets into subnet pools"),
    ("network-ip-availability", "Network IP Availability",
     "Provides IP availability data for each network and subnet."),
    ("rbac-address-scope", "Add address_scope type to RBAC",
     "Add address_scope type to RBAC"),
    ("rbac-subnetpool", "Add subnetpool type to RBAC", "Add subnetpool type to RBAC"),
]

SUBNETS = ResourceExtension("subnets", "default-subnetpools", attrs=(
    Attr("use_default_subnetpool", post=True, default=False, convert=a.to_boolean,
         visible=False, filter=False, sort=False),))

RESOURCE_EXTENSIONS = [NETWORKS, SUBNETS]


def install(api) -> list:
    from neutrino.plugins.subnetpools.routes import install as install_routes
    return install_routes(api)


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.plugins.subnetpools.openapi_doc import extend
    extend(schemas, paths)
