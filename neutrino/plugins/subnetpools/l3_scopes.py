"""Address scopes as the L3 agents see them: each router port's scope per
IP family (from the subnet pools of its subnets) in the routers' wire
state, and a notice to the routers concerned when a pool's scope changes
(pool update, onboarding)."""
from __future__ import annotations

from sqlalchemy import select

from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.subnetpools import common

S, SP, IPA, P = models.subnets, common.SP, models.ip_allocations, models.ports


def attach_address_scopes(conn, ports: dict[str, dict]) -> None:
    """Set ports[id]["address_scopes"] = {"4": scope or None, "6": ...}
    for router ports already carrying their fixed_ips (subnet_id)."""
    subnet_ids = sorted({f["subnet_id"] for p in ports.values() for f in p["fixed_ips"]})
    scopes: dict[str, tuple[int, str | None]] = {}
    for part in listing.chunks(subnet_ids):
        for sid, version, scope in conn.execute(
                select(S.c.id, S.c.ip_version, SP.c.address_scope_id)
                .join(SP, SP.c.id == S.c.subnetpool_id).where(S.c.id.in_(part))):
            scopes[sid] = (version, scope)
    for p in ports.values():
        out: dict[str, str | None] = {"4": None, "6": None}
        for f in p["fixed_ips"]:
            version, scope = scopes.get(f["subnet_id"], (None, None))
            if scope:
                out[str(version)] = scope
        p["address_scopes"] = out


def pool_routers(conn, pool_id: str) -> list[str]:
    rp = models.router_ports
    stmt = (select(rp.c.router_id).join(IPA, IPA.c.port_id == rp.c.port_id)
            .join(S, S.c.id == IPA.c.subnet_id).where(S.c.subnetpool_id == pool_id).distinct())
    return sorted(r for (r,) in conn.execute(stmt))


def notify_pool_routers(core, pool_id: str) -> None:
    from neutrino.plugins.l3 import scheduling

    def read(conn):
        return [(rid, scheduling.router_hosts(conn, rid)) for rid in pool_routers(conn, pool_id)]
    for router_id, hosts in core.db.read(read):
        core.notifier.resource_changed("router", router_id, -1, hosts=tuple(sorted(hosts)))
