"""/v2.0/network_segment_ranges (admin only), as upstream's
network_segment_range service plugin: shared or per-project VLAN/VXLAN id
ranges that tenant networks allocate from (the project's own ranges first,
then the shared ones). The configured ranges (network_vlan_ranges,
vni_ranges) are the default shared ranges: shown as read-only rows
(default=True), written when first listed, and always allocatable."""
from __future__ import annotations

import uuid

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.db import seg_models as sm
from neutrino.plugins import listing
from neutrino.plugins.core import Core
from neutrino.plugins.segments import faults as sf
from neutrino.plugins.segments.resources import NETWORK_SEGMENT_RANGE

R = sm.network_segment_ranges
S = models.segments
_NS = uuid.UUID("5d7c2e4e-0c1f-4b8e-9a51-6f1b0b2f1a15")
LIMITS = {"vlan": (1, 4094), "vxlan": (1, 2 ** 24 - 1)}


def configured_ranges(segments) -> list[tuple[str, str, int, int]]:
    """(network_type, physical_network, min, max) of the configuration."""
    out = []
    vlan = segments.drivers.get("vlan")
    if vlan is not None:
        for physnet, ranges in vlan.ranges.items():
            out += [("vlan", physnet, lo, hi) for lo, hi in ranges]
    vxlan = segments.drivers.get("vxlan")
    if vxlan is not None:
        out += [("vxlan", "", lo, hi) for lo, hi in vxlan.ranges]
    return out


def _in_range(network_type: str, physnet: str, lo: int, hi: int):
    clause = and_(S.c.network_type == network_type, S.c.segmentation_id.between(lo, hi))
    if network_type == "vlan":
        clause = and_(clause, S.c.physical_network == physnet)
    return clause


def range_source(conn, network_type: str, project_id: str | None, driver):
    """SegmentManager.range_source: the project's ranges, then the shared
    ones (the configured defaults and the admins' shared rows)."""
    rows = conn.execute(select(R).where(R.c.network_type == network_type,
                                        R.c.is_default.is_(False))).mappings().all()
    own = [r for r in rows if not r["shared"] and r["project_id"] == project_id]
    shared = [r for r in rows if r["shared"]]
    # ids of a project's range are that project's: the shared ranges skip them
    private = [r for r in rows if not r["shared"]]

    def shape(rs, base=None, minus=()):
        out: dict = {}
        if network_type == "vxlan":
            base = {"": base or []}
        for physnet, spans in (base or {}).items():
            out.setdefault(physnet, []).extend(spans)
        for r in rs:
            out.setdefault(r["physical_network"], []).append((r["minimum"], r["maximum"]))
        for r in minus:
            if r["physical_network"] in out:
                out[r["physical_network"]] = _subtract(out[r["physical_network"]],
                                                       r["minimum"], r["maximum"])
        return out[""] if network_type == "vxlan" and "" in out else (
            [] if network_type == "vxlan" else out)
    if own:
        yield shape(own)
    yield shape(shared, driver.ranges, private)


def _subtract(spans: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    for a, b in spans:
        if b < lo or a > hi:
            out.append((a, b))
            continue
        if a < lo:
            out.append((a, lo - 1))
        if b > hi:
            out.append((hi + 1, b))
    return out


class NetworkSegmentRangePlugin:
    def __init__(self, core: Core):
        self.core = core
        self.synced = False

    def _sync_defaults(self) -> None:
        """The configured ranges as default rows (ids derived from their
        values, so that workers writing them at once agree)."""
        if self.synced:
            return
        wanted = {str(uuid.uuid5(_NS, f"{t}:{p}:{lo}:{hi}")): (t, p, lo, hi)
                  for t, p, lo, hi in configured_ranges(self.core.segments)}

        def txn(conn):
            have = {r[0] for r in conn.execute(select(R.c.id).where(R.c.is_default))}
            stale = have - set(wanted)
            if stale:
                conn.execute(delete(R).where(R.c.id.in_(sorted(stale))))
            ts = listing.now()
            for rid in sorted(set(wanted) - have):
                t, p, lo, hi = wanted[rid]
                conn.execute(insert(R).values(
                    id=rid, name="", description="", is_default=True, shared=True,
                    project_id=None, network_type=t, physical_network=p, minimum=lo,
                    maximum=hi, created_at=ts, updated_at=ts, revision_number=0))
        try:
            self.core.db.write(txn)
        except IntegrityError:
            pass           # another worker wrote them first
        self.synced = True

    def _views(self, conn, rows) -> list[dict]:
        return [self._view(conn, r) for r in rows]

    @staticmethod
    def _view(conn, r) -> dict:
        used = {}
        for sid, project in conn.execute(
                select(S.c.segmentation_id, models.networks.c.project_id)
                .join(models.networks, models.networks.c.id == S.c.network_id)
                .where(_in_range(r["network_type"], r["physical_network"],
                                 r["minimum"], r["maximum"]))):
            used[str(sid)] = project
        span = r["maximum"] - r["minimum"] + 1
        available = ([i for i in range(r["minimum"], r["maximum"] + 1) if str(i) not in used]
                     if span <= 4096 else [])   # a VNI range may hold 16M ids: not listed
        return {"id": r["id"], "name": r["name"], "description": r["description"],
                "default": r["is_default"], "shared": r["shared"],
                "project_id": r["project_id"], "tenant_id": r["project_id"],
                "network_type": r["network_type"],
                "physical_network": r["physical_network"] if r["network_type"] == "vlan"
                else None,
                "minimum": r["minimum"], "maximum": r["maximum"],
                "used": used, "available": available,
                "created_at": listing.iso(r["created_at"]),
                "updated_at": listing.iso(r["updated_at"]),
                "revision_number": r["revision_number"]}

    @staticmethod
    def _row(conn, range_id: str, lock: bool = False):
        stmt = select(R).where(R.c.id == range_id)
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise sf.NetworkSegmentRangeNotFound(range_id=range_id)
        return row

    def get(self, ctx: Context, range_id: str) -> dict:
        if not ctx.is_admin:
            raise sf.NetworkSegmentRangeNotFound(range_id=range_id)
        self._sync_defaults()
        return self.core.db.read(lambda conn: self._view(conn, self._row(conn, range_id)))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        if not ctx.is_admin:
            return []
        self._sync_defaults()
        where = listing.column_clauses(NETWORK_SEGMENT_RANGE, R, query.filters)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, NETWORK_SEGMENT_RANGE, R, query, where)))

    # --- checks ------------------------------------------------------------------
    def _check(self, conn, rng: dict, range_id: str | None = None) -> None:
        network_type = rng["network_type"]
        lo_limit, hi_limit = LIMITS[network_type]
        lo, hi = rng["minimum"], rng["maximum"]
        for value in (lo, hi):
            if not lo_limit <= value <= hi_limit:
                raise sf.range_error(network_type, lo, hi,
                                     f"{value} is not a valid {network_type} id")
        if lo > hi:
            raise sf.range_error(network_type, lo, hi,
                                 "End of range is smaller than start of range")
        clash = [r[0] for r in conn.execute(select(R.c.id).where(
            R.c.is_default.is_(False), R.c.network_type == network_type,
            R.c.physical_network == rng["physical_network"],
            R.c.minimum <= hi, R.c.maximum >= lo)) if r[0] != range_id]
        if clash:
            raise sf.NetworkSegmentRangeOverlaps(range_id=", ".join(sorted(clash)))

    def _type_supported(self, network_type: str) -> None:
        if network_type not in LIMITS or network_type not in self.core.segments.drivers:
            raise sf.NetworkSegmentRangeNetTypeNotSupported(type=network_type)

    # --- writes ------------------------------------------------------------------
    def create(self, ctx: Context, body: dict) -> dict:
        self._type_supported(body["network_type"])
        physnet = body.get("physical_network")
        if body["network_type"] == "vlan":
            if not physnet:
                raise faults.BadRequest(
                    resource="network_segment_range",
                    msg="Network type vlan requires 'physical_network' to be specified "
                        "while creating new range")
        else:
            physnet = ""
        shared = body["shared"]
        project = body.get("project_id") or body.get("tenant_id")
        if not shared and not project:
            raise faults.BadRequest(resource="network_segment_range",
                                    msg="Must also specify 'project_id' with 'shared=False'")
        rng = {"network_type": body["network_type"], "physical_network": physnet,
               "minimum": body["minimum"], "maximum": body["maximum"]}
        rid = listing.new_id()

        def txn(conn):
            self._check(conn, rng)
            ts = listing.now()
            conn.execute(insert(R).values(
                id=rid, name=body.get("name") or "", description=body.get("description") or "",
                is_default=False, shared=shared, project_id=None if shared else project,
                created_at=ts, updated_at=ts, revision_number=0, **rng))
            return self._view(conn, self._row(conn, rid))
        return self.core.db.write(txn)

    def _lowest_highest(self, conn, r) -> tuple[int | None, int | None]:
        from sqlalchemy import func
        return conn.execute(select(func.min(S.c.segmentation_id), func.max(S.c.segmentation_id))
                            .where(_in_range(r["network_type"], r["physical_network"],
                                             r["minimum"], r["maximum"]))).one()

    def update(self, ctx: Context, range_id: str, body: dict) -> dict:
        def txn(conn):
            r = self._row(conn, range_id, lock=True)
            if r["is_default"]:
                raise sf.NetworkSegmentRangeDefaultReadOnly(range_id=range_id)
            lo = body.get("minimum", r["minimum"])
            hi = body.get("maximum", r["maximum"])
            low, high = self._lowest_highest(conn, r)
            # a new range must still hold every allocated id
            if low is not None and (lo > low or hi < high):
                raise sf.NetworkSegmentRangeReferencedByProject(range_id=range_id)
            rng = {"network_type": r["network_type"], "physical_network": r["physical_network"],
                   "minimum": lo, "maximum": hi}
            self._check(conn, rng, range_id)
            values = {k: body[k] for k in ("name", "description", "minimum", "maximum")
                      if k in body}
            if values:
                conn.execute(update(R).where(R.c.id == range_id).values(
                    revision_number=R.c.revision_number + 1, updated_at=listing.now(),
                    **values))
            return self._view(conn, self._row(conn, range_id))
        return self.core.db.write(txn)

    def delete(self, ctx: Context, range_id: str) -> None:
        def txn(conn):
            r = self._row(conn, range_id, lock=True)
            if r["is_default"]:
                raise sf.NetworkSegmentRangeDefaultReadOnly(range_id=range_id)
            if self._lowest_highest(conn, r)[0] is not None:
                raise sf.NetworkSegmentRangeReferencedByProject(range_id=range_id)
            conn.execute(delete(R).where(R.c.id == range_id))
        self.core.db.write(txn)
