"""/v2.0/address-groups: named sets of CIDRs that security group rules name
as remote_address_group_id (upstream's address-group extension), shareable
by RBAC (rbac-address-group). The L2 agents filter with them as with a
remote group's members: an ipset (iptables) or an nftables set of the
group's addresses (see neutrino/rpc/sg_handlers.py)."""
from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import delete, insert, select

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.api.resources import Resource
from neutrino.db import models
from neutrino.db.rbac_models import address_group_addresses as AGA
from neutrino.db.rbac_models import address_groups as AG
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision, check_owner
from neutrino.plugins.rbac import registry

AG_TYPE = "address_group"
RULE = models.security_group_rules


class AddressGroupNotFound(faults.NotFound):
    message = "Address group {address_group_id} could not be found."


class AddressGroupInUse(faults.InUse):
    message = "Address group {address_group_id} is in use on one or more security group rules."


class AddressesNotFound(faults.NotFound):
    message = "Addresses {addresses} not found in the address group {address_group_id}."


class AddressesAlreadyExist(faults.NeutronError):
    status = 400
    message = "Addresses {addresses} already exist in the address group {address_group_id}."


def _subnet_list(value: Any) -> str | None:
    """type:subnet_list: CIDRs with their prefix length."""
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    for item in value:
        if not isinstance(item, str) or "/" not in item:
            return f"'{item}' is not a valid IP subnet"
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            return f"'{item}' is not a valid IP subnet"
    return None


def normalize(addresses, require_prefix: bool = False) -> list[str]:
    """CIDRs as upstream stores them: host bits cleared ("192.168.0.10/24"
    -> "192.168.0.0/24"), a bare address as /32 or /128."""
    if not isinstance(addresses, list):
        raise faults.HTTPBadRequest(f"Invalid input for addresses. Reason: '{addresses}' is "
                                    "not a list.")
    out = []
    for item in addresses:
        try:
            if not isinstance(item, str) or (require_prefix and "/" not in item):
                raise ValueError
            out.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise faults.HTTPBadRequest(f"Invalid input for addresses. Reason: '{item}' is "
                                        "not a valid IP subnet.") from None
    return out


_STANDARD = (Attr("created_at", column="created_at", convert=a.to_datetime),
             Attr("updated_at", column="updated_at", convert=a.to_datetime),
             Attr("revision_number", column="revision_number", convert=a.to_int))

ADDRESS_GROUP = Resource("address_group", "address-groups", (
    Attr("id", column="id"),
    Attr("name", post=True, put=True, default="", validate=a.name_string(255), column="name"),
    Attr("description", post=True, put=True, default="", validate=a.string(255),
         column="description"),
    *a.owner_attrs(),
    Attr("addresses", post=True, default=[], convert=a.none_to_empty_list,
         validate=_subnet_list, filter=False, sort=False),
    Attr("shared", visible=False, filter=False, sort=False),
    *_STANDARD,
), not_found="AddressGroupNotFound", tags=False)


def _ag_in_use(conn, group_id: str, target: str) -> bool:
    """Security group rules of `target` ("*": of others than the owner)
    name the address group."""
    owner = conn.execute(select(AG.c.project_id).where(AG.c.id == group_id)).scalar()
    if owner is None or owner == target:
        return False
    who = RULE.c.project_id != owner if target == "*" else RULE.c.project_id == target
    return conn.execute(select(RULE.c.id).where(RULE.c.remote_address_group_id == group_id,
                                                who).limit(1)).first() is not None


registry.register_object_type(AG_TYPE, AG, in_use=_ag_in_use)


def visible_row(conn, ctx: Context, group_id: str, own: bool = False, project: str = ""):
    """The address group as `ctx` (or as `project`) may see it: owned or
    granted by RBAC (`own`: owned only, for writes)."""
    stmt = select(AG).where(AG.c.id == group_id)
    who = project or (None if ctx.is_admin else ctx.project_id)
    if who is not None:
        stmt = stmt.where(AG.c.project_id == who if own
                          else registry.visible_clause(AG_TYPE, AG, who))
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise AddressGroupNotFound(address_group_id=group_id)
    return row


def addresses_of(conn, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    for part in listing.chunks(ids):
        for gid, addr in conn.execute(select(AGA.c.address_group_id, AGA.c.address)
                                      .where(AGA.c.address_group_id.in_(part))):
            out[gid].append(addr)
    return {k: sorted(v) for k, v in out.items()}


class AddressGroupPlugin:
    # Writes find only the caller's own groups: a project a group is shared
    # with may read it but, as upstream, gets 404 (not 403) if it changes it.
    authorizes_inline = True

    def __init__(self, core: Core):
        self.core = core

    def _views(self, conn, rows, ctx: Context) -> list[dict]:
        ids = [r["id"] for r in rows]
        addrs = addresses_of(conn, ids)
        shared = (registry.granted_ids(conn, AG_TYPE, ids, ctx.project_id) if ctx.project_id
                  else registry.shared_ids(conn, AG_TYPE, ids))
        return [{"id": r["id"], "name": r["name"], "description": r["description"],
                 "project_id": r["project_id"], "tenant_id": r["project_id"],
                 "addresses": addrs[r["id"]], "shared": r["id"] in shared,
                 "created_at": listing.iso(r["created_at"]),
                 "updated_at": listing.iso(r["updated_at"]),
                 "revision_number": r["revision_number"]} for r in rows]

    def get(self, ctx: Context, group_id: str) -> dict:
        return self.core.db.read(
            lambda conn: self._views(conn, [visible_row(conn, ctx, group_id)], ctx)[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(ADDRESS_GROUP, AG, query.filters)
        if not ctx.is_admin:
            where.append(registry.visible_clause(AG_TYPE, AG, ctx.project_id))
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, ADDRESS_GROUP, AG, query, where), ctx))

    def create(self, ctx: Context, body: dict, authorize=None) -> dict:
        if authorize is not None:
            authorize({})
        owner = check_owner(ctx, body)
        addresses = sorted(set(normalize(body.get("addresses") or [], require_prefix=True)))

        def txn(conn):
            gid = listing.new_id()
            ts = listing.now()
            conn.execute(insert(AG).values(id=gid, project_id=owner, name=body["name"],
                                           description=body["description"], created_at=ts,
                                           updated_at=ts, revision_number=0))
            if addresses:
                conn.execute(insert(AGA), [{"address_group_id": gid, "address": x}
                                           for x in addresses])
            return self._views(conn, [visible_row(conn, ctx, gid)], ctx)[0]
        return self.core.db.write(txn)

    def update(self, ctx: Context, group_id: str, body: dict, authorize=None) -> dict:
        from sqlalchemy import update

        def txn(conn):
            row = visible_row(conn, ctx, group_id, own=True)
            if authorize is not None:
                authorize(self._unshared(conn, row), {})
            values = {k: body[k] for k in ("name", "description") if k in body}
            if values:
                conn.execute(update(AG).where(AG.c.id == group_id).values(**values))
            bump_revision(conn, AG, group_id)
            return self._views(conn, [visible_row(conn, ctx, group_id)], ctx)[0]
        return self.core.db.write(txn)

    def _unshared(self, conn, row) -> dict:
        view = self._views(conn, [row], Context.make(row["project_id"]))[0]
        view["shared"] = False
        return view

    def delete(self, ctx: Context, group_id: str, authorize=None) -> None:
        def txn(conn):
            row = visible_row(conn, ctx, group_id, own=True)
            if authorize is not None:
                authorize(self._unshared(conn, row), {})
            used = conn.execute(select(RULE.c.id).where(
                RULE.c.remote_address_group_id == group_id).limit(1)).first()
            if used is not None:
                raise AddressGroupInUse(address_group_id=group_id)
            registry.delete_object(conn, AG_TYPE, group_id)
            conn.execute(delete(AG).where(AG.c.id == group_id))
        self.core.db.write(txn)

    # --- add_addresses / remove_addresses (PUT actions) ---------------------------------
    def change_addresses(self, ctx: Context, group_id: str, body: Any, add: bool,
                         authorize) -> dict:
        if not isinstance(body, dict) or "addresses" not in body:
            raise faults.HTTPBadRequest("Unrecognized action")
        wanted = normalize(body["addresses"])

        def txn(conn):
            row = visible_row(conn, ctx, group_id)
            authorize(row)
            have = set(addresses_of(conn, [group_id])[group_id])
            if add:
                dup = sorted(set(wanted) & have)
                if dup:
                    raise AddressesAlreadyExist(addresses=dup, address_group_id=group_id)
                new = sorted(set(wanted))
                if new:
                    conn.execute(insert(AGA), [{"address_group_id": group_id, "address": x}
                                               for x in new])
            else:
                missing = sorted(set(wanted) - have)
                if missing:
                    raise AddressesNotFound(addresses=missing, address_group_id=group_id)
                conn.execute(delete(AGA).where(AGA.c.address_group_id == group_id,
                                               AGA.c.address.in_(wanted)))
            bump_revision(conn, AG, group_id)
            groups = sorted({g for (g,) in conn.execute(
                select(RULE.c.security_group_id).where(
                    RULE.c.remote_address_group_id == group_id))})
            return self._views(conn, [visible_row(conn, ctx, group_id)], ctx)[0], groups
        view, groups = self.core.db.write(txn)
        for gid in groups:      # their ports' hosts refetch the address sets
            self.core.notifier.resource_changed("security_group", gid, -1)
        return view
