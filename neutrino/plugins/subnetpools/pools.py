"""Subnet pools: CRUD with upstream's reader rules (one IP family, compacted
prefixes, min <= default <= max prefix lengths, prefixes only grow on
update), one default pool per IP family, address scope association checks,
and the prefix actions (add_prefixes, remove_prefixes,
onboard_network_subnets)."""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision, check_owner, get_network_row, set_tags
from neutrino.plugins.rbac import registry
from neutrino.plugins.subnetpools import allocation, common
from neutrino.plugins.subnetpools import faults as pf
from neutrino.plugins.subnetpools import prefixes as px
from neutrino.plugins.subnetpools.resources import SUBNETPOOL

AS, SP, SPP, S = common.AS, common.SP, common.SPP, models.subnets
_FIELDS = ("name", "description", "default_prefixlen", "min_prefixlen", "max_prefixlen",
           "is_default", "default_quota", "address_scope_id")


def _sorted(nets) -> list[str]:
    return [str(n) for n in sorted(nets, key=lambda n: (n.version, n))]


def views(conn, rows) -> list[dict]:
    ids = [r["id"] for r in rows]
    prefixes = common.pool_prefixes(conn, ids)
    tags = listing.tags_for(conn, ids)
    shared = common.shared_view(conn, "subnetpool", rows)
    return [{"id": r["id"], "name": r["name"], "description": r["description"],
             "tenant_id": r["project_id"], "project_id": r["project_id"],
             "prefixes": _sorted(px.net(c) for c in prefixes[r["id"]]),
             "default_quota": r["default_quota"], "ip_version": r["ip_version"],
             "default_prefixlen": str(r["default_prefixlen"]),
             "min_prefixlen": str(r["min_prefixlen"]),
             "max_prefixlen": str(r["max_prefixlen"]), "is_default": r["is_default"],
             "shared": shared[r["id"]], "address_scope_id": r["address_scope_id"],
             "tags": tags.get(r["id"], []),
             "created_at": listing.iso(r["created_at"]),
             "updated_at": listing.iso(r["updated_at"]),
             "revision_number": r["revision_number"]} for r in rows]


def read_pool(spec: dict) -> dict:
    """upstream's SubnetPoolReader: the IP family from the prefixes, the
    compacted prefixes and the checked prefix-length bounds."""
    if not spec.get("prefixes"):
        raise pf.EmptySubnetPoolPrefixList()
    nets = [px.net(c) for c in spec["prefixes"]]
    version = nets[0].version
    if any(n.version != version for n in nets):
        raise pf.PrefixVersionMismatch()
    out = dict(spec, ip_version=version, prefixes=px.compact(nets))
    bits = px.BITS[version]
    for key, default in (("min_prefixlen", px.DEFAULT_MIN_PREFIXLEN[version]),
                         ("max_prefixlen", bits)):
        if out.get(key, a.UNSET) in (a.UNSET, None):
            out[key] = default
    if out.get("default_prefixlen", a.UNSET) in (a.UNSET, None):
        out["default_prefixlen"] = out["min_prefixlen"]
    lo, hi, dflt = out["min_prefixlen"], out["max_prefixlen"], out["default_prefixlen"]

    def bounds(kind, value, base_kind, base):
        return pf.IllegalSubnetPoolPrefixBounds(prefix_type=kind, prefixlen=value,
                                                base_prefix_type=base_kind, base_prefixlen=base)
    if lo > hi:
        raise bounds("min_prefixlen", lo, "max_prefixlen", hi)
    if hi > bits:
        raise bounds("max_prefixlen", hi, "ip_version_max", bits)
    if dflt < lo:
        raise bounds("default_prefixlen", dflt, "min_prefixlen", lo)
    if dflt > hi:
        raise bounds("default_prefixlen", dflt, "max_prefixlen", hi)
    return out


class SubnetPoolPlugin:
    def __init__(self, core: Core):
        self.core = core

    def _view(self, conn, ctx, pid):
        return views(conn, [common.pool_row(conn, ctx, pid)])[0]

    def get(self, ctx: Context, pid: str) -> dict:
        return self.core.db.read(lambda conn: self._view(conn, ctx, pid))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(SUBNETPOOL, SP, query.filters, skip=("shared",))
        if "shared" in query.filters:
            clause = common.shared_filter(SP, ctx, "subnetpool", query.filters["shared"])
            if clause is not None:
                where.append(clause)
        where += listing.tag_clauses(SP, query.tags)
        scoped = common.scope(SP, ctx, "subnetpool")
        if scoped is not None:
            where.append(scoped)
        return self.core.db.read(lambda conn: views(
            conn, listing.run_list(conn, SUBNETPOOL, SP, query, where)))

    # --- checks -------------------------------------------------------------------------
    @staticmethod
    def _check_default(conn, version: int, pool_id: str | None) -> None:
        stmt = select(SP.c.id).where(SP.c.is_default, SP.c.ip_version == version)
        if pool_id:
            stmt = stmt.where(SP.c.id != pool_id)
        if conn.execute(stmt.limit(1)).first():
            raise faults.invalid_input(
                "A default subnetpool for this IP family has already been set. Only one "
                "default may exist per IP family")

    @staticmethod
    def _check_scope(conn, ctx, scope_id, pool_id: str, nets, version: int,
                     existing: bool) -> None:
        """upstream's _validate_address_scope_id."""
        if not scope_id:
            return
        # visible (own, shared or granted) is what upstream calls accessible
        scope = common.scope_row(conn, ctx, scope_id)
        if scope["ip_version"] != version:
            raise pf.IllegalSubnetPoolIpVersionAssociationToAddressScope(
                subnetpool_id=pool_id, address_scope_id=scope_id,
                ip_version=scope["ip_version"])
        if existing:
            # every subnet of the networks this pool serves moves scope with it
            mine = select(S.c.network_id).where(S.c.subnetpool_id == pool_id)
            other = conn.execute(select(S.c.id).where(
                S.c.network_id.in_(mine), S.c.ip_version == version,
                (S.c.subnetpool_id != pool_id) | S.c.subnetpool_id.is_(None)).limit(1)).first()
            if other:
                raise pf.NetworkAddressScopeAffinityError()
        others = conn.execute(select(SPP.c.cidr).join(SP, SP.c.id == SPP.c.subnetpool_id).where(
            SP.c.address_scope_id == scope_id, SP.c.id != pool_id)).all()
        if px.overlaps(nets, [px.net(c) for c, in others]):
            raise pf.AddressScopePrefixConflict()

    @staticmethod
    def _write_prefixes(conn, pool_id: str, nets, fresh: bool = False) -> None:
        if not fresh:
            conn.execute(delete(SPP).where(SPP.c.subnetpool_id == pool_id))
        conn.execute(insert(SPP), [{"subnetpool_id": pool_id, "cidr": str(n)} for n in nets])

    # --- writes -------------------------------------------------------------------------
    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)
        spec = read_pool(body)

        def txn(conn):
            pid, ts = listing.new_id(), listing.now()
            self.core.quotas.check(conn, owner, "subnetpool")
            if spec["is_default"]:
                self._check_default(conn, spec["ip_version"], None)
            self._check_scope(conn, ctx, spec["address_scope_id"], pid, spec["prefixes"],
                              spec["ip_version"], existing=False)
            conn.execute(insert(SP).values(
                id=pid, project_id=owner, ip_version=spec["ip_version"],
                shared=spec["shared"], created_at=ts, updated_at=ts, revision_number=0,
                **{k: spec[k] for k in _FIELDS}))
            self._write_prefixes(conn, pid, spec["prefixes"], fresh=True)
            if spec["shared"]:
                registry.grant(conn, "subnetpool", pid, owner, registry.WILDCARD)
            if body.get("tags"):
                set_tags(conn, "subnetpools", pid, body["tags"])
            return self._view(conn, ctx, pid)
        return self.core.db.write(txn)

    def _update(self, conn, ctx, pid: str, body: dict) -> tuple[dict, bool]:
        """The update in the caller's transaction; (view, scope changed)."""
        row = common.pool_row(conn, ctx, pid, lock=True)
        current = [px.net(c) for c in common.pool_prefixes(conn, [pid])[pid]]
        merged = {k: row[k] for k in _FIELDS}
        merged.update({k: body[k] for k in _FIELDS if k in body})
        merged["prefixes"] = (body["prefixes"] if body.get("prefixes") is not None
                              else [str(n) for n in current])
        spec = read_pool(merged)
        if "prefixes" in body:
            if not px.covers_all(spec["prefixes"], current):
                raise pf.IllegalSubnetPoolPrefixUpdate(
                    msg="Existing prefixes must be a subset of the new prefixes")
        if spec["ip_version"] != row["ip_version"]:
            raise pf.PrefixVersionMismatch()
        if spec["is_default"] and not row["is_default"]:
            self._check_default(conn, spec["ip_version"], pid)
        if row["address_scope_id"]:
            scope = conn.execute(select(AS).where(AS.c.id == row["address_scope_id"])
                                 ).mappings().first()
            if scope and not (ctx.is_admin or scope["project_id"] == ctx.project_id):
                raise pf.IllegalSubnetPoolUpdate(
                    reason=f"subnetpool {pid} cannot be updated when associated with shared "
                           f"address scope {row['address_scope_id']}")
        self._check_scope(conn, ctx, spec["address_scope_id"], pid, spec["prefixes"],
                          spec["ip_version"], existing=True)
        values = {k: spec[k] for k in _FIELDS if k in body or k.endswith("prefixlen")}
        conn.execute(update(SP).where(SP.c.id == pid).values(**values))
        if set(spec["prefixes"]) != set(current):
            self._write_prefixes(conn, pid, spec["prefixes"])
        bump_revision(conn, SP, pid)
        return self._view(conn, ctx, pid), row["address_scope_id"] != spec["address_scope_id"]

    def update(self, ctx: Context, pid: str, body: dict) -> dict:
        view, scope_changed = self.core.db.write(lambda conn: self._update(conn, ctx, pid, body))
        if scope_changed:
            self._notify_pool_routers(pid)
        return view

    def delete(self, ctx: Context, pid: str) -> None:
        def txn(conn):
            common.pool_row(conn, ctx, pid, lock=True)
            if allocation.subnets_in_pool(conn, pid):
                raise pf.SubnetPoolDeleteError(reason="Subnet pool has existing allocations")
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == pid))
            conn.execute(delete(SPP).where(SPP.c.subnetpool_id == pid))
            registry.delete_object(conn, "subnetpool", pid)
            conn.execute(delete(SP).where(SP.c.id == pid))
        self.core.db.write(txn)

    # --- actions ------------------------------------------------------------------------
    @staticmethod
    def _prefixes_body(body) -> list:
        prefixes = body.get("prefixes") if isinstance(body, dict) else None
        if not prefixes or not isinstance(prefixes, list):
            raise faults.HTTPBadRequest("Request body contains invalid data")
        for p in prefixes:
            reason = None if isinstance(p, str) else "not a string"
            if reason is None:
                from neutrino import validators as v
                reason = v.validate_subnet(p)
            if reason:
                raise faults.HTTPBadRequest(f"Invalid input for prefixes. Reason: {reason}.")
        return prefixes

    def add_prefixes(self, ctx: Context, pid: str, body, authorize=None) -> dict:
        prefixes = self._prefixes_body(body)

        def txn(conn):
            row = common.pool_row(conn, ctx, pid, lock=True)
            if authorize:
                authorize(row)
            current = common.pool_prefixes(conn, [pid])[pid]
            view, _ = self._update(conn, ctx, pid, {"prefixes": current + prefixes})
            return {"prefixes": view["prefixes"]}
        return self.core.db.write(txn)

    def remove_prefixes(self, ctx: Context, pid: str, body, authorize=None) -> dict:
        prefixes = [px.net(p) for p in self._prefixes_body(body)]

        def txn(conn):
            row = common.pool_row(conn, ctx, pid, lock=True)
            if authorize:
                authorize(row)
            current = [px.net(c) for c in common.pool_prefixes(conn, [pid])[pid]]
            if not px.overlaps(current, prefixes):
                return {"prefixes": _sorted(current)}
            if px.overlaps(allocation.allocated(conn, pid), prefixes):
                raise pf.IllegalSubnetPoolPrefixUpdate(
                    msg="One or more the prefixes to be removed is in use by a subnet.")
            left = px.subtract(current, prefixes)
            if not left:
                raise pf.EmptySubnetPoolPrefixList()
            self._write_prefixes(conn, pid, left)
            bump_revision(conn, SP, pid)
            return {"prefixes": _sorted(left)}
        return self.core.db.write(txn)

    def onboard_network_subnets(self, ctx: Context, pid: str, body, authorize=None) -> list:
        network_id = body.get("network_id") if isinstance(body, dict) else None
        if not network_id:
            raise faults.invalid_input("network_id must be specified.")

        def txn(conn):
            if not a.is_uuid(network_id):
                raise faults.NetworkNotFound(net_id=network_id)
            get_network_row(conn, ctx, network_id)
            row = common.pool_row(conn, ctx, pid, lock=True)
            if authorize:
                authorize(row)
            subnets = conn.execute(select(S.c.id, S.c.cidr, S.c.subnetpool_id).where(
                S.c.network_id == network_id, S.c.ip_version == row["ip_version"])).all()
            taken = allocation.allocated(conn, pid)
            add = []
            for sid, cidr, sp_id in subnets:
                if sp_id == pid:
                    continue
                if px.overlaps([px.net(cidr)], taken):
                    raise pf.IllegalSubnetPoolUpdate(
                        reason=f"Onboarding subnet {sid}: {cidr} conflicts with allocated "
                               f"prefixes in subnet pool {pid}")
                add.append(cidr)
            current = common.pool_prefixes(conn, [pid])[pid]
            if add:
                self._update(conn, ctx, pid, {"prefixes": current + add})
            for sid, _, _ in subnets:
                conn.execute(update(S).where(S.c.id == sid).values(subnetpool_id=pid))
                bump_revision(conn, S, sid)
            return [{"id": sid, "cidr": cidr} for sid, cidr, _ in subnets], row
        out, row = self.core.db.write(txn)
        if row["address_scope_id"]:
            self._notify_pool_routers(pid)
        return out

    def _notify_pool_routers(self, pid: str) -> None:
        """Routers with an interface on a subnet of this pool re-read their
        address scopes (the L3 agent's marks)."""
        from neutrino.plugins.subnetpools import l3_scopes
        l3_scopes.notify_pool_routers(self.core, pid)
