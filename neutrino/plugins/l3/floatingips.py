"""Floating IPs: an address (and port) on an external network, mapped 1:1
to a fixed IP behind a router that has its gateway on that network."""
from __future__ import annotations

import ipaddress

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.policy import Context, admin_context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import extend, listing
from neutrino.plugins.core import Core, bump_revision, check_owner, get_network_row, set_tags
from neutrino.plugins.l3 import scheduling
from neutrino.plugins.ports import PortPlugin, port_views
from neutrino.plugins.races import is_foreign_key_violation, retry_if_parent_vanished

FIP, P, R, RP = models.floatingips, models.ports, models.routers, models.router_ports
IPA, S = models.ip_allocations, models.subnets


def bad_fip(msg: str) -> faults.BadRequest:
    return faults.BadRequest(resource="floatingip", msg=msg)


class FloatingIPPlugin:
    def __init__(self, core: Core, ports: PortPlugin):
        self.core = core
        self.ports = ports

    def _view(self, r, tags=()) -> dict:
        # The association is fixed_port_id: when the port is deleted the
        # database clears it (ON DELETE SET NULL) and the rest of the
        # association means nothing any more (sweep_orphans clears it too).
        bound = r["fixed_port_id"] is not None
        return {"id": r["id"], "tenant_id": r["project_id"], "project_id": r["project_id"],
                "floating_ip_address": r["floating_ip_address"],
                "floating_network_id": r["floating_network_id"],
                "router_id": r["router_id"] if bound else None,
                "port_id": r["fixed_port_id"],
                "fixed_ip_address": r["fixed_ip_address"] if bound else None,
                "status": r["status"] if bound else "DOWN",
                "description": r["description"], "tags": list(tags),
                "created_at": listing.iso(r["created_at"]),
                "updated_at": listing.iso(r["updated_at"]),
                "revision_number": r["revision_number"]}

    def _views(self, conn, rows):
        tags = listing.tags_for(conn, [r["id"] for r in rows])
        return extend.views("floatingips", conn,
                            [self._view(r, tags.get(r["id"], [])) for r in rows])

    def _row(self, conn, ctx: Context, fip_id: str):
        stmt = select(FIP).where(FIP.c.id == fip_id)
        if not ctx.is_admin:
            stmt = stmt.where(FIP.c.project_id == ctx.project_id)
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise faults.FloatingIPNotFound(floatingip_id=fip_id)
        return row

    def get(self, ctx: Context, fip_id: str) -> dict:
        return self.core.db.read(lambda conn: self._views(conn, [self._row(conn, ctx, fip_id)])[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        from neutrino.api.resources import FLOATINGIP
        filters = dict(query.filters)
        if "port_id" in filters:
            filters["fixed_port_id"] = filters.pop("port_id")
        where = listing.column_clauses(FLOATINGIP, FIP, filters)
        if "fixed_port_id" in filters:
            where.append(FIP.c.fixed_port_id.in_(filters["fixed_port_id"]))
        where += listing.tag_clauses(FIP, query.tags)
        where += extend.filter_clauses("floatingips", FIP, filters)
        if not ctx.is_admin:
            where.append(FIP.c.project_id == ctx.project_id)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, FLOATINGIP, FIP, query, where)))

    # --- writes ------------------------------------------------------------------
    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)
        fip_id = listing.new_id()

        def txn(conn):
            # As the caller (upstream): another project's private network is
            # as absent as a random id, not "not a valid external network".
            net = get_network_row(conn, ctx, body["floating_network_id"])
            if not net["external"]:
                raise bad_fip(f"Network {net['id']} is not a valid external network")
            if body.get("fixed_ip_address") and not body.get("port_id"):
                raise bad_fip("fixed_ip_address cannot be specified without a port_id")
            self.core.quotas.check(conn, owner, "floatingip")
            fixed = None
            if body.get("floating_ip_address"):
                fixed = [{"ip_address": body["floating_ip_address"]}]
                if body.get("subnet_id"):
                    fixed[0]["subnet_id"] = body["subnet_id"]
            elif body.get("subnet_id"):
                fixed = [{"subnet_id": body["subnet_id"]}]
            port = self.ports.create_in(conn, admin_context(), {
                "network_id": net["id"], "device_owner": "network:floatingip",
                "device_id": fip_id, "fixed_ips": fixed, "security_groups": [],
                "port_security_enabled": False}, "")
            v4 = [f for f in port["fixed_ips"] if ":" not in f["ip_address"]]
            if not v4:
                raise bad_fip(f"No IPv4 address could be allocated on network {net['id']}")
            ts = listing.now()
            row = {"id": fip_id, "project_id": owner, "description": body.get("description", ""),
                   "floating_ip_address": v4[0]["ip_address"], "floating_network_id": net["id"],
                   "floating_port_id": port["id"], "fixed_port_id": None,
                   "fixed_ip_address": None, "router_id": None, "status": "DOWN",
                   "created_at": ts, "updated_at": ts, "revision_number": 0}
            if body.get("port_id"):
                row.update(self._association(conn, ctx, row, body["port_id"],
                                             body.get("fixed_ip_address")))
            try:
                conn.execute(insert(FIP).values(**row))
            except IntegrityError as exc:
                if is_foreign_key_violation(exc):  # its port or router went meanwhile
                    raise RetryTransaction("a referenced row vanished") from None
                raise self._already(row) from None
            if body.get("tags"):
                set_tags(conn, "floatingips", fip_id, body["tags"])
            return extend.created("floatingips", conn, ctx, body,
                                  self._view(row, sorted(set(body.get("tags") or []))))
        view = self.core.db.write(retry_if_parent_vanished(txn))
        self._notify(view)
        return view

    def _already(self, row) -> faults.NeutronError:
        return faults.FloatingIPPortAlreadyAssociated(
            floating_ip_address=row["floating_ip_address"], fip_id=row["id"],
            port_id=row["fixed_port_id"], fixed_ip=row["fixed_ip_address"],
            net_id=row["floating_network_id"])

    def _association(self, conn: Connection, ctx: Context, fip: dict, port_id: str,
                     fixed_ip: str | None) -> dict:
        port_row = self.ports._row(conn, ctx, port_id)
        if port_row["project_id"] != fip["project_id"] and not ctx.is_admin:
            # visible to the network's owner, but not theirs to map
            raise bad_fip(f"Cannot process floating IP association with Port {port_id}, "
                          "since that port is owned by a different tenant")
        port = port_views(conn, [port_row])[0]
        if port["device_owner"].startswith("network:"):
            raise bad_fip(f"Port {port_id} has owner {port['device_owner']} and therefore "
                          "cannot be associated with a floating IP")
        v4 = [f for f in port["fixed_ips"] if ":" not in f["ip_address"]]
        if fixed_ip:
            if ":" in fixed_ip:
                raise bad_fip(f"Cannot process floating IP association with {fixed_ip}, "
                              "since that is not an IPv4 address")
            chosen = [f for f in v4 if f["ip_address"] == fixed_ip]
            if not chosen:
                raise bad_fip(f"Port {port_id} does not have fixed ip {fixed_ip}")
        else:
            if not v4:
                raise bad_fip(f"Cannot add floating IP to port {port_id} that has no fixed "
                              "IPv4 addresses")
            if len(v4) > 1:
                raise bad_fip(f"Port {port_id} has multiple fixed IPv4 addresses.  Must provide "
                              "a specific IPv4 address when assigning a floating IP")
            chosen = v4
        subnet_id, address = chosen[0]["subnet_id"], chosen[0]["ip_address"]
        router_id = self._router_for(conn, fip["floating_network_id"], subnet_id)
        if router_id is not None and conn.dialect.name != "sqlite":
            # Interface removal and gateway changes lock the router for
            # update: hold it shared, then look again, so that neither can
            # pull the path from under this association (nor this one slip
            # past their floating IP check).
            conn.execute(select(R.c.id).where(R.c.id == router_id).with_for_update(read=True))
            router_id = self._router_for(conn, fip["floating_network_id"], subnet_id)
        if router_id is None:
            raise faults.ExternalGatewayForFloatingIPNotFound(
                external_network_id=fip["floating_network_id"], subnet_id=subnet_id,
                port_id=port_id)
        taken = conn.execute(select(FIP.c.id).where(
            FIP.c.floating_network_id == fip["floating_network_id"],
            FIP.c.fixed_port_id == port_id, FIP.c.fixed_ip_address == address,
            FIP.c.id != fip["id"])).first()
        if taken:
            raise self._already({**fip, "fixed_port_id": port_id, "fixed_ip_address": address})
        return {"fixed_port_id": port_id, "fixed_ip_address": address, "router_id": router_id}

    @staticmethod
    def _router_for(conn, external_net: str, subnet_id: str) -> str | None:
        """A router with an interface on the subnet and its gateway on the
        floating IP's network."""
        gw = P.alias("gw")
        row = conn.execute(
            select(R.c.id).select_from(
                R.join(RP, RP.c.router_id == R.c.id).join(IPA, IPA.c.port_id == RP.c.port_id)
                .join(gw, gw.c.id == R.c.gw_port_id))
            .where(IPA.c.subnet_id == subnet_id, RP.c.port_type == "network:router_interface",
                   gw.c.network_id == external_net).order_by(R.c.created_at)).first()
        return row[0] if row else None

    def update(self, ctx: Context, fip_id: str, body: dict) -> dict:
        before = {}

        def txn(conn):
            row = dict(self._row(conn, ctx, fip_id))
            before.update(row)
            values = {}
            if "description" in body:
                values["description"] = body["description"]
            if body.get("fixed_ip_address") and not body.get("port_id"):
                raise bad_fip("fixed_ip_address cannot be specified without a port_id")
            # As upstream: an empty body (the API's original "disassociate")
            # clears the association; a body without port_id keeps it.
            if "port_id" in body or not body:
                if body.get("port_id"):
                    values.update(self._association(conn, ctx, row, body["port_id"],
                                                    body.get("fixed_ip_address")))
                    if (values["fixed_port_id"], values["fixed_ip_address"]) != (
                            row["fixed_port_id"], row["fixed_ip_address"]):
                        values["status"] = "DOWN"   # ACTIVE again once an agent has it
                else:
                    values.update(fixed_port_id=None, fixed_ip_address=None, router_id=None,
                                  status="DOWN")
            values["revision_number"] = row["revision_number"] + 1
            values["updated_at"] = listing.now()
            conn.execute(update(FIP).where(FIP.c.id == fip_id).values(**values))
            if extend.of("floatingips"):
                extend.updated("floatingips", conn, ctx, body, self._views(conn, [row])[0], {})
            return self._views(conn, [{**row, **values}])[0]
        view = self.core.db.write(retry_if_parent_vanished(txn))
        self._notify(view, before.get("router_id"))
        return view

    def delete(self, ctx: Context, fip_id: str) -> None:
        def txn(conn):
            row = self._row(conn, ctx, fip_id)
            if extend.of("floatingips"):
                extend.deleting("floatingips", conn, ctx, self._views(conn, [row])[0])
            port = conn.execute(select(P).where(P.c.id == row["floating_port_id"])).mappings().first()
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == fip_id))
            conn.execute(delete(FIP).where(FIP.c.id == fip_id))
            if port is not None:
                self.ports.delete_in(conn, port["id"])
            return dict(row)
        row = self.core.db.write(txn)
        self._notify(self._view(row))

    def set_status(self, statuses: dict[str, str]) -> None:
        """An L3 agent reports whether floating IPs are in effect. ACTIVE
        needs an association: a report that crossed a disassociation (which
        set DOWN) must not undo it."""
        def txn(conn):
            for fip_id, status in statuses.items():
                stmt = update(FIP).where(FIP.c.id == fip_id, FIP.c.status != status)
                if status == "ACTIVE":   # associated, or used by port forwardings
                    from neutrino.db.l3x_models import portforwardings as PF
                    stmt = stmt.where(FIP.c.fixed_port_id.is_not(None) | FIP.c.id.in_(
                        select(PF.c.floatingip_id).where(PF.c.floatingip_id == fip_id)))
                conn.execute(stmt.values(status=status, updated_at=listing.now(),
                                         revision_number=FIP.c.revision_number + 1))
        if statuses:
            self.core.db.write(txn)

    def sweep_orphans(self) -> list[str]:
        """Floating IPs whose port was deleted (fixed_port_id went NULL with
        it): clear the rest of the association, DOWN, and tell their routers'
        agents, which then drop the NAT rules. Returns the routers told."""
        orphan = and_(FIP.c.fixed_port_id.is_(None), FIP.c.router_id.is_not(None))
        from neutrino.plugins.portforwarding.plugin import sweep_orphans as sweep_forwardings
        swept = sweep_forwardings(self.core)      # port forwardings whose port was deleted
        if not self.core.db.read(lambda conn: conn.execute(
                select(FIP.c.id).where(orphan).limit(1)).first()):
            return swept    # the usual case: one indexed read, no write

        def txn(conn):
            routers = sorted({r[0] for r in conn.execute(select(FIP.c.router_id).where(orphan))})
            conn.execute(update(FIP).where(orphan).values(
                fixed_ip_address=None, router_id=None, status="DOWN",
                updated_at=listing.now(), revision_number=FIP.c.revision_number + 1))
            return routers
        routers = self.core.db.write(txn)
        for router_id in routers:
            self._notify({"router_id": router_id})
        return routers + [r for r in swept if r not in routers]

    def _notify(self, view: dict, old_router: str | None = None) -> None:
        for router_id in {view.get("router_id"), old_router} - {None}:
            hosts = self.core.db.read(lambda conn: scheduling.router_hosts(conn, router_id))
            self.core.notifier.resource_changed("router", router_id, -1, hosts=hosts)
