"""service-type: GET /v2.0/service-providers, what neutrino's services
run on (upstream lists its configured service_provider drivers)."""
from __future__ import annotations

from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.api.resources import Resource

SERVICE_PROVIDER = Resource("service_provider", "service_providers", (
    Attr("service_type", column="service_type"),
    Attr("name", column="name"),
    Attr("default", column="default", convert=a.to_boolean),
), not_found="HTTPNotFound", tags=False, has_owner=False)

PROVIDERS = (
    {"service_type": "L3_ROUTER_NAT", "name": "single_node", "default": True},
    {"service_type": "L3_ROUTER_NAT", "name": "ha", "default": False},
    {"service_type": "FIREWALL_V2", "name": "fwaas_db", "default": True},
    {"service_type": "LOADBALANCERV2", "name": "haproxy", "default": True},
)


class ServiceProviderPlugin:
    def list(self, ctx: Context, query: Query) -> list[dict]:
        # a handful of items without ids: one page, whatever limit/marker say
        query.limit, query.marker, query.page_reverse = None, None, False
        out = [dict(p) for p in PROVIDERS]
        for key, values in query.filters.items():
            if key == "default":
                wanted = {a.to_boolean(v) for v in values}
            else:
                wanted = {str(v) for v in values}
            out = [p for p in out if p.get(key) in wanted]
        for key, asc in reversed(query.sorts):
            out.sort(key=lambda p: str(p.get(key)), reverse=not asc)
        return out
