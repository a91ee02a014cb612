"""availability_zone, availability_zone_filter, network_availability_zone.

Zones are what the agents report ([agent] availability_zone of the DHCP and
L3 agents): a zone of resource "network" per DHCP agent zone, of resource
"router" per L3 agent zone; "available" while one of its agents is
administratively up (upstream does not look at liveness). A network's
availability_zones are the zones of the DHCP agents hosting it; its
availability_zone_hints must name network zones (404 otherwise)."""
from __future__ import annotations

import json

from sqlalchemy import insert, select
from starlette.requests import Request
from starlette.routing import Route

from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.api.controller import Controller
from neutrino.api.policy import ADMIN, Context
from neutrino.api.query import Query
from neutrino.api.resources import Resource
from neutrino.db import dns_models as dm
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension

DHCP_AGENT, L3_AGENT = "DHCP agent", "L3 agent"
RESOURCE_OF = {DHCP_AGENT: "network", L3_AGENT: "router"}
A = models.agents


class AvailabilityZoneNotFound(faults.NotFound):
    message = "AvailabilityZone {availability_zone} could not be found."


AVAILABILITY_ZONE = Resource("availability_zone", "availability_zones", (
    Attr("name"), Attr("resource"), Attr("state"),
), not_found="AvailabilityZoneNotFound", tags=False, has_owner=False)


def zones(conn) -> dict[tuple[str, str], bool]:
    """{(zone, resource): any agent of it administratively up}."""
    out: dict[tuple[str, str], bool] = {}
    for kind, zone, up in conn.execute(
            select(A.c.agent_type, A.c.availability_zone, A.c.admin_state_up)
            .where(A.c.agent_type.in_(list(RESOURCE_OF)), A.c.availability_zone.is_not(None),
                   A.c.availability_zone != "")):
        key = (zone, RESOURCE_OF[kind])
        out[key] = out.get(key, False) or bool(up)
    return out


def check_hints(conn, resource: str, hints) -> None:
    """Every hint must be a zone of `resource` ("network", "router")."""
    if not hints:
        return
    known = {z for z, r in zones(conn) if r == resource}
    for hint in hints:
        if hint not in known:
            raise AvailabilityZoneNotFound(availability_zone=hint)


class AvailabilityZonePlugin:
    def __init__(self, core):
        self.core = core

    def target_of(self, ctx: Context, item: dict) -> dict:
        # Zones belong to nobody: upstream checks the rule against the caller's project.
        return {"project_id": ctx.project_id, "tenant_id": ctx.project_id}

    def list(self, ctx: Context, query: Query) -> list[dict]:
        found = self.core.db.read(zones)
        items = [{"name": z, "resource": r, "state": "available" if up else "unavailable"}
                 for (z, r), up in found.items()]
        for key, values in query.filters.items():
            items = [i for i in items if i.get(key) in values]
        for key, asc in reversed(query.sorts or [("name", True), ("resource", True)]):
            items.sort(key=lambda i, k=key: i.get(k) or "", reverse=not asc)
        query.limit = None      # no ids: upstream pages nothing either
        return items

    def get(self, ctx: Context, name: str) -> dict:
        raise AvailabilityZoneNotFound(availability_zone=name)


def install(api) -> list[Route]:
    core = api.core
    d = core.cfg.DEFAULT
    plugin = AvailabilityZonePlugin(core)
    ctl = Controller(AVAILABILITY_ZONE, plugin, core.policy, d.pagination_max_limit,
                     d.max_filter_values)

    async def collection(request: Request):
        params = list(request.query_params.multi_items())
        url = str(request.base_url).rstrip("/") + request.url.path
        return await api.call(request, ctl.list, params, url)
    return [Route("/v2.0/availability_zones", collection, methods=["GET"])]


# As upstream (2024.2): admins only; others get an empty list (each zone
# fails the rule), which is what tempest's member test sees too.
POLICY_RULES = {"get_availability_zone": ADMIN}


# --- networks: availability_zone_hints, availability_zones --------------------------------

def _net_views(conn, views: list[dict]) -> None:
    ids = [v["id"] for v in views]
    hints: dict[str, list] = {}
    azs: dict[str, set] = {}
    h, b = dm.network_az_hints, models.network_dhcp_agent_bindings
    for part in listing.chunks(ids):
        for nid, text in conn.execute(select(h.c.network_id, h.c.hints)
                                      .where(h.c.network_id.in_(part))):
            hints[nid] = json.loads(text)
        for nid, zone in conn.execute(
                select(b.c.network_id, A.c.availability_zone).join(A, A.c.id == b.c.agent_id)
                .where(b.c.network_id.in_(part), A.c.availability_zone.is_not(None),
                       A.c.availability_zone != "")):
            azs.setdefault(nid, set()).add(zone)
    for v in views:
        v["availability_zone_hints"] = hints.get(v["id"], [])
        v["availability_zones"] = sorted(azs.get(v["id"], ()))


def _net_create(conn, ctx, body: dict, view: dict) -> None:
    wanted = list(body.get("availability_zone_hints") or [])
    check_hints(conn, "network", wanted)
    if wanted:
        conn.execute(insert(dm.network_az_hints), {"network_id": view["id"],
                                                   "hints": json.dumps(wanted)})
    view["availability_zone_hints"] = wanted
    view["availability_zones"] = []      # no DHCP agent hosts it yet


# A deleted network's hints go by ON DELETE CASCADE: no delete hook.
NETWORK_AZ = ResourceExtension(
    "networks", "network_availability_zone",
    views=_net_views, create=_net_create)
