"""QoS rules of one type, under their policy
(/v2.0/qos/policies/{policy_id}/<type>_rules) or by id alone (qos-rules-alias:
/v2.0/qos/alias_<type>_rules/{id}). One rule per type and direction in a
policy ("any" minimum packet rate conflicts with both directions)."""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision
from neutrino.plugins.qos import common
from neutrino.plugins.qos import faults as qf
from neutrino.plugins.qos.resources import ANY, EGRESS, RuleType

QP, QR = common.QP, common.QR


class RulePlugin:
    """The rules of type `rtype` in policy `policy_id` (None: any policy,
    for the alias endpoints)."""

    def __init__(self, core: Core, rtype: RuleType, policy_id: str | None):
        self.core = core
        self.rtype = rtype
        self.policy_id = policy_id

    # --- policy targets (the policy's owner decides) ---------------------------------
    def _owner_target(self, policy_id: str | None) -> dict:
        if not policy_id:
            return {}
        row = self.core.db.read(lambda conn: conn.execute(
            select(QP.c.project_id, QP.c.shared).where(QP.c.id == policy_id)).first())
        if row is None:
            return {}
        return {"project_id": row.project_id, "tenant_id": row.project_id,
                "shared": row.shared}

    def policy_target(self, ctx: Context, item: dict) -> dict:
        return self._owner_target(self.policy_id)

    def target_of(self, ctx: Context, item: dict) -> dict:
        if self.policy_id is not None:
            return self._owner_target(self.policy_id)
        row = self.core.db.read(lambda conn: conn.execute(
            select(QR.c.qos_policy_id).where(QR.c.id == item["id"])).first())
        return self._owner_target(row[0] if row else None)

    # --- reading ------------------------------------------------------------------------
    def _row(self, conn, ctx, rule_id: str, lock: bool = False):
        if self.policy_id is not None:
            common.policy_row(conn, ctx, self.policy_id)
        stmt = select(QR).where(QR.c.id == rule_id, QR.c.type == self.rtype.type)
        if self.policy_id is not None:
            stmt = stmt.where(QR.c.qos_policy_id == self.policy_id)
        else:
            scoped = common.scope(ctx)
            if scoped is not None:
                stmt = stmt.where(QR.c.qos_policy_id.in_(select(QP.c.id).where(scoped)))
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise qf.QosRuleNotFound(rule_id=rule_id, policy_id=self.policy_id)
        return row

    def _view(self, conn, row) -> dict:
        view = common.rule_view(row)
        if self.policy_id is None:      # the alias resources show the policy's owner
            view["tenant_id"] = conn.execute(select(QP.c.project_id).where(
                QP.c.id == row["qos_policy_id"])).scalar()
        return view

    def get(self, ctx: Context, rule_id: str) -> dict:
        return self.core.db.read(lambda conn: self._view(conn, self._row(conn, ctx, rule_id)))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        def run(conn):
            common.policy_row(conn, ctx, self.policy_id)
            where = listing.column_clauses(self.rtype.resource, QR, query.filters)
            where += [QR.c.qos_policy_id == self.policy_id, QR.c.type == self.rtype.type]
            return [self._view(conn, r) for r in listing.run_list(conn, self.rtype.resource, QR,
                                                             query, where)]
        return self.core.db.read(run)

    # --- writing ------------------------------------------------------------------------
    def _check_conflict(self, conn, policy_id: str, direction: str, rule_id: str | None):
        """check_rules_conflict: same type and direction; for the minimum
        packet rate, "any" against either direction too."""
        rtype = self.rtype.type
        if direction == ANY:
            clash = QR.c.direction.isnot(None)
        elif rtype == "minimum_packet_rate":
            clash = QR.c.direction.in_((direction, ANY))
        else:
            clash = QR.c.direction == direction
        stmt = select(QR.c.id).where(QR.c.qos_policy_id == policy_id, QR.c.type == rtype,
                                     clash)
        if rule_id:
            stmt = stmt.where(QR.c.id != rule_id)
        other = conn.execute(stmt.limit(1)).first()
        if other:
            raise qf.QoSRulesConflict(new_rule_type=rtype, rule_id=other[0],
                                      policy_id=policy_id)

    def _check_bandwidth(self, conn, policy_id: str, values: dict, direction: str) -> None:
        """check_bandwidth_rule_conflict: a minimum above the limit of the
        same direction (either way round) is refused."""
        if "max_kbps" in values:
            other, field = "minimum_bandwidth", "min_kbps"
            clash = lambda existing: existing > values["max_kbps"]  # noqa: E731
        elif "min_kbps" in values:
            other, field = "bandwidth_limit", "max_kbps"
            clash = lambda existing: existing < values["min_kbps"]  # noqa: E731
        else:
            return
        found = conn.execute(select(QR.c[field]).where(
            QR.c.qos_policy_id == policy_id, QR.c.type == other,
            QR.c.direction == direction)).first()
        if found is not None and clash(found[0]):
            raise qf.QoSRuleParameterConflict(
                rule_value=values.get("max_kbps", values.get("min_kbps")),
                policy_id=policy_id, existing_rule=other, existing_value=found[0])

    def _changed(self, conn, policy_id: str) -> tuple[list, list]:
        """After a rule change: the policy's revision, the ports it reaches
        (refused if the Linux bridge agent there cannot enforce it)."""
        bump_revision(conn, QP, policy_id)
        ports = common.affected_ports(conn, [policy_id], bound_only=True)
        common.check_supported(conn, policy_id, ports)
        return ports, common.affected_routers(conn, [policy_id])

    def create(self, ctx: Context, body: dict) -> dict:
        def txn(conn):
            common.policy_row(conn, ctx, self.policy_id, lock=True)
            direction = body.get("direction", EGRESS) if self.rtype.directions else EGRESS
            self._check_conflict(conn, self.policy_id, direction, None)
            rid = listing.new_id()
            values = {k: body[k] for k in self.rtype.fields}
            self._check_bandwidth(conn, self.policy_id, values, direction)
            try:
                conn.execute(insert(QR).values(id=rid, qos_policy_id=self.policy_id,
                                               type=self.rtype.type, direction=direction,
                                               **values))
            except IntegrityError:    # created concurrently: the retry answers 409
                raise RetryTransaction("QoS rule created concurrently") from None
            changed = self._changed(conn, self.policy_id)
            return self._view(conn, self._row(conn, ctx, rid)), changed
        view, (ports, routers) = self.core.db.write(txn)
        common.notify_ports(self.core, ports)
        common.notify_routers(self.core, routers)
        return view

    def update(self, ctx: Context, rule_id: str, body: dict) -> dict:
        def txn(conn):
            row = self._row(conn, ctx, rule_id, lock=True)
            values = {k: body[k] for k in self.rtype.fields if k in body}
            if self.rtype.directions and "direction" in body:
                self._check_conflict(conn, row["qos_policy_id"], body["direction"], rule_id)
                values["direction"] = body["direction"]
            self._check_bandwidth(conn, row["qos_policy_id"],
                                  {k: v for k, v in values.items() if k != "direction"},
                                  values.get("direction", row["direction"]))
            if values:
                conn.execute(update(QR).where(QR.c.id == rule_id).values(**values))
            changed = self._changed(conn, row["qos_policy_id"])
            return self._view(conn, self._row(conn, ctx, rule_id)), changed
        view, (ports, routers) = self.core.db.write(txn)
        common.notify_ports(self.core, ports)
        common.notify_routers(self.core, routers)
        return view

    def delete(self, ctx: Context, rule_id: str) -> None:
        def txn(conn):
            row = self._row(conn, ctx, rule_id, lock=True)
            conn.execute(delete(QR).where(QR.c.id == rule_id))
            return self._changed(conn, row["qos_policy_id"])
        ports, routers = self.core.db.write(txn)
        common.notify_ports(self.core, ports)
        common.notify_routers(self.core, routers)
