"""floatingip-pools: GET /v2.0/floatingip_pools, the IPv4 subnets of the
external networks the caller can see, each a pool floating IPs can be taken
from (POST /v2.0/floatingips with its subnet_id)."""
from __future__ import annotations

import ipaddress

from sqlalchemy import and_, select, true

from neutrino.api.policy import Context
from neutrino.db import models
from neutrino.plugins.core import network_scope

N, S = models.networks, models.subnets


def floatingip_pools(core, ctx: Context, params: list[tuple[str, str]]) -> dict:
    core.policy.enforce(ctx, "get_floatingip_pool", {"project_id": ctx.project_id,
                                                     "tenant_id": ctx.project_id})
    fields = [v for k, v in params if k == "fields"]
    filters: dict[str, list[str]] = {}
    for key, value in params:
        if key in ("subnet_id", "network_id", "subnet_name", "cidr", "project_id",
                   "tenant_id"):
            filters.setdefault(key, []).append(value)
    scope = network_scope(ctx)
    stmt = (select(S.c.id, S.c.name, S.c.cidr, S.c.network_id, N.c.project_id)
            .join(N, N.c.id == S.c.network_id)
            .where(and_(N.c.external, scope if scope is not None else true()))
            .order_by(S.c.network_id, S.c.id))
    rows = core.db.read(lambda conn: conn.execute(stmt).all())
    pools = []
    for r in rows:
        if ipaddress.ip_network(r.cidr).version != 4:
            continue
        pool = {"subnet_id": r.id, "subnet_name": r.name, "network_id": r.network_id,
                "cidr": r.cidr, "project_id": r.project_id, "tenant_id": r.project_id}
        if all(pool[k] in values for k, values in filters.items()):
            pools.append({k: v for k, v in pool.items() if not fields or k in fields})
    return {"floatingip_pools": pools}
