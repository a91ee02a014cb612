"""Feature: the smaller L3 extensions — fip-port-details, floatingip-pools,
extraroute-atomic, l3-port-ip-change-not-allowed,
router-admin-state-down-before-update (a router changes mode only while
down), dvr (distributed routers hosted centrally, see router_attrs) and router_availability_zone."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from neutrino.plugins.l3extras import extraroutes, router_attrs
from neutrino.plugins.l3extras.fip_details import FLOATINGIP_EXTENSION
from neutrino.plugins.l3extras.pools import floatingip_pools
from neutrino.plugins.l3extras.port_ip import PORT_EXTENSION

EXTENSIONS = [
    ("fip-port-details", "Floating IP Port Details Extension",
     "Add port_details attribute to Floating IP resource"),
    ("floatingip-pools", "Floating IP Pools Extension",
     "Provides a floating IP pools API."),
    ("extraroute-atomic", "Atomically add/remove extra routes",
     "Edit extra routes of a router on server side by atomically adding/removing extra "
     "routes"),
    ("l3-port-ip-change-not-allowed", "Prevent L3 router ports IP address change",
     "Prevent L3 router ports IP address change"),
    ("router-admin-state-down-before-update", "Enforce Router's Admin State Down Before "
     "Update Extension", "Ensure that the admin state of a router is down "
     "(admin_state_up=False) before updating the distributed attribute"),
    ("dvr", "Distributed Virtual Router", "Enables configuration of Distributed Virtual "
     "Routers"),
    ("router_availability_zone", "Router Availability Zone",
     "Availability zone support for router."),
]

RESOURCE_EXTENSIONS = [FLOATINGIP_EXTENSION, router_attrs.ROUTER_EXTENSION, PORT_EXTENSION]

_OWNER = "project_id:%(project_id)s"
POLICY_RULES = {
    **router_attrs.POLICY_RULES,
    "get_floatingip_pool": "role:reader",
    "add_extraroutes": f"rule:admin_only or (role:member and {_OWNER})",
    "remove_extraroutes": f"rule:admin_only or (role:member and {_OWNER})",
}


def install(api) -> list[Route]:
    core = api.core
    routers = api.plugins["routers"]

    async def pools_ep(request: Request):
        params = list(request.query_params.multi_items())
        return await api.call(request, lambda ctx: floatingip_pools(core, ctx, params))

    def extraroute_ep(add: bool):
        async def endpoint(request: Request):
            return await api.call(
                request, lambda ctx, rid, body: extraroutes.change(
                    routers, core.policy, ctx, rid, body, add),
                request.path_params["id"], needs_body=True)
        return endpoint

    # the api-ref's path, and the one clients build from the collection name
    return [Route("/v2.0/floatingip_pools", pools_ep, methods=["GET"]),
            Route("/v2.0/floatingip-pools", pools_ep, methods=["GET"]),
            Route("/v2.0/routers/{id}/add_extraroutes", extraroute_ep(True), methods=["PUT"]),
            Route("/v2.0/routers/{id}/remove_extraroutes", extraroute_ep(False),
                  methods=["PUT"])]


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.plugins import l3x_openapi
    l3x_openapi.l3extras(schemas, paths)
