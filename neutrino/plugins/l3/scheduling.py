"""Placing routers on L3 agents and networks on DHCP agents: the live,
enabled agent with the fewest, chosen inside the caller's transaction.
A router has one binding; an HA router one per instance (neutrino.plugins.l3.ha
schedules those)."""
from __future__ import annotations

import json

from datetime import timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing

L3_AGENT = "L3 agent"
DHCP_AGENT = "DHCP agent"
A = models.agents
RB, DB = models.router_agent_bindings, models.network_dhcp_agent_bindings


def live_agents(conn: Connection, agent_type: str, down_time: int):
    horizon = listing.now() - timedelta(seconds=down_time)
    return conn.execute(select(A.c.id, A.c.host).where(
        A.c.agent_type == agent_type, A.c.admin_state_up,
        A.c.heartbeat_timestamp >= horizon)).all()


def least_loaded(conn, agents, table, exclude=()):
    if not agents:
        return None
    counts = dict(conn.execute(select(table.c.agent_id, func.count()).group_by(table.c.agent_id)).all())
    candidates = [a for a in agents if a.id not in exclude]
    if not candidates:
        return None
    return min(candidates, key=lambda a: (counts.get(a.id, 0), a.host))


_least_loaded = least_loaded     # neutrino.octavia.scheduler imports this name


def router_host(conn: Connection, router_id: str) -> str | None:
    """The host of a router's agent (one of them, for an HA router)."""
    row = conn.execute(select(A.c.host).join(RB, RB.c.agent_id == A.c.id)
                       .where(RB.c.router_id == router_id).order_by(A.c.host)).first()
    return row[0] if row else None


def router_hosts(conn: Connection, router_id: str) -> tuple[str, ...]:
    """The hosts of all the router's agents (several for an HA router)."""
    return tuple(sorted(row[0] for row in conn.execute(
        select(A.c.host).join(RB, RB.c.agent_id == A.c.id).where(RB.c.router_id == router_id))))


def schedule_router(conn: Connection, router_id: str, down_time: int) -> str | None:
    """Bind an unbound router to an L3 agent; returns the agent's host.
    HA routers are scheduled by neutrino.plugins.l3.ha.schedule."""
    host = router_host(conn, router_id)
    if host:
        return host
    if conn.execute(select(models.routers.c.ha).where(models.routers.c.id == router_id)).scalar():
        return None
    agents = live_agents(conn, L3_AGENT, down_time)
    zones = _az_hints(conn, router_id)
    if zones:   # router_availability_zone: only agents of the hinted zones, as upstream
        inside = {row[0] for row in conn.execute(select(A.c.id).where(
            A.c.agent_type == L3_AGENT, A.c.availability_zone.in_(zones)))}
        agents = [a for a in agents if a.id in inside]
    agent = least_loaded(conn, agents, RB)
    if agent is None:
        return None
    try:
        conn.execute(insert(RB).values(router_id=router_id, agent_id=agent.id))
    except IntegrityError:
        raise RetryTransaction("router scheduled concurrently") from None
    return agent.host


def _az_hints(conn: Connection, router_id: str) -> list[str]:
    from neutrino.db.l3x_models import router_extra_attributes as RX
    raw = conn.execute(select(RX.c.availability_zone_hints).where(
        RX.c.router_id == router_id)).scalar()
    return json.loads(raw) if raw else []


def schedule_unbound_routers(conn: Connection, down_time: int) -> list[str]:
    r = models.routers
    unbound = [row[0] for row in conn.execute(
        select(r.c.id).where(~r.c.ha, ~r.c.id.in_(select(RB.c.router_id))))]
    return [rid for rid in unbound if schedule_router(conn, rid, down_time)]


def network_dhcp_hosts(conn: Connection, network_id: str) -> list[str]:
    return [row[0] for row in conn.execute(
        select(A.c.host).join(DB, DB.c.agent_id == A.c.id).where(DB.c.network_id == network_id))]


def schedule_network(conn: Connection, network_id: str, per_network: int,
                     down_time: int) -> list[str]:
    """Give a network up to `per_network` DHCP agents; returns their hosts."""
    bound = {row[0] for row in conn.execute(select(DB.c.agent_id)
                                            .where(DB.c.network_id == network_id))}
    agents = live_agents(conn, DHCP_AGENT, down_time)
    while len(bound) < per_network:
        agent = least_loaded(conn, agents, DB, exclude=bound)
        if agent is None:
            break
        try:
            conn.execute(insert(DB).values(network_id=network_id, agent_id=agent.id))
        except IntegrityError:
            raise RetryTransaction("network scheduled concurrently") from None
        bound.add(agent.id)
    return network_dhcp_hosts(conn, network_id)


def unbind_network(conn: Connection, network_id: str, agent_id: str | None = None) -> None:
    stmt = delete(DB).where(DB.c.network_id == network_id)
    if agent_id:
        stmt = stmt.where(DB.c.agent_id == agent_id)
    conn.execute(stmt)
