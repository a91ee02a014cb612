"""Routers: gateway on an external network (with SNAT switch), interfaces on
tenant subnets, extra routes, and placement on an L3 agent. The ports a
router owns are created in the same transaction as the router rows."""
from __future__ import annotations

import ipaddress

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from neutrino.api import faults
from neutrino.api.attributes import UNSET, is_uuid
from neutrino.api.policy import Context, admin_context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.plugins import extend, listing
from neutrino.plugins.core import Core, bump_revision, check_owner, get_network_row, set_tags
from neutrino.plugins.ipam import allocator as ipam
from neutrino.plugins.l3 import ha, scheduling
from neutrino.plugins.ports import PortPlugin, port_views
from neutrino.plugins.races import retry_if_parent_vanished

R, RP, RR = models.routers, models.router_ports, models.router_routes
P, IPA, S = models.ports, models.ip_allocations, models.subnets
FIP = models.floatingips
GW_OWNER = "network:router_gateway"
IF_OWNER = "network:router_interface"
MAX_ROUTES = 30


class RouterExternalGatewayInUseByFloatingIp(faults.InUse):
    message = ("Gateway cannot be updated for router {router_id}, since a gateway to external "
               "network {net_id} is required by one or more floating IPs.")


class SubnetMismatchForPort(faults.NeutronError):
    status = 400
    message = "Subnet on port {port_id} does not match the requested subnet {subnet_id}."


def bad_router(msg: str) -> faults.BadRequest:
    return faults.BadRequest(resource="router", msg=msg)


class RouterPlugin:
    def __init__(self, core: Core, ports: PortPlugin):
        self.core = core
        self.ports = ports
        self.down_time = core.cfg.DEFAULT.agent_down_time

    # --- reads -------------------------------------------------------------------
    def _row(self, conn, ctx: Context, router_id: str, lock: bool = False):
        """`lock`: hold the router row until commit, so that changes to its
        ports (interfaces, gateway, delete) on one router run one at a time
        and each sees the others' outcome: the loser of a race gets 404/409,
        not a half-applied change."""
        stmt = select(R).where(R.c.id == router_id)
        if not ctx.is_admin:
            stmt = stmt.where(R.c.project_id == ctx.project_id)
        if lock and conn.dialect.name != "sqlite":  # SQLite: one writer at a time
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise faults.RouterNotFound(router_id=router_id)
        return row

    def _views(self, conn, rows) -> list[dict]:
        ids = [r["id"] for r in rows]
        gw_ids = [r["gw_port_id"] for r in rows if r["gw_port_id"]]
        gw_ports = {}
        if gw_ids:
            gw_ports = {v["id"]: v for v in port_views(conn, conn.execute(
                select(P).where(P.c.id.in_(gw_ids))).mappings().all())}
        routes: dict[str, list] = {}
        for rid, dest, hop in conn.execute(select(RR.c.router_id, RR.c.destination, RR.c.nexthop)
                                           .where(RR.c.router_id.in_(ids))):
            routes.setdefault(rid, []).append({"destination": dest, "nexthop": hop})
        tags = listing.tags_for(conn, ids)
        out = []
        for r in rows:
            gw = gw_ports.get(r["gw_port_id"])
            info = None
            if gw is not None:
                info = {"network_id": gw["network_id"], "enable_snat": r["enable_snat"],
                        "external_fixed_ips": [dict(f) for f in gw["fixed_ips"]]}
            out.append({
                "id": r["id"], "name": r["name"], "description": r["description"],
                "status": r["status"], "admin_state_up": r["admin_state_up"],
                "tenant_id": r["project_id"], "project_id": r["project_id"],
                "external_gateway_info": info, "routes": routes.get(r["id"], []),
                "availability_zone_hints": [], "availability_zones": [], "ha": r["ha"],
                "tags": tags.get(r["id"], []),
                "created_at": listing.iso(r["created_at"]),
                "updated_at": listing.iso(r["updated_at"]),
                "revision_number": r["revision_number"]})
        return extend.views("routers", conn, out)

    def get(self, ctx: Context, router_id: str) -> dict:
        return self.core.db.read(lambda conn: self._views(conn, [self._row(conn, ctx, router_id)])[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        from neutrino.api.resources import ROUTER
        where = listing.column_clauses(ROUTER, R, query.filters)
        where += listing.tag_clauses(R, query.tags)
        where += extend.filter_clauses("routers", R, query.filters)
        if not ctx.is_admin:
            where.append(R.c.project_id == ctx.project_id)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, ROUTER, R, query, where)))

    # --- create / update / delete ------------------------------------------------
    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)
        router_id = listing.new_id()
        is_ha = body.get("ha", UNSET)
        is_ha = self.core.cfg.DEFAULT.l3_ha if is_ha is UNSET else bool(is_ha)
        ha_ports: list[dict] = []

        def txn(conn):
            ha_ports.clear()
            self.core.quotas.check(conn, owner, "router")
            ts = listing.now()
            conn.execute(insert(R).values(
                id=router_id, project_id=owner, name=body["name"],
                description=body["description"], status="ACTIVE",
                admin_state_up=body["admin_state_up"], gw_port_id=None, enable_snat=True,
                created_at=ts, updated_at=ts, revision_number=0, ha=is_ha))
            info = body.get("external_gateway_info")
            if info:
                self._set_gateway(conn, router_id, info, ctx)
            if body.get("tags"):
                set_tags(conn, "routers", router_id, body["tags"])
            # the extensions' rows first: scheduling reads availability zone hints
            extend.created("routers", conn, ctx, body, {"id": router_id, "project_id": owner})
            if is_ha:
                ha.make_ha(conn, self.core, router_id, owner)
                ha_ports.extend(ha.schedule(conn, self.core, router_id, owner))
            else:
                scheduling.schedule_router(conn, router_id, self.down_time)
            return self._views(conn, [self._row(conn, admin_context(), router_id)])[0]
        view = self.core.db.write(retry_if_parent_vanished(txn))
        self._notify_ports(ha_ports)
        self._notify(router_id, view["revision_number"])
        return view

    def update(self, ctx: Context, router_id: str, body: dict) -> dict:
        hosts: list[str] = []
        ha_ports: list[dict] = []
        gone: list = []

        def txn(conn):
            hosts[:], ha_ports[:], gone[:] = [], [], []
            row = self._row(conn, ctx, router_id, lock=True)
            if extend.of("routers"):
                extend.updated("routers", conn, ctx, body, self._views(conn, [row])[0], {})
            if "ha" in body and bool(body["ha"]) != row["ha"]:
                hosts.extend(scheduling.router_hosts(conn, router_id))
                self._change_ha(conn, row, bool(body["ha"]), ha_ports, gone)
            values = {k: body[k] for k in ("name", "description", "admin_state_up") if k in body}
            if values:
                conn.execute(update(R).where(R.c.id == router_id).values(**values))
            if "external_gateway_info" in body:
                info = body["external_gateway_info"] or {}
                self._update_gateway(conn, row, info, ctx)
            if "routes" in body:  # null clears, as upstream
                routes = body["routes"]
                if callable(routes):    # extraroute-atomic: a change of the current ones
                    routes = routes(self._views(conn, [row])[0]["routes"])
                self._set_routes(conn, router_id, routes or [])
            bump_revision(conn, R, router_id)
            return self._views(conn, [self._row(conn, admin_context(), router_id)])[0]
        view = self.core.db.write(retry_if_parent_vanished(txn))
        self._notify_ha_changes(ha_ports, gone)
        self._notify(router_id, view["revision_number"], extra_hosts=hosts)
        return view

    def _change_ha(self, conn, row, to_ha: bool, ha_ports: list, gone: list) -> None:
        """Upstream's rule: a router changes mode only while it is down."""
        if row["admin_state_up"]:
            raise bad_router("Cannot change HA attribute of active routers. Please set router "
                             "admin_state_up to False prior to upgrade")
        router_id, owner = row["id"], row["project_id"]
        if to_ha:
            conn.execute(delete(scheduling.RB).where(scheduling.RB.c.router_id == router_id))
            conn.execute(update(R).where(R.c.id == router_id).values(ha=True))
            ha.make_ha(conn, self.core, router_id, owner)
            ha_ports.extend(ha.schedule(conn, self.core, router_id, owner))
        else:
            gone.append(ha.unmake(conn, self.core, router_id, owner))
            conn.execute(update(R).where(R.c.id == router_id).values(ha=False))
            scheduling.schedule_router(conn, router_id, self.down_time)

    def _notify_ports(self, ports: list[dict]) -> None:
        for port in ports:
            self.core.notifier.resource_changed("port", port["id"], -1,
                                                network_id=port["network_id"],
                                                hosts=(port["binding_host"],))

    def _notify_ha_changes(self, made: list[dict], gone: list) -> None:
        self._notify_ports(made)
        for rows, net_id in gone:
            for row in rows:
                self.ports.notify_deleted(row, groups=[])
            if net_id:
                self.core.notifier.resource_changed("network", net_id, -1, deleted=True)

    def delete(self, ctx: Context, router_id: str) -> None:
        deleted_ports = []

        def txn(conn):
            row = self._row(conn, ctx, router_id, lock=True)
            if conn.execute(select(RP.c.port_id).where(
                    RP.c.router_id == router_id, RP.c.port_type == IF_OWNER).limit(1)).first():
                raise faults.RouterInUse(router_id=router_id, reason="still has ports")
            if extend.of("routers"):
                extend.deleting("routers", conn, ctx, self._views(conn, [row])[0])
            hosts = scheduling.router_hosts(conn, router_id)
            if row["gw_port_id"]:
                deleted_ports.append(self._clear_gateway(conn, row))
            gone[:] = [ha.unmake(conn, self.core, router_id, row["project_id"])] if row["ha"] else []
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == router_id))
            conn.execute(delete(R).where(R.c.id == router_id))
            return hosts
        gone: list = []
        hosts = self.core.db.write(txn)
        for port in deleted_ports:
            self.ports.notify_deleted(port)
        self._notify_ha_changes([], gone)
        self.core.notifier.resource_changed("router", router_id, -1, deleted=True,
                                            hosts=hosts)

    # --- gateway -----------------------------------------------------------------
    def _set_gateway(self, conn, router_id: str, info: dict, ctx: Context) -> None:
        if not isinstance(info, dict) or not info.get("network_id"):
            raise bad_router("external_gateway_info needs a network_id")
        # As the caller: another project's private network is as absent as
        # a random id (404), not "not external" (400).
        net = get_network_row(conn, ctx, info["network_id"])
        if not net["external"]:
            raise bad_router(f"Network {net['id']} is not an external network")
        fixed = info.get("external_fixed_ips") or None
        self._check_external_ips(conn, net["id"], fixed or [])
        ext_subnets = conn.execute(select(S.c.id, S.c.cidr).where(
            S.c.network_id == net["id"])).mappings().all()
        self._check_dup_subnets(conn, router_id, ext_subnets)
        port = self.ports.create_in(conn, admin_context(), {
            "network_id": net["id"], "device_owner": GW_OWNER, "device_id": router_id,
            "fixed_ips": fixed, "security_groups": [], "port_security_enabled": False}, "")
        # As upstream: an external network without subnets gives a gateway
        # port without addresses (the agent wires no gateway until one comes).
        if not port["fixed_ips"] and ext_subnets:
            raise bad_router(f"No IP address could be allocated on external network {net['id']}")
        conn.execute(insert(RP).values(router_id=router_id, port_id=port["id"],
                                       port_type=GW_OWNER))
        conn.execute(update(R).where(R.c.id == router_id).values(
            gw_port_id=port["id"], enable_snat=info.get("enable_snat", True) is not False))

    @staticmethod
    def _check_external_ips(conn, network_id: str, ext_ips) -> None:
        """The gateway port may not take an external subnet's gateway address."""
        wanted = {f.get("ip_address") for f in ext_ips if isinstance(f, dict)} - {None, ""}
        if not wanted:
            return
        gateways = {g for (g,) in conn.execute(select(S.c.gateway_ip).where(
            S.c.network_id == network_id, S.c.gateway_ip.is_not(None)))}
        for ip in sorted(wanted & gateways):
            raise bad_router(f"External IP {ip} is the same as the gateway IP")

    def _clear_gateway(self, conn, row):
        gw = conn.execute(select(P).where(P.c.id == row["gw_port_id"])).mappings().first()
        if gw is not None:
            in_use = conn.execute(select(FIP.c.id).where(
                FIP.c.router_id == row["id"], FIP.c.floating_network_id == gw["network_id"],
                FIP.c.fixed_port_id.is_not(None)).limit(1)).first()
            if in_use:
                raise RouterExternalGatewayInUseByFloatingIp(router_id=row["id"],
                                                             net_id=gw["network_id"])
            self.ports.delete_in(conn, gw["id"])
        conn.execute(update(R).where(R.c.id == row["id"]).values(gw_port_id=None))
        return gw

    def _update_gateway(self, conn, row, info: dict, ctx: Context) -> None:
        current = None
        if row["gw_port_id"]:
            current = conn.execute(select(P.c.network_id).where(P.c.id == row["gw_port_id"])).scalar()
        if not info.get("network_id"):
            if row["gw_port_id"]:
                self._clear_gateway(conn, row)
            return
        if current == info["network_id"]:
            values = {}
            if "enable_snat" in info:
                values["enable_snat"] = info["enable_snat"] is not False
            if values:
                conn.execute(update(R).where(R.c.id == row["id"]).values(**values))
            if info.get("external_fixed_ips"):
                self._check_external_ips(conn, current, info["external_fixed_ips"])
                gw_view = port_views(conn, conn.execute(
                    select(P).where(P.c.id == row["gw_port_id"])).mappings().all())[0]
                self.ports._replace_ips(conn, {"id": row["gw_port_id"], "network_id": current,
                                               "device_owner": GW_OWNER},
                                        gw_view["mac_address"], info["external_fixed_ips"],
                                        gw_view["fixed_ips"])
                bump_revision(conn, P, row["gw_port_id"])
            return
        if row["gw_port_id"]:
            self._clear_gateway(conn, row)
        self._set_gateway(conn, row["id"], info, ctx)

    # --- routes ------------------------------------------------------------------
    def _set_routes(self, conn, router_id: str, routes: list) -> None:
        if not isinstance(routes, list):
            raise faults.InvalidRoutes(routes=routes, reason="routes must be a list")
        if len(routes) > MAX_ROUTES:
            raise faults.RoutesExhausted(router_id=router_id, quota=MAX_ROUTES)
        cidrs = [ipaddress.ip_network(c) for c in self._interface_cidrs(conn, router_id)]
        clean = []
        for route in routes:
            try:
                dest = ipaddress.ip_network(route["destination"])
                hop = ipaddress.ip_address(route["nexthop"])
            except (KeyError, TypeError, ValueError):
                raise faults.InvalidRoutes(routes=routes, reason="bad destination or nexthop") from None
            if not any(hop in c for c in cidrs):
                raise faults.InvalidRoutes(routes=route, reason="the nexthop is not connected with router")
            item = {"destination": str(dest), "nexthop": str(hop)}
            if item not in clean:
                clean.append(item)
        conn.execute(delete(RR).where(RR.c.router_id == router_id))
        if clean:
            conn.execute(RR.insert(), [{"router_id": router_id, **r} for r in clean])

    def _interface_cidrs(self, conn, router_id: str, owners=(IF_OWNER, GW_OWNER)) -> list[str]:
        return [row[0] for row in conn.execute(
            select(S.c.cidr).select_from(RP.join(IPA, IPA.c.port_id == RP.c.port_id)
                                         .join(S, S.c.id == IPA.c.subnet_id))
            .where(RP.c.router_id == router_id, RP.c.port_type.in_(owners)))]

    # --- interfaces --------------------------------------------------------------
    def add_interface(self, ctx: Context, router_id: str, body: dict) -> dict:
        subnet_id, port_id = self._interface_args(body)
        from neutrino.plugins.subnets import SubnetPlugin

        def txn(conn):
            router = self._row(conn, ctx, router_id, lock=True)
            if subnet_id:
                subnet = SubnetPlugin(self.core)._row(conn, ctx, subnet_id)
                if not subnet["gateway_ip"]:
                    raise bad_router("Subnet for router interface must have a gateway IP")
                if subnet["project_id"] != ctx.project_id and not ctx.is_admin:
                    # Upstream (LP-1757482): the interface would take the
                    # gateway address of somebody else's shared subnet.
                    raise bad_router(f"Cannot add interface to router because subnet "
                                     f"{subnet_id} is not owned by project making the request")
                self._check_address_mode(subnet)
                self._check_dup_subnets(conn, router_id, [subnet])
                merged = self._add_ipv6_prefix(conn, router_id, subnet)
                if merged is not None:
                    changed.append(merged)
                    bump_revision(conn, R, router_id)
                    return {"id": router_id, "tenant_id": router["project_id"],
                            "project_id": router["project_id"], "port_id": merged["id"],
                            "network_id": merged["network_id"], "subnet_id": subnet_id,
                            "subnet_ids": [subnet_id]}
                port = self.ports.create_in(conn, admin_context(), {
                    "network_id": subnet["network_id"], "device_owner": IF_OWNER,
                    "device_id": router_id, "security_groups": [],
                    "fixed_ips": [{"subnet_id": subnet_id, "ip_address": subnet["gateway_ip"]}]},
                    router["project_id"])
            else:
                row = self.ports._row(conn, ctx, port_id, lock=True)
                if row["device_id"]:  # upstream _check_router_port: the owner is replaced
                    raise faults.PortInUse(port_id=port_id, net_id=row["network_id"],
                                           device_id=row["device_id"])
                port = port_views(conn, [row])[0]
                if not port["fixed_ips"]:
                    raise bad_router("Router port must have at least one fixed IP")
                subnets = [SubnetPlugin(self.core)._row(conn, admin_context(), f["subnet_id"])
                           for f in port["fixed_ips"]]
                for subnet in subnets:
                    self._check_address_mode(subnet)
                self._check_one_ipv6_port_per_network(conn, router_id, port)
                self._check_dup_subnets(conn, router_id, subnets)
                if len([s for s in subnets if s["ip_version"] == 4]) > 1:
                    raise bad_router("Cannot have multiple IPv4 subnets on router port")
                if not ctx.is_admin:
                    self._check_port_in_pools(conn, ctx, port, subnets)
                conn.execute(update(P).where(P.c.id == port_id).values(
                    device_owner=IF_OWNER, device_id=router_id))
                bump_revision(conn, P, port_id)
            conn.execute(insert(RP).values(router_id=router_id, port_id=port["id"],
                                           port_type=IF_OWNER))
            bump_revision(conn, R, router_id)
            scheduling.schedule_router(conn, router_id, self.down_time)
            ids = [f["subnet_id"] for f in port["fixed_ips"]]
            return {"id": router_id, "tenant_id": router["project_id"],
                    "project_id": router["project_id"], "port_id": port["id"],
                    "network_id": port["network_id"], "subnet_id": ids[0], "subnet_ids": ids}
        changed = []
        result = self.core.db.write(retry_if_parent_vanished(txn))
        for row in changed:
            self.core.notifier.resource_changed(
                "port", row["id"], -1, network_id=row["network_id"],
                hosts=(row["binding_host"],) if row["binding_host"] else ())
        self._notify(router_id, -1)
        return result

    @staticmethod
    def _add_ipv6_prefix(conn, router_id: str, subnet):
        """Upstream: a second IPv6 subnet of a network the router already has
        an IPv6 interface on becomes one more prefix of that port, not a
        port of its own. Returns that port's row, or None."""
        if subnet["ip_version"] != 6:
            return None
        existing = conn.execute(
            select(P).select_from(RP.join(P, P.c.id == RP.c.port_id)
                                  .join(IPA, IPA.c.port_id == P.c.id))
            .where(RP.c.router_id == router_id, RP.c.port_type == IF_OWNER,
                   P.c.network_id == subnet["network_id"], IPA.c.ip_address.contains(":"))
            .limit(1)).mappings().first()
        if existing is None:
            return None
        if ipam.ip_in_use(conn, subnet["id"], subnet["gateway_ip"]):
            raise faults.IpAddressAlreadyAllocated(ip=subnet["gateway_ip"],
                                                   subnet_id=subnet["id"])
        ipam.insert_ip(conn, existing["id"], subnet["network_id"], subnet["id"],
                       subnet["gateway_ip"], True)
        bump_revision(conn, P, existing["id"])
        return existing

    @staticmethod
    def _interface_args(body, for_removal: bool = False) -> tuple[str | None, str | None]:
        """Upstream's checks, in its order; removal may name both (the
        subnet must then be one of the port's)."""
        if not isinstance(body, dict):
            raise faults.HTTPBadRequest("Body contains invalid data")
        if "subnet_id" not in body and "port_id" not in body:
            raise bad_router("Either subnet_id or port_id must be specified")
        for key in ("port_id", "subnet_id"):
            if key in body and not is_uuid(body[key]):
                raise bad_router(f"'{body[key]}' is not a valid UUID")
        subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
        if subnet_id and port_id and not for_removal:
            raise bad_router("Cannot specify both subnet-id and port-id")
        return subnet_id, port_id

    def _interface_subnets(self, conn, router_id: str) -> list:
        return conn.execute(
            select(S.c.id, S.c.cidr, IPA.c.port_id).select_from(
                RP.join(IPA, IPA.c.port_id == RP.c.port_id).join(S, S.c.id == IPA.c.subnet_id))
            .where(RP.c.router_id == router_id, RP.c.port_type == IF_OWNER)).all()

    @staticmethod
    def _check_dup_subnets(conn, router_id: str, subnets) -> None:
        """Upstream's _check_for_dup_router_subnets: no second port on a
        subnet the router has an address on (its gateway's included), and no
        subnet overlapping one it is attached to, where the gateway counts
        with every subnet of its external network (an interface must not
        take the router's own gateway address, or the external gateway's)."""
        new_ids = {s["id"] for s in subnets}
        attached = conn.execute(
            select(IPA.c.subnet_id, RP.c.port_type, P.c.network_id).select_from(
                RP.join(IPA, IPA.c.port_id == RP.c.port_id).join(P, P.c.id == RP.c.port_id))
            .where(RP.c.router_id == router_id)).all()
        router_subnets, gw_networks = set(), set()
        for sid, port_type, network_id in attached:
            if sid in new_ids:
                raise bad_router(f"Router already has a port on subnet {sid}")
            if port_type == GW_OWNER:
                gw_networks.add(network_id)
            else:
                router_subnets.add(sid)
        where = S.c.id.in_(router_subnets)
        if gw_networks:
            where = where | S.c.network_id.in_(gw_networks)
        for sid, cidr in conn.execute(select(S.c.id, S.c.cidr).where(where).order_by(S.c.id)):
            current = ipaddress.ip_network(cidr)
            for subnet in subnets:
                if current.overlaps(ipaddress.ip_network(subnet["cidr"])):
                    raise bad_router(f"Cidr {subnet['cidr']} of subnet {subnet['id']} overlaps "
                                     f"with cidr {cidr} of subnet {sid}")

    @staticmethod
    def _check_address_mode(subnet) -> None:
        """An IPv6 subnet whose hosts take RAs from an external router
        (address mode without RA mode) is not for a neutrino router."""
        if (subnet["ip_version"] == 6 and subnet["ipv6_ra_mode"] is None
                and subnet["ipv6_address_mode"] is not None):
            raise bad_router(f"IPv6 subnet {subnet['id']} configured to receive RAs from an "
                             "external router cannot be added to Neutron Router")

    @staticmethod
    def _check_one_ipv6_port_per_network(conn, router_id: str, port: dict) -> None:
        if not any(":" in f["ip_address"] for f in port["fixed_ips"]):
            return
        others = conn.execute(
            select(P.c.id, P.c.network_id).select_from(
                RP.join(P, P.c.id == RP.c.port_id).join(IPA, IPA.c.port_id == P.c.id))
            .where(RP.c.router_id == router_id, P.c.id != port["id"],
                   P.c.network_id == port["network_id"], IPA.c.ip_address.contains(":"))
            .limit(1)).first()
        if others:
            raise bad_router(f"Router already contains IPv6 port {others[0]} belonging to "
                             f"network id {others[1]}. Only one IPv6 port from the same "
                             f"network subnet can be connected to a router.")

    @staticmethod
    def _check_port_in_pools(conn, ctx: Context, port: dict, subnets) -> None:
        """A member's port may bring an address outside the allocation pools
        (the gateway's, say) only on a subnet of its own project."""
        owners = {s["id"]: s["project_id"] for s in subnets}
        ap = models.allocation_pools
        pools: dict[str, list] = {}
        for sid, first, last in conn.execute(select(ap.c.subnet_id, ap.c.first_ip, ap.c.last_ip)
                                             .where(ap.c.subnet_id.in_(list(owners)))):
            pools.setdefault(sid, []).append((ipaddress.ip_address(first),
                                              ipaddress.ip_address(last)))
        for fixed in port["fixed_ips"]:
            ip = ipaddress.ip_address(fixed["ip_address"])
            in_pool = any(first <= ip <= last for first, last in pools.get(fixed["subnet_id"], ())
                          if first.version == ip.version)
            if not in_pool and owners[fixed["subnet_id"]] != ctx.project_id:
                raise bad_router(
                    f"Cannot add interface to router because specified port {port['id']} has "
                    f"an IP address out of the allocation pool of subnet {fixed['subnet_id']}, "
                    f"which is not owned by the project making the request")

    def remove_interface(self, ctx: Context, router_id: str, body: dict) -> dict:
        subnet_id, port_id = self._interface_args(body, for_removal=True)
        removed, kept = [], []

        def txn(conn):
            router = self._row(conn, ctx, router_id, lock=True)
            interfaces = self._interface_subnets(conn, router_id)
            if port_id:
                mine = [i for i in interfaces if i.port_id == port_id]
                if not mine:
                    raise faults.RouterInterfaceNotFound(router_id=router_id, port_id=port_id)
                if subnet_id and subnet_id not in {i.id for i in mine}:
                    raise SubnetMismatchForPort(port_id=port_id, subnet_id=subnet_id)
            else:
                mine = [i for i in interfaces if i.id == subnet_id]
                if not mine:
                    raise faults.RouterInterfaceNotFoundForSubnet(router_id=router_id,
                                                                  subnet_id=subnet_id)
            target_port = mine[0].port_id
            for sid, cidr, _ in mine:
                net = ipaddress.ip_network(cidr)
                for (fixed,) in conn.execute(select(FIP.c.fixed_ip_address).where(
                        FIP.c.router_id == router_id, FIP.c.fixed_port_id.is_not(None))):
                    if ipaddress.ip_address(fixed) in net:
                        raise faults.RouterInterfaceInUseByFloatingIP(router_id=router_id,
                                                                      subnet_id=sid)
            for sid, cidr, _ in mine:
                for (hop,) in conn.execute(select(RR.c.nexthop).where(RR.c.router_id == router_id)):
                    if ipaddress.ip_address(hop) in ipaddress.ip_network(cidr):
                        raise faults.RouterInterfaceInUseByRoute(router_id=router_id,
                                                                 subnet_id=sid)
            row = conn.execute(select(P).where(P.c.id == target_port)).mappings().first()
            if row is None:  # gone meanwhile (the router lock makes this unlikely)
                raise faults.RouterInterfaceNotFound(router_id=router_id, port_id=target_port)
            subnets = [i.id for i in interfaces if i.port_id == target_port]
            bump_revision(conn, R, router_id)
            if not port_id and len(subnets) > 1:
                # One prefix of a port with several: only its address goes,
                # the interface stays on the others (upstream).
                conn.execute(delete(IPA).where(IPA.c.port_id == target_port,
                                               IPA.c.subnet_id == subnet_id))
                bump_revision(conn, P, target_port)
                kept.append(row)
                subnets = [subnet_id]
            else:
                self.ports.delete_in(conn, target_port)
                removed.append(row)
            return {"id": router_id, "tenant_id": router["project_id"],
                    "project_id": router["project_id"], "port_id": target_port,
                    "network_id": row["network_id"], "subnet_id": subnets[0],
                    "subnet_ids": subnets}
        result = self.core.db.write(txn)
        for row in removed:
            self.ports.notify_deleted(row)
        for row in kept:
            self.core.notifier.resource_changed(
                "port", row["id"], -1, network_id=row["network_id"],
                hosts=(row["binding_host"],) if row["binding_host"] else ())
        self._notify(router_id, -1)
        return result

    # --- agents ------------------------------------------------------------------
    def l3_agents(self, ctx: Context, router_id: str) -> dict:
        from neutrino.plugins.agents import AgentPlugin
        agents = AgentPlugin(self.core)

        def txn(conn):
            router = self._row(conn, ctx, router_id)
            rb = scheduling.RB
            rows = conn.execute(select(models.agents, rb.c.ha_state).join(
                rb, rb.c.agent_id == models.agents.c.id)
                .where(rb.c.router_id == router_id)
                .order_by(models.agents.c.host)).mappings().all()
            views = [agents._view(r) for r in rows]
            if router["ha"]:    # l3-ha: each instance's VRRP state
                states = ha.shown_states(
                    [{"agent_id": r["id"], "ha_state": r["ha_state"]} for r in rows],
                    {v["id"]: v["alive"] for v in views})
                for view in views:
                    view["ha_state"] = states[view["id"]]
            return {"agents": views}
        return self.core.db.read(txn)

    def _notify(self, router_id: str, revision: int, extra_hosts=()) -> None:
        hosts = self.core.db.read(lambda conn: scheduling.router_hosts(conn, router_id))
        self.core.notifier.resource_changed("router", router_id, revision,
                                            hosts=tuple(sorted(set(hosts) | set(extra_hosts))))
