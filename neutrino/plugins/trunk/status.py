"""A trunk's status, derived from its ports' when read (nothing to keep in
step): upstream's Linux bridge trunk driver reports ACTIVE once the agent
wired the parent and every subport, DEGRADED when some subports failed,
ERROR when the parent failed, BUILD while wiring is under way and DOWN
while the parent is not bound or not wired."""
from __future__ import annotations

from sqlalchemy import select

from neutrino.db import models
from neutrino.plugins import listing

ACTIVE, DOWN, BUILD, DEGRADED, ERROR = "ACTIVE", "DOWN", "BUILD", "DEGRADED", "ERROR"
FAILED_BINDING = "binding_failed"


def status_of(parent: dict | None, subports: list[dict]) -> str:
    """`parent`/`subports`: {status, binding_host, binding_vif_type}."""
    if parent is None or not parent["binding_host"]:
        return DOWN
    if parent["binding_vif_type"] == FAILED_BINDING or parent["status"] == ERROR:
        return ERROR
    if parent["status"] == BUILD:
        return BUILD
    if parent["status"] != ACTIVE:
        return DOWN
    if any(s["binding_vif_type"] == FAILED_BINDING or s["status"] == ERROR for s in subports):
        return DEGRADED
    if all(s["status"] == ACTIVE for s in subports):
        return ACTIVE
    return BUILD


def trunk_statuses(conn, parents: dict[str, str], subs: dict[str, list[dict]]) -> dict[str, str]:
    """{trunk id: status}; `parents`: trunk id -> parent port id; `subs`:
    trunk id -> its subports (port_id)."""
    p = models.ports
    ids = list(parents.values()) + [s["port_id"] for v in subs.values() for s in v]
    ports: dict[str, dict] = {}
    for part in listing.chunks(ids):
        for r in conn.execute(select(p.c.id, p.c.status, p.c.binding_host, p.c.binding_vif_type)
                              .where(p.c.id.in_(part))):
            ports[r.id] = dict(r._mapping)
    return {tid: status_of(ports.get(pid), [ports[s["port_id"]] for s in subs.get(tid, ())
                                            if s["port_id"] in ports])
            for tid, pid in parents.items()}
