"""Trunks: a parent port and subports, each subport a port of another
network carried on the parent as a VLAN. Upstream's trunk plugin rules, in
one transaction a call: ports must be visible to the caller, a port is in
one trunk only (as parent or subport), VLAN ids are unique per trunk, a
subport's network MTU may not exceed the parent's, and a disabled trunk
(admin_state_up false) cannot change its subports nor be deleted."""
from __future__ import annotations

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.controller import _convert
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.db import trunk_models as tm
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision, check_owner, set_tags
from neutrino.plugins.ml2.segments import segments_for
from neutrino.plugins.trunk import binding
from neutrino.plugins.trunk import faults as tf
from neutrino.plugins.trunk.resources import INHERIT, MAX_VID, MIN_VID, TRUNK, VLAN
from neutrino.plugins.trunk.status import trunk_statuses

T, S, P, N = tm.trunks, tm.subports, models.ports, models.networks
_FIELDS = ("name", "description", "admin_state_up")


def subports_of(conn, trunk_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {t: [] for t in trunk_ids}
    for part in listing.chunks(trunk_ids):
        for r in conn.execute(select(S).where(S.c.trunk_id.in_(part))
                              .order_by(S.c.segmentation_type, S.c.segmentation_id)):
            out[r.trunk_id].append({"segmentation_id": r.segmentation_id,
                                    "segmentation_type": r.segmentation_type,
                                    "port_id": r.port_id})
    return out


def _port_scope(ctx: Context):
    """Ports the caller may use: its own and those on its networks (a
    statement joining the port's network)."""
    if ctx.is_admin:
        return None
    return or_(P.c.project_id == ctx.project_id, N.c.project_id == ctx.project_id)


class TrunkPlugin:
    def __init__(self, core: Core):
        self.core = core

    # --- reads -------------------------------------------------------------------------
    def _views(self, conn, rows) -> list[dict]:
        ids = [r["id"] for r in rows]
        subs = subports_of(conn, ids)
        tags = listing.tags_for(conn, ids)
        statuses = trunk_statuses(conn, {r["id"]: r["port_id"] for r in rows}, subs)
        return [{"id": r["id"], "name": r["name"], "description": r["description"],
                 "admin_state_up": r["admin_state_up"], "port_id": r["port_id"],
                 "status": statuses[r["id"]], "sub_ports": subs[r["id"]],
                 "tenant_id": r["project_id"], "project_id": r["project_id"],
                 "tags": tags.get(r["id"], []),
                 "created_at": listing.iso(r["created_at"]),
                 "updated_at": listing.iso(r["updated_at"]),
                 "revision_number": r["revision_number"]} for r in rows]

    @staticmethod
    def _row(conn, ctx: Context, trunk_id: str, lock: bool = False):
        stmt = select(T).where(T.c.id == trunk_id)
        if not ctx.is_admin:
            stmt = stmt.where(T.c.project_id == ctx.project_id)
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise tf.TrunkNotFound(trunk_id=trunk_id)
        return row

    def get(self, ctx: Context, trunk_id: str) -> dict:
        return self.core.db.read(lambda conn: self._views(conn, [self._row(conn, ctx,
                                                                           trunk_id)])[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(TRUNK, T, query.filters)
        where += listing.tag_clauses(T, query.tags)
        if not ctx.is_admin:
            where.append(T.c.project_id == ctx.project_id)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, TRUNK, T, query, where)))

    def get_subports(self, ctx: Context, trunk_id: str) -> dict:
        def txn(conn):
            row = self._row(conn, ctx, trunk_id)
            self.core.policy.enforce(ctx, "get_subports", {"project_id": row["project_id"],
                                                           "tenant_id": row["project_id"]})
            return {"sub_ports": subports_of(conn, [trunk_id])[trunk_id]}
        return self.core.db.read(txn)

    # --- checks ------------------------------------------------------------------------
    @staticmethod
    def _ports(conn, ctx: Context, port_ids: list[str]) -> dict[str, dict]:
        """The ports (with their network's MTU), each visible to the caller
        (else 404 PortNotFound)."""
        found: dict[str, dict] = {}
        scope = _port_scope(ctx)
        for part in listing.chunks(port_ids):
            stmt = (select(P.c.id, P.c.network_id, P.c.binding_host, P.c.device_owner,
                           N.c.mtu).join(N, N.c.id == P.c.network_id).where(P.c.id.in_(part)))
            if scope is not None:
                stmt = stmt.where(scope)
            found.update({r.id: dict(r._mapping) for r in conn.execute(stmt)})
        for pid in port_ids:
            if pid not in found:
                raise faults.PortNotFound(port_id=pid)
        return found

    @staticmethod
    def _in_trunks(conn, port_ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """(port -> trunk it is the parent of, port -> trunk it is a subport of)."""
        parents = {r.port_id: r.id for r in conn.execute(
            select(T.c.port_id, T.c.id).where(T.c.port_id.in_(port_ids)))}
        subs = {r.port_id: r.trunk_id for r in conn.execute(
            select(S.c.port_id, S.c.trunk_id).where(S.c.port_id.in_(port_ids)))}
        return parents, subs

    def _check_subports(self, conn, ctx: Context, trunk_id: str, parent: dict,
                        subports: list[dict]) -> list[dict]:
        """Validated rows to insert (inherit resolved to the network's VLAN)."""
        if not subports:
            return []
        ids = [s["port_id"] for s in subports]
        ports = self._ports(conn, ctx, ids)
        parents, subs = self._in_trunks(conn, ids)
        segs = segments_for(conn, sorted({p["network_id"] for p in ports.values()}))
        taken = {(s["segmentation_type"], s["segmentation_id"])
                 for s in subports_of(conn, [trunk_id])[trunk_id]} if trunk_id else set()
        rows = []
        for sub in subports:
            pid = sub["port_id"]
            if pid == parent["id"] or pid in parents or pid in subs:
                raise tf.TrunkPortInUse(port_id=pid)
            kind, vid = sub.get("segmentation_type"), sub.get("segmentation_id")
            if kind == INHERIT:
                seg = segs.get(ports[pid]["network_id"]) or {}
                if seg.get("network_type") != VLAN:
                    raise faults.invalid_input(
                        f"Segmentation type {INHERIT} requires subport {pid} to be on a "
                        f"{VLAN} network, not {seg.get('network_type')}")
                kind, vid = VLAN, seg.get("segmentation_id")
            elif kind != VLAN:
                raise faults.invalid_input(f"Unknown segmentation_type '{kind}'")
            if isinstance(vid, bool) or not isinstance(vid, int):
                try:
                    vid = int(vid)
                except (TypeError, ValueError):
                    raise faults.invalid_input(
                        f"Invalid segmentation_id '{vid}' for subport {pid}") from None
            if not MIN_VID <= vid <= MAX_VID:
                raise faults.invalid_input(
                    f"Segmentation ID {vid} for subport {pid} must be in the range "
                    f"{MIN_VID}-{MAX_VID}")
            if (kind, vid) in taken:
                raise tf.DuplicateSubPort(segmentation_type=kind, segmentation_id=vid,
                                          trunk_id=trunk_id)
            taken.add((kind, vid))
            mtu, trunk_mtu = ports[pid]["mtu"], parent["mtu"]
            if mtu is not None and trunk_mtu is not None and mtu > trunk_mtu:
                raise tf.SubPortMtuGreaterThanTrunkPortMtu(port_mtu=mtu, port_id=pid,
                                                           trunk_mtu=trunk_mtu,
                                                           trunk_id=trunk_id)
            rows.append({"port_id": pid, "trunk_id": trunk_id, "segmentation_type": kind,
                         "segmentation_id": vid})
        return rows

    @staticmethod
    def _insert_subports(conn, rows: list[dict]) -> None:
        if not rows:
            return
        try:
            conn.execute(insert(S), rows)
        except IntegrityError as exc:
            # a concurrent call took a port or a VLAN id: run again to say which
            raise RetryTransaction(f"trunk subports changed concurrently: {exc.orig}") from None

    def _parent(self, conn, port_id: str) -> dict:
        row = conn.execute(select(P.c.id, P.c.binding_host, N.c.mtu)
                           .join(N, N.c.id == P.c.network_id)
                           .where(P.c.id == port_id)).first()
        return dict(row._mapping) if row else {"id": port_id, "binding_host": "", "mtu": None}

    # --- writes ------------------------------------------------------------------------
    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)
        changed: list[dict] = []

        def txn(conn):
            parent = self._ports(conn, ctx, [body["port_id"]])[body["port_id"]]
            parent["id"] = body["port_id"]
            parents, subs = self._in_trunks(conn, [parent["id"]])
            if parent["id"] in parents:
                raise tf.TrunkPortInUse(port_id=parent["id"])
            if parent["id"] in subs:
                raise tf.ParentPortInUse(port_id=parent["id"])
            tid = listing.new_id()
            rows = self._check_subports(conn, ctx, tid, parent, body.get("sub_ports") or [])
            ts = listing.now()
            try:
                conn.execute(insert(T).values(
                    id=tid, project_id=owner, port_id=parent["id"], status="DOWN",
                    created_at=ts, updated_at=ts, revision_number=0,
                    **{k: body[k] for k in _FIELDS}))
            except IntegrityError as exc:
                raise RetryTransaction(f"trunk parent changed concurrently: {exc.orig}") \
                    from None
            self._insert_subports(conn, rows)
            if body.get("tags"):
                set_tags(conn, "trunks", tid, body["tags"])
            changed[:] = binding.set_bindings(conn, self.core, tid,
                                              [r["port_id"] for r in rows],
                                              parent["binding_host"])
            self._touch_parent(conn, parent["id"])
            return self._views(conn, [self._row(conn, ctx, tid)])[0]
        view = self.core.db.write(txn)
        binding.notify(self.core, changed)
        self._notify_parent(view["port_id"])
        return view

    def update(self, ctx: Context, trunk_id: str, body: dict) -> dict:
        def txn(conn):
            self._row(conn, ctx, trunk_id, lock=True)
            values = {k: body[k] for k in _FIELDS if k in body}
            if values:
                conn.execute(update(T).where(T.c.id == trunk_id).values(**values))
            bump_revision(conn, T, trunk_id)
            return self._views(conn, [self._row(conn, ctx, trunk_id)])[0]
        return self.core.db.write(txn)

    def delete(self, ctx: Context, trunk_id: str) -> None:
        changed: list[dict] = []

        def txn(conn):
            row = self._row(conn, ctx, trunk_id, lock=True)
            if not row["admin_state_up"]:
                raise tf.TrunkDisabled(trunk_id=trunk_id)
            changed[:] = binding.set_bindings(conn, self.core, trunk_id,
                                              binding.subport_ids(conn, trunk_id), "",
                                              leaving=True)
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == trunk_id))
            conn.execute(delete(S).where(S.c.trunk_id == trunk_id))
            conn.execute(delete(T).where(T.c.id == trunk_id))
            self._touch_parent(conn, row["port_id"])
            return row["port_id"]
        parent = self.core.db.write(txn)
        binding.notify(self.core, changed)
        self._notify_parent(parent)

    def _subports_body(self, body) -> list[dict]:
        if not isinstance(body, dict) or "sub_ports" not in body:
            raise faults.HTTPBadRequest("Body contains invalid data")
        return _convert(TRUNK.attr("sub_ports"), body["sub_ports"])

    def _change_subports(self, ctx: Context, trunk_id: str, body, action: str,
                         authorize) -> dict:
        subports = self._subports_body(body)
        changed: list[dict] = []

        def txn(conn):
            row = self._row(conn, ctx, trunk_id, lock=True)
            authorize(row)
            if not row["admin_state_up"]:
                raise tf.TrunkDisabled(trunk_id=trunk_id)
            parent = self._parent(conn, row["port_id"])
            if action == "add_subports":
                rows = self._check_subports(conn, ctx, trunk_id, parent, subports)
                self._insert_subports(conn, rows)
                changed[:] = binding.set_bindings(conn, self.core, trunk_id,
                                                  [r["port_id"] for r in rows],
                                                  parent["binding_host"])
            else:
                have = set(binding.subport_ids(conn, trunk_id))
                gone = [s["port_id"] for s in subports]
                for pid in gone:
                    if pid not in have:
                        raise tf.SubPortNotFound(trunk_id=trunk_id, port_id=pid)
                conn.execute(delete(S).where(S.c.trunk_id == trunk_id, S.c.port_id.in_(gone)))
                changed[:] = binding.set_bindings(conn, self.core, trunk_id, gone, "",
                                                  leaving=True)
            bump_revision(conn, T, trunk_id)
            self._touch_parent(conn, row["port_id"])
            return self._views(conn, [self._row(conn, ctx, trunk_id)])[0]
        view = self.core.db.write(txn)
        binding.notify(self.core, changed)
        self._notify_parent(view["port_id"])
        return view

    def add_subports(self, ctx, trunk_id, body, authorize) -> dict:
        return self._change_subports(ctx, trunk_id, body, "add_subports", authorize)

    def remove_subports(self, ctx, trunk_id, body, authorize) -> dict:
        return self._change_subports(ctx, trunk_id, body, "remove_subports", authorize)

    @staticmethod
    def _touch_parent(conn, port_id: str) -> None:
        """The parent's trunk_details changed: its cached view must go."""
        bump_revision(conn, P, port_id)

    def _notify_parent(self, port_id: str) -> None:
        row = self.core.db.read(lambda conn: conn.execute(
            select(P.c.binding_host, P.c.network_id, P.c.revision_number)
            .where(P.c.id == port_id)).first())
        if row is not None and row.binding_host:
            self.core.notifier.resource_changed("port", port_id, row.revision_number,
                                                hosts=(row.binding_host,),
                                                network_id=row.network_id)
