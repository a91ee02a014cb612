"""Service flavors and profiles (flavors), as neutron-lib's definition."""
from __future__ import annotations

from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.api.resources import Resource

L3 = "L3_ROUTER_NAT"
# the service plugin types a flavor may be for: the services neutrino runs
SERVICE_TYPES = (L3, "FLAVORS", "METERING", "QOS", "TRUNK", "FIREWALL_V2", "SEGMENTS",
                 "PORTFORWARDING", "NETWORK_PLUGIN")
# the L3 service providers a profile may name: legacy (single node), HA and
# DVR routers (hosted centrally, as distributed routers are: docs/api.md)
DRIVERS = ("neutron.services.l3_router.service_providers.single_node.SingleNodeDriver",
           "neutron.services.l3_router.service_providers.ha.HaDriver",
           "neutron.services.l3_router.service_providers.dvr.DvrDriver",
           "neutron.services.l3_router.service_providers.dvrha.DvrHaDriver")


def service_type(value):
    if value not in SERVICE_TYPES:
        return f"Service type {value} is not a valid service plugin type"
    return None


FLAVOR = Resource("flavor", "flavors", (
    Attr("id", column="id"),
    Attr("name", post=True, put=True, default="", validate=a.name_string(255), column="name"),
    Attr("description", post=True, put=True, default="", validate=a.string(1024, nullable=True),
         column="description"),
    Attr("service_type", post=True, validate=service_type, column="service_type"),
    Attr("service_profiles", post=True, put=True, default=[], validate=a.uuid_list,
         filter=False, sort=False),
    Attr("enabled", post=True, put=True, default=True, convert=a.to_boolean,
         column="enabled"),
), not_found="FlavorNotFound", tags=False, has_owner=False)

SERVICE_PROFILE = Resource("service_profile", "service_profiles", (
    Attr("id", column="id"),
    Attr("description", post=True, put=True, default="", validate=a.string(1024, nullable=True),
         column="description"),
    Attr("driver", post=True, put=True, default="", validate=a.string(1024), column="driver"),
    Attr("metainfo", post=True, put=True, default="", column="metainfo", filter=False),
    Attr("enabled", post=True, put=True, default=True, convert=a.to_boolean,
         column="enabled"),
), not_found="ServiceProfileNotFound", tags=False, has_owner=False)
