"""Metering labels and their rules (admin-only by upstream's default
policy). A label meters the routers of its project (a shared label: every
router); its rules say which traffic through the router's gateway counts
(ingress: coming in from the external network, egress: going out), with
`excluded` rules carving exceptions. The L3 agent counts (see
neutrino.agent.l3.metering); a change of labels or rules tells the agents
of the routers concerned."""
from __future__ import annotations

import ipaddress

from sqlalchemy import delete, insert, select, true

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import l3x_models as lm
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.core import check_owner
from neutrino.plugins.l3 import scheduling
from neutrino.plugins.metering.resource import (METERING_LABEL, METERING_LABEL_RULE,
                                                label_view, rule_view)

L, LR, R = lm.metering_labels, lm.metering_label_rules, models.routers


class MeteringLabelNotFound(faults.NotFound):
    message = "Metering label {label_id} does not exist"


class MeteringLabelRuleNotFound(faults.NotFound):
    message = "Metering label rule {rule_id} does not exist"


class MeteringLabelRuleOverlaps(faults.Conflict):
    message = "Metering label rule with remote_ip_prefix {remote_ip_prefix} overlaps another."


def _scope(table, ctx: Context):
    return true() if ctx.is_admin else (table.c.project_id == ctx.project_id)


def notify_label(core, conn_reader, label: dict) -> None:
    """Tell the agents of the routers the label meters."""
    def hosts(conn):
        stmt = select(R.c.id)
        if not label["shared"]:
            stmt = stmt.where(R.c.project_id == label["project_id"])
        out = {}
        for (rid,) in conn.execute(stmt):
            out[rid] = scheduling.router_hosts(conn, rid)
        return out
    for rid, where in core.db.read(hosts).items():
        core.notifier.resource_changed("router", rid, -1, hosts=where)


class MeteringLabelPlugin:
    def __init__(self, core):
        self.core = core

    def _row(self, conn, ctx: Context, label_id: str):
        row = conn.execute(select(L).where(L.c.id == label_id, _scope(L, ctx))
                           ).mappings().first()
        if row is None:
            raise MeteringLabelNotFound(label_id=label_id)
        return row

    def get(self, ctx: Context, label_id: str) -> dict:
        return self.core.db.read(lambda conn: label_view(self._row(conn, ctx, label_id)))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(METERING_LABEL, L, query.filters) + [_scope(L, ctx)]
        return self.core.db.read(lambda conn: [
            label_view(r) for r in listing.run_list(conn, METERING_LABEL, L, query, where)])

    def create(self, ctx: Context, body: dict) -> dict:
        row = {"id": listing.new_id(), "project_id": check_owner(ctx, body),
               "name": body.get("name") or "", "description": body.get("description") or "",
               "shared": bool(body.get("shared"))}
        self.core.db.write(lambda conn: conn.execute(insert(L).values(**row)))
        return label_view(row)

    def update(self, ctx: Context, label_id: str, body: dict) -> dict:
        raise faults.HTTPBadRequest("Cannot update read-only attribute")

    def delete(self, ctx: Context, label_id: str) -> None:
        def txn(conn):
            row = dict(self._row(conn, ctx, label_id))
            had_rules = conn.execute(select(LR.c.id).where(LR.c.metering_label_id == label_id)
                                     .limit(1)).first() is not None
            conn.execute(delete(L).where(L.c.id == label_id))    # its rules cascade
            return row, had_rules
        row, had_rules = self.core.db.write(txn)
        if had_rules:
            notify_label(self.core, None, row)


def _overlap(a: str, b: str) -> bool:
    na, nb = ipaddress.ip_network(a), ipaddress.ip_network(b)
    return na.version == nb.version and na.overlaps(nb)


class MeteringLabelRulePlugin:
    def __init__(self, core):
        self.core = core

    def _row(self, conn, ctx: Context, rule_id: str):
        row = conn.execute(select(LR).where(LR.c.id == rule_id, _scope(LR, ctx))
                           ).mappings().first()
        if row is None:
            raise MeteringLabelRuleNotFound(rule_id=rule_id)
        return row

    def get(self, ctx: Context, rule_id: str) -> dict:
        return self.core.db.read(lambda conn: rule_view(self._row(conn, ctx, rule_id)))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(METERING_LABEL_RULE, LR, query.filters)
        where.append(_scope(LR, ctx))
        return self.core.db.read(lambda conn: [rule_view(r) for r in listing.run_list(
            conn, METERING_LABEL_RULE, LR, query, where)])

    def validate(self, body: dict) -> None:
        remote = body.get("remote_ip_prefix")
        source, dest = body.get("source_ip_prefix"), body.get("destination_ip_prefix")
        if remote and (source or dest):
            raise faults.BadRequest(
                resource="metering_label_rule",
                msg="Cannot use 'remote-ip-prefix' in conjunction with 'source-ip-prefix' or "
                    "'destination-ip-prefix'.")
        if not (remote or source or dest):
            raise faults.BadRequest(
                resource="metering_label_rule",
                msg="You must define at least one of the following parameters "
                    "'remote_ip_prefix', or 'source_ip_prefix' or 'destination_ip_prefix'.")

    def create(self, ctx: Context, body: dict) -> dict:
        self.validate(body)
        owner = check_owner(ctx, body)

        def txn(conn):
            label = conn.execute(select(L).where(L.c.id == body["metering_label_id"],
                                                 _scope(L, ctx)).with_for_update()
                                 ).mappings().first() if conn.dialect.name != "sqlite" else \
                conn.execute(select(L).where(L.c.id == body["metering_label_id"],
                                             _scope(L, ctx))).mappings().first()
            if label is None:
                raise MeteringLabelNotFound(label_id=body["metering_label_id"])
            remote = body.get("remote_ip_prefix")
            if remote:
                for (other,) in conn.execute(select(LR.c.remote_ip_prefix).where(
                        LR.c.metering_label_id == label["id"],
                        LR.c.direction == body["direction"],
                        LR.c.excluded == bool(body.get("excluded")),
                        LR.c.remote_ip_prefix.is_not(None))):
                    if _overlap(remote, other):
                        raise MeteringLabelRuleOverlaps(remote_ip_prefix=remote)
            row = {"id": listing.new_id(), "project_id": owner,
                   "metering_label_id": label["id"], "direction": body["direction"],
                   "excluded": bool(body.get("excluded")), "remote_ip_prefix": remote,
                   "source_ip_prefix": body.get("source_ip_prefix"),
                   "destination_ip_prefix": body.get("destination_ip_prefix")}
            conn.execute(insert(LR).values(**row))
            return row, dict(label)
        row, label = self.core.db.write(txn)
        notify_label(self.core, None, label)
        return rule_view(row)

    def update(self, ctx: Context, rule_id: str, body: dict) -> dict:
        raise faults.HTTPBadRequest("Cannot update read-only attribute")

    def delete(self, ctx: Context, rule_id: str) -> None:
        def txn(conn):
            row = self._row(conn, ctx, rule_id)
            label = conn.execute(select(L).where(L.c.id == row["metering_label_id"])
                                 ).mappings().first()
            conn.execute(delete(LR).where(LR.c.id == rule_id))
            return dict(label) if label else None
        label = self.core.db.write(txn)
        if label:
            notify_label(self.core, None, label)
