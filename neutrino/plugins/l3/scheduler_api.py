"""The agent scheduler extensions (admin only): which DHCP agents serve a
network, which L3 agent hosts a router, and moving them by hand."""
from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.policy import Context, admin_context
from neutrino.db import models
from neutrino.plugins.core import get_network_row
from neutrino.plugins.l3 import scheduling

A = models.agents


def _id_in(body, key: str):
    """The id a scheduling POST names: 400 for a body that is no object or an
    id that is no string (they reached the database before: 500)."""
    if body is not None and not isinstance(body, dict):
        raise faults.HTTPBadRequest("Body contains invalid data")
    value = (body or {}).get(key)
    if value is not None and not isinstance(value, str):
        raise faults.HTTPBadRequest(f"Invalid input for {key}. Reason: '{value}' is not a "
                                    "valid UUID.")
    return value


class SchedulerOps:
    def __init__(self, core, plugins):
        self.core = core
        self.agents = plugins["agents"]
        self.networks = plugins["networks"]
        self.routers = plugins["routers"]

    def _admin(self, ctx: Context) -> None:
        self.core.policy.enforce(ctx, "get_agent", {"project_id": ctx.project_id})

    def _agent(self, conn, agent_id: str, agent_type: str):
        row = conn.execute(select(A).where(A.c.id == agent_id)).mappings().first()
        if row is None:
            raise faults.AgentNotFound(id=agent_id)
        if row["agent_type"] != agent_type:
            raise faults.HTTPBadRequest(f"Agent {agent_id} is not a valid {agent_type}")
        return row

    # --- DHCP ---------------------------------------------------------------------
    def agent_networks(self, ctx: Context, agent_id: str) -> dict:
        self._admin(ctx)
        B = scheduling.DB

        def txn(conn):
            self._agent(conn, agent_id, scheduling.DHCP_AGENT)
            return [r[0] for r in conn.execute(select(B.c.network_id).where(B.c.agent_id == agent_id))]
        ids = self.core.db.read(txn)
        return {"networks": [self.networks.get(admin_context(), nid) for nid in ids]}

    def network_agents(self, ctx: Context, network_id: str) -> dict:
        self._admin(ctx)
        B = scheduling.DB

        def txn(conn):
            get_network_row(conn, admin_context(), network_id)
            return conn.execute(select(A).join(B, B.c.agent_id == A.c.id)
                                .where(B.c.network_id == network_id)).mappings().all()
        return {"agents": [self.agents._view(r) for r in self.core.db.read(txn)]}

    def add_network(self, ctx: Context, agent_id: str, body) -> None:
        self._admin(ctx)
        network_id = _id_in(body, "network_id")

        def txn(conn):
            agent = self._agent(conn, agent_id, scheduling.DHCP_AGENT)
            get_network_row(conn, admin_context(), network_id)
            try:
                conn.execute(insert(scheduling.DB).values(network_id=network_id,
                                                          agent_id=agent_id))
            except IntegrityError:
                raise faults.Conflict(f"The network {network_id} has been already hosted by "
                                      f"the DHCP Agent {agent_id}.") from None
            return agent["host"]
        host = self.core.db.write(txn)
        self.core.notifier.resource_changed("network", network_id, -1, hosts=(host,))

    def remove_network(self, ctx: Context, agent_id: str, network_id: str) -> None:
        self._admin(ctx)

        def txn(conn):
            agent = self._agent(conn, agent_id, scheduling.DHCP_AGENT)
            B = scheduling.DB
            result = conn.execute(delete(B).where(B.c.agent_id == agent_id,
                                                  B.c.network_id == network_id))
            if not result.rowcount:
                raise faults.NotFound(f"The network {network_id} is not hosted by the DHCP agent "
                                      f"{agent_id}.")
            return agent["host"]
        host = self.core.db.write(txn)
        self.core.notifier.resource_changed("network", network_id, -1, hosts=(host,))

    # --- L3 -----------------------------------------------------------------------
    def agent_routers(self, ctx: Context, agent_id: str) -> dict:
        self._admin(ctx)
        B = scheduling.RB

        def txn(conn):
            self._agent(conn, agent_id, scheduling.L3_AGENT)
            return [r[0] for r in conn.execute(select(B.c.router_id).where(B.c.agent_id == agent_id))]
        ids = self.core.db.read(txn)
        return {"routers": [self.routers.get(admin_context(), rid) for rid in ids]}

    def add_router(self, ctx: Context, agent_id: str, body) -> None:
        self._admin(ctx)
        router_id = _id_in(body, "router_id")

        def txn(conn):
            agent = self._agent(conn, agent_id, scheduling.L3_AGENT)
            self.routers._row(conn, admin_context(), router_id)
            B = scheduling.RB
            if conn.execute(select(B.c.agent_id).where(B.c.router_id == router_id)).first():
                raise faults.Conflict(f"The router {router_id} has been already hosted by an "
                                      "L3 Agent.")
            conn.execute(insert(B).values(router_id=router_id, agent_id=agent_id))
            return agent["host"]
        host = self.core.db.write(txn)
        self.core.notifier.resource_changed("router", router_id, -1, hosts=(host,))

    def remove_router(self, ctx: Context, agent_id: str, router_id: str) -> None:
        self._admin(ctx)

        def txn(conn):
            agent = self._agent(conn, agent_id, scheduling.L3_AGENT)
            B = scheduling.RB
            ha_port = conn.execute(select(B.c.ha_port_id).where(
                B.c.agent_id == agent_id, B.c.router_id == router_id)).scalar()
            result = conn.execute(delete(B).where(B.c.agent_id == agent_id,
                                                  B.c.router_id == router_id))
            if not result.rowcount:
                raise faults.NotFound(f"The router {router_id} is not hosted by the L3 agent "
                                      f"{agent_id}.")
            if ha_port:     # an HA router's instance: its ha- port goes with it
                self.routers.ports.delete_in(conn, ha_port)
            return agent["host"]
        host = self.core.db.write(txn)
        self.core.notifier.resource_changed("router", router_id, -1, hosts=(host,),
                                            deleted=True)
