"""What port forwardings add to floating IPs (expose-port-forwarding-in-fip,
floating-ip-port-forwarding-detail): the `port_forwardings` list in every
view, the router of a floating IP used by port forwardings as its
`router_id`, and the two refusals of upstream: a floating IP with port
forwardings cannot be associated with a port, nor deleted (409)."""
from __future__ import annotations

from sqlalchemy import delete, select

from neutrino.api import faults
from neutrino.db import l3x_models as lm
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension
from neutrino.api.attributes import Attr
from neutrino.plugins.portforwarding.resource import ports_view

PF, FIP = lm.portforwardings, models.floatingips


class FipInUseByPortForwarding(faults.InUse):
    message = "Floating IP {id} in use by Port Forwarding resources."


def _views(conn, views: list[dict]) -> None:
    found: dict[str, list] = {}
    for part in listing.chunks([v["id"] for v in views]):
        for r in conn.execute(select(PF, FIP.c.status.label("fip_status"))
                              .join(FIP, FIP.c.id == PF.c.floatingip_id)
                              .where(PF.c.floatingip_id.in_(part))
                              .order_by(PF.c.id)).mappings():
            found.setdefault(r["floatingip_id"], []).append(r)
    for v in views:
        rows = found.get(v["id"], [])
        v["port_forwardings"] = [{"id": r["id"], "internal_port_id": r["internal_port_id"],
                                  "internal_ip_address": r["internal_ip_address"],
                                  "protocol": r["protocol"], **ports_view(r)} for r in rows]
        if rows and v.get("port_id") is None:
            # in use by its forwardings: their router, and the status the
            # agent reported (the core shows an unassociated one DOWN)
            v["router_id"] = rows[0]["router_id"]
            v["status"] = rows[0]["fip_status"]


def _in_use(conn, fip_id: str) -> bool:
    return conn.execute(select(PF.c.id).where(PF.c.floatingip_id == fip_id).limit(1)
                        ).first() is not None


def _update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    if body.get("port_id") and _in_use(conn, current["id"]):
        raise FipInUseByPortForwarding(id=current["id"])
    return False


def _delete(conn, ctx, view: dict) -> None:
    if _in_use(conn, view["id"]):
        raise FipInUseByPortForwarding(id=view["id"])


FLOATINGIP_EXTENSION = ResourceExtension(
    "floatingips", "expose-port-forwarding-in-fip",
    attrs=(Attr("port_forwardings", filter=False, sort=False),),
    views=_views, update=_update, delete=_delete)


def _port_update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    """As upstream: the port forwardings to an address the port no longer
    has go with it (their floating IP DOWN if it has no other). Their
    routers' agents are told at once (the periodic resync is the backstop
    should one read before this transaction commits)."""
    if "fixed_ips" not in body:
        return False
    kept = {f["ip_address"] for f in view.get("fixed_ips") or ()}
    stale = conn.execute(select(PF.c.id, PF.c.router_id, PF.c.floatingip_id).where(
        PF.c.internal_port_id == current["id"])).all()
    stale = [r for r in stale if conn.execute(select(PF.c.internal_ip_address).where(
        PF.c.id == r[0])).scalar() not in kept]
    if not stale:
        return False
    from neutrino.plugins.portforwarding.plugin import _down_if_unused, notify_routers
    conn.execute(delete(PF).where(PF.c.id.in_([r[0] for r in stale])))
    for fip in conn.execute(select(FIP).where(FIP.c.id.in_({r[2] for r in stale}))
                            ).mappings().all():
        _down_if_unused(conn, fip)
    notify_routers(conn, {r[1] for r in stale})
    return False


PORT_EXTENSION = ResourceExtension("ports", "floating-ip-port-forwarding",
                                   update=_port_update)
