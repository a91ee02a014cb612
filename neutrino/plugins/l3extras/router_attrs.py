"""Router attributes of the L3 extensions.

dvr: `distributed` (admin only, as upstream's policy) is always False.
Distributed virtual routing needs the OVS agents' per-compute-host routing;
neutrino's L3 agent runs legacy (centralized) routers, so asking for True is
a 400 and says why (documented in docs/api.md).

router_availability_zone: `availability_zone_hints` are kept (and must name
zones of L3 agents: 404 AvailabilityZoneNotFound otherwise, as upstream);
`availability_zones` are the zones of the L3 agents hosting the router.
"""
from __future__ import annotations

import json

from sqlalchemy import insert, select

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.db import l3x_models as lm
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.l3 import scheduling

RX, A, RB = lm.router_extra_attributes, models.agents, scheduling.RB


class AvailabilityZoneNotFound(faults.NotFound):
    message = "AvailabilityZone {availability_zone} could not be found."


def _refuse_distributed(body: dict) -> None:
    if body.get("distributed"):
        raise faults.BadRequest(
            resource="router",
            msg="Distributed virtual routers are not supported: the Linux bridge L3 agent "
                "runs centralized routers only (distributed must be False)")


def _views(conn, views: list[dict]) -> None:
    ids = [v["id"] for v in views]
    hints: dict[str, list] = {}
    zones: dict[str, set] = {}
    for part in listing.chunks(ids):
        for rid, raw in conn.execute(select(RX.c.router_id, RX.c.availability_zone_hints)
                                     .where(RX.c.router_id.in_(part))):
            hints[rid] = json.loads(raw) if raw else []
        for rid, zone in conn.execute(
                select(RB.c.router_id, A.c.availability_zone).join(A, A.c.id == RB.c.agent_id)
                .where(RB.c.router_id.in_(part), A.c.availability_zone.is_not(None))):
            if zone:
                zones.setdefault(rid, set()).add(zone)
    for v in views:
        v["distributed"] = False
        v["availability_zone_hints"] = hints.get(v["id"], [])
        v["availability_zones"] = sorted(zones.get(v["id"], ()))


def _check_hints(conn, hints) -> None:
    known = {z for (z,) in conn.execute(
        select(A.c.availability_zone).where(A.c.agent_type == scheduling.L3_AGENT).distinct())}
    for hint in hints or ():
        if hint not in known:
            raise AvailabilityZoneNotFound(availability_zone=hint)


def _create(conn, ctx, body: dict, view: dict) -> None:
    _refuse_distributed(body)
    hints = body.get("availability_zone_hints") or []
    if hints:
        _check_hints(conn, hints)
        conn.execute(insert(RX).values(router_id=view["id"],
                                       availability_zone_hints=json.dumps(hints)))
    _views(conn, [view])


def _update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    _refuse_distributed(body)
    return False


ROUTER_EXTENSION = ResourceExtension(
    "routers", "dvr",
    attrs=(Attr("distributed", post=True, put=True, default=a.UNSET, convert=a.to_boolean,
                policy=True),),
    views=_views, create=_create, update=_update)

# upstream's dvr policy: only admins see or set `distributed`
POLICY_RULES = {f"{action}_router:distributed": "rule:admin_only"
                for action in ("create", "update", "get")}


