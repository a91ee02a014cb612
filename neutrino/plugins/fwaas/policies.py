"""Firewall policies: ordered rule lists, sharing checks, `audited` (reset
by any change not setting it), insert_rule/remove_rule."""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from neutrino import validators as v
from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision, check_owner, set_tags
from neutrino.plugins.fwaas import common, state
from neutrino.plugins.fwaas import faults as ff
from neutrino.plugins.fwaas.resources import FIREWALL_POLICY
from neutrino.plugins.races import retry_if_parent_vanished

FP, FPR, FR, FG = common.FP, common.FPR, common.FR, common.FG
_RESERVED = (common.DEFAULT_FWP_INGRESS, common.DEFAULT_FWP_EGRESS)


def rule_ids(conn, policy_id: str) -> list[str]:
    return [r[0] for r in conn.execute(select(FPR.c.firewall_rule_id)
                                       .where(FPR.c.firewall_policy_id == policy_id)
                                       .order_by(FPR.c.position))]


def _write_rules(conn, policy_id: str, ids: list[str]) -> None:
    conn.execute(delete(FPR).where(FPR.c.firewall_policy_id == policy_id))
    if ids:
        conn.execute(insert(FPR), [{"firewall_policy_id": policy_id, "firewall_rule_id": rid,
                                    "position": i} for i, rid in enumerate(ids, start=1)])


class FirewallPolicyPlugin:
    def __init__(self, core: Core):
        self.core = core

    def _views(self, conn, rows) -> list[dict]:
        ids = [r["id"] for r in rows]
        rules: dict[str, list[str]] = {}
        for part in listing.chunks(ids):
            for pid, rid in conn.execute(select(FPR.c.firewall_policy_id, FPR.c.firewall_rule_id)
                                         .where(FPR.c.firewall_policy_id.in_(part))
                                         .order_by(FPR.c.firewall_policy_id, FPR.c.position)):
                rules.setdefault(pid, []).append(rid)
        tags = listing.tags_for(conn, ids)
        return [{"id": r["id"], "name": r["name"], "description": r["description"],
                 "tenant_id": r["project_id"], "project_id": r["project_id"],
                 "shared": r["shared"], "audited": r["audited"],
                 "firewall_rules": rules.get(r["id"], []), "tags": tags.get(r["id"], []),
                 "created_at": listing.iso(r["created_at"]),
                 "updated_at": listing.iso(r["updated_at"]),
                 "revision_number": r["revision_number"]} for r in rows]

    def _view(self, conn, ctx, policy_id):
        return self._views(conn, [common.policy_row(conn, ctx, policy_id)])[0]

    def get(self, ctx: Context, policy_id: str) -> dict:
        return self.core.db.read(lambda conn: self._view(conn, ctx, policy_id))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        common.ensure_default_for_list(self.core, ctx, query)
        where = listing.column_clauses(FIREWALL_POLICY, FP, query.filters)
        where += listing.tag_clauses(FP, query.tags)
        if query.filters.get("firewall_rules"):
            where.append(FP.c.id.in_(select(FPR.c.firewall_policy_id).where(
                FPR.c.firewall_rule_id.in_(query.filters["firewall_rules"]))))
        scoped = common.scope(FP, ctx)
        if scoped is not None:
            where.append(scoped)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, FIREWALL_POLICY, FP, query, where)))

    def _check_rules(self, conn, ctx, body: dict, policy, ids: list[str]) -> None:
        """_check_rules_for_policy_is_valid, in upstream's order."""
        found = {}
        if ids:
            stmt = select(FR.c.id, FR.c.project_id, FR.c.shared).where(FR.c.id.in_(ids))
            where = common.scope(FR, ctx)
            if where is not None:
                stmt = stmt.where(where)
            found = {r.id: r for r in conn.execute(stmt)}
        for rid in ids:
            if rid not in found:
                raise ff.FirewallRuleNotFound(firewall_rule_id=rid)
            rule = found[rid]
            if "shared" in body:
                if body["shared"] and not rule.shared:
                    raise ff.FirewallRuleSharingConflict(firewall_rule_id=rid,
                                                         firewall_policy_id=policy["id"])
            elif policy["shared"] and not rule.shared:
                raise ff.FirewallRuleSharingConflict(firewall_rule_id=rid,
                                                     firewall_policy_id=policy["id"])
            elif not rule.shared and rule.project_id != policy["project_id"]:
                raise ff.FirewallRuleConflict(firewall_rule_id=rid, project_id=rule.project_id)

    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)
        if body.get("name") in _RESERVED:
            raise ff.FirewallDefaultParameterExists(resource_type="Firewall Policy",
                                                    name=body["name"])

        def txn(conn):
            self.core.quotas.check(conn, owner, "firewall_policy")
            pid = listing.new_id()
            ts = listing.now()
            ids = body.get("firewall_rules") or []
            self._check_rules(conn, ctx, body, {"id": pid, "project_id": owner,
                                                "shared": body["shared"]}, ids)
            conn.execute(insert(FP).values(
                id=pid, project_id=owner, name=body["name"], description=body["description"],
                audited=body["audited"], shared=body["shared"], created_at=ts, updated_at=ts,
                revision_number=0))
            _write_rules(conn, pid, ids)
            if body.get("tags"):
                set_tags(conn, "firewall_policies", pid, body["tags"])
            return self._view(conn, ctx, pid)
        return self.core.db.write(retry_if_parent_vanished(txn))

    def update(self, ctx: Context, policy_id: str, body: dict) -> dict:
        def txn(conn):
            row = common.policy_row(conn, ctx, policy_id, lock=True)
            common.policy_groups_not_pending(conn, policy_id, row["project_id"])
            if row["name"] in _RESERVED:
                raise ff.FirewallDefaultObjectUpdateRestricted(
                    resource_type="Firewall Group", resource_id=policy_id)
            if body.get("shared") is False:
                # groups of other projects use it: it must stay shared
                for g in common.groups_with_policies(conn, [policy_id]):
                    if g.project_id != row["project_id"]:
                        raise ff.FirewallPolicyInUse(firewall_policy_id=policy_id)
            if body.get("shared") and "firewall_rules" not in body:
                for rid in rule_ids(conn, policy_id):
                    rule = conn.execute(select(FR.c.shared).where(FR.c.id == rid)).first()
                    if not rule.shared:
                        raise ff.FirewallPolicySharingConflict(firewall_rule_id=rid,
                                                               firewall_policy_id=policy_id)
            before = rule_ids(conn, policy_id)
            if "firewall_rules" in body:
                self._check_rules(conn, ctx, body, row, body["firewall_rules"])
                _write_rules(conn, policy_id, body["firewall_rules"])
            values = {k: body[k] for k in ("name", "description", "shared", "audited")
                      if k in body}
            values.setdefault("audited", False)
            conn.execute(update(FP).where(FP.c.id == policy_id).values(**values))
            bump_revision(conn, FP, policy_id)
            routers = set()
            if rule_ids(conn, policy_id) != before:
                routers = self._policy_changed(conn, policy_id)
            return self._view(conn, ctx, policy_id), routers
        view, routers = self.core.db.write(retry_if_parent_vanished(txn))
        state.notify_routers(self.core, routers)
        return view

    @staticmethod
    def _policy_changed(conn, policy_id: str) -> set[str]:
        groups = [g.id for g in common.groups_with_policies(conn, [policy_id])]
        state.refresh_status(conn, groups)
        return state.groups_routers(conn, groups)

    def delete(self, ctx: Context, policy_id: str) -> None:
        def txn(conn):
            common.policy_row(conn, ctx, policy_id, lock=True)
            if common.groups_with_policies(conn, [policy_id]):
                raise ff.FirewallPolicyInUse(firewall_policy_id=policy_id)
            conn.execute(delete(FPR).where(FPR.c.firewall_policy_id == policy_id))
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == policy_id))
            conn.execute(delete(FP).where(FP.c.id == policy_id))
        self.core.db.write(retry_if_parent_vanished(txn))

    # --- actions --------------------------------------------------------------------
    @staticmethod
    def _rule_info(body) -> dict:
        info = body if isinstance(body, dict) else None
        if not info or "firewall_rule_id" not in info:
            raise ff.FirewallRuleInfoMissing()
        if v.validate_uuid(info["firewall_rule_id"]):
            raise ff.FirewallRuleNotFound(firewall_rule_id=v.shown(info["firewall_rule_id"]))
        for key in ("insert_before", "insert_after"):
            ref = info.get(key)
            if ref and not isinstance(ref, str):
                raise faults.HTTPBadRequest(f"Invalid input for {key}. Reason: "
                                            f"'{v.shown(ref)}' is not a valid UUID.")
        return info

    def insert_rule(self, ctx: Context, policy_id: str, body, authorize) -> dict:
        def txn(conn):
            policy = common.policy_row(conn, ctx, policy_id, lock=True)
            authorize(policy)
            common.policy_groups_not_pending(conn, policy_id, policy["project_id"])
            info = self._rule_info(body)
            rule_id = info["firewall_rule_id"]
            ids = rule_ids(conn, policy_id)
            if rule_id in ids:
                raise ff.FirewallRuleAlreadyAssociated(firewall_rule_id=rule_id,
                                                       firewall_policy_id=policy_id)
            rule = common.rule_row(conn, ctx, rule_id)
            if not rule["shared"] and rule["project_id"] != policy["project_id"]:
                raise ff.FirewallRuleConflict(firewall_rule_id=rule_id,
                                              project_id=rule["project_id"])
            ref, before = info.get("insert_before"), True
            if not ref and info.get("insert_after"):
                ref, before = info["insert_after"], False   # insert_before wins
            if ref:
                if ref not in ids:
                    raise ff.FirewallRuleNotAssociatedWithPolicy(
                        firewall_rule_id=ref, firewall_policy_id=policy_id)
                index = ids.index(ref) + (0 if before else 1)
            else:
                index = 0           # no reference: at the top, as upstream
            ids.insert(index, rule_id)
            return self._reorder(conn, ctx, policy_id, ids)
        view, routers = self.core.db.write(retry_if_parent_vanished(txn))
        state.notify_routers(self.core, routers)
        return view

    def remove_rule(self, ctx: Context, policy_id: str, body, authorize) -> dict:
        def txn(conn):
            policy = common.policy_row(conn, ctx, policy_id, lock=True)
            authorize(policy)
            common.policy_groups_not_pending(conn, policy_id, policy["project_id"])
            info = self._rule_info(body)
            rule_id = info["firewall_rule_id"]
            common.rule_row(conn, ctx, rule_id)
            ids = rule_ids(conn, policy_id)
            if rule_id not in ids:
                raise ff.FirewallRuleNotAssociatedWithPolicy(firewall_rule_id=rule_id,
                                                             firewall_policy_id=policy_id)
            ids.remove(rule_id)
            return self._reorder(conn, ctx, policy_id, ids)
        view, routers = self.core.db.write(txn)
        state.notify_routers(self.core, routers)
        return view

    def _reorder(self, conn, ctx, policy_id: str, ids: list[str]):
        _write_rules(conn, policy_id, ids)
        conn.execute(update(FP).where(FP.c.id == policy_id).values(audited=False))
        bump_revision(conn, FP, policy_id)
        routers = self._policy_changed(conn, policy_id)
        return self._view(conn, ctx, policy_id), routers
