"""The core plugin: composes the resource plugins over one database, the ML2
segment and mechanism managers, quotas and the agent notifier.

Each public method of a resource plugin runs exactly one transaction
(`db.write`). Mechanism drivers' precommit hooks run inside it and their
postcommit hooks (and agent notifications) after it commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, literal, select, update
from sqlalchemy.engine import Connection

from neutrino.api import faults
from neutrino.api.policy import Context, Enforcer
from neutrino.db import models
from neutrino.db.engine import Database
from neutrino.plugins.listing import now
from neutrino.plugins.ml2.mech import MechanismManager
from neutrino.plugins.ml2.segments import SegmentManager
from neutrino.plugins.quotas import QuotaEngine


class NullNotifier:
    """Where agent notifications go when no bus is attached."""

    def resource_changed(self, resource: str, resource_id: str, revision: int,
                         hosts: tuple[str, ...] | None = None, **extra: Any) -> None:
        pass


@dataclass
class Core:
    cfg: Any
    db: Database
    policy: Enforcer
    segments: SegmentManager
    mech: MechanismManager
    quotas: QuotaEngine
    notifier: Any = field(default_factory=NullNotifier)

    @staticmethod
    def validate(cfg) -> None:
        """Raise ValueError naming the option if the drivers cannot be built."""
        SegmentManager(cfg)
        MechanismManager(cfg)

    @classmethod
    def build(cls, cfg, db: Database, policy: Enforcer, notifier=None) -> "Core":
        from neutrino.plugins import features
        features.load()     # a feature that cannot load stops the start, not a request
        core = cls(cfg=cfg, db=db, policy=policy, segments=SegmentManager(cfg),
                   mech=MechanismManager(cfg), quotas=QuotaEngine(cfg),
                   notifier=notifier or NullNotifier())
        return core


# --- helpers shared by the resource plugins --------------------------------

_BUMPS: dict[str, Any] = {}


def bump_revision(conn: Connection, table, resource_id: str) -> None:
    stmt = _BUMPS.get(table.name)
    if stmt is None:
        stmt = _BUMPS[table.name] = update(table).where(table.c.id == bindparam("rid")).values(
            revision_number=table.c.revision_number + 1, updated_at=bindparam("ts"))
    conn.execute(stmt, {"rid": resource_id, "ts": now()})


def set_tags(conn: Connection, resource_type: str, resource_id: str, tags) -> None:
    t = models.tags
    conn.execute(delete(t).where(t.c.resource_id == resource_id))
    unique = sorted(set(tags))
    if unique:
        conn.execute(t.insert(), [{"resource_id": resource_id, "tag": tag,
                                   "resource_type": resource_type} for tag in unique])


def rbac_network_shared(table, project):
    """SQL: `table`'s network is shared with `project` (a string or a
    bindparam) by an RBAC policy (the wildcard ones are the shared column)."""
    from neutrino.plugins.rbac import registry
    return registry.shared_clause("network", table, project)


def rbac_network_visible(table, project):
    """SQL: an RBAC policy shares `table`'s network with `project` or makes
    it an external network it may use."""
    from neutrino.plugins.rbac import registry
    return registry.shared_clause("network", table, project,
                                  (registry.SHARED, registry.EXTERNAL))


def network_scope(ctx: Context):
    """Networks a non-admin may see: own, shared with everyone, or granted
    to its project by an RBAC policy (shared or external)."""
    n = models.networks
    if ctx.is_admin:
        return None
    return (n.c.project_id == ctx.project_id) | n.c.shared | rbac_network_visible(
        n, ctx.project_id)


_N = models.networks
# Prebuilt statements: building a select per call costs more than running it.
# `rbac_shared`: shared with the caller's project by a policy of its own.
_NET_BY_ID = select(_N, literal(False).label("rbac_shared")).where(_N.c.id == bindparam("id"))
_NET_BY_ID_SCOPED = select(
    _N, rbac_network_shared(_N, bindparam("project")).label("rbac_shared")).where(
    _N.c.id == bindparam("id"),
    (_N.c.project_id == bindparam("project")) | _N.c.shared
    | rbac_network_visible(_N, bindparam("project")))
_NET_LOCK = {False: _NET_BY_ID.with_for_update(), True: _NET_BY_ID_SCOPED.with_for_update()}


def get_network_row(conn: Connection, ctx: Context, network_id: str, lock: bool = False):
    """The network as `ctx` sees it: `shared` is True when it is shared with
    the caller's project, by a wildcard or by a policy naming the project
    (upstream's network dict does the same)."""
    scoped = not ctx.is_admin
    if lock and conn.dialect.name != "sqlite":
        stmt = _NET_LOCK[scoped]
    else:
        stmt = _NET_BY_ID_SCOPED if scoped else _NET_BY_ID
    row = conn.execute(stmt, {"id": network_id, "project": ctx.project_id}).mappings().first()
    if row is None:
        raise faults.NetworkNotFound(net_id=network_id)
    if row["rbac_shared"] and not row["shared"]:
        return {**row, "shared": True}
    return row


def caller_shared(conn: Connection, ctx: Context, rows) -> list:
    """List rows with `shared` as the caller sees it (see get_network_row):
    one query for the rows shared with its project by a policy naming it."""
    rows = list(rows)
    if ctx.is_admin or not rows:
        return rows
    ask = [r["id"] for r in rows if not r["shared"] and r["project_id"] != ctx.project_id]
    if not ask:
        return rows
    from neutrino.plugins.rbac import registry
    granted = registry.granted_ids(conn, "network", ask, ctx.project_id)
    return [{**r, "shared": True} if r["id"] in granted else r for r in rows]


def network_policy_target(row) -> dict:
    return {"network:project_id": row["project_id"], "network:shared": row["shared"],
            "network:router:external": row["external"]}


def check_owner(ctx: Context, body: dict) -> str:
    """The project a new resource belongs to; non-admins only their own."""
    project = body.get("project_id")
    tenant = body.get("tenant_id")
    if project and tenant and project != tenant:
        raise faults.HTTPBadRequest("'project_id' and 'tenant_id' do not match")
    owner = project or tenant or ctx.project_id
    if owner != ctx.project_id and not ctx.is_admin:
        raise faults.HTTPBadRequest(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
            "in request requires admin privileges")
    if not owner:
        raise faults.HTTPBadRequest("Failed to parse request. Required attribute 'project_id' "
                                    "not specified")
    return owner
