"""Conntrack helpers of routers (l3-conntrack-helper): traffic through a
router to a protocol and port gets a kernel conntrack helper (ftp, tftp,
sip...), which the L3 agent attaches with CT --helper rules in the router
namespace's raw table. The helper must be one of HELPERS and track the
protocol; one (protocol, port, helper) per router."""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import l3x_models as lm
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.conntrack_helpers.resource import CONNTRACK_HELPER, HELPERS, view
from neutrino.plugins.l3 import scheduling
from neutrino.plugins.races import is_foreign_key_violation

CTH, R = lm.conntrack_helpers, models.routers


class ConntrackHelperNotFound(faults.NotFound):
    message = "Conntrack Helper {id} could not be found."


class ConntrackHelperNotAllowed(faults.NeutronError):
    status = 400
    message = "Conntrack helper {helper} is not enabled in this environment."


class InvalidProtocolForHelper(faults.NeutronError):
    status = 400
    message = ("Conntrack helper {helper} does not support: {protocol}. Supported protocols "
               "are: {supported_protocols}")


def _check(row: dict) -> None:
    if row["helper"] not in HELPERS:
        raise ConntrackHelperNotAllowed(helper=row["helper"])
    if row["protocol"] not in HELPERS[row["helper"]]:
        raise InvalidProtocolForHelper(helper=row["helper"], protocol=row["protocol"],
                                       supported_protocols=", ".join(HELPERS[row["helper"]]))


def _duplicate(row: dict) -> faults.BadRequest:
    values = {k: row[k] for k in ("router_id", "protocol", "port", "helper")}
    return faults.BadRequest(resource="conntrack_helper",
                             msg="A duplicate conntrack helper entry with same attributes "
                                 f"already exists, conflicting values are {values}")


class ConntrackHelperPlugin:
    """One router's conntrack helpers (bound per request to the router)."""

    def __init__(self, core, router_id: str):
        self.core = core
        self.router_id = router_id
        self._owner = None

    def _router(self, conn, ctx: Context, lock: bool = False):
        stmt = select(R.c.id, R.c.project_id).where(R.c.id == self.router_id)
        if not ctx.is_admin:
            stmt = stmt.where(R.c.project_id == ctx.project_id)
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            raise faults.RouterNotFound(router_id=self.router_id)
        self._owner = row[1]
        return row

    def _row(self, conn, cth_id: str):
        row = conn.execute(select(CTH).where(CTH.c.id == cth_id,
                                             CTH.c.router_id == self.router_id)
                           ).mappings().first()
        if row is None:
            raise ConntrackHelperNotFound(id=cth_id)
        return row

    def target_of(self, ctx: Context, item: dict) -> dict:
        return {"ext_parent_owner": self._owner, "project_id": self._owner}

    def policy_target(self, ctx: Context, item: dict) -> dict:
        self.core.db.read(lambda conn: self._router(conn, ctx))
        return {"ext_parent_owner": self._owner}

    def get(self, ctx: Context, cth_id: str) -> dict:
        def txn(conn):
            self._router(conn, ctx)
            return view(self._row(conn, cth_id))
        return self.core.db.read(txn)

    def list(self, ctx: Context, query: Query) -> list[dict]:
        def txn(conn):
            self._router(conn, ctx)
            where = listing.column_clauses(CONNTRACK_HELPER, CTH, query.filters)
            where.append(CTH.c.router_id == self.router_id)
            return [view(r) for r in listing.run_list(conn, CONNTRACK_HELPER, CTH, query, where)]
        return self.core.db.read(txn)

    def create(self, ctx: Context, body: dict) -> dict:
        cth_id = listing.new_id()

        def txn(conn):
            router = self._router(conn, ctx, lock=True)
            row = {"id": cth_id, "project_id": router[1], "router_id": self.router_id,
                   "protocol": body["protocol"], "port": body["port"], "helper": body["helper"]}
            _check(row)
            self._write(conn, row, None)
            return row
        row = self.core.db.write(txn)
        self._notify()
        return view(row)

    def update(self, ctx: Context, cth_id: str, body: dict) -> dict:
        def txn(conn):
            self._router(conn, ctx, lock=True)
            current = dict(self._row(conn, cth_id))
            row = {**current, **{k: body[k] for k in ("protocol", "port", "helper")
                                 if k in body}}
            _check(row)
            if row != current:
                self._write(conn, row, cth_id)
            return row
        row = self.core.db.write(txn)
        self._notify()
        return view(row)

    def _write(self, conn, row: dict, cth_id: str | None) -> None:
        taken = conn.execute(select(CTH.c.id).where(
            CTH.c.router_id == row["router_id"], CTH.c.protocol == row["protocol"],
            CTH.c.port == row["port"], CTH.c.helper == row["helper"],
            CTH.c.id != row["id"])).first()
        if taken:
            raise _duplicate(row)
        try:
            if cth_id is None:
                conn.execute(insert(CTH).values(**row))
            else:
                conn.execute(update(CTH).where(CTH.c.id == cth_id).values(
                    **{k: row[k] for k in ("protocol", "port", "helper")}))
        except IntegrityError as exc:
            if is_foreign_key_violation(exc):
                raise RetryTransaction("the router vanished") from None
            raise _duplicate(row) from None

    def delete(self, ctx: Context, cth_id: str) -> None:
        def txn(conn):
            self._router(conn, ctx, lock=True)
            self._row(conn, cth_id)
            conn.execute(delete(CTH).where(CTH.c.id == cth_id))
        self.core.db.write(txn)
        self._notify()

    def _notify(self) -> None:
        hosts = self.core.db.read(lambda conn: scheduling.router_hosts(conn, self.router_id))
        self.core.notifier.resource_changed("router", self.router_id, -1, hosts=hosts)
