"""Octavia quotas: /v2/lbaas/quotas and the checks at create time.

Limits per project live in lbaas_quotas (NULL: the [quotas]
default_<resource>_quota option; -1: unlimited). Usage is counted in the
creating transaction, after the load balancer's row is locked."""
from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update

from neutrino.db import lbaas_models as m
from neutrino.db.engine import before_commit
from neutrino.octavia import faults
from neutrino.octavia.opts import QUOTA_RESOURCES
from neutrino.octavia.schema import Field, parse
from neutrino.plugins.quotas import QuotaEngine

Q = m.quotas
TABLES = {"load_balancer": m.loadbalancers, "listener": m.listeners, "pool": m.pools,
          "member": m.members, "health_monitor": m.healthmonitors,
          "l7policy": m.l7policies, "l7rule": m.l7rules}
LABELS = {"load_balancer": "Load Balancer", "listener": "Listener", "pool": "Pool",
          "member": "Member", "health_monitor": "Health Monitor", "l7policy": "L7 Policy",
          "l7rule": "L7 Rule"}
MAX_QUOTA = 2000000000
DEPRECATED = {"loadbalancer": "load_balancer", "healthmonitor": "health_monitor"}
PUT_FIELDS = tuple(Field(name, "int", lo=-1, hi=MAX_QUOTA)
                   for name in (*QUOTA_RESOURCES, *DEPRECATED))


def _used(conn, project_id: str, resource: str) -> int:
    table = TABLES[resource]
    return conn.execute(select(func.count()).select_from(table)
                        .where(table.c.project_id == project_id)).scalar()


class Quotas:
    def __init__(self, svc):
        self.svc = svc

    def defaults(self) -> dict[str, int]:
        cfg = self.svc.core.cfg.quotas
        return {name: getattr(cfg, f"default_{name}_quota") for name in QUOTA_RESOURCES}

    def _limits(self, conn, project_id: str) -> dict[str, int]:
        limits = self.defaults()
        row = conn.execute(select(Q).where(Q.c.project_id == project_id)).mappings().first()
        if row is not None:
            limits.update({k: row[k] for k in QUOTA_RESOURCES if row[k] is not None})
        return limits

    def check(self, conn, project_id: str, resource: str, delta: int = 1) -> None:
        """As the Neutron quotas (neutrino/plugins/quotas.py): a first count
        now, and a recount just before COMMIT under the (project,
        "lbaas:<resource>") row of quota_locks, so that concurrent creates
        cannot pass the limit together."""
        limit = self._limits(conn, project_id)[resource]
        if limit < 0:
            return
        if _used(conn, project_id, resource) + delta > limit:
            raise faults.QuotaExceeded(resource=LABELS[resource])
        if conn.dialect.name == "sqlite":
            return      # one writer at a time anyway

        def recount(conn_) -> None:
            QuotaEngine._lock(conn_, project_id, f"lbaas:{resource}")
            if _used(conn_, project_id, resource) > limit:     # own rows included
                raise faults.QuotaExceeded(resource=LABELS[resource])
        if not before_commit(conn, ("lbaas-quota", project_id, resource), recount):
            QuotaEngine._lock(conn, project_id, f"lbaas:{resource}")
            if _used(conn, project_id, resource) + delta > limit:
                raise faults.QuotaExceeded(resource=LABELS[resource])

    @staticmethod
    def _body(limits: dict, project_id: str | None = None) -> dict:
        out = dict(limits)
        out["loadbalancer"] = limits["load_balancer"]
        out["healthmonitor"] = limits["health_monitor"]
        if project_id is not None:
            out["project_id"] = project_id
        return out

    # --- API -------------------------------------------------------------------------
    def list(self, ctx, params) -> dict:
        wanted = [v for k, v in params if k in ("project_id", "tenant_id")]
        everyone = self.svc.can(ctx, "quota", "get_all-global", ctx.project_id)
        if not everyone:
            self.svc.authorize(ctx, "quota", "get_all", ctx.project_id)
            wanted = [ctx.project_id]

        def txn(conn):
            stmt = select(Q.c.project_id)
            if wanted:
                stmt = stmt.where(Q.c.project_id.in_(wanted))
            return [self._body(self._limits(conn, pid), pid)
                    for (pid,) in conn.execute(stmt.order_by(Q.c.project_id))]
        return {"quotas": self.svc.read(txn), "quotas_links": []}

    def get(self, ctx, project_id: str) -> dict:
        self.svc.authorize(ctx, "quota", "get_one", project_id)
        return {"quota": self._body(self.svc.read(lambda conn: self._limits(conn,
                                                                            project_id)))}

    def get_defaults(self, ctx, project_id: str) -> dict:
        self.svc.authorize(ctx, "quota", "get_defaults", project_id)
        return {"quota": self._body(self.defaults())}

    def update(self, ctx, project_id: str, body: dict) -> dict:
        self.svc.authorize(ctx, "quota", "put", project_id)
        data = parse("quota", body, PUT_FIELDS, create=False)
        for old, new in DEPRECATED.items():
            if old in data:
                value = data.pop(old)
                data.setdefault(new, value)

        def txn(conn):
            if conn.execute(select(Q.c.project_id).where(Q.c.project_id == project_id)).first():
                if data:
                    conn.execute(update(Q).where(Q.c.project_id == project_id).values(**data))
            else:
                conn.execute(insert(Q).values(project_id=project_id, **data))
            return self._limits(conn, project_id)
        return {"quota": self._body(self.svc.write(txn))}

    def reset(self, ctx, project_id: str) -> None:
        self.svc.authorize(ctx, "quota", "delete", project_id)
        found = self.svc.write(lambda conn: conn.execute(
            delete(Q).where(Q.c.project_id == project_id)).rowcount)
        if not found:
            raise faults.NotFound(resource="Quotas", id=project_id)
