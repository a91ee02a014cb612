"""QoS policies: owner-scoped (or shared) rule containers, one default per
project (qos-default), not deletable while something uses them."""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision, check_owner, set_tags
from neutrino.plugins.qos import common, sharing
from neutrino.plugins.qos import faults as qf
from neutrino.plugins.qos.resources import POLICY
from neutrino.plugins.rbac import registry

QP, QD = common.QP, common.QD
_FIELDS = ("name", "description", "shared")
# (binding table, its key column, the object type named in QosPolicyInUse)
_USERS = ((common.NET_B, "network_id", "network"), (common.PORT_B, "port_id", "port"),
          (common.FIP_B, "fip_id", "floatingip"), (common.GW_B, "router_id", "router"))


class RbacPolicyInUse(faults.Conflict):
    message = ("RBAC policy on object {object_id} cannot be removed because other objects "
               "depend on it.\nDetails: {details}")


class QosPolicyPlugin:
    def __init__(self, core: Core):
        self.core = core

    def _views(self, conn, ctx, rows) -> list[dict]:
        ids = [r["id"] for r in rows]
        rules = common.rules_of(conn, ids)
        tags = listing.tags_for(conn, ids)
        defaults = set()
        for part in listing.chunks(ids):
            defaults |= {r[0] for r in conn.execute(
                select(QD.c.qos_policy_id).where(QD.c.qos_policy_id.in_(part)))}
        shared = common.shared_for(conn, ctx, rows)
        return [{"id": r["id"], "name": r["name"], "description": r["description"],
                 "project_id": r["project_id"], "tenant_id": r["project_id"],
                 "shared": shared[r["id"]], "rules": rules.get(r["id"], []),
                 "is_default": r["id"] in defaults, "tags": tags.get(r["id"], []),
                 "created_at": listing.iso(r["created_at"]),
                 "updated_at": listing.iso(r["updated_at"]),
                 "revision_number": r["revision_number"]} for r in rows]

    def _view(self, conn, ctx, policy_id) -> dict:
        return self._views(conn, ctx, [common.policy_row(conn, ctx, policy_id)])[0]

    def get(self, ctx: Context, policy_id: str) -> dict:
        return self.core.db.read(lambda conn: self._view(conn, ctx, policy_id))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(POLICY, QP, query.filters, skip=("shared",))
        where += listing.tag_clauses(QP, query.tags)
        if "is_default" in query.filters:
            wanted = {a_value for a_value in query.filters["is_default"]}
            in_default = QP.c.id.in_(select(QD.c.qos_policy_id))
            if wanted == {True}:
                where.append(in_default)
            elif wanted == {False}:
                where.append(~in_default)
        scoped = common.scope(ctx)
        if scoped is not None:
            where.append(scoped)

        def run(conn):
            rows = listing.run_list(conn, POLICY, QP, query, where)
            views = self._views(conn, ctx, rows)
            if "shared" in query.filters:     # as the caller sees it (RBAC)
                views = [v for v in views if v["shared"] in query.filters["shared"]]
            return views
        return self.core.db.read(run)

    def _set_default(self, conn, project_id: str, policy_id: str, is_default: bool) -> None:
        current = conn.execute(select(QD.c.qos_policy_id)
                               .where(QD.c.project_id == project_id)).first()
        if is_default:
            if current and current[0] != policy_id:
                raise qf.QoSPolicyDefaultAlreadyExists(project_id=project_id)
            if not current:
                try:
                    conn.execute(insert(QD).values(project_id=project_id,
                                                   qos_policy_id=policy_id))
                except IntegrityError:    # set concurrently: the retry answers 409
                    raise RetryTransaction("default QoS policy set concurrently") from None
        elif current and current[0] == policy_id:
            conn.execute(delete(QD).where(QD.c.project_id == project_id))

    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)

        def txn(conn):
            pid = listing.new_id()
            ts = listing.now()
            conn.execute(insert(QP).values(
                id=pid, project_id=owner, created_at=ts, updated_at=ts, revision_number=0,
                **{k: body[k] for k in _FIELDS}))
            if body["shared"]:
                registry.set_shared(conn, common.OBJECT_TYPE, pid, owner, True)
            if body.get("is_default"):
                self._set_default(conn, owner, pid, True)
            if body.get("tags"):
                set_tags(conn, "policies", pid, body["tags"])
            return self._view(conn, ctx, pid)
        return self.core.db.write(txn)

    def update(self, ctx: Context, policy_id: str, body: dict) -> dict:
        def txn(conn):
            row = common.policy_row(conn, ctx, policy_id, lock=True)
            values = {k: body[k] for k in _FIELDS if k in body}
            if "shared" in values and values["shared"] != row["shared"]:
                self._share(conn, row, values["shared"])
            if values:
                conn.execute(update(QP).where(QP.c.id == policy_id).values(**values))
            if "is_default" in body:
                self._set_default(conn, row["project_id"], policy_id, body["is_default"])
            bump_revision(conn, QP, policy_id)
            return self._view(conn, ctx, policy_id)
        return self.core.db.write(txn)

    def _share(self, conn, row, shared: bool) -> None:
        """`shared` written: the wildcard grant added or removed; removal
        is refused while other projects' objects use the policy and no
        grant of their own covers them, as upstream's RBAC."""
        if not registry.set_shared(conn, common.OBJECT_TYPE, row["id"], row["project_id"],
                                   shared):
            user = sharing.policy_users(conn, row["id"], registry.WILDCARD, row["project_id"])
            raise RbacPolicyInUse(object_id=row["id"],
                                  details=f"QoS policy {row['id']} is used by {user}")

    def delete(self, ctx: Context, policy_id: str) -> None:
        def txn(conn):
            common.policy_row(conn, ctx, policy_id, lock=True)
            for binding, key, kind in _USERS:
                used = conn.execute(select(binding.c[key]).where(
                    binding.c.policy_id == policy_id).limit(1)).first()
                if used:
                    raise qf.QosPolicyInUse(policy_id=policy_id, object_type=kind,
                                            object_id=used[0])
            registry.delete_object(conn, common.OBJECT_TYPE, policy_id)
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == policy_id))
            conn.execute(delete(QP).where(QP.c.id == policy_id))
        self.core.db.write(txn)
