"""Agents: registration and heartbeats (from the bus), and the admin API."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import delete, insert, select, update

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.plugins import listing

A = models.agents


class AgentPlugin:
    def __init__(self, core):
        self.core = core
        self.down_time = core.cfg.DEFAULT.agent_down_time

    def _view(self, r) -> dict:
        alive = r["heartbeat_timestamp"] >= listing.now() - timedelta(seconds=self.down_time)
        return {"id": r["id"], "agent_type": r["agent_type"], "binary": r["binary"],
                "topic": r["topic"], "host": r["host"], "admin_state_up": r["admin_state_up"],
                "availability_zone": r["availability_zone"], "description": r["description"],
                "configurations": json.loads(r["configurations"] or "{}"),
                "resource_versions": json.loads(r["resource_versions"] or "{}"),
                "alive": alive, "load": r["load"],
                "resources_synced": None,   # no placement reports (agent-resources-synced)
                "created_at": r["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
                "started_at": r["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
                "heartbeat_timestamp": r["heartbeat_timestamp"].strftime("%Y-%m-%d %H:%M:%S")}

    def _row(self, conn, agent_id):
        row = conn.execute(select(A).where(A.c.id == agent_id)).mappings().first()
        if row is None:
            raise faults.AgentNotFound(id=agent_id)
        return row

    def get(self, ctx: Context, agent_id: str) -> dict:
        return self.core.db.read(lambda conn: self._view(self._row(conn, agent_id)))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        from neutrino.api.resources import AGENT
        where = listing.column_clauses(AGENT, A, {k: v for k, v in query.filters.items()
                                                  if k != "alive"})
        rows = self.core.db.read(lambda conn: listing.run_list(conn, AGENT, A, query, where))
        views = [self._view(r) for r in rows]
        if "alive" in query.filters:
            want = {str(v).lower() in ("true", "1") for v in query.filters["alive"]}
            views = [v for v in views if v["alive"] in want]
        return views

    def update(self, ctx: Context, agent_id: str, body: dict) -> dict:
        def txn(conn):
            self._row(conn, agent_id)
            values = {k: body[k] for k in ("admin_state_up", "description") if k in body}
            if values:
                conn.execute(update(A).where(A.c.id == agent_id).values(**values))
            return self._view(self._row(conn, agent_id))
        return self.core.db.write(txn)

    def delete(self, ctx: Context, agent_id: str) -> None:
        def txn(conn):
            self._row(conn, agent_id)
            conn.execute(delete(A).where(A.c.id == agent_id))
        self.core.db.write(txn)

    def report_state(self, state: dict) -> tuple[dict, bool]:
        """Heartbeat from an agent: registers it on first report. Returns the
        agent view and whether it is new (or restarted: start_flag)."""
        def txn(conn):
            ts = listing.now()
            row = conn.execute(select(A).where(A.c.agent_type == state["agent_type"],
                                               A.c.host == state["host"])).mappings().first()
            values = {"binary": state.get("binary", ""), "topic": state.get("topic", ""),
                      "configurations": json.dumps(state.get("configurations", {}),
                                                   sort_keys=True),
                      "heartbeat_timestamp": ts}
            if row is None:
                agent_id = listing.new_id()
                conn.execute(insert(A).values(id=agent_id, agent_type=state["agent_type"],
                                              host=state["host"], admin_state_up=True,
                                              description="", created_at=ts, started_at=ts,
                                              availability_zone=state.get("availability_zone"),
                                              load=0, resource_versions="{}", **values))
                return self._view(self._row(conn, agent_id)), True
            if state.get("start_flag"):
                values["started_at"] = ts
            if "availability_zone" in state:     # (an agent's zone may change on restart)
                values["availability_zone"] = state["availability_zone"]
            conn.execute(update(A).where(A.c.id == row["id"]).values(**values))
            return self._view(self._row(conn, row["id"])), bool(state.get("start_flag"))
        return self.core.db.write(txn)
