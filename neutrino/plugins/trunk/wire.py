"""What the L2 agent learns of trunks: each parent port in its host state
carries `trunk_subports` [{port_id, segmentation_id}] (VLAN), from which
the agent makes the subports' devices (neutrino.agent.l2.trunk)."""
from __future__ import annotations

from sqlalchemy import select

from neutrino.db import trunk_models as tm
from neutrino.plugins import listing


def add_subports(conn, ports: list[dict]) -> None:
    T, S = tm.trunks, tm.subports
    by_id = {p["id"]: p for p in ports}
    for part in listing.chunks(list(by_id)):
        for r in conn.execute(select(T.c.port_id, S.c.port_id.label("sub"), S.c.segmentation_id)
                              .join(S, S.c.trunk_id == T.c.id).where(T.c.port_id.in_(part))
                              .order_by(S.c.segmentation_id)):
            by_id[r.port_id].setdefault("trunk_subports", []).append(
                {"port_id": r.sub, "segmentation_id": r.segmentation_id})
