"""Address scopes: CRUD with upstream's rules (ip_version fixed at
creation, a shared scope cannot be unshared, a scope with subnet pools
cannot be deleted)."""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.rbac import registry
from neutrino.plugins.core import Core, bump_revision, check_owner, set_tags
from neutrino.plugins.subnetpools import common
from neutrino.plugins.subnetpools import faults as pf
from neutrino.plugins.subnetpools.resources import ADDRESS_SCOPE

AS, SP = common.AS, common.SP


def views(conn, rows) -> list[dict]:
    tags = listing.tags_for(conn, [r["id"] for r in rows])
    shared = common.shared_view(conn, "address_scope", rows)
    return [{"id": r["id"], "name": r["name"], "description": r["description"],
             "tenant_id": r["project_id"], "project_id": r["project_id"],
             "shared": shared[r["id"]], "ip_version": r["ip_version"],
             "tags": tags.get(r["id"], []),
             "created_at": listing.iso(r["created_at"]),
             "updated_at": listing.iso(r["updated_at"]),
             "revision_number": r["revision_number"]} for r in rows]


class AddressScopePlugin:
    def __init__(self, core: Core):
        self.core = core

    def get(self, ctx: Context, sid: str) -> dict:
        return self.core.db.read(lambda conn: views(conn, [common.scope_row(conn, ctx, sid)])[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(ADDRESS_SCOPE, AS, query.filters, skip=("shared",))
        if "shared" in query.filters:
            clause = common.shared_filter(AS, ctx, "address_scope", query.filters["shared"])
            if clause is not None:
                where.append(clause)
        where += listing.tag_clauses(AS, query.tags)
        scoped = common.scope(AS, ctx, "address_scope")
        if scoped is not None:
            where.append(scoped)
        return self.core.db.read(lambda conn: views(
            conn, listing.run_list(conn, ADDRESS_SCOPE, AS, query, where)))

    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)

        def txn(conn):
            sid, ts = listing.new_id(), listing.now()
            conn.execute(insert(AS).values(
                id=sid, project_id=owner, name=body["name"], description=body["description"],
                shared=body["shared"], ip_version=body["ip_version"], created_at=ts,
                updated_at=ts, revision_number=0))
            if body["shared"]:
                registry.grant(conn, "address_scope", sid, owner, registry.WILDCARD)
            if body.get("tags"):
                set_tags(conn, "address_scopes", sid, body["tags"])
            return views(conn, [common.scope_row(conn, ctx, sid)])[0]
        return self.core.db.write(txn)

    def update(self, ctx: Context, sid: str, body: dict) -> dict:
        def txn(conn):
            row = common.scope_row(conn, ctx, sid, lock=True)
            shared = common.shared_view(conn, "address_scope", [row])[sid]
            if shared and body.get("shared") is False:
                raise pf.AddressScopeUpdateError(address_scope_id=sid,
                                                 reason="Shared address scope can't be unshared")
            values = {k: body[k] for k in ("name", "description", "shared") if k in body}
            if values:
                conn.execute(update(AS).where(AS.c.id == sid).values(**values))
            if body.get("shared") and not shared:
                registry.grant(conn, "address_scope", sid, row["project_id"], registry.WILDCARD)
            bump_revision(conn, AS, sid)
            return views(conn, [common.scope_row(conn, ctx, sid)])[0]
        return self.core.db.write(txn)

    def delete(self, ctx: Context, sid: str) -> None:
        def txn(conn):
            common.scope_row(conn, ctx, sid, lock=True)
            if conn.execute(select(SP.c.id).where(SP.c.address_scope_id == sid)
                            .limit(1)).first():
                raise pf.AddressScopeInUse(address_scope_id=sid)
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == sid))
            registry.delete_object(conn, "address_scope", sid)
            conn.execute(delete(AS).where(AS.c.id == sid))
        self.core.db.write(txn)
