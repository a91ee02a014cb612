"""Networks: rows, their segment, MTU, sharing and deletion rules."""
from __future__ import annotations

from sqlalchemy import bindparam, delete, exists, insert, select, update
from sqlalchemy.engine import Connection

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.api.resources import NETWORK
from neutrino.db import models
from neutrino.plugins import extend, listing
from neutrino.plugins.core import (Core, bump_revision, caller_shared, check_owner,
                                   get_network_row, network_scope, set_tags)
from neutrino.plugins.ml2.segments import PROVIDER_KEYS, segments_for

AUTO_DELETE_OWNERS = ("network:dhcp",)
# Deleting an external network takes its floating IPs (and their ports) with it.
NETWORK_DELETE_OWNERS = AUTO_DELETE_OWNERS + ("network:floatingip",)
_INSERT_NETWORK = insert(models.networks)
_SUBNET_IDS = listing.ChildQuery(models.subnets.c.network_id, models.subnets.c.id,
                                 order_by=(models.subnets.c.created_at, models.subnets.c.id))


def _view(row, seg: dict | None, subnet_ids: list[str], tags: list[str]) -> dict:
    seg = seg or {}
    return {
        "id": row["id"], "name": row["name"], "tenant_id": row["project_id"],
        "admin_state_up": row["admin_state_up"], "mtu": row["mtu"], "status": row["status"],
        "subnets": subnet_ids, "shared": row["shared"],
        "project_id": row["project_id"],
        "port_security_enabled": row["port_security_enabled"],
        "router:external": row["external"],
        "provider:network_type": seg.get("network_type"),
        "provider:physical_network": seg.get("physical_network"),
        "provider:segmentation_id": seg.get("segmentation_id"),
        "is_default": False, "availability_zone_hints": [], "availability_zones": [],
        "ipv4_address_scope": None, "ipv6_address_scope": None,
        "description": row["description"], "tags": tags,
        "created_at": listing.iso(row["created_at"]),
        "updated_at": listing.iso(row["updated_at"]),
        "revision_number": row["revision_number"],
    }


MIN_MTU = {4: 68, 6: 1280}


def check_mtu_for_subnets(conn: Connection, network_id: str, mtu: int,
                          versions: tuple[int, ...] = ()) -> None:
    """IPv4 needs an MTU of 68, IPv6 1280 (409 as upstream)."""
    if mtu >= MIN_MTU[6]:
        return
    s = models.subnets
    have = set(versions) | {r[0] for r in conn.execute(
        select(s.c.ip_version).where(s.c.network_id == network_id).distinct())}
    for version in have:
        if mtu < MIN_MTU[version]:
            raise faults.Conflict(f"Invalid network MTU value {mtu} for IPv{version}: it must "
                                  f"be at least {MIN_MTU[version]}.")


_P = models.ports
_PORTS_OF = select(_P.c.id, _P.c.device_owner).where(
    _P.c.network_id == bindparam("net")).order_by(_P.c.id)
_DELETE_NETWORK = delete(models.networks).where(models.networks.c.id == bindparam("net"))


class NetworkPlugin:
    # create/update/delete take the controller's `authorize` and run it in
    # their own transaction (see Controller): one transaction a call.
    authorizes_inline = True

    def __init__(self, core: Core):
        self.core = core

    # --- reads -----------------------------------------------------------
    def _views(self, conn: Connection, rows, extended: bool = True) -> list[dict]:
        """`extended`: with the features' keys (a delete's policy check and
        hooks need only the core's, and each feature costs a query)."""
        ids = [r["id"] for r in rows]
        segs = segments_for(conn, ids)
        subnets: dict[str, list[str]] = {}
        for net_id, sub_id in _SUBNET_IDS.rows(conn, ids):
            subnets.setdefault(net_id, []).append(sub_id)
        tags = listing.tags_for(conn, ids)
        views = [_view(r, segs.get(r["id"]), subnets.get(r["id"], []), tags.get(r["id"], []))
                 for r in rows]
        return extend.views("networks", conn, views) if extended else views

    def get(self, ctx: Context, network_id: str) -> dict:
        def txn(conn):
            return self._views(conn, [get_network_row(conn, ctx, network_id)])[0]
        return self.core.db.read(txn)

    def list(self, ctx: Context, query: Query) -> list[dict]:
        n = models.networks
        where = listing.column_clauses(NETWORK, n, query.filters)
        where += listing.tag_clauses(n, query.tags)
        where += extend.filter_clauses("networks", n, query.filters)
        scope = network_scope(ctx)
        if scope is not None:
            where.append(scope)
        seg = models.segments
        for key in PROVIDER_KEYS:
            values = query.filters.get(f"provider:{key}")
            if values:
                where.append(exists().where(seg.c.network_id == n.c.id,
                                            seg.c[key].in_(values)))
        if "subnets" in query.filters:
            s = models.subnets
            where.append(exists().where(s.c.network_id == n.c.id,
                                        s.c.id.in_(query.filters["subnets"])))

        def txn(conn):
            return self._views(conn, caller_shared(
                conn, ctx, listing.run_list(conn, NETWORK, n, query, where)))
        return self.core.db.read(txn)

    # --- writes ----------------------------------------------------------
    def create(self, ctx: Context, body: dict, authorize=None) -> dict:
        if authorize is not None:
            authorize({})
        core = self.core
        owner = check_owner(ctx, body)
        requested = core.segments.segments_request(body)   # several: multi-provider
        net_id = listing.new_id()

        def txn(conn):
            core.quotas.check(conn, owner, "network")
            chosen = [core.segments.choose(conn, r, owner) for r in requested]
            seg = chosen[0][0]
            max_mtu = min(core.segments.mtu(s) for s, _ in chosen)
            mtu = body.get("mtu") or max_mtu
            if mtu > max_mtu:
                raise faults.invalid_input(f"Requested MTU is too big, maximum is {max_mtu}")
            ts = listing.now()
            row = dict(
                id=net_id, project_id=owner, name=body["name"],
                description=body["description"], status="ACTIVE",
                admin_state_up=body["admin_state_up"], shared=body["shared"],
                external=body["router:external"], mtu=mtu,
                port_security_enabled=body["port_security_enabled"],
                created_at=ts, updated_at=ts, revision_number=1)
            conn.execute(_INSERT_NETWORK, row)
            for index, (one, picked) in enumerate(chosen):
                core.segments.insert(conn, net_id, one, picked, index)
            tags = sorted(set(body.get("tags") or []))
            if tags:
                set_tags(conn, "networks", net_id, tags)
            return extend.created("networks", conn, ctx, body, _view(row, seg, [], tags))
        view = core.db.write(txn)
        core.notifier.resource_changed("network", net_id, view["revision_number"])
        return view

    def update(self, ctx: Context, network_id: str, body: dict, authorize=None) -> dict:
        core = self.core
        n = models.networks

        def txn(conn):
            row = get_network_row(conn, ctx, network_id, lock=True)
            current = self._views(conn, [row])[0]
            if authorize is not None:
                authorize(current, {})
            for key in PROVIDER_KEYS:
                attr = f"provider:{key}"
                if attr in body and body[attr] != current.get(attr):   # multi-segment: absent
                    raise faults.invalid_input("Plugin does not support updating the "
                                               "following provider network attributes: "
                                               f"{attr}")
            values = {}
            for api, col in (("name", "name"), ("description", "description"),
                             ("admin_state_up", "admin_state_up"), ("shared", "shared"),
                             ("router:external", "external"),
                             ("port_security_enabled", "port_security_enabled")):
                if api in body:
                    values[col] = body[api]
            if "mtu" in body and body["mtu"] is not None:
                seg = segments_for(conn, [network_id]).get(network_id)
                max_mtu = core.segments.mtu(seg) if seg else core.cfg.DEFAULT.global_physnet_mtu
                if body["mtu"] > max_mtu:
                    raise faults.invalid_input(f"Requested MTU is too big, maximum is {max_mtu}")
                check_mtu_for_subnets(conn, network_id, body["mtu"])
                values["mtu"] = body["mtu"]
            if values.get("shared") is False and row["shared"]:
                self._check_unshare(conn, row)
            if values:
                conn.execute(update(n).where(n.c.id == network_id).values(**values))
            if extend.updated("networks", conn, ctx, body, current, {}) or values:
                bump_revision(conn, n, network_id)
            return self._views(conn, [get_network_row(conn, ctx, network_id)])[0]
        view = core.db.write(txn)
        core.notifier.resource_changed("network", network_id, view["revision_number"])
        return view

    def _check_unshare(self, conn: Connection, row) -> None:
        p = models.ports
        other = conn.execute(select(p.c.id).where(
            p.c.network_id == row["id"], p.c.project_id != row["project_id"],
            p.c.device_owner.notin_(AUTO_DELETE_OWNERS)).limit(1)).first()
        s = models.subnets
        other_subnet = conn.execute(select(s.c.id).where(
            s.c.network_id == row["id"], s.c.project_id != row["project_id"]).limit(1)).first()
        if other or other_subnet:
            raise faults.InvalidSharedSetting(network=row["id"])

    def delete(self, ctx: Context, network_id: str, authorize=None) -> None:
        core = self.core
        s = models.subnets

        def txn(conn):
            row = get_network_row(conn, ctx, network_id, lock=True)
            view = self._views(conn, [row], extended=False)[0]
            if authorize is not None:
                authorize(view, {})
            extend.deleting("networks", conn, ctx, view)
            ports = conn.execute(_PORTS_OF, {"net": network_id}).all()
            in_use = [pid for pid, owner in ports if owner not in NETWORK_DELETE_OWNERS]
            if in_use:
                raise faults.NetworkInUse(net_id=network_id,
                                          ids=", id for these ports is: " + ", ".join(in_use))
            # Only what exists is deleted: an empty network (the usual case)
            # costs one statement more than its reads. Segments, and the
            # ports' IP allocations, go by ON DELETE CASCADE.
            auto = [pid for pid, _ in ports]
            if auto:
                fips = models.floatingips
                conn.execute(delete(fips).where(fips.c.floating_network_id == network_id))
                conn.execute(delete(_P).where(_P.c.network_id == network_id))
            subnet_ids = view["subnets"]
            if subnet_ids:
                conn.execute(delete(models.ip_allocations).where(
                    models.ip_allocations.c.network_id == network_id))
                conn.execute(delete(s).where(s.c.network_id == network_id))
            tagged = auto + subnet_ids + ([network_id] if view["tags"] else [])
            if tagged:
                conn.execute(delete(models.tags).where(models.tags.c.resource_id.in_(tagged)))
            conn.execute(_DELETE_NETWORK, {"net": network_id})
        core.db.write(txn)
        core.notifier.resource_changed("network", network_id, -1, deleted=True)
