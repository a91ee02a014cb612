"""/v2/lbaas/loadbalancers: create (VIP port, group, scheduling), update,
delete (cascade), the status tree, stats and failover."""
from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update

from neutrino.api.policy import admin_context
from neutrino.db import lbaas_models as m
from neutrino.octavia import faults, scheduler, store, vip
from neutrino.octavia.graph import Graph
from neutrino.octavia.schema import PROJECT, Field, common, parse
from neutrino.octavia.service import PROVIDER, PROVIDER_ALIASES, Service

LB = m.loadbalancers
POST_FIELDS = (*common(), PROJECT,
               Field("vip_address", "ip"), Field("vip_port_id", "uuid"),
               Field("vip_subnet_id", "uuid"), Field("vip_network_id", "uuid"),
               Field("vip_qos_policy_id", "uuid"), Field("vip_sg_ids", "list"),
               Field("additional_vips", "list"), Field("listeners", "list"),
               Field("pools", "list"), Field("provider", "str", max_length=64),
               Field("flavor_id", "uuid"), Field("availability_zone", "str", max_length=255),
               Field("vip_vnic_type", "str"))
PUT_FIELDS = tuple(f for f in POST_FIELDS if f.name in (
    "name", "description", "admin_state_up", "tags", "vip_qos_policy_id", "vip_sg_ids"))
STATS = ("bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors")


def view(row: dict, listeners: list[str], pools: list[str]) -> dict:
    out = store.base_view(row)
    out.update({"name": row["name"], "description": row["description"],
                "vip_address": row["vip_address"], "vip_port_id": row["vip_port_id"],
                "vip_subnet_id": row["vip_subnet_id"], "vip_network_id": row["vip_network_id"],
                "vip_qos_policy_id": None, "vip_sg_ids": [], "vip_vnic_type": "normal",
                "additional_vips": [], "provider": row["provider"],
                "flavor_id": row["flavor_id"], "availability_zone": row["availability_zone"],
                "listeners": [{"id": i} for i in listeners], "pools": [{"id": i} for i in pools]})
    return out


def views(conn, rows: list[dict]) -> list[dict]:
    ids = [r["id"] for r in rows]
    children: dict[str, tuple[list, list]] = {i: ([], []) for i in ids}
    for idx, table in enumerate((m.listeners, m.pools)):
        for part in _chunks(ids):
            for oid, lb_id in conn.execute(select(table.c.id, table.c.loadbalancer_id)
                                           .where(table.c.loadbalancer_id.in_(part))
                                           .order_by(table.c.created_at, table.c.id)):
                children[lb_id][idx].append(oid)
    return [view(r, *children[r["id"]]) for r in rows]


def full_view(conn, lb: dict) -> dict:
    """The load balancer with its listeners (their L7 policies and rules)
    and pools (their members and health monitor) in full."""
    from neutrino.octavia import healthmonitors, l7, listeners, members, pools

    def rows(table):
        return [dict(r) for r in conn.execute(select(table).where(
            table.c.loadbalancer_id == lb["id"]).order_by(table.c.created_at, table.c.id))
            .mappings()]
    out = views(conn, [lb])[0]
    rules = rows(m.l7rules)
    policies = l7.policy_views(conn, rows(m.l7policies))
    for pol in policies:
        pol["rules"] = [l7.rule_view(r) for r in rules if r["l7policy_id"] == pol["id"]]
    out["listeners"] = listeners.views(conn, rows(m.listeners))
    for lis in out["listeners"]:
        lis["l7policies"] = [p for p in policies if p["listener_id"] == lis["id"]]
    mems, hms = rows(m.members), rows(m.healthmonitors)
    out["pools"] = pools.views(conn, rows(m.pools))
    for pool in out["pools"]:
        pool["members"] = [members.view(x) for x in mems if x["pool_id"] == pool["id"]]
        hm = next((h for h in hms if h["pool_id"] == pool["id"]), None)
        pool["healthmonitor"] = healthmonitors.view(hm) if hm else None
    return out


def _chunks(ids):
    from neutrino.plugins.listing import chunks
    return chunks(ids)


def _unsupported(body: dict) -> None:
    for key, what in (("vip_qos_policy_id", "VIP QoS policies"),
                      ("vip_sg_ids", "VIP security groups"),
                      ("additional_vips", "additional VIPs")):
        if body.get(key):
            raise faults.ProviderUnsupportedOption(prov=PROVIDER,
                                                   user_msg=f"{what} are not supported.")
    if body.get("vip_vnic_type") not in (None, "normal"):
        raise faults.ProviderUnsupportedOption(prov=PROVIDER,
                                               user_msg="only the normal VIP vnic type.")


class LoadBalancers:
    def __init__(self, svc: Service, quotas):
        self.svc = svc
        self.quotas = quotas

    # --- reads ------------------------------------------------------------------
    def list(self, ctx) -> list[dict]:
        scope = self.svc.list_scope(ctx, "loadbalancer")

        def txn(conn):
            stmt = select(LB)
            if scope is not None:
                stmt = stmt.where(LB.c.project_id == scope)
            return views(conn, [dict(r) for r in conn.execute(stmt).mappings()])
        return self.svc.read(txn)

    def get(self, ctx, lb_id: str) -> dict:
        self.svc.fetch(ctx, store.LOADBALANCER, lb_id)
        return self.svc.read(lambda conn: views(conn, [store.get_row(
            conn, store.LOADBALANCER, lb_id)])[0])

    # --- create ---------------------------------------------------------------------
    def create(self, ctx, body: dict) -> dict:
        data = parse("loadbalancer", body, POST_FIELDS, create=True)
        project = store.resolve_project(ctx, data)
        self.svc.authorize(ctx, "loadbalancer", "post", project)
        provider = data.get("provider") or PROVIDER
        if provider not in (PROVIDER, *PROVIDER_ALIASES):
            raise faults.ProviderNotEnabled(prov=provider)
        if data.get("flavor_id"):
            raise faults.Validation(detail="Invalid flavor_id.")
        if data.get("availability_zone"):
            raise faults.Validation(detail="Invalid availability_zone.")
        _unsupported(data)
        tree = Graph(data)      # listeners and pools given with it, checked first
        lb_id = store.new_id()
        made: dict = {}

        def txn(conn):
            self.quotas.check(conn, project, "load_balancer")
            where = vip.resolve(conn, ctx, data)
            conn.execute(insert(LB).values(
                id=lb_id, **store.common_values(project, data), provider=provider,
                vip_address=where["address"], vip_subnet_id=where["subnet_id"],
                vip_network_id=where["network_id"], vip_port_owned=True, version=1, epoch=0))
            host = scheduler.schedule(conn, lb_id, self.svc.down_time)
            port = vip.create(conn, self.svc.ports, lb_id, project, where, host)
            conn.execute(update(LB).where(LB.c.id == lb_id).values(
                vip_address=port["address"], vip_port_id=port["port_id"],
                vip_port_owned=port["owned"], vip_sg_id=port["sg_id"]))
            made.update(port, host=host)
            lb = store.get_row(conn, store.LOADBALANCER, lb_id)
            tree.insert(conn, ctx, lb, self.quotas)
            if tree.listeners or tree.pools:
                made["sg"] = vip.sync_group(conn, lb)
                return full_view(conn, lb)     # as Octavia answers a graph create
            return views(conn, [lb])[0]
        result = self.svc.write(txn)
        self._after_vip(made)
        self.svc.notify(lb_id, made.get("sg"))
        return result

    def _after_vip(self, made: dict) -> None:
        """Tell the VIP port's host (or bind the user's port there)."""
        ports = self.svc.ports
        try:
            if made["owned"]:
                ports._notify(ports.get(admin_context(), made["port_id"]), ())
            elif made["host"]:
                ports.update(admin_context(), made["port_id"], {"binding:host_id": made["host"]})
        except Exception:   # noqa: BLE001 - a port removed meanwhile: the agent resyncs
            pass

    # --- update ----------------------------------------------------------------------
    def update(self, ctx, lb_id: str, body: dict) -> dict:
        data = parse("loadbalancer", body, PUT_FIELDS, create=False)
        self.svc.fetch(ctx, store.LOADBALANCER, lb_id, "put")
        _unsupported(data)

        def txn(conn):
            lb = store.lock_lb(conn, lb_id)
            if lb["provisioning_status"] != store.ACTIVE:
                raise faults.LBPendingState(state=lb["provisioning_status"], id=lb_id)
            values = store.update_values(data, ("name", "description", "admin_state_up",
                                                "tags"))
            conn.execute(update(LB).where(LB.c.id == lb_id).values(
                version=LB.c.version + 1, **values))
            return views(conn, [store.get_row(conn, store.LOADBALANCER, lb_id)])[0]
        result = self.svc.write(txn)
        self.svc.notify(lb_id)
        return result

    # --- delete ----------------------------------------------------------------------
    def delete(self, ctx, lb_id: str, cascade: bool = False) -> None:
        self.svc.fetch(ctx, store.LOADBALANCER, lb_id, "delete")
        gone: dict = {}

        def txn(conn):
            lb = store.lock_lb(conn, lb_id)
            if lb["provisioning_status"] not in (store.ACTIVE, store.ERROR):
                host = scheduler.lb_host(conn, lb_id)
                if host or lb["provisioning_status"] == store.PENDING_DELETE:
                    raise faults.LBPendingState(state=lb["provisioning_status"], id=lb_id)
            has_children = any(conn.execute(select(t.c.id).where(
                t.c.loadbalancer_id == lb_id).limit(1)).first()
                for t in (m.listeners, m.pools))
            if has_children and not cascade:
                raise faults.Validation(detail=f"Cannot delete Load Balancer {lb_id} - "
                                               "it has children")
            if scheduler.lb_host(conn, lb_id) is None:
                # Never served by any agent: nothing to undo on a host.
                gone["port"] = purge(conn, self.svc.ports, lb)
                gone["sg"] = lb["vip_sg_id"]
                return
            ts = store.now()
            for table in store.TREE:
                conn.execute(update(table).where(table.c.loadbalancer_id == lb_id).values(
                    provisioning_status=store.PENDING_DELETE, updated_at=ts))
            conn.execute(update(LB).where(LB.c.id == lb_id).values(
                provisioning_status=store.PENDING_DELETE, version=LB.c.version + 1,
                updated_at=ts))
        self.svc.write(txn)
        if "sg" in gone:
            after_purge(self.svc, gone)
        else:
            self.svc.notify(lb_id)

    # --- actions ---------------------------------------------------------------------
    def failover(self, ctx, lb_id: str) -> None:
        """Rebuild from scratch (epoch + 1); on another agent when its own
        is down, the VIP port following it."""
        self.svc.fetch(ctx, store.LOADBALANCER, lb_id, "put_failover")

        def txn(conn):
            lb = store.lock_lb(conn, lb_id)
            if lb["provisioning_status"] not in (store.ACTIVE, store.ERROR):
                raise faults.LBPendingState(state=lb["provisioning_status"], id=lb_id)
            before = scheduler.lb_host(conn, lb_id)
            host = scheduler.reschedule_if_dead(conn, lb_id, self.svc.down_time)
            conn.execute(update(LB).where(LB.c.id == lb_id).values(
                provisioning_status=store.PENDING_UPDATE, version=LB.c.version + 1,
                epoch=LB.c.epoch + 1, updated_at=store.now()))
            return before, host, lb["vip_port_id"]
        before, host, port_id = self.svc.write(txn)
        if before and before != host:     # the old host drops it (no longer listed)
            self.svc.core.notifier.resource_changed("loadbalancer", lb_id, -1,
                                                    hosts=(before,))
        if host and host != before and port_id:
            try:
                self.svc.ports.update(admin_context(), port_id, {"binding:host_id": host})
            except Exception:   # noqa: BLE001 - get_loadbalancers binds it again
                pass
        self.svc.notify(lb_id)

    def stats(self, ctx, lb_id: str) -> dict:
        self.svc.fetch(ctx, store.LOADBALANCER, lb_id, "get_stats")
        lt = m.listeners

        def txn(conn):
            row = conn.execute(select(*[func.coalesce(func.sum(lt.c[k]), 0) for k in STATS])
                               .where(lt.c.loadbalancer_id == lb_id)).first()
            return {"stats": {k: int(v) for k, v in zip(STATS, row)}}
        return self.svc.read(txn)

    def status(self, ctx, lb_id: str) -> dict:
        self.svc.fetch(ctx, store.LOADBALANCER, lb_id, "get_status")
        return {"statuses": {"loadbalancer": self.svc.read(lambda conn: status_tree(conn,
                                                                                    lb_id))}}


def _brief(row, *extra: str) -> dict:
    out = {"id": row["id"], "name": row["name"] or "",
           "operating_status": row["operating_status"],
           "provisioning_status": row["provisioning_status"]}
    for key in extra:
        out[key] = row[key]
    return out


def status_tree(conn, lb_id: str) -> dict:
    lb = store.get_row(conn, store.LOADBALANCER, lb_id)

    def rows(table, *where):
        return [dict(r) for r in conn.execute(select(table).where(
            table.c.loadbalancer_id == lb_id, *where).order_by(
            table.c.created_at, table.c.id)).mappings()]
    listeners, pools = rows(m.listeners), rows(m.pools)
    members, hms, policies = rows(m.members), rows(m.healthmonitors), rows(m.l7policies)
    pool_view = {}
    for p in pools:
        pv = _brief(p)
        hm = next((h for h in hms if h["pool_id"] == p["id"]), None)
        if hm is not None:
            pv["health_monitor"] = _brief(hm, "type")
        pv["members"] = [_brief(mem, "address", "protocol_port") for mem in members
                         if mem["pool_id"] == p["id"]]
        pool_view[p["id"]] = pv
    out = _brief(lb)
    out["listeners"] = []
    for lis in listeners:
        used = [lis["default_pool_id"]] + [pol["redirect_pool_id"] for pol in policies
                                           if pol["listener_id"] == lis["id"]]
        lv = _brief(lis)
        lv["pools"] = [pool_view[i] for i in dict.fromkeys(used) if i in pool_view]
        out["listeners"].append(lv)
    return out


def purge(conn, ports, lb: dict) -> dict | None:
    """Remove a load balancer's rows, VIP port and group now; the deleted
    port's row (to notify after commit)."""
    for table in store.TREE:
        conn.execute(delete(table).where(table.c.loadbalancer_id == lb["id"]))
    port = vip.remove(conn, ports, lb)
    conn.execute(delete(LB).where(LB.c.id == lb["id"]))
    return port


def after_purge(svc: Service, gone: dict) -> None:
    if gone.get("port"):
        svc.ports.notify_deleted(gone["port"])
    if gone.get("sg"):
        svc.core.notifier.resource_changed("security_group", gone["sg"], -1, deleted=True)
