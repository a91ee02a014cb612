"""Port forwardings of floating IPs (floating-ip-port-forwarding and its
description, detail and port-range extensions): a protocol and external
port (range) of a floating IP forwarded to an internal address and port
(range) behind the router that joins the two networks.

Rules as upstream's plugin: only a floating IP without a port association
may have port forwardings (and one with port forwardings cannot be
associated nor deleted, see hooks.py); the internal port must have the
internal IPv4 address and be reachable from the floating IP's network
through a router; all forwardings of one floating IP use one router; on one
floating IP and protocol the external ranges do not overlap, and an internal
address, port (range) and protocol is the target of one forwarding only.
Every check and write of one call is one transaction, the floating IP's
row locked (FOR UPDATE) so that two concurrent creations cannot both pass
the overlap checks.
"""
from __future__ import annotations

import ipaddress

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import l3x_models as lm
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.l3 import scheduling
from neutrino.plugins.l3.floatingips import FloatingIPPlugin
from neutrino.plugins.portforwarding.resource import PORT_FORWARDING, parse_range, view
from neutrino.plugins.races import is_foreign_key_violation

PF, FIP = lm.portforwardings, models.floatingips


class PortForwardingNotFound(faults.NotFound):
    message = "Port Forwarding {id} could not be found."


class PortHasBindingFloatingIP(faults.InUse):
    message = ("Cannot create port forwarding to floating IP {floating_ip_address} ({fip_id}) "
               "with port {port_id} using fixed IP {fixed_ip}, as that port already has a "
               "binding floating IP.")


def bad(msg: str) -> faults.BadRequest:
    return faults.BadRequest(resource="port_forwarding", msg=msg)


def _ranges(body: dict, current: dict | None = None) -> tuple[int, int, int, int]:
    """(internal start, end, external start, end) from a body (and, for an
    update, the current row for what the body does not say)."""
    for kind in ("internal", "external"):
        if body.get(f"{kind}_port") is not None and body.get(f"{kind}_port_range") is not None:
            raise bad(f"You cannot use {kind}_port and {kind}_port_range in the same request")
    if current is not None:
        ilo, ihi = current["internal_port_start"], current["internal_port_end"]
        elo, ehi = current["external_port_start"], current["external_port_end"]
    else:
        ilo = ihi = elo = ehi = None
    if body.get("internal_port") is not None:
        ilo = ihi = body["internal_port"]
    elif body.get("internal_port_range") is not None:
        ilo, ihi = parse_range(body["internal_port_range"])
    if body.get("external_port") is not None:
        elo = ehi = body["external_port"]
    elif body.get("external_port_range") is not None:
        elo, ehi = parse_range(body["external_port_range"])
    if ilo is None:
        raise bad("internal_port or internal_port_range must be given")
    if elo is None:
        raise bad("external_port or external_port_range must be given")
    if ihi != ilo and (ihi - ilo) != (ehi - elo):
        raise bad(f"The internal port range {ilo}:{ihi} and the external port range "
                  f"{elo}:{ehi} must be of the same size, or the internal one a single port")
    return ilo, ihi, elo, ehi


class PortForwardingPlugin:
    """The plugin of one floating IP's port forwardings (bound per request:
    the generic Controller knows collections, not parents)."""

    def __init__(self, core, ports, fip_id: str):
        self.core = core
        self.ports = ports
        self.fip_id = fip_id

    # --- reading ---------------------------------------------------------------
    def _fip(self, conn, ctx: Context, lock: bool = False):
        stmt = select(FIP).where(FIP.c.id == self.fip_id)
        if not ctx.is_admin:
            stmt = stmt.where(FIP.c.project_id == ctx.project_id)
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise faults.FloatingIPNotFound(floatingip_id=self.fip_id)
        return row

    def _row(self, conn, pf_id: str):
        row = conn.execute(select(PF).where(PF.c.id == pf_id, PF.c.floatingip_id == self.fip_id)
                           ).mappings().first()
        if row is None:
            raise PortForwardingNotFound(id=pf_id)
        return row

    def target_of(self, ctx: Context, item: dict) -> dict:
        """The policy target: the floating IP's project is the parent owner."""
        return {"ext_parent_owner": self._owner}

    def get(self, ctx: Context, pf_id: str) -> dict:
        def txn(conn):
            self._owner = self._fip(conn, ctx)["project_id"]
            return view(self._row(conn, pf_id))
        return self.core.db.read(txn)

    def list(self, ctx: Context, query: Query) -> list[dict]:
        def txn(conn):
            self._owner = self._fip(conn, ctx)["project_id"]
            where = listing.column_clauses(PORT_FORWARDING, PF, query.filters)
            where.append(PF.c.floatingip_id == self.fip_id)
            return [view(r) for r in listing.run_list(conn, PORT_FORWARDING, PF, query, where)]
        return self.core.db.read(txn)

    def policy_target(self, ctx: Context, item: dict) -> dict:
        owner = self.core.db.read(lambda conn: self._fip(conn, ctx)["project_id"])
        self._owner = owner
        return {"ext_parent_owner": owner}

    # --- writing ---------------------------------------------------------------
    def create(self, ctx: Context, body: dict) -> dict:
        ilo, ihi, elo, ehi = _ranges(body)
        pf_id = listing.new_id()

        def txn(conn):
            fip = self._fip(conn, ctx, lock=True)
            row = {"id": pf_id, "floatingip_id": fip["id"], "protocol": body["protocol"],
                   "description": body.get("description") or "",
                   "internal_port_start": ilo, "internal_port_end": ihi,
                   "external_port_start": elo, "external_port_end": ehi}
            if fip["fixed_port_id"] is not None:
                raise faults.FloatingIPPortAlreadyAssociated(
                    floating_ip_address=fip["floating_ip_address"], fip_id=fip["id"],
                    port_id=body["internal_port_id"],
                    fixed_ip=body.get("internal_ip_address") or "",
                    net_id=fip["floating_network_id"])
            row.update(self._target(conn, ctx, fip, body["internal_port_id"],
                                    body.get("internal_ip_address")))
            self._check_conflicts(conn, row)
            try:
                conn.execute(insert(PF).values(**row))
            except IntegrityError as exc:
                if is_foreign_key_violation(exc):   # its port or router went meanwhile
                    raise RetryTransaction("a referenced row vanished") from None
                raise bad("A duplicate port forwarding entry with same attributes already "
                          "exists") from None
            return row
        row = self.core.db.write(txn)
        self._notify(row["router_id"])
        return view(row)

    def update(self, ctx: Context, pf_id: str, body: dict) -> dict:
        before = {}

        def txn(conn):
            fip = self._fip(conn, ctx, lock=True)
            current = dict(self._row(conn, pf_id))
            before.update(current)
            ilo, ihi, elo, ehi = _ranges(body, current)
            row = {**current, "internal_port_start": ilo, "internal_port_end": ihi,
                   "external_port_start": elo, "external_port_end": ehi}
            for key in ("protocol", "description"):
                if key in body:
                    row[key] = body[key] if body[key] is not None else ""
            port_id = body.get("internal_port_id") or current["internal_port_id"]
            address = body.get("internal_ip_address") or (
                None if port_id != current["internal_port_id"]
                else current["internal_ip_address"])
            if (port_id, address) != (current["internal_port_id"],
                                      current["internal_ip_address"]):
                row.update(self._target(conn, ctx, fip, port_id, address))
                others = conn.execute(select(PF.c.router_id).where(
                    PF.c.floatingip_id == fip["id"], PF.c.id != pf_id).limit(1)).first()
                if others and others[0] != row["router_id"]:
                    raise self._unreachable(fip, others[0], port_id)
            self._check_conflicts(conn, row)
            values = {k: v for k, v in row.items() if k != "id" and v != current.get(k)}
            if values:
                try:
                    conn.execute(update(PF).where(PF.c.id == pf_id).values(**values))
                except IntegrityError as exc:
                    if is_foreign_key_violation(exc):
                        raise RetryTransaction("a referenced row vanished") from None
                    raise bad("A duplicate port forwarding entry with same attributes "
                              "already exists") from None
            return row
        row = self.core.db.write(txn)
        self._notify(row["router_id"], before.get("router_id"))
        return view(row)

    def delete(self, ctx: Context, pf_id: str) -> None:
        def txn(conn):
            fip = self._fip(conn, ctx, lock=True)
            row = self._row(conn, pf_id)
            conn.execute(delete(PF).where(PF.c.id == pf_id))
            _down_if_unused(conn, fip)
            return row["router_id"]
        self._notify(self.core.db.write(txn))

    # --- checks ------------------------------------------------------------------
    def _target(self, conn, ctx: Context, fip, port_id: str, address: str | None) -> dict:
        """internal_port_id, internal_ip_address and router_id for a target
        port (and address), or the upstream 400/404/409."""
        from neutrino.plugins.ports import port_views
        port = port_views(conn, [self.ports._row(conn, ctx, port_id)])[0]
        v4 = [f for f in port["fixed_ips"] if ":" not in f["ip_address"]]
        if not v4:
            raise bad(f"Requested internal port {port_id} must allocate an IPv4 address at "
                      "least.")
        if address:
            chosen = [f for f in v4 if ipaddress.ip_address(f["ip_address"])
                      == ipaddress.ip_address(address)]
            if not chosen:
                raise bad(f"Requested internal IP address {address} is not suitable for "
                          f"internal neutron port {port_id}, as its fixed_ips are {v4}")
        else:
            chosen = v4
        address, subnet_id = chosen[0]["ip_address"], chosen[0]["subnet_id"]
        bound = conn.execute(select(FIP.c.id, FIP.c.floating_ip_address).where(
            FIP.c.fixed_port_id == port_id, FIP.c.fixed_ip_address == address)).first()
        if bound is not None:
            raise PortHasBindingFloatingIP(floating_ip_address=bound[1], fip_id=bound[0],
                                           port_id=port_id, fixed_ip=address)
        router_id = FloatingIPPlugin._router_for(conn, fip["floating_network_id"], subnet_id)
        if router_id is None:
            raise bad(f"External network {fip['floating_network_id']} is not reachable from "
                      f"subnet {subnet_id}. Cannot set Port forwarding for port {port_id} "
                      f"with Floating IP {fip['id']}")
        return {"internal_port_id": port_id, "internal_ip_address": address,
                "router_id": router_id}

    @staticmethod
    def _unreachable(fip, router_id: str, port_id: str) -> faults.BadRequest:
        return bad(f"The Floating IP {fip['id']} had been set on router {router_id}, the "
                   f"internal Neutron port {port_id} can not reach it")

    def _check_conflicts(self, conn, row: dict) -> None:
        """One router per floating IP; external ranges of one floating IP
        and protocol disjoint; one forwarding per internal socket range."""
        others = conn.execute(select(PF).where(
            PF.c.id != row["id"],
            (PF.c.floatingip_id == row["floatingip_id"])
            | and_(PF.c.internal_port_id == row["internal_port_id"],
                   PF.c.internal_ip_address == row["internal_ip_address"]))).mappings().all()
        for o in others:
            if o["floatingip_id"] == row["floatingip_id"] and o["router_id"] != row["router_id"]:
                raise self._unreachable({"id": row["floatingip_id"]}, o["router_id"],
                                        row["internal_port_id"])
            if o["protocol"] != row["protocol"]:
                continue
            if o["floatingip_id"] == row["floatingip_id"] and _overlap(
                    o, row, "external_port"):
                raise self._duplicate({"floatingip_id": row["floatingip_id"],
                                       "protocol": row["protocol"],
                                       "external_port": _shown(row, "external_port")})
            if (o["internal_port_id"] == row["internal_port_id"]
                    and o["internal_ip_address"] == row["internal_ip_address"]
                    and _overlap(o, row, "internal_port")):
                raise self._duplicate({"internal_port_id": row["internal_port_id"],
                                       "internal_ip_address": row["internal_ip_address"],
                                       "protocol": row["protocol"],
                                       "internal_port": _shown(row, "internal_port")})

    @staticmethod
    def _duplicate(params: dict) -> faults.BadRequest:
        return bad("A duplicate port forwarding entry with same attributes already exists, "
                   f"conflicting values are {params}")

    def _notify(self, *router_ids) -> None:
        for router_id in set(router_ids) - {None}:
            hosts = self.core.db.read(lambda conn: scheduling.router_hosts(conn, router_id))
            self.core.notifier.resource_changed("router", router_id, -1, hosts=hosts)


def _down_if_unused(conn, fip) -> None:
    """A floating IP left with neither an association nor port forwardings
    is DOWN (as a disassociated one)."""
    if fip["fixed_port_id"] is None and fip["status"] != "DOWN" and conn.execute(
            select(PF.c.id).where(PF.c.floatingip_id == fip["id"]).limit(1)).first() is None:
        conn.execute(update(FIP).where(FIP.c.id == fip["id"]).values(
            status="DOWN", updated_at=listing.now(), revision_number=FIP.c.revision_number + 1))


def _overlap(a, b, kind: str) -> bool:
    return (a[f"{kind}_start"] <= b[f"{kind}_end"]) and (b[f"{kind}_start"] <= a[f"{kind}_end"])


def _shown(row, kind: str):
    lo, hi = row[f"{kind}_start"], row[f"{kind}_end"]
    return lo if lo == hi else f"{lo}:{hi}"


def sweep_orphans(core) -> list[str]:
    """Port forwardings whose internal port was deleted (internal_port_id
    went NULL with it): removed, and their routers' agents told, which then
    drop the DNAT rules. Returns the routers told."""
    orphan = PF.c.internal_port_id.is_(None)
    if not core.db.read(lambda conn: conn.execute(select(PF.c.id).where(orphan).limit(1))
                        .first()):
        return []

    def txn(conn):
        gone = conn.execute(select(PF.c.router_id, PF.c.floatingip_id).where(orphan)).all()
        conn.execute(delete(PF).where(orphan))
        for fip in conn.execute(select(FIP).where(FIP.c.id.in_(sorted({g[1] for g in gone})))
                                ).mappings().all():
            _down_if_unused(conn, fip)
        return sorted({g[0] for g in gone})
    routers = core.db.write(txn)
    for router_id in routers:
        hosts = core.db.read(lambda conn, rid=router_id: scheduling.router_hosts(conn, rid))
        core.notifier.resource_changed("router", router_id, -1, hosts=hosts)
    return routers


def notify_routers(conn, router_ids) -> None:
    """Tell the routers' agents, from inside a transaction (see hooks)."""
    from neutrino.plugins.portforwarding import CORE
    core = CORE.get("core")
    if core is None:
        return
    for router_id in sorted(router_ids):
        core.notifier.resource_changed("router", router_id, -1,
                                       hosts=scheduling.router_hosts(conn, router_id))
