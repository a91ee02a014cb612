"""The L3 extensions' part of a router's wire form (get_routers):

  "port_forwardings": [{"id", "floating_ip_address", "protocol",
                        "external_port_start", "external_port_end",
                        "internal_ip_address", "internal_port_start",
                        "internal_port_end"}]
  "conntrack_helpers": [{"protocol", "port", "helper"}]
"""
from __future__ import annotations

from sqlalchemy import select

from neutrino.db import l3x_models as lm
from neutrino.db import models
from neutrino.plugins import listing


def port_forwardings(conn, router_ids: list[str]) -> dict[str, list[dict]]:
    PF, FIP = lm.portforwardings, models.floatingips
    out: dict[str, list[dict]] = {}
    for part in listing.chunks(router_ids):
        for r in conn.execute(select(PF, FIP.c.floating_ip_address)
                              .join(FIP, FIP.c.id == PF.c.floatingip_id)
                              .where(PF.c.router_id.in_(part)).order_by(PF.c.id)).mappings():
            out.setdefault(r["router_id"], []).append(
                {k: r[k] for k in ("id", "floating_ip_address", "protocol",
                                   "external_port_start", "external_port_end",
                                   "internal_ip_address", "internal_port_start",
                                   "internal_port_end")})
    return out


def conntrack_helpers(conn, router_ids: list[str]) -> dict[str, list[dict]]:
    """"conntrack_helpers": [{"protocol", "port", "helper"}] per router."""
    CTH = lm.conntrack_helpers
    out: dict[str, list[dict]] = {}
    for part in listing.chunks(router_ids):
        for r in conn.execute(select(CTH).where(CTH.c.router_id.in_(part))
                              .order_by(CTH.c.id)).mappings():
            out.setdefault(r["router_id"], []).append(
                {"protocol": r["protocol"], "port": r["port"], "helper": r["helper"]})
    return out
