"""The agent's reports (update_loadbalancer_statuses), applied to one
load balancer in one transaction.

A report of the load balancer's current version ends the change in
flight: ACTIVE turns every PENDING_CREATE/PENDING_UPDATE object of the tree
ACTIVE and removes the PENDING_DELETE ones (ERROR: they become ERROR, the
deleted ones are removed all the same: the agent no longer serves them).
"DELETED" for a load balancer being deleted removes it with its VIP port
and group. Operating statuses and stats are stored whatever the version;
an object that is administratively down is OFFLINE."""
from __future__ import annotations

from sqlalchemy import delete, select, update

from neutrino.db import lbaas_models as m
from neutrino.octavia import scheduler, store

OPERATING = ("ONLINE", "DEGRADED", "ERROR", "OFFLINE", "NO_MONITOR", "DRAINING")
STATS = ("bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors")
LB = m.loadbalancers


def _finish(conn, lb: dict, outcome: str, reason: str | None) -> None:
    lb_id = lb["id"]
    for table in store.TREE:
        conn.execute(delete(table).where(table.c.loadbalancer_id == lb_id,
                                         table.c.provisioning_status == store.PENDING_DELETE))
    ts = store.now()
    for table in store.TREE:
        conn.execute(update(table).where(
            table.c.loadbalancer_id == lb_id,
            table.c.provisioning_status.in_((store.PENDING_CREATE, store.PENDING_UPDATE)))
            .values(provisioning_status=outcome, updated_at=ts))
    online = store.ONLINE if outcome == store.ACTIVE else store.OFFLINE
    for table in (m.l7policies, m.l7rules, m.healthmonitors):
        conn.execute(update(table).where(table.c.loadbalancer_id == lb_id,
                                         table.c.admin_state_up.is_(True),
                                         table.c.operating_status != online)
                     .values(operating_status=online))
        conn.execute(update(table).where(table.c.loadbalancer_id == lb_id,
                                         table.c.admin_state_up.is_(False),
                                         table.c.operating_status != store.OFFLINE)
                     .values(operating_status=store.OFFLINE))
    # Administratively down is OFFLINE whether or not the agent reports it.
    for table in (m.listeners, m.pools, m.members):
        conn.execute(update(table).where(table.c.loadbalancer_id == lb_id,
                                         table.c.admin_state_up.is_(False),
                                         table.c.operating_status != store.OFFLINE)
                     .values(operating_status=store.OFFLINE))
    values = {"provisioning_status": outcome, "updated_at": ts,
              "status_reason": reason if outcome == store.ERROR else None}
    if not lb["admin_state_up"]:
        values["operating_status"] = store.OFFLINE
    conn.execute(update(LB).where(LB.c.id == lb_id).values(**values))


def _operating(conn, lb: dict, report: dict) -> None:
    lb_id = lb["id"]
    wanted_lb = report.get("operating_status")
    if not lb["admin_state_up"]:
        wanted_lb = store.OFFLINE
    if wanted_lb in OPERATING and wanted_lb != lb["operating_status"]:
        conn.execute(update(LB).where(LB.c.id == lb_id).values(operating_status=wanted_lb))
    stats = (report.get("stats") or {}).get("listeners") or {}
    for table, key in ((m.listeners, "listeners"), (m.pools, "pools"),
                       (m.members, "members")):
        given = report.get(key) or {}
        if not given and not (key == "listeners" and stats):
            continue
        cols = [table.c.id, table.c.admin_state_up, table.c.operating_status]
        if key == "listeners":
            cols += [table.c[s] for s in STATS]
        for row in conn.execute(select(*cols).where(table.c.loadbalancer_id == lb_id)):
            values = {}
            status = given.get(row.id)
            if status is not None:
                if not row.admin_state_up or not lb["admin_state_up"]:
                    status = store.OFFLINE
                if status in OPERATING and status != row.operating_status:
                    values["operating_status"] = status
            if key == "listeners" and row.id in stats:
                for s in STATS:
                    value = stats[row.id].get(s)
                    if isinstance(value, int) and value != getattr(row, s):
                        values[s] = value
            if values:
                conn.execute(update(table).where(table.c.id == row.id).values(**values))


def apply(conn, ports, host: str, lb_id: str, report: dict) -> dict | None:
    """Apply one load balancer's report from `host`'s agent. Returns what
    to notify after commit when the load balancer was removed."""
    from neutrino.octavia.loadbalancers import purge
    row = conn.execute(select(LB).where(LB.c.id == lb_id).with_for_update()).mappings().first()
    if row is None:
        return None
    lb = dict(row)
    if scheduler.lb_host(conn, lb_id) != host:
        return None      # not (or no longer) this agent's: its report says nothing
    outcome = report.get("provisioning_status")
    if outcome == "DELETED":
        if lb["provisioning_status"] == store.PENDING_DELETE:
            return {"port": purge(conn, ports, lb), "sg": lb["vip_sg_id"]}
        return None
    current = str(report.get("version")) == str(lb["version"])
    if current and lb["provisioning_status"] in store.PENDING and \
            lb["provisioning_status"] != store.PENDING_DELETE and \
            outcome in (store.ACTIVE, store.ERROR):
        _finish(conn, lb, outcome, report.get("reason"))
        lb["provisioning_status"] = outcome
    _operating(conn, lb, report)
    return None
