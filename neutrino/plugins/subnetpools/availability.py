"""network-ip-availability: per network and subnet, how many addresses the
allocation pools hold (total_ips) and how many are allocated (used_ips).
Admin only by default (get_network_ip_availability)."""
from __future__ import annotations

import ipaddress

from sqlalchemy import func, select

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.subnetpools.resources import NETWORK_IP_AVAILABILITY

N, S, AP, IPA = models.networks, models.subnets, models.allocation_pools, models.ip_allocations
RULE = "get_network_ip_availability"


def _size(first: str, last: str) -> int:
    return int(ipaddress.ip_address(last)) - int(ipaddress.ip_address(first)) + 1


class IpAvailabilityPlugin:
    def __init__(self, core):
        self.core = core

    def _allowed(self, ctx: Context) -> bool:
        return self.core.policy.check(ctx, RULE, {"project_id": ctx.project_id,
                                                  "tenant_id": ctx.project_id})

    def _views(self, conn, nets, versions: list[int] | None) -> list[dict]:
        ids = [r["id"] for r in nets]
        subnets: dict[str, list] = {i: [] for i in ids}
        totals: dict[str, int] = {}
        used: dict[str, int] = {}
        for part in listing.chunks(ids):
            stmt = select(S.c.id, S.c.name, S.c.cidr, S.c.ip_version, S.c.network_id).where(
                S.c.network_id.in_(part))
            if versions:
                stmt = stmt.where(S.c.ip_version.in_(versions))
            for row in conn.execute(stmt.order_by(S.c.id)):
                subnets[row.network_id].append(row)
        sids = [s.id for rows in subnets.values() for s in rows]
        for part in listing.chunks(sids):
            for sid, first, last in conn.execute(select(AP.c.subnet_id, AP.c.first_ip,
                                                        AP.c.last_ip)
                                                 .where(AP.c.subnet_id.in_(part))):
                totals[sid] = totals.get(sid, 0) + _size(first, last)
            used.update(dict(conn.execute(
                select(IPA.c.subnet_id, func.count()).where(IPA.c.subnet_id.in_(part))
                .group_by(IPA.c.subnet_id)).all()))
        out = []
        for r in nets:
            per = [{"subnet_id": s.id, "subnet_name": s.name, "cidr": s.cidr,
                    "ip_version": s.ip_version, "total_ips": totals.get(s.id, 0),
                    "used_ips": used.get(s.id, 0)} for s in subnets[r["id"]]]
            out.append({"network_id": r["id"], "network_name": r["name"],
                        "tenant_id": r["project_id"], "project_id": r["project_id"],
                        "total_ips": sum(p["total_ips"] for p in per),
                        "used_ips": sum(p["used_ips"] for p in per),
                        "subnet_ip_availability": per})
        return out

    def list(self, ctx: Context, query: Query) -> list[dict]:
        if not self._allowed(ctx):
            return []
        filters = dict(query.filters)
        versions = filters.pop("ip_version", None)
        where = listing.column_clauses(NETWORK_IP_AVAILABILITY, N, filters)
        if versions:
            where.append(N.c.id.in_(select(S.c.network_id).where(S.c.ip_version.in_(versions))))
        query.limit, query.marker = None, None      # not paginated (no id key)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, NETWORK_IP_AVAILABILITY, N, query, where), versions))

    def get(self, ctx: Context, network_id: str) -> dict:
        def read(conn):
            row = conn.execute(select(N).where(N.c.id == network_id)).mappings().first()
            if row is None or not self._allowed(ctx):
                raise faults.NetworkNotFound(net_id=network_id)
            return self._views(conn, [row], None)[0]
        return self.core.db.read(read)
