"""Wiring into the HTTP application: /v2.0/address-scopes and
/v2.0/subnetpools on the generic Controller, the pool actions
(add_prefixes, remove_prefixes, onboard_network_subnets) and the read-only
/v2.0/network-ip-availabilities."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from neutrino.api.controller import Controller
from neutrino.plugins.subnetpools.availability import IpAvailabilityPlugin
from neutrino.plugins.subnetpools.pools import SubnetPoolPlugin
from neutrino.plugins.subnetpools.resources import (ADDRESS_SCOPE, NETWORK_IP_AVAILABILITY,
                                                    SUBNETPOOL)
from neutrino.plugins.subnetpools.scopes import AddressScopePlugin


def install(api) -> list[Route]:
    core = api.core
    d = core.cfg.DEFAULT
    pools = SubnetPoolPlugin(core)

    def controller(res, plugin):
        return Controller(res, plugin, core.policy, d.pagination_max_limit,
                          d.max_filter_values, d.max_allowed_address_pair)

    for res, plugin in ((ADDRESS_SCOPE, AddressScopePlugin(core)), (SUBNETPOOL, pools)):
        api.plugins[res.collection] = plugin
        api.controllers[res.collection] = controller(res, plugin)

    def action(name: str, fn):
        def run(ctx, pool_id, body):
            def authorize(row) -> None:
                # found as the caller (else 404): may read, so 403 if not allowed
                core.policy.enforce(ctx, name, {"project_id": row["project_id"],
                                                "tenant_id": row["project_id"],
                                                "shared": row["shared"]})
            return fn(ctx, pool_id, body, authorize)

        async def endpoint(request: Request):
            return await api.call(request, run, request.path_params["id"], needs_body=True)
        return Route(f"/v2.0/subnetpools/{{id}}/{name}", endpoint, methods=["PUT"])

    avail = controller(NETWORK_IP_AVAILABILITY, IpAvailabilityPlugin(core))
    base = "/v2.0/network-ip-availabilities"

    async def avail_list(request: Request):
        params = list(request.query_params.multi_items())
        url = str(request.base_url).rstrip("/") + request.url.path
        return await api.call(request, avail.list, params, url)

    async def avail_show(request: Request):
        params = list(request.query_params.multi_items())
        return await api.call(request, avail.show, request.path_params["id"], params)

    return [action("add_prefixes", pools.add_prefixes),
            action("remove_prefixes", pools.remove_prefixes),
            action("onboard_network_subnets", pools.onboard_network_subnets),
            Route(base, avail_list, methods=["GET"]),
            Route(base + "/{id}", avail_show, methods=["GET"])]
