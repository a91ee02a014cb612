"""multi-provider: the `segments` attribute of networks. A network with
several segments shows them as `segments` and no provider:* attributes
(as upstream's ML2); with one it shows provider:* only. Creating with
`segments` is handled by the core (SegmentManager.segments_request)."""
from __future__ import annotations

from typing import Any

from neutrino.api.attributes import Attr
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.ml2.segments import PROVIDER_KEYS, all_segments_for


def _segments_check(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        return f"'{value}' is not a list" if not isinstance(value, list) else \
            "Segments must not be empty"
    for item in value:
        if not isinstance(item, dict):
            return f"'{item}' is not a dictionary"
    return None


def _views(conn, views: list[dict]) -> None:
    segs = all_segments_for(conn, [v["id"] for v in views])
    for view in views:
        mine = segs.get(view["id"], [])
        view.pop("segments", None)
        if len(mine) > 1:
            for key in PROVIDER_KEYS:
                view.pop(f"provider:{key}", None)
            view["segments"] = [{f"provider:{k}": s[k] for k in PROVIDER_KEYS} for s in mine]


def _created(conn, ctx, body: dict, view: dict) -> None:
    """One segment (the usual create) shows provider:*, which the core's
    view holds already; several are read back with what was allocated."""
    if len(body.get("segments") or ()) > 1:
        _views(conn, [view])


NETWORKS = ResourceExtension(
    "networks", "multi-provider",
    attrs=(Attr("segments", post=True, default=None, policy=True, filter=False, sort=False,
                validate=_segments_check),),
    views=_views, create=_created)


def _adjacency(conn, views: list[dict]) -> None:
    """l2_adjacency: False once the network's subnets are on segments (a
    routed network: its ports do not share one L2 domain)."""
    from sqlalchemy import select

    from neutrino.db import models
    from neutrino.db import seg_models as sm
    s, ss = models.subnets, sm.subnet_segments
    ids = [v["id"] for v in views]
    routed = {r[0] for r in conn.execute(
        select(s.c.network_id).join(ss, ss.c.subnet_id == s.c.id)
        .where(s.c.network_id.in_(ids)).distinct())}
    for view in views:
        view["l2_adjacency"] = view["id"] not in routed


def _adjacent(conn, ctx, body: dict, view: dict) -> None:
    view["l2_adjacency"] = True          # a new network has no subnets yet


L2_ADJACENCY = ResourceExtension(
    "networks", "l2_adjacency",
    attrs=(Attr("l2_adjacency", filter=False, sort=False),), views=_adjacency,
    create=_adjacent)
