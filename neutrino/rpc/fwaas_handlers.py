"""The server's side of FWaaS on the L3 agent protocol (CONTRACTS.md "FWaaS
wire contract"):

  get_routers(host): every router port dict gains "firewall_group" (null, or
      the group's wire form with its version), added here by
      `attach_firewall_groups` in a few queries for all the routers.
  update_firewall_group_statuses(host, statuses={fwg_id: {"status",
      "version", "reason"}})   cast on the status queue after each pass of
      the L3 agent: a report for the group's current version is stored per
      host and the group's status recomputed (neutrino.plugins.fwaas.state);
      one for an older version is ignored (a newer pass will report again).
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from neutrino.db import fwaas_models as fm
from neutrino.db.upsert import upsert
from neutrino.plugins import listing
from neutrino.plugins.fwaas import state

LOG = logging.getLogger(__name__)
REP, FG = fm.firewall_group_reports, fm.firewall_groups
REPORTED = (state.ACTIVE, state.ERROR)
REASON_MAX = 1024


def attach_firewall_groups(conn, ports_by_id: dict[str, dict]) -> None:
    """Set "firewall_group" on each router port dict (keyed by port id)."""
    wires = state.wires_for_ports(conn, list(ports_by_id))
    for port_id, port in ports_by_id.items():
        port["firewall_group"] = wires.get(port_id)


def apply_reports(conn, host: str, statuses: dict) -> dict[str, str]:
    """Store the reports of `host` that are for a group's current version and
    recompute those groups' status; returns {group_id: new status}."""
    if not host or not isinstance(statuses, dict):
        return {}
    wanted = {gid: rep for gid, rep in statuses.items()
              if isinstance(gid, str) and isinstance(rep, dict)}
    info = state.group_wires(conn, wanted)
    current = []
    for gid, g in info.items():
        report = wanted[gid]
        if report.get("version") != g["wire"]["version"]:
            LOG.debug("firewall group %s: report of %s for version %s ignored (now %s)",
                      gid, host, report.get("version"), g["wire"]["version"])
            continue
        status = report.get("status") if report.get("status") in REPORTED else state.ERROR
        reason = report.get("reason")
        reason = None if reason is None else str(reason)[:REASON_MAX]
        values = {"firewall_group_id": gid, "host": host, "version": g["wire"]["version"],
                  "status": status, "reason": reason, "reported_at": listing.now()}
        upsert(conn, REP, values, update={k: values[k] for k in
                                          ("version", "status", "reason", "reported_at")})
        current.append(gid)
    return state.refresh_status(conn, current, changed=False) if current else {}


def reports_of(conn, group_id: str) -> list[dict]:
    """The stored reports of one group (for `neutrino show` and admins)."""
    return [dict(r) for r in conn.execute(
        select(REP.c.host, REP.c.version, REP.c.status, REP.c.reason, REP.c.reported_at)
        .where(REP.c.firewall_group_id == group_id).order_by(REP.c.host)).mappings()]


class FwaasRpc:
    def __init__(self, core):
        self.core = core

    def update_firewall_group_statuses(self, host: str, statuses: dict) -> dict[str, str]:
        return self.core.db.write(lambda conn: apply_reports(conn, host, statuses))
