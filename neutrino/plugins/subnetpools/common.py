"""Lookups shared by the address scope and subnet pool plugins: visibility
(own, shared, or granted by an RBAC policy: object types address_scope and
subnetpool of the rbac registry) and rows by id."""
from __future__ import annotations

from sqlalchemy import or_, select

from neutrino.api.policy import Context
from neutrino.db import pools_models as pm
from neutrino.plugins.rbac import registry
from neutrino.plugins.subnetpools import faults as pf

AS, SP, SPP = pm.address_scopes, pm.subnetpools, pm.subnetpool_prefixes


def scope(table, ctx: Context, object_type: str):
    """None for admins; else own rows, shared ones (the column, kept as a
    cache of the wildcard grant) and those granted to the caller's project
    by RBAC policies."""
    if ctx.is_admin:
        return None
    return or_(table.c.project_id == ctx.project_id, table.c.shared,
               registry.shared_clause(object_type, table, ctx.project_id))


def shared_filter(table, ctx: Context, object_type: str, values: list):
    """The `shared` filter, as upstream's RBAC objects: shared with the
    caller (the column, a wildcard grant, or a grant to its project)."""
    project = registry.WILDCARD if ctx.is_admin else ctx.project_id
    shared = or_(table.c.shared, registry.shared_clause(object_type, table, project))
    want = {bool(v) for v in values}
    if want == {True}:
        return shared
    if want == {False}:
        return ~shared
    return None


def shared_view(conn, object_type: str, rows) -> dict[str, bool]:
    """`shared` as users see it: the column or a wildcard grant."""
    wild = registry.shared_ids(conn, object_type, [r["id"] for r in rows if not r["shared"]])
    return {r["id"]: bool(r["shared"]) or r["id"] in wild for r in rows}


def _scope_in_use(conn, scope_id: str, target: str) -> bool:
    """Pools of `target` (any project but the owner for "*") in the scope."""
    stmt = select(SP.c.id).where(SP.c.address_scope_id == scope_id)
    if target == registry.WILDCARD:
        owner = select(AS.c.project_id).where(AS.c.id == scope_id).scalar_subquery()
        stmt = stmt.where(SP.c.project_id != owner)
    else:
        stmt = stmt.where(SP.c.project_id == target)
    return conn.execute(stmt.limit(1)).first() is not None


def _pool_in_use(conn, pool_id: str, target: str) -> bool:
    """Subnets of `target` allocated from the pool."""
    from neutrino.db import models
    s = models.subnets
    stmt = select(s.c.id).where(s.c.subnetpool_id == pool_id)
    if target == registry.WILDCARD:
        owner = select(SP.c.project_id).where(SP.c.id == pool_id).scalar_subquery()
        stmt = stmt.where(s.c.project_id != owner)
    else:
        stmt = stmt.where(s.c.project_id == target)
    return conn.execute(stmt.limit(1)).first() is not None


registry.register_object_type("address_scope", AS, in_use=_scope_in_use)
registry.register_object_type("subnetpool", SP, in_use=_pool_in_use,
                              check_grant=lambda *args: check_pool_grant(*args))


def find(conn, table, ctx: Context, rid: str, not_found, object_type: str,
         lock: bool = False):
    stmt = select(table).where(table.c.id == rid)
    where = scope(table, ctx, object_type)
    if where is not None:
        stmt = stmt.where(where)
    if lock and conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise not_found(rid)
    return row


def scope_row(conn, ctx, sid, lock=False):
    return find(conn, AS, ctx, sid, lambda i: pf.AddressScopeNotFound(address_scope_id=i),
                "address_scope", lock)


def pool_row(conn, ctx, pid, lock=False):
    return find(conn, SP, ctx, pid, lambda i: pf.SubnetPoolNotFound(subnetpool_id=i),
                "subnetpool", lock)


def pool_prefixes(conn, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for pid, cidr in conn.execute(select(SPP.c.subnetpool_id, SPP.c.cidr)
                                      .where(SPP.c.subnetpool_id.in_(ids))):
            out[pid].append(cidr)
    return out


def check_pool_grant(conn, pool_id: str, target: str, action: str) -> None:
    """A pool is shared only with projects that may use its address scope
    (upstream refuses the RBAC policy with 400)."""
    scope_id = conn.execute(select(SP.c.address_scope_id).where(SP.c.id == pool_id)).scalar()
    if not scope_id:
        return
    scope = conn.execute(select(AS.c.project_id, AS.c.shared).where(AS.c.id == scope_id)).first()
    if scope is None or scope.shared or scope.project_id == target:
        return
    if registry.is_shared_with(conn, "address_scope", scope_id, target):
        return
    raise pf.IllegalSubnetPoolAssociationToAddressScope(subnetpool_id=pool_id,
                                                        address_scope_id=scope_id)
