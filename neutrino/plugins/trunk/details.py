"""trunk-details: the parent port shows its trunk and subports; ports in a
trunk cannot be deleted (409, as upstream); a parent's binding host change
carries its subports along (same transaction)."""
from __future__ import annotations

from sqlalchemy import bindparam, literal, select, union_all

from neutrino.api.attributes import Attr
from neutrino.db import models
from neutrino.db import trunk_models as tm
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.trunk import binding
from neutrino.plugins.trunk import faults as tf

T, S, P = tm.trunks, tm.subports, models.ports


def _views(conn, views: list[dict]) -> None:
    ids = [v["id"] for v in views]
    trunks: dict[str, str] = {}
    for part in listing.chunks(ids):
        trunks.update({r.port_id: r.id for r in conn.execute(
            select(T.c.port_id, T.c.id).where(T.c.port_id.in_(part)))})
    if not trunks:
        return
    subs: dict[str, list[dict]] = {t: [] for t in trunks.values()}
    for part in listing.chunks(list(subs)):
        for r in conn.execute(select(S.c.trunk_id, S.c.port_id, S.c.segmentation_type,
                                     S.c.segmentation_id, P.c.mac_address)
                              .join(P, P.c.id == S.c.port_id).where(S.c.trunk_id.in_(part))
                              .order_by(S.c.segmentation_type, S.c.segmentation_id)):
            subs[r.trunk_id].append({"segmentation_id": r.segmentation_id,
                                     "segmentation_type": r.segmentation_type,
                                     "port_id": r.port_id, "mac_address": r.mac_address})
    for v in views:
        tid = trunks.get(v["id"])
        if tid is not None:
            v["trunk_details"] = {"trunk_id": tid, "sub_ports": subs[tid]}


def _created(conn, ctx, body: dict, view: dict) -> None:
    """A new port is in no trunk: nothing to read."""


def _updated(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    host = view.get("binding:host_id", "")
    if "binding:host_id" not in body or host == current.get("binding:host_id", ""):
        return False
    trunk = conn.execute(select(T.c.id).where(T.c.port_id == view["id"])).first()
    if trunk is None:
        return False
    # Agents learn of the subports from the parent's trunk details (the L2
    # agent fetches subports it does not know yet); no notification here,
    # the transaction is not committed yet.
    binding.set_bindings(conn, binding.core_for(conn), trunk.id, binding.subport_ids(conn, trunk.id),
                         host)
    return False


# Parent or subport of a trunk, in one prebuilt statement: every port delete runs it.
_TRUNK_ROLE = union_all(
    select(T.c.id, literal(True).label("parent")).where(T.c.port_id == bindparam("pid")),
    select(S.c.trunk_id, literal(False).label("parent")).where(S.c.port_id == bindparam("pid")))


def _deleting(conn, ctx, view: dict) -> None:
    row = conn.execute(_TRUNK_ROLE, {"pid": view["id"]}).first()
    if row is not None and row[1]:
        raise tf.PortInUseAsTrunkParent(port_id=view["id"], trunk_id=row[0])
    if row is not None:
        raise tf.PortInUseAsSubPort(port_id=view["id"], trunk_id=row[0])


TRUNK_DETAILS = ResourceExtension(
    "ports", "trunk-details",
    attrs=(Attr("trunk_details", filter=False, sort=False),),
    views=_views, create=_created, update=_updated, delete=_deleting)
