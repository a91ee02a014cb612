"""Per-project quotas: limits from the database, defaults from [quotas];
checked inside the creating transaction."""
from __future__ import annotations

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.engine import Connection

from neutrino.api import faults
from neutrino.db import models

# API resource name -> table counted.
COUNTED = {
    "network": models.networks,
    "subnet": models.subnets,
    "port": models.ports,
    "security_group": models.security_groups,
    "security_group_rule": models.security_group_rules,
}
RESOURCES = ("network", "subnet", "port", "router", "floatingip",
             "security_group", "security_group_rule")


_Q = models.quotas
_LIMIT = select(_Q.c.limit).where(_Q.c.project_id == bindparam("project"),
                                  _Q.c.resource == bindparam("resource"))
_USED = {res: select(func.count()).select_from(t).where(t.c.project_id == bindparam("project"))
         for res, t in COUNTED.items()}


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

    def check(self, conn: Connection, project_id: str, resource: str, delta: int = 1) -> None:
        limit = self.limit(conn, project_id, resource)
        if limit < 0:
            return
        if self.used(conn, project_id, resource) + delta > limit:
            raise faults.OverQuota(overs=[resource])  # "['network']", as upstream

    def set(self, conn: Connection, project_id: str, values: dict[str, int]) -> None:
        q = models.quotas
        for res, limit in values.items():
            conn.execute(delete(q).where(q.c.project_id == project_id, q.c.resource == res))
            conn.execute(insert(q).values(project_id=project_id, resource=res, limit=limit))

    def reset(self, conn: Connection, project_id: str) -> None:
        q = models.quotas
        conn.execute(delete(q).where(q.c.project_id == project_id))

    def projects_with_quotas(self, conn: Connection) -> list[str]:
        q = models.quotas
        return [r[0] for r in conn.execute(select(q.c.project_id).distinct())]
