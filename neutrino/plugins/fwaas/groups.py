"""Firewall groups: policies (own or shared), router interface ports (one
group per port), status (state.py), the project's default group, and the
notifications to the L3 agents of the routers concerned."""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision, check_owner, set_tags
from neutrino.plugins.fwaas import common, state
from neutrino.plugins.fwaas import faults as ff
from neutrino.plugins.fwaas.resources import FIREWALL_GROUP
from neutrino.plugins.races import retry_if_parent_vanished

FG, FGP, FP = common.FG, common.FGP, common.FP
# neutron-lib's ROUTER_INTERFACE_OWNERS: the only ports upstream's L3
# driver accepts (a gateway port is FirewallGroupPortInvalid).
ROUTER_INTERFACE_OWNERS = ("network:router_interface", "network:ha_router_replicated_interface",
                           "network:router_interface_distributed")
_FIELDS = ("name", "description", "admin_state_up", "shared", "ingress_firewall_policy_id",
           "egress_firewall_policy_id")


class FirewallGroupPlugin:
    def __init__(self, core: Core, ports):
        self.core = core
        self.ports = ports        # PortPlugin: ports are looked up as the caller

    def _views(self, conn, rows) -> list[dict]:
        ids = [r["id"] for r in rows]
        ports = state.group_ports(conn, ids)
        tags = listing.tags_for(conn, ids)
        reasons = state.error_reasons(conn, [r["id"] for r in rows if r["status"] == state.ERROR])
        return [{"id": r["id"], "name": r["name"], "description": r["description"],
                 "tenant_id": r["project_id"], "project_id": r["project_id"],
                 "admin_state_up": r["admin_state_up"],
                 # no ports: INACTIVE, even before any refresh (a port deleted
                 # with its router interface leaves the group at once)
                 "status": r["status"] if ports[r["id"]] else state.INACTIVE,
                 "status_reason": reasons.get(r["id"]) if ports[r["id"]] else None,
                 "shared": r["shared"], "ports": ports[r["id"]],
                 "ingress_firewall_policy_id": r["ingress_firewall_policy_id"],
                 "egress_firewall_policy_id": r["egress_firewall_policy_id"],
                 "tags": tags.get(r["id"], []),
                 "created_at": listing.iso(r["created_at"]),
                 "updated_at": listing.iso(r["updated_at"]),
                 "revision_number": r["revision_number"]} for r in rows]

    def _view(self, conn, ctx, gid):
        return self._views(conn, [common.group_row(conn, ctx, gid)])[0]

    def get(self, ctx: Context, group_id: str) -> dict:
        return self.core.db.read(lambda conn: self._view(conn, ctx, group_id))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        common.ensure_default_for_list(self.core, ctx, query)
        where = listing.column_clauses(FIREWALL_GROUP, FG, query.filters)
        where += listing.tag_clauses(FG, query.tags)
        if query.filters.get("ports"):
            where.append(FG.c.id.in_(select(FGP.c.firewall_group_id).where(
                FGP.c.port_id.in_(query.filters["ports"]))))
        scoped = common.scope(FG, ctx)
        if scoped is not None:
            where.append(scoped)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, FIREWALL_GROUP, FG, query, where)))

    # --- checks, in upstream's order ---------------------------------------------------
    @staticmethod
    def _check_policies(conn, ctx, project_id: str, body: dict) -> None:
        for key in ("ingress_firewall_policy_id", "egress_firewall_policy_id"):
            if body.get(key):
                policy = common.policy_row(conn, ctx, body[key])
                if policy["project_id"] != project_id and not policy["shared"]:
                    raise ff.FirewallPolicyConflict(firewall_policy_id=body[key])

    def _check_ports(self, ctx, ports: list[str]) -> None:
        for port_id in ports:
            port = self.ports.get(ctx, port_id)       # PortNotFound (404) when not visible
            if port.get("device_owner", "") not in ROUTER_INTERFACE_OWNERS:
                raise ff.FirewallGroupPortInvalid(port_id=port_id)

    @staticmethod
    def _check_ports_free(conn, ports: list[str], group_id: str | None) -> None:
        if not ports:
            return
        p = models.ports
        have = {r[0] for r in conn.execute(select(p.c.id).where(p.c.id.in_(ports)))}
        for port_id in ports:
            if port_id not in have:      # deleted since it was checked
                raise faults.PortNotFound(port_id=port_id)
        used = [r[0] for r in conn.execute(select(FGP.c.port_id).where(
            FGP.c.port_id.in_(ports), FGP.c.firewall_group_id != (group_id or "")))]
        if used:
            raise ff.FirewallGroupPortInUse(port_ids=sorted(used))

    @staticmethod
    def _set_ports(conn, group_id: str, ports: list[str]) -> None:
        conn.execute(delete(FGP).where(FGP.c.firewall_group_id == group_id))
        if not ports:
            return
        try:
            conn.execute(insert(FGP), [{"port_id": p, "firewall_group_id": group_id}
                                       for p in ports])
        except IntegrityError as exc:
            # another group took one of them meanwhile (its primary key), or
            # the port vanished (foreign key): run again, finding which
            raise RetryTransaction(f"firewall group ports changed concurrently: {exc.orig}") \
                from None

    # --- writes -------------------------------------------------------------------------
    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)
        if body.get("name") == common.DEFAULT_FWG:
            raise ff.FirewallDefaultParameterExists(resource_type="Firewall Group",
                                                    name=body["name"])
        ports = body.get("ports") or []
        self._check_ports(ctx, ports)

        def txn(conn):
            self._check_policies(conn, ctx, owner, body)
            self._check_ports_free(conn, ports, None)
            common.ensure_default_group(conn, owner, self.core.cfg.default_fwg_rules)
            self.core.quotas.check(conn, owner, "firewall_group")
            gid = listing.new_id()
            ts = listing.now()
            conn.execute(insert(FG).values(
                id=gid, project_id=owner, status=state.INACTIVE, default_for=None,
                created_at=ts, updated_at=ts, revision_number=0,
                **{k: body[k] for k in _FIELDS}))
            self._set_ports(conn, gid, ports)
            if body.get("tags"):
                set_tags(conn, "firewall_groups", gid, body["tags"])
            state.refresh_status(conn, [gid], new=[gid])
            return self._view(conn, ctx, gid), state.groups_routers(conn, [gid])
        view, routers = self.core.db.write(retry_if_parent_vanished(txn))
        state.notify_routers(self.core, routers)
        return view

    def update(self, ctx: Context, group_id: str, body: dict) -> dict:
        if body.get("name") == common.DEFAULT_FWG:
            raise ff.FirewallDefaultParameterExists(resource_type="Firewall Group",
                                                    name=body["name"])
        if "ports" in body:
            self._check_ports(ctx, body["ports"] or [])

        def txn(conn):
            row = common.group_row(conn, ctx, group_id, lock=True)
            common.ensure_not_pending(conn, [group_id])
            self._check_policies(conn, ctx, row["project_id"], body)
            if row["default_for"]:
                restricted = ("name",) if ctx.is_admin else (
                    "name", "description", "admin_state_up", "ingress_firewall_policy_id",
                    "egress_firewall_policy_id")
                if any(k in body for k in restricted):
                    raise ff.FirewallDefaultObjectUpdateRestricted(
                        resource_type="Firewall Group", resource_id=group_id)
            routers = state.groups_routers(conn, [group_id])
            if "ports" in body:
                ports = body["ports"] or []
                self._check_ports_free(conn, ports, group_id)
                self._set_ports(conn, group_id, ports)
            values = {k: body[k] for k in _FIELDS if k in body}
            if values:
                conn.execute(update(FG).where(FG.c.id == group_id).values(**values))
            bump_revision(conn, FG, group_id)
            state.refresh_status(conn, [group_id])
            routers |= state.groups_routers(conn, [group_id])
            return self._view(conn, ctx, group_id), routers
        view, routers = self.core.db.write(retry_if_parent_vanished(txn))
        state.notify_routers(self.core, routers)
        return view

    def delete(self, ctx: Context, group_id: str) -> None:
        def txn(conn):
            row = common.group_row(conn, ctx, group_id, lock=True)
            if state.group_ports(conn, [group_id])[group_id]:
                raise ff.FirewallGroupInUse(firewall_id=group_id)
            policies = []
            if row["default_for"]:
                if not ctx.is_admin:
                    raise ff.FirewallGroupCannotRemoveDefault()
                # as upstream: the default group takes its two policies along
                policies = [p for p in (row["ingress_firewall_policy_id"],
                                        row["egress_firewall_policy_id"]) if p]
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == group_id))
            conn.execute(delete(FG).where(FG.c.id == group_id))
            for pid in policies:
                if not common.groups_with_policies(conn, [pid]):
                    conn.execute(delete(common.FPR).where(common.FPR.c.firewall_policy_id == pid))
                    conn.execute(delete(models.tags).where(models.tags.c.resource_id == pid))
                    conn.execute(delete(FP).where(FP.c.id == pid))
        self.core.db.write(txn)
