"""Router attributes of the L3 extensions.

dvr: `distributed` (admin only, as upstream's policy) is kept as asked, and
changes only while the router is down (router-admin-state-down-before-update).
A distributed router is hosted centrally like any other: the Linux bridge L3
agent has no per-compute-host data path, so the API and the traffic behave
and only DVR's east-west shortcut is absent (docs/api.md).

router_availability_zone: `availability_zone_hints` are kept (and must name
zones of L3 agents: 404 AvailabilityZoneNotFound otherwise, as upstream);
`availability_zones` are the zones of the L3 agents hosting the router.
"""
from __future__ import annotations

import json

from sqlalchemy import insert, select, update

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


def _set(conn, router_id: str, **values) -> None:
    """Write the router's row of extra attributes (made on first use)."""
    if conn.execute(select(RX.c.router_id).where(RX.c.router_id == router_id)).first():
        conn.execute(update(RX).where(RX.c.router_id == router_id).values(**values))
    else:
        conn.execute(insert(RX).values(router_id=router_id, **values))


def _views(conn, views: list[dict]) -> None:
    ids = [v["id"] for v in views]
    hints: dict[str, list] = {}
    zones: dict[str, set] = {}
    distributed: dict[str, bool] = {}
    for part in listing.chunks(ids):
        for rid, raw, dvr in conn.execute(select(RX.c.router_id, RX.c.availability_zone_hints,
                                                 RX.c.distributed)
                                          .where(RX.c.router_id.in_(part))):
            hints[rid] = json.loads(raw) if raw else []
            distributed[rid] = bool(dvr)
        for rid, zone in conn.execute(
                select(RB.c.router_id, A.c.availability_zone).join(A, A.c.id == RB.c.agent_id)
                .where(RB.c.router_id.in_(part), A.c.availability_zone.is_not(None))):
            if zone:
                zones.setdefault(rid, set()).add(zone)
    for v in views:
        v["distributed"] = distributed.get(v["id"], False)
        v["availability_zone_hints"] = hints.get(v["id"], [])
        v["availability_zones"] = sorted(zones.get(v["id"], ()))


def _check_hints(conn, hints) -> None:
    known = {z for (z,) in conn.execute(
        select(A.c.availability_zone).where(A.c.agent_type == scheduling.L3_AGENT).distinct())}
    for hint in hints or ():
        if hint not in known:
            raise AvailabilityZoneNotFound(availability_zone=hint)


def _create(conn, ctx, body: dict, view: dict) -> None:
    hints = body.get("availability_zone_hints") or []
    values = {}
    if hints:
        _check_hints(conn, hints)
        values["availability_zone_hints"] = json.dumps(hints)
    if body.get("distributed"):
        values["distributed"] = True
    if values:
        _set(conn, view["id"], **values)
    _views(conn, [view])


def _update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    """router-admin-state-down-before-update: `distributed` changes only
    while the router is administratively down (as `ha`)."""
    if "distributed" not in body or bool(body["distributed"]) == bool(
            current.get("distributed")):
        return False
    if current["admin_state_up"]:
        verb = "upgrade" if body["distributed"] else "downgrade"
        raise faults.BadRequest(
            resource="router",
            msg=f"Cannot {verb} active router to "
                f"{'distributed' if body['distributed'] else 'centralized'}. Please set router "
                f"admin_state_up to False prior to {verb}")
    _set(conn, current["id"], distributed=bool(body["distributed"]))
    return True


ROUTER_EXTENSION = ResourceExtension(
    "routers", "dvr",
    attrs=(Attr("distributed", post=True, put=True, default=a.UNSET, convert=a.to_boolean,
                policy=True),),
    views=_views, create=_create, update=_update)

# upstream's dvr policy: only admins see or set `distributed`
POLICY_RULES = {f"{action}_router:distributed": "rule:admin_only"
                for action in ("create", "update", "get")}


