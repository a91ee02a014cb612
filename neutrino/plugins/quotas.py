"""Per-project quotas: limits from the database, defaults from [quotas];
checked inside the creating transaction.

The count and the insert must be atomic with respect to other creates of
the same project and resource, or 30 parallel creates against a quota of 3
all count 0 and all insert. SQLite's writers are one at a time (BEGIN
IMMEDIATE and the writer lock of db/engine.py): counting first is exact.

On PostgreSQL and MariaDB the count is made again at the end of the
creating transaction, after its own rows are written, under the lock of that
(project, resource) row of quota_locks (FOR UPDATE, held to COMMIT): creates
run in parallel until then and queue only for that last count, which sees
what the previous ones committed (READ COMMITTED) plus its own rows; over
the limit, the whole call rolls back (409 OverQuota). A first count at the
start still refuses at once when the limit is already reached. Unlimited
resources (-1) are not counted at all."""
from __future__ import annotations

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.engine import Connection

from neutrino.api import faults
from neutrino.db import fwaas_models, models, pools_models, rbac_models
from neutrino.db.engine import before_commit
from neutrino.db.upsert import upsert

# API resource name -> table counted.
COUNTED = {
    "network": models.networks,
    "subnet": models.subnets,
    "port": models.ports,
    "security_group": models.security_groups,
    "security_group_rule": models.security_group_rules,
    "router": models.routers,
    "floatingip": models.floatingips,
    "firewall_group": fwaas_models.firewall_groups,
    "firewall_policy": fwaas_models.firewall_policies,
    "firewall_rule": fwaas_models.firewall_rules,
    "rbac_policy": rbac_models.rbac_policies,
    "subnetpool": pools_models.subnetpools,    # upstream's: no option, default_quota (-1)
}
RESOURCES = ("network", "subnet", "port", "router", "floatingip",
             "security_group", "security_group_rule",
             "firewall_group", "firewall_policy", "firewall_rule", "rbac_policy",
             "subnetpool")


_Q = models.quotas
_LIMIT = select(_Q.c.limit).where(_Q.c.project_id == bindparam("project"),
                                  _Q.c.resource == bindparam("resource"))
_USED = {res: select(func.count()).select_from(t).where(t.c.project_id == bindparam("project"))
         for res, t in COUNTED.items()}
_L = models.quota_locks
_LOCK = (select(_L.c.project_id)
         .where(_L.c.project_id == bindparam("project"), _L.c.resource == bindparam("resource"))
         .with_for_update())


class QuotaEngine:
    def __init__(self, cfg):
        q = cfg.quotas
        self.defaults = {}
        for res in RESOURCES:
            value = getattr(q, f"quota_{res}", None)
            self.defaults[res] = q.default_quota if value is None else value

    def limits(self, conn: Connection, project_id: str) -> dict[str, int]:
        out = dict(self.defaults)
        q = models.quotas
        for res, limit in conn.execute(select(q.c.resource, q.c.limit)
                                       .where(q.c.project_id == project_id)):
            if res in out:
                out[res] = limit
        return out

    def limit(self, conn: Connection, project_id: str, resource: str) -> int:
        row = conn.execute(_LIMIT, {"project": project_id, "resource": resource}).first()
        return self.defaults.get(resource, -1) if row is None else row[0]

    def used(self, conn: Connection, project_id: str, resource: str) -> int:
        stmt = _USED.get(resource)
        if stmt is None:
            return 0
        return conn.execute(stmt, {"project": project_id}).scalar_one()

    def check(self, conn: Connection, project_id: str, resource: str, delta: int = 1,
              exempt: int = 0) -> None:
        """`exempt`: rows this transaction adds besides the `delta` checked
        (a project's default security group made with its first group, as
        upstream, which counts before making it)."""
        limit = self.limit(conn, project_id, resource)
        if limit < 0:
            return
        if self.used(conn, project_id, resource) + delta > limit:
            raise faults.OverQuota(overs=[resource])  # "['network']", as upstream
        if conn.dialect.name == "sqlite":
            return

        def recount(conn_: Connection) -> None:
            self._lock(conn_, project_id, resource)
            if self.used(conn_, project_id, resource) - exempt > limit:  # own rows included
                raise faults.OverQuota(overs=[resource])
        if not before_commit(conn, ("quota", project_id, resource), recount):
            # Not a Database transaction: lock now, before the insert.
            self._lock(conn, project_id, resource)
            if self.used(conn, project_id, resource) + delta > limit:
                raise faults.OverQuota(overs=[resource])

    @staticmethod
    def _lock(conn: Connection, project_id: str, resource: str) -> None:
        """Hold the (project, resource) lock until this transaction ends."""
        params = {"project": project_id, "resource": resource}
        if conn.execute(_LOCK, params).first() is None:
            # The first create of this pair: make the row (a concurrent first
            # create may make it too; the loser's insert does nothing).
            upsert(conn, _L, {"project_id": project_id, "resource": resource})
            conn.execute(_LOCK, params).first()

    def set(self, conn: Connection, project_id: str, values: dict[str, int]) -> None:
        # An upsert, not delete + insert: two concurrent PUTs of the same
        # project would both delete nothing and one insert would fail.
        for res, limit in sorted(values.items()):
            upsert(conn, models.quotas, {"project_id": project_id, "resource": res,
                                         "limit": limit}, update={"limit": limit})

    def reset(self, conn: Connection, project_id: str) -> None:
        q = models.quotas
        conn.execute(delete(q).where(q.c.project_id == project_id))

    def projects_with_quotas(self, conn: Connection) -> list[str]:
        q = models.quotas
        return [r[0] for r in conn.execute(select(q.c.project_id).distinct())]
