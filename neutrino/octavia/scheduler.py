"""Load balancer -> Loadbalancer agent: the least loaded live one, as
routers go to L3 agents (neutrino/plugins/l3/scheduling.py)."""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from neutrino.db import lbaas_models as m
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins.l3.scheduling import _least_loaded, live_agents

LB_AGENT_TYPE = "Loadbalancer agent"
LB_AGENT_BINARY = "neutrino-lb-agent"
LB_AGENT_TOPIC = "loadbalancer_agent"
B, A = m.loadbalancer_agents, models.agents


def lb_host(conn, lb_id: str) -> str | None:
    row = conn.execute(select(A.c.host).join(B, B.c.agent_id == A.c.id)
                       .where(B.c.loadbalancer_id == lb_id)).first()
    return row[0] if row else None


def schedule(conn, lb_id: str, down_time: int) -> str | None:
    """Bind a load balancer to a live agent (if not yet); its host or None."""
    host = lb_host(conn, lb_id)
    if host:
        return host
    agent = _least_loaded(conn, live_agents(conn, LB_AGENT_TYPE, down_time), B)
    if agent is None:
        return None
    try:
        conn.execute(insert(B).values(loadbalancer_id=lb_id, agent_id=agent.id))
    except IntegrityError:
        raise RetryTransaction("load balancer scheduled concurrently") from None
    return agent.host


def reschedule_if_dead(conn, lb_id: str, down_time: int) -> str | None:
    """Failover: a load balancer whose agent is down (or disabled) moves to
    a live one; the host serving it afterwards (None: no agent alive)."""
    live = live_agents(conn, LB_AGENT_TYPE, down_time)
    current = conn.execute(select(B.c.agent_id).where(B.c.loadbalancer_id == lb_id)).first()
    if current is not None and current[0] in {a.id for a in live}:
        return lb_host(conn, lb_id)
    if current is not None:
        conn.execute(B.delete().where(B.c.loadbalancer_id == lb_id))
    return schedule(conn, lb_id, down_time)


def unbound(conn) -> list[str]:
    lbt = m.loadbalancers
    return [r[0] for r in conn.execute(
        select(lbt.c.id).where(~lbt.c.id.in_(select(B.c.loadbalancer_id))))]
