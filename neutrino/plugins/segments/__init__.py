"""Segments and what builds on them (helper seg's feature module):
/v2.0/segments, multi-provider networks, /v2.0/network_segment_ranges,
subnets' segment_id and service_types, routed-network IPAM
(neutrino.plugins.segments.ipam), l2_adjacency, subnets' router:external
filter, and /v2.0/service-providers."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from neutrino.api.controller import Controller
from neutrino.plugins.segments import network_ext, subnet_ext
from neutrino.plugins.segments.providers import SERVICE_PROVIDER, ServiceProviderPlugin
from neutrino.plugins.segments.ranges import NetworkSegmentRangePlugin, range_source
from neutrino.plugins.segments.resources import NETWORK_SEGMENT_RANGE, SEGMENT
from neutrino.plugins.segments.segments import SegmentPlugin

EXTENSIONS = [
    ("segment", "Segment", "Segments extension."),
    ("standard-attr-segment", "Standard Attribute Segment Extension",
     "Add standard attributes to Segment resource"),
    ("multi-provider", "Multi Provider Network",
     "Expose mapping of virtual networks to multiple physical networks"),
    ("network-segment-range", "Network Segment Range",
     "Provides support for the network segment range management"),
    ("subnet-segmentid-writable", "Subnet SegmentID (writable)",
     "Provides a writable segment_id attribute for a subnet resource."),
    ("l2_adjacency", "L2 Adjacency", "Display L2 Adjacency for Neutron Networks."),
    ("segments-peer-subnet-host-routes", "Segments peer-subnet host routes",
     "Add host routes to subnets on a routed network (segments)"),
    ("service-type", "Neutron Service Type Management",
     "API for retrieving service providers for Neutron advanced services"),
    ("subnet-service-types", "Subnet service types",
     "Provides ability to set the subnet service_types field"),
    ("subnet-external-network", "Subnet External Network",
     "Informs if the subnet is associated to an external network"),
]

RESOURCE_EXTENSIONS = [network_ext.NETWORKS, network_ext.L2_ADJACENCY, subnet_ext.SUBNETS,
                       subnet_ext.SUBNET_EXTERNAL]

_ADMIN = "rule:admin_only"
ALIAS = "network_segment_ranges"
POLICY_RULES = {
    "get_service_provider": "rule:admin_only or role:reader",
    "create_network:segments": _ADMIN,
    "update_network:segments": _ADMIN,
    "get_network:segments": _ADMIN,
    # reading is checked for every rule there is; create/update_subnet:segment_id
    # and :service_types are not (neutron-lib's map does not enforce them)
    "get_subnet:segment_id": _ADMIN,
}
for _name in ("segment", "network_segment_range"):
    for _action in ("create", "get", "update", "delete"):
        POLICY_RULES[f"{_action}_{_name}"] = _ADMIN


def openapi(schemas, paths) -> None:
    from neutrino.plugins.segments.openapi_doc import extend
    extend(schemas, paths)


def install(api) -> list[Route]:
    core = api.core
    core.segments.range_source = range_source
    d = core.cfg.DEFAULT
    for res, plugin in ((SEGMENT, SegmentPlugin(core)),
                        (NETWORK_SEGMENT_RANGE, NetworkSegmentRangePlugin(core))):
        api.plugins[res.collection] = plugin
        api.controllers[res.collection] = Controller(
            res, plugin, core.policy, d.pagination_max_limit, d.max_filter_values)
    # upstream answers at both spellings (tempest uses the hyphen, openstacksdk
    # the underscore)
    api.controllers[ALIAS] = api.controllers[NETWORK_SEGMENT_RANGE.collection]
    providers = Controller(SERVICE_PROVIDER, ServiceProviderPlugin(), core.policy,
                           d.pagination_max_limit, d.max_filter_values)

    async def list_providers(request: Request):
        params = list(request.query_params.multi_items())
        url = str(request.base_url).rstrip("/") + request.url.path
        return await api.call(request, providers.list, params, url)
    return [Route("/v2.0/service-providers", list_providers, methods=["GET"])]
