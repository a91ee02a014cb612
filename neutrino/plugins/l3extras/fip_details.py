"""fip-port-details: a floating IP's view carries `port_details`, a few
attributes of the port it is associated with (null when it is not)."""
from __future__ import annotations

from sqlalchemy import select

from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension
from neutrino.api.attributes import Attr

P = models.ports
KEYS = ("name", "network_id", "mac_address", "admin_state_up", "status", "device_id",
        "device_owner")


def _views(conn, views: list[dict]) -> None:
    ids = sorted({v["port_id"] for v in views if v.get("port_id")})
    found = {}
    for part in listing.chunks(ids):
        for r in conn.execute(select(P.c.id, *[P.c[k] for k in KEYS]).where(P.c.id.in_(part))
                              ).mappings():
            found[r["id"]] = {k: r[k] for k in KEYS}
    for v in views:
        details = found.get(v.get("port_id"))
        v["port_details"] = dict(details) if details else None


FLOATINGIP_EXTENSION = ResourceExtension(
    "floatingips", "fip-port-details",
    attrs=(Attr("port_details", filter=False, sort=False),), views=_views)
