"""Feature: service flavors (flavors: /v2.0/flavors, /v2.0/service_profiles,
/v2.0/flavors/{id}/service_profiles) and router flavors (l3-flavors:
flavor_id on routers). A router's flavor picks among the L3 service
providers neutrino has — legacy (single node) and HA routers; there is no
DVR provider. The flavor is recorded and checked; the router is made as
its `ha` attribute (or [DEFAULT] l3_ha) says."""
from __future__ import annotations

from sqlalchemy import insert, select, update
from starlette.requests import Request
from starlette.routing import Route

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.api.controller import Controller
from neutrino.db import l3x_models as lm
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.flavors.plugin import (FlavorPlugin, ServiceProfilePlugin,
                                             check_router_flavor)
from neutrino.plugins.flavors.resource import FLAVOR, SERVICE_PROFILE

EXTENSIONS = [
    ("flavors", "Neutron Service Flavors",
     "Flavor specification for Neutron advanced services."),
    ("l3-flavors", "Router Flavor Extension", "Flavor support for routers."),
]

RX = lm.router_extra_attributes


def _router_views(conn, views: list[dict]) -> None:
    found = {}
    for part in listing.chunks([v["id"] for v in views]):
        found.update(conn.execute(select(RX.c.router_id, RX.c.flavor_id)
                                  .where(RX.c.router_id.in_(part))).all())
    for v in views:
        v["flavor_id"] = found.get(v["id"])


def _router_create(conn, ctx, body: dict, view: dict) -> None:
    flavor_id = body.get("flavor_id")
    if flavor_id is not None:
        if "ha" in body or "distributed" in body:
            raise faults.BadRequest(resource="router",
                                    msg="Cannot specify a flavor and ha or distributed: the "
                                        "flavor decides")
        check_router_flavor(conn, flavor_id)
        if conn.execute(select(RX.c.router_id).where(RX.c.router_id == view["id"])).first():
            conn.execute(update(RX).where(RX.c.router_id == view["id"]).values(
                flavor_id=flavor_id))
        else:
            conn.execute(insert(RX).values(router_id=view["id"], flavor_id=flavor_id))
    view["flavor_id"] = flavor_id


RESOURCE_EXTENSIONS = [ResourceExtension(
    "routers", "l3-flavors",
    attrs=(Attr("flavor_id", post=True, default=None, validate=a.uuid_or_none, sort=False,
                filter=False),),
    views=_router_views, create=_router_create)]

_ADMIN = "rule:admin_only"
POLICY_RULES = {
    "get_flavor": "role:reader",
    "create_flavor": _ADMIN, "update_flavor": _ADMIN, "delete_flavor": _ADMIN,
    "get_service_profile": _ADMIN, "create_service_profile": _ADMIN,
    "update_service_profile": _ADMIN, "delete_service_profile": _ADMIN,
    "get_flavor_service_profile": "role:reader",
    "create_flavor_service_profile": _ADMIN, "delete_flavor_service_profile": _ADMIN,
}


def install(api) -> list[Route]:
    core = api.core
    d = core.cfg.DEFAULT
    flavors = FlavorPlugin(core)
    for res, plugin in ((FLAVOR, flavors), (SERVICE_PROFILE, ServiceProfilePlugin(core))):
        api.plugins[res.collection] = plugin
        api.controllers[res.collection] = Controller(
            res, plugin, core.policy, d.pagination_max_limit, d.max_filter_values,
            d.max_allowed_address_pair)

    def allowed(action: str, ctx) -> None:
        core.policy.enforce(ctx, action, {"project_id": ctx.project_id,
                                          "tenant_id": ctx.project_id})

    def bind(ctx, flavor_id, body):
        allowed("create_flavor_service_profile", ctx)
        return flavors.bind(ctx, flavor_id, body)

    def bindings(ctx, flavor_id):
        allowed("get_flavor_service_profile", ctx)
        return flavors.bindings(ctx, flavor_id)

    def unbind(ctx, flavor_id, spid):
        allowed("delete_flavor_service_profile", ctx)
        return flavors.unbind(ctx, flavor_id, spid)

    async def collection_ep(request: Request):
        fid = request.path_params["id"]
        if request.method == "GET":
            return await api.call(request, bindings, fid)
        return await api.call(request, bind, fid, status=201, needs_body=True)

    async def member_ep(request: Request):
        return await api.call(request, unbind, request.path_params["id"],
                              request.path_params["sp"], status=204)

    base = "/v2.0/flavors/{id}/service_profiles"
    return [Route(base, collection_ep, methods=["GET", "POST"]),
            Route(base + "/{sp}", member_ep, methods=["DELETE"])]


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.plugins import l3x_openapi
    for res in (FLAVOR, SERVICE_PROFILE):
        l3x_openapi.collection(schemas, paths, res)
    l3x_openapi.flavor_bindings(paths)
