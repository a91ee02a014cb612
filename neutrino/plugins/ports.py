"""Ports: MAC and fixed IPs (IPAM), security groups, address pairs, port
security and binding. The hot path of the API: one transaction, bulk reads."""
from __future__ import annotations

import json

from sqlalchemy import bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.policy import Context, admin_context
from neutrino.api.query import Query
from neutrino.api.resources import PORT
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import extend, listing
from neutrino.plugins.core import (Core, bump_revision, check_owner, get_network_row,
                                   network_policy_target, set_tags)
from neutrino.plugins.ipam import allocator as ipam
from neutrino.plugins.ml2.segments import segment_for_host
from neutrino.plugins.segments import ipam as segment_ipam
from neutrino.plugins.port_owners import (UnsupportedPortDeviceOwner,
                                          check_router_device_id)
from neutrino.plugins.races import retry_if_parent_vanished
from neutrino.plugins.rbac import registry as rbac_registry
from neutrino.plugins.secgroups import ensure_default_group, check_groups_usable


L3_OWNERS = ("network:router_interface", "network:router_gateway", "network:floatingip")


def is_trusted(device_owner: str) -> bool:
    """Network-owned ports (DHCP, router) get no security groups by default."""
    return device_owner.startswith("network:")


_P = models.ports
_INSERT_PORT = insert(_P)
_INSERT_PSG = insert(models.port_security_groups)
_PORT_SCOPE = (_P.c.project_id == bindparam("project")) | exists().where(
    models.networks.c.id == _P.c.network_id, models.networks.c.project_id == bindparam("project"))
_N = models.networks
# The port's network's policy attributes come with the port row (scalar
# subqueries: a FOR UPDATE of the statement locks the port row only).
_NET_TARGET = tuple(
    select(_N.c[col]).where(_N.c.id == _P.c.network_id).scalar_subquery().label(label)
    for col, label in (("project_id", "net_project_id"), ("shared", "net_shared"),
                       ("external", "net_external")))
_ROW = {}
for _scoped in (False, True):
    _stmt = select(_P, *_NET_TARGET).where(_P.c.id == bindparam("id"))
    if _scoped:
        _stmt = _stmt.where(_PORT_SCOPE)
    _ROW[(_scoped, False)], _ROW[(_scoped, True)] = _stmt, _stmt.with_for_update()
_UPDATE_PORT = update(_P).where(_P.c.id == bindparam("pid"))
_DELETE_PORT = delete(_P).where(_P.c.id == bindparam("pid"))
_DELETE_TAGS = delete(models.tags).where(models.tags.c.resource_id == bindparam("rid"))
_REV = select(_P.c.id, _P.c.revision_number).where(_P.c.id == bindparam("id"))
_REV_SCOPED = _REV.where(_PORT_SCOPE)


_IPS = listing.ChildQuery(models.ip_allocations.c.port_id, models.ip_allocations.c.subnet_id,
                          models.ip_allocations.c.ip_address)
_SGS = listing.ChildQuery(models.port_security_groups.c.port_id,
                          models.port_security_groups.c.security_group_id)
_PAIRS = listing.ChildQuery(models.allowed_address_pairs.c.port_id,
                            models.allowed_address_pairs.c.mac_address,
                            models.allowed_address_pairs.c.ip_address)


def port_views(conn: Connection, rows, extended: bool = True) -> list[dict]:
    """`extended`: with the features' keys (a delete's policy check and
    hooks need only the core's, and each feature costs a query)."""
    ids = [r["id"] for r in rows]
    ips: dict[str, list] = {}
    sgs: dict[str, list] = {}
    pairs: dict[str, list] = {}
    for pid, sid, ip in _IPS.rows(conn, ids):
        ips.setdefault(pid, []).append({"subnet_id": sid, "ip_address": ip})
    for pid, gid in _SGS.rows(conn, ids):
        sgs.setdefault(pid, []).append(gid)
    for pid, mac, ip in _PAIRS.rows(conn, ids):
        pairs.setdefault(pid, []).append({"ip_address": ip, "mac_address": mac})
    tags = listing.tags_for(conn, ids)
    views = [_view(r, ips.get(r["id"], []), sgs.get(r["id"], []), pairs.get(r["id"], []),
                   tags.get(r["id"], [])) for r in rows]
    return extend.views("ports", conn, views) if extended else views


def _net_target(row) -> dict:
    """network_policy_target() from a row of _ROW."""
    return {"network:project_id": row["net_project_id"], "network:shared": row["net_shared"],
            "network:router:external": row["net_external"]}


def _json(text: str):
    return {} if text in ("{}", "", None) else json.loads(text)


class ViewCache:
    """Rendered port views keyed by (id, revision_number). Every change to
    what a port shows bumps its revision, so a hit is always current, in
    every API worker, without invalidation messages."""

    def __init__(self, size: int = 200_000):
        self.size = size
        self.views: dict[tuple[str, int], dict] = {}

    def get(self, key):
        return self.views.get(key)

    def put_all(self, views: list[dict]) -> None:
        if len(self.views) + len(views) > self.size:
            self.views.clear()
        for v in views:
            self.views[(v["id"], v["revision_number"])] = v


def _view(r, fixed_ips, groups, pairs, tags) -> dict:
    return {
        "id": r["id"], "name": r["name"], "network_id": r["network_id"],
        "tenant_id": r["project_id"], "mac_address": r["mac_address"],
        "admin_state_up": r["admin_state_up"], "status": r["status"],
        "device_id": r["device_id"], "device_owner": r["device_owner"],
        "fixed_ips": sorted(fixed_ips, key=lambda f: (":" in f["ip_address"], f["subnet_id"])),
        "allowed_address_pairs": pairs,
        "security_groups": sorted(groups), "description": r["description"],
        "binding:vnic_type": r["binding_vnic_type"],
        "binding:profile": _json(r["binding_profile"]),
        "binding:host_id": r["binding_host"],
        "binding:vif_type": r["binding_vif_type"],
        "binding:vif_details": _json(r["binding_vif_details"]),
        "port_security_enabled": r["port_security_enabled"],
        "tags": tags,
        "created_at": listing.iso(r["created_at"]), "updated_at": listing.iso(r["updated_at"]),
        "revision_number": r["revision_number"], "project_id": r["project_id"],
    }


def network_subnets(conn: Connection, network_id: str) -> list[dict]:
    s = models.subnets
    return [dict(r) for r in conn.execute(
        select(s.c.id, s.c.cidr, s.c.ip_version, s.c.gateway_ip, s.c.ipv6_address_mode,
               s.c.enable_dhcp).where(s.c.network_id == network_id)
        .order_by(s.c.created_at, s.c.id)).mappings()]


class PortPlugin:
    # The controller hands create/update/delete an `authorize` callback that
    # runs inside their transaction (see Controller): one transaction a call.
    authorizes_inline = True

    def __init__(self, core: Core):
        self.core = core
        self.cache = ViewCache()

    def _current(self, conn, row) -> dict:
        return self.cache.get((row["id"], row["revision_number"])) or port_views(conn, [row])[0]

    # --- reads -------------------------------------------------------------
    def _scope(self, ctx: Context):
        if ctx.is_admin:
            return None
        p, n = models.ports, models.networks
        return (p.c.project_id == ctx.project_id) | exists().where(
            n.c.id == p.c.network_id, n.c.project_id == ctx.project_id)

    def _row(self, conn, ctx, port_id, lock=False):
        lock = lock and conn.dialect.name != "sqlite"
        row = conn.execute(_ROW[(not ctx.is_admin, lock)],
                           {"id": port_id, "project": ctx.project_id}).mappings().first()
        if row is None:
            raise faults.PortNotFound(port_id=port_id)
        return row

    def get(self, ctx: Context, port_id: str) -> dict:
        scoped = not ctx.is_admin

        def txn(conn):
            key = conn.execute(_REV_SCOPED if scoped else _REV,
                               {"id": port_id, "project": ctx.project_id}).first()
            if key is None:
                raise faults.PortNotFound(port_id=port_id)
            view = self.cache.get(tuple(key))
            if view is None:
                view = port_views(conn, [self._row(conn, ctx, port_id)])[0]
                self.cache.put_all([view])
            return view
        return self.core.db.read(txn)

    def list(self, ctx: Context, query: Query) -> list[dict]:
        p = models.ports
        filters = dict(query.filters)
        where = listing.column_clauses(PORT, p, filters)
        where += listing.tag_clauses(p, query.tags)
        where += extend.filter_clauses("ports", p, filters)
        ipa = models.ip_allocations
        for spec in filters.get("fixed_ips", []):
            where.append(self._fixed_ip_clause(spec))
        if "security_groups" in filters:
            psg = models.port_security_groups
            where.append(exists().where(psg.c.port_id == p.c.id,
                                        psg.c.security_group_id.in_(filters["security_groups"])))
        scope = self._scope(ctx)
        if scope is not None:
            where.append(scope)
        del ipa
        cache = self.cache

        simple = not any(k in filters for k in ("fixed_ips", "security_groups"))

        def txn(conn):
            keys = None
            if simple:
                keys = listing.simple_list(conn, PORT, p, query, (p.c.id, p.c.revision_number),
                                           None if ctx.is_admin else (lambda: _PORT_SCOPE),
                                           {"project": ctx.project_id})
            if keys is None:
                keys = listing.run_list(conn, PORT, p, query, where,
                                        columns=(p.c.id, p.c.revision_number))
            missing = [k[0] for k in keys if cache.get(tuple(k)) is None]
            fresh = {}
            for part in listing.chunks(missing):
                rows = conn.execute(select(p).where(p.c.id.in_(part))).mappings().all()
                for view in port_views(conn, rows):
                    fresh[(view["id"], view["revision_number"])] = view
            cache.put_all(list(fresh.values()))
            return [fresh.get(tuple(k)) or cache.get(tuple(k)) for k in keys]
        return [v for v in self.core.db.read(txn) if v is not None]

    @staticmethod
    def _fixed_ip_clause(spec):
        p, ipa = models.ports, models.ip_allocations
        key, _, value = str(spec).partition("=")
        if key == "ip_address":
            cond = ipa.c.ip_address == value
        elif key == "subnet_id":
            cond = ipa.c.subnet_id == value
        elif key == "ip_address_substr":
            cond = ipa.c.ip_address.contains(value, autoescape=True)
        else:
            raise faults.HTTPBadRequest(f"Invalid fixed_ips filter '{spec}'")
        return exists().where(ipa.c.port_id == p.c.id, cond)

    def policy_target(self, ctx: Context, body: dict) -> dict:
        if not a.is_uuid(body.get("network_id")):
            raise faults.NetworkNotFound(net_id=body.get("network_id"))
        row = self.core.db.read(lambda conn: get_network_row(conn, ctx, body["network_id"]))
        return network_policy_target(row)

    def target_of(self, ctx: Context, port: dict) -> dict:
        return self.core.db.read(lambda conn: network_policy_target(
            get_network_row(conn, admin_context(), port["network_id"])))

    # --- create ------------------------------------------------------------
    def create(self, ctx: Context, body: dict, authorize=None) -> dict:
        if authorize is not None and not a.is_uuid(body.get("network_id")):
            raise faults.NetworkNotFound(net_id=body.get("network_id"))
        owner = check_owner(ctx, body)
        view = self.core.db.write(retry_if_parent_vanished(
            lambda conn: self.create_in(conn, ctx, body, owner, authorize)))
        self._remember(view, body)
        self._notify(view, ())
        return view

    def _remember(self, view: dict, body: dict) -> None:
        """Cache a view this call wrote, so the next update, delete or show
        reads no child rows. Only when its list order cannot differ from a
        view built from the database (which returns several address pairs,
        or several IPs of one subnet, in its own order)."""
        if body.get("allowed_address_pairs") or body.get("fixed_ips"):
            return
        if len(view["fixed_ips"]) > 1 or view["allowed_address_pairs"]:
            return
        self.cache.put_all([dict(view)])

    def create_in(self, conn: Connection, ctx: Context, body: dict, owner: str,
                  authorize=None) -> dict:
        """Create a port inside the caller's transaction (routers, floating
        IPs and DHCP create their ports together with their own rows). The
        caller notifies agents after commit. `authorize(network target)`:
        the API's policy check, once the network is read."""
        core = self.core
        port_id = body.get("id") or listing.new_id()
        device_owner = body.get("device_owner") or ""
        body = {"name": "", "description": "", "admin_state_up": True, **body}
        # The network with its subnets and pools: one round trip for both.
        found = ipam.network_with_subnets(conn, body["network_id"],
                                          None if ctx.is_admin else ctx.project_id)
        if found is None:
            raise faults.NetworkNotFound(net_id=body["network_id"])
        net, subnets, ranges = found
        if authorize is not None:
            authorize(network_policy_target(net))
        if not (ctx.is_admin or net["project_id"] == ctx.project_id or net["shared"]
                or rbac_registry.is_shared_with(conn, "network", net["id"], ctx.project_id)):
            raise faults.HTTPForbidden(
                f"Tenant {ctx.project_id} not allowed to create port on this network")
        check_router_device_id(conn, ctx, device_owner, body.get("device_id") or "", owner)
        if len(body.get("fixed_ips") or ()) > core.cfg.DEFAULT.max_fixed_ips_per_port:
            raise faults.invalid_input("Exceeded maximum amount of fixed ips per port.")
        core.quotas.check(conn, owner, "port")
        port_security = body.get("port_security_enabled")
        if port_security is None:
            port_security = net["port_security_enabled"]
        groups = body.get("security_groups")
        pairs = body.get("allowed_address_pairs") or []
        if not port_security:
            if groups:
                raise faults.PortSecurityAndIPRequiredForSecurityGroups()
            if pairs:
                raise faults.AddressPairAndPortSecurityRequired()
        if groups is None:
            groups = ([] if not port_security or is_trusted(device_owner)
                      else [ensure_default_group(conn, owner)])
        else:
            check_groups_usable(conn, ctx, owner, groups)
        mac = body.get("mac_address")
        requested_mac = mac is not None
        if requested_mac:
            p = models.ports
            if conn.execute(select(p.c.id).where(p.c.network_id == net["id"],
                                                 p.c.mac_address == mac)).first():
                raise faults.MacAddressInUse(net_id=net["id"], mac=mac)
        else:
            mac = ipam.random_mac(core.cfg.DEFAULT.base_mac)
        ts = listing.now()
        values = dict(
            id=port_id, project_id=owner, network_id=net["id"], name=body["name"],
            description=body["description"], mac_address=mac,
            admin_state_up=body["admin_state_up"], status="DOWN",
            device_id=body.get("device_id") or "", device_owner=device_owner,
            port_security_enabled=port_security,
            binding_host=body.get("binding:host_id") or "",
            binding_vnic_type=body.get("binding:vnic_type") or "normal",
            binding_profile=json.dumps(body.get("binding:profile") or {}),
            binding_vif_type="unbound", binding_vif_details="{}",
            created_at=ts, updated_at=ts, revision_number=1)
        try:
            conn.execute(_INSERT_PORT, values)
        except IntegrityError:
            if requested_mac:
                raise faults.MacAddressInUse(net_id=net["id"], mac=mac) from None
            raise RetryTransaction("generated MAC collided") from None
        fixed = self._allocate(conn, net["id"], port_id, mac, body.get("fixed_ips"),
                               device_owner, layout=(subnets, ranges),
                               host=values["binding_host"])
        if groups:
            conn.execute(_INSERT_PSG, [{"port_id": port_id, "security_group_id": g}
                                       for g in groups])
        if pairs:
            pairs = self._write_pairs(conn, port_id, mac, pairs)
        tags = sorted(set(body.get("tags") or []))
        if tags:
            set_tags(conn, "ports", port_id, tags)
        # The view is built from what was written: no read-back.
        view = _view(values, fixed, groups, pairs, tags)
        extend.created("ports", conn, ctx, body, view)
        if values["binding_host"]:
            view = self._bind(conn, values, view)
        return view

    def _allocate(self, conn, network_id, port_id, mac, fixed_ips, device_owner,
                  keep: list[dict] = (), layout=None, host: str | None = None) -> list[dict]:
        """Allocate the addresses asked for (or the defaults); returns the
        new fixed_ips as [{subnet_id, ip_address}]. `layout`: the network's
        (subnets, ranges) when the caller has read them."""
        subnets, ranges = layout or ipam.network_subnets_and_ranges(conn, network_id)
        # service types and routed networks (segments) narrow the subnets
        subnets = segment_ipam.usable_subnets(conn, network_id, subnets, device_owner, host,
                                              fixed_ips)
        is_router = device_owner in ("network:router_interface", "network:router_gateway")
        if fixed_ips is None:
            wanted = ipam.default_fixed_ips(subnets, mac, is_router)
        else:
            wanted = ipam.resolve_fixed_ips(network_id, subnets, fixed_ips, mac, is_router)
        kept = {(k["subnet_id"], k["ip_address"]) for k in keep}
        allocated: dict[int, dict] = {}
        # Named addresses first, so that a random pick in the same request
        # cannot take one of them; the answer keeps the request's order.
        for index, item in enumerate(wanted):
            if item["ip_address"] is None:
                continue
            subnet = item["subnet"]
            if (subnet["id"], item["ip_address"]) in kept:
                continue
            if item["requested"] and ipam.ip_in_use(conn, subnet["id"], item["ip_address"]):
                raise faults.IpAddressAlreadyAllocated(ip=item["ip_address"],
                                                       subnet_id=subnet["id"])
            ipam.insert_ip(conn, port_id, network_id, subnet["id"], item["ip_address"],
                           item["requested"])
            allocated[index] = {"subnet_id": subnet["id"], "ip_address": item["ip_address"]}
        for index, item in enumerate(wanted):
            if item["ip_address"] is not None:
                continue
            candidates = item.get("subnets") or [item["subnet"]]
            for subnet in candidates:
                ip = ipam.allocate_ip(conn, port_id, network_id, subnet, ranges[subnet["id"]])
                if ip is not None:
                    allocated[index] = {"subnet_id": subnet["id"], "ip_address": ip}
                    break
            else:
                raise faults.IpAddressGenerationFailure(net_id=network_id)
        return [allocated[i] for i in sorted(allocated)]

    def _write_pairs(self, conn, port_id, mac, pairs):
        seen = set()
        rows = []
        for pair in pairs:
            ip = pair.get("ip_address")
            if not ip:
                raise faults.HTTPBadRequest("Invalid input for allowed_address_pairs. Reason: "
                                            "Missing ip_address.")
            reason = a.ip_check(ip.split("/")[0]) if isinstance(ip, str) else "not a string"
            if reason:
                raise faults.HTTPBadRequest(
                    f"Invalid input for allowed_address_pairs. Reason: {reason}.")
            pmac = a.to_mac(pair.get("mac_address") or mac)
            reason = a.mac_check(pmac)
            if reason:
                raise faults.HTTPBadRequest(
                    f"Invalid input for allowed_address_pairs. Reason: {reason}.")
            if (pmac, ip) in seen:
                raise faults.HTTPBadRequest(
                    "Invalid input for allowed_address_pairs. Reason: Duplicate address pair.")
            seen.add((pmac, ip))
            rows.append({"port_id": port_id, "mac_address": pmac, "ip_address": ip})
        conn.execute(models.allowed_address_pairs.insert(), rows)
        return [{"ip_address": r["ip_address"], "mac_address": r["mac_address"]} for r in rows]

    def _bind(self, conn, row, view) -> dict:
        seg = segment_for_host(conn, row["network_id"], row["binding_host"])
        binding = self.core.mech.bind(conn, view, seg, row["binding_host"])
        p = models.ports
        conn.execute(update(p).where(p.c.id == row["id"]).values(**binding.columns()))
        view["binding:vif_type"] = binding.vif_type
        view["binding:vif_details"] = binding.vif_details
        return view

    # --- update ------------------------------------------------------------
    def update(self, ctx: Context, port_id: str, body: dict, authorize=None) -> dict:
        core = self.core
        p = models.ports
        old_host, old_groups = [], []

        def txn(conn):
            row = self._row(conn, ctx, port_id, lock=True)
            old_host[:] = [row["binding_host"]]
            current = self._current(conn, row)
            old_groups[:] = current["security_groups"]
            if authorize is not None:
                authorize(current, _net_target(row))
            owner_now = body.get("device_owner") or row["device_owner"]
            if (owner_now and body.get("device_id", row["device_id"]) != row["device_id"]
                    or "device_owner" in body):
                check_router_device_id(conn, ctx, owner_now,
                                       body.get("device_id") or row["device_id"],
                                       row["project_id"])
            values = {}
            for api, col in (("name", "name"), ("description", "description"),
                             ("admin_state_up", "admin_state_up"), ("device_id", "device_id"),
                             ("device_owner", "device_owner"),
                             ("binding:vnic_type", "binding_vnic_type")):
                if api in body:
                    values[col] = body[api]
            if "binding:profile" in body:
                values["binding_profile"] = json.dumps(body["binding:profile"] or {})
            port_security = body.get("port_security_enabled", current["port_security_enabled"])
            if "port_security_enabled" in body:
                values["port_security_enabled"] = port_security
            groups = body.get("security_groups")
            effective_groups = current["security_groups"] if groups is None else groups
            pairs = body.get("allowed_address_pairs")
            effective_pairs = current["allowed_address_pairs"] if pairs is None else pairs
            if not port_security:
                if effective_groups:
                    if groups is None and "port_security_enabled" in body:
                        raise faults.PortSecurityPortHasSecurityGroup()
                    raise faults.PortSecurityAndIPRequiredForSecurityGroups()
                if effective_pairs:
                    raise faults.AddressPairAndPortSecurityRequired()
            mac = current["mac_address"]
            if body.get("mac_address") and body["mac_address"] != mac:
                if is_trusted(row["device_owner"]):
                    raise UnsupportedPortDeviceOwner(op="mac address update", port_id=port_id,
                                                     device_owner=row["device_owner"])
                if current["binding:vif_type"] not in ("unbound", "binding_failed"):
                    raise faults.Conflict(f"Port {port_id} is bound: its MAC cannot change")
                mac = body["mac_address"]
                if conn.execute(select(p.c.id).where(p.c.network_id == row["network_id"],
                                                     p.c.mac_address == mac)).first():
                    raise faults.MacAddressInUse(net_id=row["network_id"], mac=mac)
                values["mac_address"] = mac
            if "binding:host_id" in body and body["binding:host_id"] != row["binding_host"]:
                values["binding_host"] = body["binding:host_id"] or ""
                values["status"] = "DOWN"
            fixed = current["fixed_ips"]
            if body.get("fixed_ips") is not None:
                fixed = self._replace_ips(conn, row, mac, body["fixed_ips"], fixed)
            elif (values.get("binding_host") and not fixed
                  and segment_ipam.is_routed(conn, row["network_id"])):
                # routed network: the allocation deferred until bound
                fixed = self._allocate(conn, row["network_id"], port_id, mac, None,
                                       values.get("device_owner", row["device_owner"]),
                                       host=values["binding_host"])
            elif values.get("binding_host") and fixed:
                segment_ipam.check_host_fits(conn, row["network_id"], port_id, fixed,
                                             values["binding_host"])
            if groups is not None:
                check_groups_usable(conn, ctx, row["project_id"], groups)
                psg = models.port_security_groups
                conn.execute(delete(psg).where(psg.c.port_id == port_id))
                if groups:
                    conn.execute(_INSERT_PSG, [{"port_id": port_id, "security_group_id": g}
                                               for g in groups])
            if pairs is not None:
                aap = models.allowed_address_pairs
                conn.execute(delete(aap).where(aap.c.port_id == port_id))
                pairs = self._write_pairs(conn, port_id, mac, pairs) if pairs else []
            values["revision_number"] = row["revision_number"] + 1
            values["updated_at"] = listing.now()
            new = {**row, **values}
            if new["binding_host"] and ("binding_host" in values or "binding_vnic_type" in values
                                        or new["binding_vif_type"] == "binding_failed"):
                seg = segment_for_host(conn, row["network_id"], new["binding_host"])
                binding = self.core.mech.bind(conn, {**current, "id": port_id,
                                                     "binding:vnic_type": new["binding_vnic_type"]},
                                              seg, new["binding_host"])
                values.update(binding.columns())
            elif not new["binding_host"] and new["binding_vif_type"] != "unbound":
                values.update(binding_vif_type="unbound", binding_vif_details="{}")
            new.update(values)
            conn.execute(_UPDATE_PORT, {"pid": port_id, **values})
            view = _view(new, fixed, current["security_groups"] if groups is None else groups,
                         current["allowed_address_pairs"] if pairs is None else pairs,
                         current["tags"])
            extend.updated("ports", conn, ctx, body, current, view)
            return view
        view = core.db.write(retry_if_parent_vanished(txn))
        self._remember(view, body)
        self._notify(view, tuple(h for h in old_host if h), old_groups)
        return view

    def _replace_ips(self, conn, row, mac, fixed_ips, current) -> list[dict]:
        """Keep the addresses asked for again, free the others, allocate new;
        returns the port's fixed_ips afterwards."""
        ipa = models.ip_allocations
        # As upstream (_get_changed_ips_for_port): an entry naming only a
        # subnet reuses an address the port already has there.
        named = {f.get("ip_address") for f in fixed_ips if f.get("ip_address")}
        spare = [c for c in current if c["ip_address"] not in named]
        fixed_ips = list(fixed_ips)
        for i, f in enumerate(fixed_ips):
            if f.get("subnet_id") and not f.get("ip_address") and set(f) <= {
                    "subnet_id", "ip_address"}:
                cur = next((c for c in spare if c["subnet_id"] == f["subnet_id"]), None)
                if cur is not None:
                    spare.remove(cur)
                    fixed_ips[i] = {"subnet_id": cur["subnet_id"], "ip_address": cur["ip_address"]}
        wanted = {(f.get("subnet_id"), f.get("ip_address")) for f in fixed_ips}
        keep = []
        for cur in current:
            match = ((cur["subnet_id"], cur["ip_address"]) in wanted
                     or (None, cur["ip_address"]) in wanted)
            if match:
                keep.append(cur)
            else:
                conn.execute(delete(ipa).where(ipa.c.port_id == row["id"],
                                               ipa.c.subnet_id == cur["subnet_id"],
                                               ipa.c.ip_address == cur["ip_address"]))
        if len(fixed_ips) > self.core.cfg.DEFAULT.max_fixed_ips_per_port:
            raise faults.invalid_input("Exceeded maximum amount of fixed ips per port.")
        added = self._allocate(conn, row["network_id"], row["id"], mac, fixed_ips,
                               row["device_owner"], keep=keep, host=row["binding_host"])
        return keep + added

    # --- delete --------------------------------------------------------------
    def delete(self, ctx: Context, port_id: str, authorize=None) -> None:
        core = self.core
        groups: list[str] = []

        def txn(conn):
            # Locked: a router taking this port as interface (which locks it
            # too) either waits and then finds no port (404), or goes first
            # and this sees a router's port (409 L3PortInUse).
            row = self._row(conn, ctx, port_id, lock=True)
            # The cached view, else the core's alone: the policy check and the
            # delete hooks use no feature's keys (each would be a query).
            current = (self.cache.get((row["id"], row["revision_number"]))
                       or port_views(conn, [row], extended=False)[0])
            if authorize is not None:
                authorize(current, _net_target(row))
            tagged = bool(current["tags"])  # current: its revision is the row's
            if row["device_owner"] in L3_OWNERS:
                raise faults.L3PortInUse(port_id=port_id, device_owner=row["device_owner"])
            if extend.of("ports"):
                extend.deleting("ports", conn, ctx, current)
            groups[:] = current["security_groups"]
            self.delete_in(conn, port_id, tagged)
            return row
        row = core.db.write(txn)
        self.notify_deleted(row, groups)

    @staticmethod
    def delete_in(conn: Connection, port_id: str, tagged: bool = True) -> None:
        # IP allocations, security group and address pair rows go by ON DELETE CASCADE.
        if tagged:
            conn.execute(_DELETE_TAGS, {"rid": port_id})
        conn.execute(_DELETE_PORT, {"pid": port_id})

    def notify_deleted(self, row, groups: list[str] | None = None) -> None:
        """`groups`: the port's security groups (None: not known, every host
        with a remote-group rule re-reads its sets)."""
        self.core.notifier.resource_changed(
            "port", row["id"], -1, hosts=(row["binding_host"],) if row["binding_host"] else (),
            deleted=True, network_id=row["network_id"], security_groups=groups)

    # --- for agents ------------------------------------------------------------
    def set_status(self, port_ids: list[str], status: str, host: str | None = None) -> list[str]:
        """Agent reports; returns the ids whose status changed."""
        p = models.ports

        def txn(conn):
            stmt = select(p.c.id).where(p.c.id.in_(port_ids), p.c.status != status)
            if host is not None:
                stmt = stmt.where(or_(p.c.binding_host == host, p.c.binding_host == ""))
            changed = [r[0] for r in conn.execute(stmt)]
            if changed:
                conn.execute(update(p).where(p.c.id.in_(changed)).values(
                    status=status, updated_at=listing.now(),
                    revision_number=p.c.revision_number + 1))
            return changed
        return self.core.db.write(txn) if port_ids else []

    def _notify(self, view: dict, old_hosts: tuple[str, ...], old_groups=()) -> None:
        hosts = tuple(sorted({*old_hosts, view["binding:host_id"]} - {""}))
        groups = sorted({*view.get("security_groups", ()), *old_groups})
        self.core.notifier.resource_changed("port", view["id"], view["revision_number"],
                                            hosts=hosts, network_id=view["network_id"],
                                            security_groups=groups)
