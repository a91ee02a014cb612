"""The server's side of the load-balancer agent protocol (CONTRACTS.md):
get_loadbalancers(host), update_loadbalancer_statuses, and scheduling the
load balancers left without an agent when one comes alive."""
from __future__ import annotations

import logging

from sqlalchemy import select

from neutrino.api.policy import admin_context
from neutrino.db import lbaas_models as m
from neutrino.octavia import payload, scheduler, statuses
from neutrino.octavia.loadbalancers import after_purge
from neutrino.octavia.service import Service

LOG = logging.getLogger(__name__)
LB_AGENT_TYPE = scheduler.LB_AGENT_TYPE
LB = m.loadbalancers
LBAAS_METHODS = ("get_loadbalancers", "update_loadbalancer_statuses")


class LbaasRpc:
    def __init__(self, core, ports=None):
        self.core = core
        self.svc = Service(core)
        if ports is not None:
            self.svc.ports = ports

    def dispatch(self, method: str, payload_: dict):
        if method == "get_loadbalancers":
            return self.get_loadbalancers(payload_["host"])
        if method == "update_loadbalancer_statuses":
            self.update_loadbalancer_statuses(payload_["host"],
                                              payload_.get("loadbalancers") or {})
            return None
        raise ValueError(f"unknown method {method!r}")

    def get_loadbalancers(self, host: str) -> dict:
        state = self.core.db.read(lambda conn: payload.loadbalancers_for(conn, host))
        for lb in state["loadbalancers"]:
            vip = lb["vip"]
            if vip is not None and not lb["deleted"] and vip.pop("binding_host") != host:
                self._bind(vip["port_id"], host)
            elif vip is not None:
                vip.pop("binding_host", None)
        return state

    def _bind(self, port_id: str, host: str) -> None:
        """The VIP port bound to the serving host (scheduled while the
        agent was away, or moved): as the L3 RPC binds router ports."""
        try:
            self.svc.ports.update(admin_context(), port_id, {"binding:host_id": host})
        except Exception as exc:  # noqa: BLE001 - a port removed meanwhile; resync repairs
            LOG.info("binding VIP port %s to %s failed: %s", port_id, host, exc)

    def update_loadbalancer_statuses(self, host: str, reports: dict) -> None:
        for lb_id, report in reports.items():
            if not isinstance(report, dict):
                continue
            try:
                gone = self.core.db.write(lambda conn, i=lb_id, r=report: statuses.apply(
                    conn, self.svc.ports, host, i, r))
            except Exception:  # noqa: BLE001 - one bad report must not drop the others
                LOG.exception("status report for load balancer %s from %s not applied",
                              lb_id, host)
                continue
            if gone:
                LOG.info("load balancer %s deleted (confirmed by %s)", lb_id, host)
                after_purge(self.svc, gone)

    def schedule_unbound(self) -> list[str]:
        """On a Loadbalancer agent's heartbeat: load balancers created while
        no agent was alive get one (the least loaded)."""
        ids = self.core.db.read(scheduler.unbound)
        done = []
        def bind(conn, lb_id):
            if conn.execute(select(LB.c.id).where(LB.c.id == lb_id)
                            .with_for_update()).first() is None:
                return None     # deleted meanwhile
            return scheduler.schedule(conn, lb_id, self.svc.down_time)
        for lb_id in ids:
            host = self.core.db.write(lambda conn, i=lb_id: bind(conn, i))
            if host:
                done.append(lb_id)
                self.svc.notify(lb_id)
        return done
