"""Subnets: CIDR, gateway, pools, DNS servers and host routes, with Neutron's
validity and overlap checks."""
from __future__ import annotations

import ipaddress

from sqlalchemy import (String, bindparam, cast, delete, exists, insert, literal_column, null,
                        select, union_all, update)
from sqlalchemy.engine import Connection

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.api.resources import SUBNET
from neutrino.db import models
from neutrino.plugins import extend, listing
from neutrino.plugins.core import (Core, bump_revision, check_owner, get_network_row,
                                   network_policy_target, rbac_network_shared,
                                   rbac_network_visible, set_tags)
from neutrino.plugins.ipam import pools as P
from neutrino.plugins.networks import AUTO_DELETE_OWNERS, check_mtu_for_subnets
from neutrino.plugins.subnetpools import allocation


def _details_statement(holders: bool = False):
    """Pools, nameservers, routes and tags of many subnets as one UNION ALL:
    (kind, subnet id, a, b, order); with `holders`, also the ports holding
    an address of them, with their device_owner (kind 'h')."""
    ap, dn, hr, t = (models.allocation_pools, models.dns_nameservers, models.host_routes,
                     models.tags)
    ids = bindparam("ids", expanding=True)
    none, zero = cast(null(), String(255)), literal_column("0")
    extra = []
    if holders:
        ipa, p = models.ip_allocations, models.ports
        extra.append(select(literal_column("'h'"), ipa.c.subnet_id,
                            cast(ipa.c.port_id, String(255)),
                            cast(p.c.device_owner, String(255)), zero)
                     .select_from(ipa.join(p, p.c.id == ipa.c.port_id))
                     .where(ipa.c.subnet_id.in_(ids)))
    return union_all(
        select(literal_column("'p'").label("k"), ap.c.subnet_id.label("sid"),
               cast(ap.c.first_ip, String(255)).label("a"),
               cast(ap.c.last_ip, String(255)).label("b"), ap.c.id.label("o"))
        .where(ap.c.subnet_id.in_(ids)),
        select(literal_column("'d'"), dn.c.subnet_id, cast(dn.c.address, String(255)), none,
               dn.c.position).where(dn.c.subnet_id.in_(ids)),
        select(literal_column("'r'"), hr.c.subnet_id, cast(hr.c.destination, String(255)),
               cast(hr.c.nexthop, String(255)), zero).where(hr.c.subnet_id.in_(ids)),
        select(literal_column("'t'"), t.c.resource_id, t.c.tag, none, zero)
        .where(t.c.resource_id.in_(ids)), *extra)


_DETAILS = _details_statement()
_DETAILS_AND_HOLDERS = _details_statement(holders=True)


def subnet_details(conn: Connection, ids: list[str], with_tags: bool = False,
                   holders: list | None = None):
    """Pools, nameservers and routes (and tags) of many subnets in one query.
    `holders`: a list to fill with the (port id, device_owner) of the ports
    holding an address of the subnets, read by the same query."""
    found: dict[str, dict[str, list]] = {"p": {}, "d": {}, "r": {}, "t": {}, "h": {}}
    stmt = _DETAILS if holders is None else _DETAILS_AND_HOLDERS
    for part in listing.chunks(ids):
        for kind, sid, a_, b_, order in conn.execute(stmt, {"ids": part}):
            found[kind].setdefault(sid, []).append((order, a_, b_))
    if holders is not None:
        holders.extend((a_, b_) for rows in found["h"].values() for _, a_, b_ in rows)
    pools = {sid: [{"start": a_, "end": b_} for _, a_, b_ in sorted(rows)]
             for sid, rows in found["p"].items()}
    dns = {sid: [a_ for _, a_, _ in sorted(rows)] for sid, rows in found["d"].items()}
    routes = {sid: [{"destination": a_, "nexthop": b_} for _, a_, b_ in rows]
              for sid, rows in found["r"].items()}
    if not with_tags:
        return pools, dns, routes
    tags = {sid: sorted(a_ for _, a_, _ in rows) for sid, rows in found["t"].items()}
    return pools, dns, routes, tags


_INSERT_SUBNET = insert(models.subnets)
_DELETE_SUBNET = delete(models.subnets).where(models.subnets.c.id == bindparam("id"))
# The subnets a new one must not overlap (prebuilt: every create runs one).
_SAME_VERSION = select(models.subnets.c.cidr, models.subnets.c.network_id).where(
    models.subnets.c.ip_version == bindparam("version"))
_SAME_VERSION_ON_NETWORK = _SAME_VERSION.where(models.subnets.c.network_id == bindparam("net"))


_ADMIN = Context.make("", roles=("admin",))
_S, _N = models.subnets, models.networks
# SubnetPlugin._scope with the project as a parameter: built once.
_ROW = select(_S).where(_S.c.id == bindparam("id"))
_SCOPE = (_S.c.project_id == bindparam("project")) | exists().where(
    _N.c.id == _S.c.network_id, _N.c.shared | _N.c.external
    | (_N.c.project_id == bindparam("project")) | rbac_network_shared(_N, bindparam("project")))
_ROW_SCOPED = _ROW.where(_SCOPE)
# For delete: the subnet with its network's policy columns, both rows locked
# (the network as get_network_row(lock=True) would; the subnet is going).
_NET_COLS = (_N.c.project_id.label("net_project_id"), _N.c.shared.label("net_shared"),
             _N.c.external.label("net_external"))
_ROW_NET = select(_S, *_NET_COLS).join(_N, _N.c.id == _S.c.network_id).where(
    _S.c.id == bindparam("id"))
# A subnet change is a change of its network (revision bump). Where UPDATE
# ... RETURNING exists, creating a subnet reads, locks and bumps the network
# in one statement; the transaction undoes the bump if the subnet fails.
_BUMP_READ = update(_N).where(_N.c.id == bindparam("nid")).values(
    revision_number=_N.c.revision_number + 1, updated_at=bindparam("ts")).returning(*_N.c)
_BUMP_READ = {False: _BUMP_READ, True: _BUMP_READ.where(
    (_N.c.project_id == bindparam("project")) | _N.c.shared
    | rbac_network_visible(_N, bindparam("project")))}
_N2 = _N.alias("scope_net")  # the scope's own network, not correlated to the join's
_ROW_NET_LOCK = {False: _ROW_NET, True: _ROW_NET.where(
    (_S.c.project_id == bindparam("project")) | exists().where(
        _N2.c.id == _S.c.network_id, _N2.c.shared | _N2.c.external
        | (_N2.c.project_id == bindparam("project"))
        | rbac_network_shared(_N2, bindparam("project"))))}
_ROW_NET_LOCK = {k: {False: v, True: v.with_for_update()} for k, v in _ROW_NET_LOCK.items()}


class SubnetPlugin:
    # create/update/delete take the controller's `authorize` and run it in
    # their own transaction (see Controller): one transaction a call.
    authorizes_inline = True

    def __init__(self, core: Core):
        self.core = core

    def _scope(self, ctx: Context):
        if ctx.is_admin:
            return None
        s, n = models.subnets, models.networks
        # subnet-external-network: the subnets of external networks are visible
        visible_net = exists().where(n.c.id == s.c.network_id, n.c.shared | n.c.external | (
            n.c.project_id == ctx.project_id) | rbac_network_shared(n, ctx.project_id))
        return (s.c.project_id == ctx.project_id) | visible_net

    def _views(self, conn: Connection, rows, external: dict | None = None) -> list[dict]:
        """`external`: {network id: router:external} when the caller has it."""
        ids = [r["id"] for r in rows]
        pools, dns, routes, tags = subnet_details(conn, ids, with_tags=True)
        n = models.networks
        net_ids = list({r["network_id"] for r in rows})
        if external is None:
            external = {}
            for part in listing.chunks(net_ids):
                external.update(dict(conn.execute(select(n.c.id, n.c.external)
                                                  .where(n.c.id.in_(part))).all()))
        return extend.views("subnets", conn, [
            self._view(r, pools.get(r["id"], []), dns.get(r["id"], []),
                       routes.get(r["id"], []), tags.get(r["id"], []),
                       bool(external.get(r["network_id"]))) for r in rows])

    @staticmethod
    def _view(r, pools, dns, routes, tags, external) -> dict:
        return {
            "id": r["id"], "name": r["name"], "tenant_id": r["project_id"],
            "network_id": r["network_id"], "ip_version": r["ip_version"],
            "subnetpool_id": r["subnetpool_id"], "enable_dhcp": r["enable_dhcp"],
            "ipv6_ra_mode": r["ipv6_ra_mode"], "ipv6_address_mode": r["ipv6_address_mode"],
            "gateway_ip": r["gateway_ip"], "cidr": r["cidr"],
            "allocation_pools": list(pools), "host_routes": list(routes),
            "dns_nameservers": list(dns), "description": r["description"],
            "router:external": external, "service_types": [], "tags": list(tags),
            "created_at": listing.iso(r["created_at"]),
            "updated_at": listing.iso(r["updated_at"]),
            "revision_number": r["revision_number"], "project_id": r["project_id"],
        }

    def _row(self, conn, ctx, subnet_id):
        row = conn.execute(_ROW_SCOPED if not ctx.is_admin else _ROW,
                           {"id": subnet_id, "project": ctx.project_id}).mappings().first()
        if row is None:
            raise faults.SubnetNotFound(subnet_id=subnet_id)
        return row

    def get(self, ctx: Context, subnet_id: str) -> dict:
        return self.core.db.read(lambda conn: self._views(conn, [self._row(conn, ctx, subnet_id)])[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        s = models.subnets
        filters = dict(query.filters)
        where = listing.column_clauses(SUBNET, s, filters)
        where += listing.tag_clauses(s, query.tags)
        where += extend.filter_clauses("subnets", s, filters)
        if "dns_nameservers" in filters:
            dn = models.dns_nameservers
            where.append(exists().where(dn.c.subnet_id == s.c.id,
                                        dn.c.address.in_(filters["dns_nameservers"])))
        if "shared" in filters:
            n = models.networks
            where.append(exists().where(n.c.id == s.c.network_id,
                                        n.c.shared.in_(filters["shared"])))
        scope = self._scope(ctx)
        if scope is not None:
            where.append(scope)
        return self.core.db.read(
            lambda conn: self._views(conn, listing.run_list(conn, SUBNET, s, query, where)))

    def policy_target(self, ctx: Context, body: dict) -> dict:
        if not a.is_uuid(body.get("network_id")):
            raise faults.NetworkNotFound(net_id=body.get("network_id"))
        row = self.core.db.read(lambda conn: get_network_row(conn, ctx, body["network_id"]))
        return network_policy_target(row)

    def target_of(self, ctx: Context, subnet: dict) -> dict:
        return self.core.db.read(
            lambda conn: network_policy_target(get_network_row(conn, Context.make(
                "", roles=("admin",)), subnet["network_id"])))

    # --- create -----------------------------------------------------------
    def create(self, ctx: Context, body: dict, authorize=None) -> dict:
        core = self.core
        if authorize is not None and not a.is_uuid(body.get("network_id")):
            raise faults.NetworkNotFound(net_id=body.get("network_id"))
        owner = check_owner(ctx, body)
        subnet_id = listing.new_id()

        def txn(conn):
            bumped = conn.dialect.name in ("postgresql", "sqlite")
            if bumped:
                network = conn.execute(_BUMP_READ[not ctx.is_admin], {
                    "nid": body["network_id"], "ts": listing.now(),
                    "project": ctx.project_id}).mappings().first()
                if network is None:
                    raise faults.NetworkNotFound(net_id=body["network_id"])
            else:
                network = get_network_row(conn, ctx, body["network_id"], lock=True)
            if authorize is not None:
                authorize(network_policy_target(network))  # before validation, as upstream
            view = self._create(conn, body, owner, subnet_id, network, bumped, ctx)
            return extend.created("subnets", conn, ctx, body, view)
        view = core.db.write(txn)
        core.notifier.resource_changed("network", view["network_id"], -1)
        return view

    def _create(self, conn, body: dict, owner: str, subnet_id: str, network,
                bumped: bool, ctx: Context = _ADMIN) -> dict:
        core = self.core
        cfg = core.cfg.DEFAULT
        if body.get("cidr") is not None:
            net = P.parse_cidr(body["cidr"], body["ip_version"])
            body = {**body, "cidr": str(net)}
        # the CIDR from a subnet pool (subnetpool_id, use_default_subnetpool)
        cidr, pool_id = allocation.allocate(conn, ctx, body, network["id"], owner)
        if pool_id is None:
            allocation.check_affinity(conn, network["id"], net.version, None)
        else:
            net = P.parse_cidr(str(cidr), body["ip_version"])
        gateway = (P.default_gateway(net) if body.get("gateway_ip", a.UNSET) is a.UNSET
                   else P.check_gateway(net, body["gateway_ip"]))
        if body.get("allocation_pools"):
            ranges = P.check_pools(net, body["allocation_pools"], gateway)
        else:
            ranges = P.default_pools(net, gateway)
        dns = body.get("dns_nameservers") or []
        if len(dns) > cfg.max_dns_nameservers:
            raise faults.DNSNameServersExhausted(subnet_id="new subnet",
                                                 quota=cfg.max_dns_nameservers)
        routes = P.check_host_routes(net, body.get("host_routes") or [],
                                     cfg.max_subnet_host_routes)
        P.check_ipv6_modes(body["ip_version"], body.get("ipv6_ra_mode"),
                           body.get("ipv6_address_mode"), net, body["enable_dhcp"])
        check_mtu_for_subnets(conn, network["id"], network["mtu"], (net.version,))
        core.quotas.check(conn, owner, "subnet")
        self._check_overlap(conn, network["id"], net)
        ts = listing.now()
        row = dict(
            id=subnet_id, project_id=owner, network_id=network["id"], name=body["name"],
            description=body["description"], ip_version=net.version, cidr=str(net),
            gateway_ip=gateway, enable_dhcp=body["enable_dhcp"],
            ipv6_ra_mode=body.get("ipv6_ra_mode"),
            ipv6_address_mode=body.get("ipv6_address_mode"), subnetpool_id=pool_id,
            created_at=ts, updated_at=ts, revision_number=0)
        conn.execute(_INSERT_SUBNET, row)
        self._write_details(conn, subnet_id, net, ranges, dns, routes, fresh=True)
        tags = sorted(set(body.get("tags") or []))
        if tags:
            set_tags(conn, "subnets", subnet_id, tags)
        if not bumped:
            bump_revision(conn, models.networks, network["id"])
        # Built from what was written: no read-back.
        return self._view(row, P.as_dicts(net, ranges), dns, routes, tags, network["external"])

    def _check_overlap(self, conn, network_id, net):
        stmt = (_SAME_VERSION_ON_NETWORK if self.core.cfg.DEFAULT.allow_overlapping_ips
                else _SAME_VERSION)
        for cidr, _ in conn.execute(stmt, {"version": net.version, "net": network_id}):
            if ipaddress.ip_network(cidr).overlaps(net):
                raise faults.invalid_input(
                    f"Requested subnet with cidr: {net} for network: {network_id} overlaps "
                    "with another subnet")

    def _write_details(self, conn, subnet_id, net, ranges, dns, routes, fresh=False):
        """Replace pools, nameservers and routes given (None: keep); a fresh
        subnet has nothing to delete first."""
        cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
        ap, dn, hr = models.allocation_pools, models.dns_nameservers, models.host_routes
        for table, given, rows in (
                (ap, ranges, lambda: [{"subnet_id": subnet_id, "first_ip": str(cls(lo)),
                                       "last_ip": str(cls(hi))} for lo, hi in ranges]),
                (dn, dns, lambda: [{"subnet_id": subnet_id, "address": addr, "position": i}
                                   for i, addr in enumerate(dns)]),
                (hr, routes, lambda: [{"subnet_id": subnet_id, **r} for r in routes])):
            if given is None:
                continue
            if not fresh:
                conn.execute(delete(table).where(table.c.subnet_id == subnet_id))
            if given:
                conn.execute(table.insert(), rows())

    # --- update / delete ----------------------------------------------------
    def update(self, ctx: Context, subnet_id: str, body: dict, authorize=None) -> dict:
        core = self.core
        cfg = core.cfg.DEFAULT
        s = models.subnets

        def txn(conn):
            row = self._row(conn, ctx, subnet_id)
            netrow = get_network_row(conn, _ADMIN, row["network_id"])
            current = self._views(conn, [row], {netrow["id"]: netrow["external"]})[0]
            if authorize is not None:
                authorize(current, network_policy_target(netrow))
            net = ipaddress.ip_network(row["cidr"])
            values = {k: body[k] for k in ("name", "description", "enable_dhcp") if k in body}
            gateway = row["gateway_ip"]
            if "gateway_ip" in body:
                gateway = P.check_gateway(net, body["gateway_ip"])
                values["gateway_ip"] = gateway
                if row["gateway_ip"] and gateway != row["gateway_ip"]:
                    # a router interface answers on the current gateway address:
                    # moving it would strand the instances' default route
                    holder = _router_port_on(conn, subnet_id, row["gateway_ip"])
                    if holder:
                        raise faults.GatewayIpInUse(ip_address=row["gateway_ip"],
                                                    port_id=holder)
            ranges = None
            if body.get("allocation_pools") is not None:
                ranges = P.check_pools(net, body["allocation_pools"], gateway)
            elif "gateway_ip" in body and gateway:
                pools, _, _ = subnet_details(conn, [subnet_id])
                P.check_pools(net, pools.get(subnet_id, []), gateway)
            dns = body.get("dns_nameservers")
            if dns is not None and len(dns) > cfg.max_dns_nameservers:
                raise faults.DNSNameServersExhausted(subnet_id=subnet_id,
                                                     quota=cfg.max_dns_nameservers)
            routes = None
            if body.get("host_routes") is not None:
                routes = P.check_host_routes(net, body["host_routes"],
                                             cfg.max_subnet_host_routes, subnet_id)
            if values:
                conn.execute(update(s).where(s.c.id == subnet_id).values(**values))
            self._write_details(conn, subnet_id, net, ranges, dns, routes)
            extend.updated("subnets", conn, ctx, body, current, {})
            bump_revision(conn, s, subnet_id)
            return self._views(conn, [self._row(conn, ctx, subnet_id)])[0]
        view = core.db.write(txn)
        core.notifier.resource_changed("network", view["network_id"], -1)
        return view

    def delete(self, ctx: Context, subnet_id: str, authorize=None) -> None:
        core = self.core
        ipa, p = models.ip_allocations, models.ports

        def txn(conn):
            lock = conn.dialect.name != "sqlite"
            row = conn.execute(_ROW_NET_LOCK[not ctx.is_admin][lock],
                               {"id": subnet_id, "project": ctx.project_id}).mappings().first()
            if row is None:
                raise faults.SubnetNotFound(subnet_id=subnet_id)
            # The view (for the policy check) and the holders of its addresses
            # in one query.
            holders: list[tuple[str, str]] = []
            pools, dns, routes, tags = subnet_details(conn, [subnet_id], True, holders)
            tags = tags.get(subnet_id, [])
            view = self._view(row, pools.get(subnet_id, []), dns.get(subnet_id, []),
                              routes.get(subnet_id, []), tags, bool(row["net_external"]))
            # The core's view: a delete's policy check and hooks need no
            # feature's keys (each would be a query); hooks read what they need.
            if authorize is not None:
                authorize(view, {"network:project_id": row["net_project_id"],
                                 "network:shared": row["net_shared"],
                                 "network:router:external": row["net_external"]})
            # Addresses of SLAAC/stateless subnets are derived, not handed out:
            # they go with the subnet, except a router's.
            auto = P.is_auto_address(row)
            if auto:
                busy = any(owner == "network:router_interface" for _, owner in holders)
            else:
                busy = any(owner not in AUTO_DELETE_OWNERS for _, owner in holders)
            if busy:
                raise faults.SubnetInUse(subnet_id=subnet_id)
            extend.deleting("subnets", conn, ctx, view)
            if holders:
                conn.execute(delete(ipa).where(ipa.c.subnet_id == subnet_id))
                for port_id in sorted({h[0] for h in holders}):  # their fixed_ips changed
                    bump_revision(conn, p, port_id)
            if tags:
                conn.execute(delete(models.tags).where(models.tags.c.resource_id == subnet_id))
            conn.execute(_DELETE_SUBNET, {"id": subnet_id})
            bump_revision(conn, models.networks, row["network_id"])
            return row["network_id"]
        network_id = core.db.write(txn)
        core.notifier.resource_changed("network", network_id, -1)


def _router_port_on(conn, subnet_id: str, ip: str) -> str | None:
    """The router interface port holding `ip` on the subnet, if any."""
    ipa, p = models.ip_allocations, models.ports
    return conn.execute(select(p.c.id).join(ipa, ipa.c.port_id == p.c.id).where(
        ipa.c.subnet_id == subnet_id, ipa.c.ip_address == ip,
        p.c.device_owner == "network:router_interface").limit(1)).scalar()
