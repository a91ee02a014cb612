"""/v2.0/segments: a network's segments as resources (admin only, as
upstream's segments service plugin). Creating one adds a segment to the
network (its id from the type driver when not given); deleting one is
refused while subnets are on it. The network's view follows: one segment
shows provider:*, several show `segments` (multi-provider)."""
from __future__ import annotations

from sqlalchemy import delete, func, select, update

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.db import seg_models as sm
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision, get_network_row
from neutrino.plugins.segments import faults as sf
from neutrino.plugins.segments.resources import SEGMENT

S = models.segments


def segment_view(r, network_ts=None) -> dict:
    created = r["created_at"] or network_ts
    return {"id": r["id"], "network_id": r["network_id"], "name": r["name"],
            "description": r["description"], "network_type": r["network_type"],
            "physical_network": r["physical_network"],
            "segmentation_id": r["segmentation_id"],
            "created_at": listing.iso(created),
            "updated_at": listing.iso(r["updated_at"] or created),
            "revision_number": r["revision_number"]}


def segment_row(conn, segment_id: str, lock: bool = False):
    stmt = select(S).where(S.c.id == segment_id)
    if lock and conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise sf.SegmentNotFound(segment_id=segment_id)
    return row


def _require_admin(ctx: Context, segment_id: str | None = None) -> None:
    # get_segment is admin only: others are told it does not exist
    if not ctx.is_admin:
        if segment_id is None:
            raise faults.HTTPForbidden("rule:create_segment is disallowed by policy")
        raise sf.SegmentNotFound(segment_id=segment_id)


def _bump_network(conn, network_id: str) -> int:
    """What the network shows changed (provider:* or segments)."""
    n = models.networks
    bump_revision(conn, n, network_id)
    return conn.execute(select(n.c.revision_number).where(n.c.id == network_id)).scalar()


class SegmentPlugin:
    def __init__(self, core: Core):
        self.core = core

    def _views(self, conn, rows) -> list[dict]:
        missing = sorted({r["network_id"] for r in rows if r["created_at"] is None})
        ts = {}
        if missing:
            n = models.networks
            ts = dict(conn.execute(select(n.c.id, n.c.created_at).where(n.c.id.in_(missing))).all())
        return [segment_view(r, ts.get(r["network_id"])) for r in rows]

    def get(self, ctx: Context, segment_id: str) -> dict:
        _require_admin(ctx, segment_id)
        return self.core.db.read(lambda conn: self._views(conn, [segment_row(conn, segment_id)])[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        if not ctx.is_admin:
            return []
        where = listing.column_clauses(SEGMENT, S, query.filters)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, SEGMENT, S, query, where)))

    def create(self, ctx: Context, body: dict) -> dict:
        _require_admin(ctx)
        core = self.core
        requested = core.segments.provider_request({
            "provider:network_type": body["network_type"],
            "provider:physical_network": body.get("physical_network"),
            "provider:segmentation_id": body.get("segmentation_id")})
        net_id = body["network_id"]

        def txn(conn):
            net = get_network_row(conn, ctx, net_id, lock=True)
            seg, picked = core.segments.choose(conn, requested, net["project_id"])
            index = conn.execute(select(func.max(S.c.segment_index)).where(
                S.c.network_id == net_id)).scalar()
            core.segments.insert(conn, net_id, seg, picked, 0 if index is None else index + 1)
            row = conn.execute(select(S).where(
                S.c.network_id == net_id,
                S.c.segment_index == (0 if index is None else index + 1))).mappings().one()
            values = {k: body[k] for k in ("name", "description") if body.get(k) is not None}
            if values:
                conn.execute(update(S).where(S.c.id == row["id"]).values(**values))
                row = segment_row(conn, row["id"])
            return self._views(conn, [row])[0], _bump_network(conn, net_id)
        view, revision = core.db.write(txn)
        core.notifier.resource_changed("network", net_id, revision)
        return view

    def update(self, ctx: Context, segment_id: str, body: dict) -> dict:
        _require_admin(ctx, segment_id)

        def txn(conn):
            segment_row(conn, segment_id, lock=True)
            values = {k: body[k] for k in ("name", "description") if k in body}
            if values:
                conn.execute(update(S).where(S.c.id == segment_id).values(
                    revision_number=S.c.revision_number + 1, updated_at=listing.now(),
                    **values))
            return self._views(conn, [segment_row(conn, segment_id)])[0]
        return self.core.db.write(txn)

    def delete(self, ctx: Context, segment_id: str) -> None:
        _require_admin(ctx, segment_id)
        core = self.core

        def txn(conn):
            row = segment_row(conn, segment_id, lock=True)
            ss = sm.subnet_segments
            subnets = [r[0] for r in conn.execute(
                select(ss.c.subnet_id).where(ss.c.segment_id == segment_id))]
            if subnets:
                raise sf.SegmentInUse(segment_id=segment_id,
                                      reason="The segment is still associated with "
                                             f"subnet(s) {', '.join(sorted(subnets))}")
            conn.execute(delete(S).where(S.c.id == segment_id))
            return row["network_id"], _bump_network(conn, row["network_id"])
        net_id, revision = core.db.write(txn)
        core.notifier.resource_changed("network", net_id, revision)
