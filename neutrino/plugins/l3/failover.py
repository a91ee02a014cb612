"""Moving non-HA routers off dead L3 agents (upstream's
allow_automatic_l3agent_failover), inside the caller's transaction.

HA routers are left alone: VRRP moves their addresses, and their other
instances keep forwarding. A router whose agent is dead stays where it is
when no live agent can take it (upstream unbinds it instead; here the
returning agent simply carries on)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.l3 import scheduling

A, RB, R = scheduling.A, scheduling.RB, models.routers


def dead_agents(conn: Connection, agent_type: str, down_time: int) -> dict[str, str]:
    """Agents (id -> host) that are administratively up but silent for
    `down_time`: upstream reschedules only from those."""
    horizon = listing.now() - timedelta(seconds=down_time)
    return dict(conn.execute(select(A.c.id, A.c.host).where(
        A.c.agent_type == agent_type, A.c.admin_state_up,
        A.c.heartbeat_timestamp < horizon)).all())


def _non_ha_bindings(conn: Connection, agent_ids: list[str]) -> list[tuple[str, str]]:
    stmt = select(RB.c.router_id, RB.c.agent_id).where(RB.c.agent_id.in_(agent_ids))
    if "ha" in R.c:   # HA routers (one binding per instance) fail over by VRRP
        stmt = stmt.join(R, R.c.id == RB.c.router_id).where(~R.c.ha)
    if "ha_port_id" in RB.c:
        stmt = stmt.where(RB.c.ha_port_id.is_(None))
    return sorted(conn.execute(stmt).all())


def move_routers_off_dead_agents(conn: Connection, down_time: int) -> list[tuple[str, str, str]]:
    """Rebind every non-HA router of a dead L3 agent to the least loaded
    live one; returns (router_id, old_host, new_host) for each move.
    Idempotent under races: a binding another server already moved is
    not found again (its delete matches no row)."""
    dead = dead_agents(conn, scheduling.L3_AGENT, down_time)
    if not dead:
        return []
    live = scheduling.live_agents(conn, scheduling.L3_AGENT, down_time)
    moved = []
    for router_id, agent_id in _non_ha_bindings(conn, list(dead)):
        target = scheduling.least_loaded(conn, live, RB)
        if target is None:
            break
        gone = conn.execute(delete(RB).where(RB.c.router_id == router_id,
                                             RB.c.agent_id == agent_id)).rowcount
        if not gone:
            continue          # moved meanwhile by another server process
        try:
            conn.execute(insert(RB).values(router_id=router_id, agent_id=target.id))
        except IntegrityError:
            raise RetryTransaction("router rescheduled concurrently") from None
        moved.append((router_id, dead[agent_id], target.host))
    return moved
