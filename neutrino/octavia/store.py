"""Rows and the rules every Octavia object shares: lookup (404 with
Octavia's wording), timestamps, JSON columns, the load balancer lock and
its "immutable while pending" answer, and the tree version the agent
applies.

Each write below a load balancer runs in one transaction that locks the
load balancer's row first (SELECT ... FOR UPDATE), checks it is ACTIVE,
marks it and the objects above the changed one PENDING_UPDATE and bumps its
`version`: a change is in flight until the agent reports that version.
"""
from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select, update

from neutrino.db import lbaas_models as m
from neutrino.octavia import faults
from neutrino.plugins import listing

ACTIVE, ERROR = "ACTIVE", "ERROR"
PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE = (
    "PENDING_CREATE", "PENDING_UPDATE", "PENDING_DELETE")
PENDING = (PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE)
ONLINE, OFFLINE, NO_MONITOR = "ONLINE", "OFFLINE", "NO_MONITOR"


@dataclass(frozen=True)
class Kind:
    key: str            # body key: "listener"
    collection: str     # URL and list key: "listeners"
    label: str          # Octavia's data model name, in 404s: "Listener"
    policy: str         # policy resource: "listener"
    table: Table


LOADBALANCER = Kind("loadbalancer", "loadbalancers", "Load Balancer", "loadbalancer",
                    m.loadbalancers)
LISTENER = Kind("listener", "listeners", "Listener", "listener", m.listeners)
POOL = Kind("pool", "pools", "Pool", "pool", m.pools)
MEMBER = Kind("member", "members", "Member", "member", m.members)
HEALTHMONITOR = Kind("healthmonitor", "healthmonitors", "Health Monitor", "healthmonitor",
                     m.healthmonitors)
L7POLICY = Kind("l7policy", "l7policies", "L7 Policy", "l7policy", m.l7policies)
L7RULE = Kind("rule", "rules", "L7 Rule", "l7rule", m.l7rules)

# Children first: the order in which a tree's rows are removed.
TREE = (m.l7rules, m.l7policies, m.members, m.healthmonitors, m.listeners, m.pools)


def now():
    return listing.now()


_last = [0, 0]      # (millisecond, counter) of the last id made here


def new_id() -> str:
    """A UUID whose first bits are the creation time (the UUIDv7 layout):
    lists sort by created_at (whole seconds) and then by id, as Octavia's
    do, so objects made within one second still list in creation order."""
    ms = time.time_ns() // 1_000_000
    if ms <= _last[0]:
        ms, count = _last[0], _last[1] + 1     # same millisecond: count up
    else:
        count = secrets.randbits(8)
    _last[:] = [ms, count]
    value = ((ms & ((1 << 48) - 1)) << 80) | (0x7 << 76) | ((count & 0xFFF) << 64) \
        | (0b10 << 62) | secrets.randbits(62)
    return str(uuid.UUID(int=value))


def stamp(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value is not None else None


def loads(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def get_row(conn, kind: Kind, obj_id: str, lock: bool = False) -> dict:
    stmt = select(kind.table).where(kind.table.c.id == obj_id)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise faults.NotFound(resource=kind.label, id=obj_id)
    return dict(row)


def lock_lb(conn, lb_id: str) -> dict:
    return get_row(conn, LOADBALANCER, lb_id, lock=True)


def check_mutable(lb: dict) -> None:
    if lb["provisioning_status"] != ACTIVE:
        raise faults.Immutable(resource="Load Balancer", id=lb["id"])


def check_object_mutable(kind: Kind, row: dict) -> None:
    if row["provisioning_status"] in PENDING:
        raise faults.Immutable(resource=kind.label, id=row["id"])


def begin_change(conn, lb: dict, *parents: tuple[Kind, str]) -> None:
    """Mark the load balancer (and the objects above the one changed)
    PENDING_UPDATE and bump the tree's version."""
    ts = now()
    lbt = m.loadbalancers
    conn.execute(update(lbt).where(lbt.c.id == lb["id"]).values(
        provisioning_status=PENDING_UPDATE, version=lbt.c.version + 1, updated_at=ts))
    for kind, obj_id in parents:
        if obj_id:
            conn.execute(update(kind.table).where(kind.table.c.id == obj_id).values(
                provisioning_status=PENDING_UPDATE, updated_at=ts))


def common_values(project_id: str, body: dict, operating: str = OFFLINE) -> dict:
    return {"project_id": project_id, "name": body.get("name") or "",
            "description": body.get("description") or "",
            "admin_state_up": body.get("admin_state_up", True) is not False,
            "provisioning_status": PENDING_CREATE, "operating_status": operating,
            "tags": dumps(body.get("tags") or []), "created_at": now(), "updated_at": None}


def update_values(body: dict, columns: tuple[str, ...]) -> dict:
    """The attributes of a PUT that are columns (JSON ones encoded); None
    on name/description means empty, as Octavia stores it."""
    out: dict[str, Any] = {}
    for key in columns:
        if key not in body:
            continue
        value = body[key]
        if key in ("name", "description") and value is None:
            value = ""
        if key == "tags":
            value = dumps(value or [])
        out[key] = value
    out["provisioning_status"] = PENDING_UPDATE
    out["updated_at"] = now()
    return out


def base_view(row: dict) -> dict:
    return {"id": row["id"], "project_id": row["project_id"], "tenant_id": row["project_id"],
            "provisioning_status": row["provisioning_status"],
            "operating_status": row["operating_status"],
            "admin_state_up": row["admin_state_up"], "tags": loads(row["tags"], []),
            "created_at": stamp(row["created_at"]), "updated_at": stamp(row["updated_at"])}


def resolve_project(ctx, body: dict) -> str:
    """The project of a new load balancer: the caller's, or another one
    only for admins (Octavia: a project_id differing from the token's)."""
    wanted = body.get("project_id")
    if wanted and wanted != ctx.project_id and not ctx.is_admin:
        raise faults.Forbidden()
    project = wanted or ctx.project_id
    if not project:
        raise faults.BadRequest("Missing project ID in request where one is required.")
    return project
