"""The server's failover check: agents that stopped reporting lose what
they served.

Every server process attached to the bus runs one check every
max(1, agent_down_time // 4) seconds (upstream: agent_down_time // 2):
  * allow_automatic_l3agent_failover (default false, as upstream): the
    non-HA routers of an L3 agent silent for agent_down_time are rebound
    to the least loaded live L3 agent (neutrino.plugins.l3.failover); the
    old and the new host are told.
  * allow_automatic_dhcp_failover (default true, as upstream): the
    networks of a DHCP agent silent for agent_down_time are taken off it,
    its DHCP ports deleted (not notified to it: it is gone), and the
    networks scheduled to live DHCP agents up to dhcp_agents_per_network
    (upstream's network_auto_schedule). Nothing moves when no DHCP agent
    is alive at all (upstream's rule: it is more likely the server's
    view than every agent that is broken).
Upstream waits twice agent_down_time; neutrino moves after
agent_down_time itself, the time after which the API shows the agent
`alive: false` (so a non-HA router forwards again within about
agent_down_time + the check interval + its set-up).

Several server processes may run the check at once: each move happens
in one transaction whose delete of the dead binding matches no row if
another process moved it first. A check that runs after a pause longer
than agent_down_time (a suspended server, a clock jump) skips one round
so that agents get a chance to report first (upstream's clock-jump
canary); so does the first round after the server starts.

An agent that comes back finds, on its full resync (which the agents'
heartbeat thread requests after a freeze: neutrino.agent.threads), that
the server no longer gives it those routers or networks and removes their
namespaces and processes.
"""
from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import delete, select

from neutrino.api.policy import admin_context
from neutrino.db import models
from neutrino.plugins.l3 import scheduling
from neutrino.plugins.l3.failover import dead_agents, move_routers_off_dead_agents

LOG = logging.getLogger(__name__)
DB = scheduling.DB


def take_networks_off_dead_agents(conn, down_time: int) -> list[tuple[str, str]]:
    """Delete the bindings of dead DHCP agents; returns (network_id, host)."""
    if not scheduling.live_agents(conn, scheduling.DHCP_AGENT, down_time):
        return []
    dead = dead_agents(conn, scheduling.DHCP_AGENT, down_time)
    if not dead:
        return []
    removed = []
    for network_id, agent_id in sorted(conn.execute(
            select(DB.c.network_id, DB.c.agent_id).where(DB.c.agent_id.in_(list(dead)))).all()):
        if conn.execute(delete(DB).where(DB.c.network_id == network_id,
                                         DB.c.agent_id == agent_id)).rowcount:
            removed.append((network_id, dead[agent_id]))
    return removed


class FailoverCheck:
    """One per server process (see the module's docstring)."""

    def __init__(self, core, rpc):
        self.core = core
        self.rpc = rpc           # ServerRpc: its ports and DHCP scheduling
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_round: float | None = None

    @property
    def down_time(self) -> int:
        return self.core.cfg.DEFAULT.agent_down_time

    @property
    def interval(self) -> float:
        return max(1, self.down_time // 4)

    def start(self) -> FailoverCheck:
        self._thread = threading.Thread(target=self._loop, name="failover-check", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                LOG.warning("failover check failed: %s: %s", type(exc).__name__, exc)

    def tick(self) -> dict:
        """One round of the periodic check, unless the previous round is
        older than agent_down_time (or there was none): then agents get
        one more interval to report."""
        now = time.monotonic()
        last, self._last_round = self._last_round, now
        if last is None or now - last > self.down_time:
            return {"routers": [], "networks": [], "skipped": True}
        return self.run_once()

    def run_once(self) -> dict:
        d = self.core.cfg.DEFAULT
        routers = self.fail_over_routers() if d.allow_automatic_l3agent_failover else []
        networks = self.fail_over_networks() if d.allow_automatic_dhcp_failover else []
        return {"routers": routers, "networks": networks, "skipped": False}

    def fail_over_routers(self) -> list[tuple[str, str, str]]:
        moved = self.core.db.write(
            lambda conn: move_routers_off_dead_agents(conn, self.down_time))
        for router_id, old, new in moved:
            LOG.warning("router %s moved from the L3 agent of %s (no report for %d s) to %s",
                        router_id, old, self.down_time, new)
            self.core.notifier.resource_changed("router", router_id, -1, hosts=(old, new))
        return moved

    def fail_over_networks(self) -> list[tuple[str, str]]:
        removed = self.core.db.write(
            lambda conn: take_networks_off_dead_agents(conn, self.down_time))
        for network_id, host in removed:
            LOG.warning("network %s taken off the DHCP agent of %s (no report for %d s)",
                        network_id, host, self.down_time)
            self._delete_dhcp_port(network_id, host)
        for network_id in sorted({n for n, _ in removed}):
            self.rpc.dhcp.schedule_network_dhcp(network_id)
            # the new agent(s) hear of it (the notifier adds the DHCP hosts)
            self.core.notifier.resource_changed("network", network_id, -1, hosts=())
        return removed

    def _delete_dhcp_port(self, network_id: str, host: str) -> None:
        from neutrino.rpc.dhcp_handlers import DHCP_OWNER, dhcp_device_id
        p = models.ports
        row = self.core.db.read(lambda conn: conn.execute(select(p.c.id).where(
            p.c.network_id == network_id, p.c.device_owner == DHCP_OWNER,
            p.c.device_id == dhcp_device_id(host, network_id))).first())
        if row is None:
            return
        try:
            self.rpc.ports.delete(admin_context(), row[0])
        except Exception as exc:  # noqa: BLE001 - deleted meanwhile
            LOG.info("DHCP port %s of %s on %s not deleted: %s", row[0], network_id, host, exc)
