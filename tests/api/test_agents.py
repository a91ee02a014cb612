"""The agent extension: admin-only list/show/update/delete of registered agents."""
from __future__ import annotations

import datetime as dt

from tests.api.helpers import expect, rand

AGENT_KEYS = {"id", "agent_type", "binary", "topic", "host", "admin_state_up",
              "availability_zone", "description", "configurations", "resource_versions",
              "alive", "load", "created_at", "started_at", "heartbeat_timestamp",
              "resources_synced"}


def test_agent_list_show_update_delete(api):
    host = api.register_agent(rand("host"))
    agents = api.admin.list("agents", params={"host": host})
    assert len(agents) == 1
    agent = agents[0]
    assert set(agent) == AGENT_KEYS
    assert agent["agent_type"] == "Linux bridge agent"
    assert agent["binary"] == "neutrino-linuxbridge-agent"
    assert agent["alive"] is True and agent["admin_state_up"] is True
    assert agent["configurations"]["tunnel_types"] == ["vxlan"]
    # Agent timestamps use upstream's "YYYY-MM-DD HH:MM:SS".
    dt.datetime.strptime(agent["heartbeat_timestamp"], "%Y-%m-%d %H:%M:%S")
    assert api.admin.show("agents", agent["id"]) == agent
    filtered = api.admin.list("agents", params={"agent_type": "Linux bridge agent",
                                                "host": host, "alive": "true"})
    assert [a["id"] for a in filtered] == [agent["id"]]
    assert api.admin.list("agents", params={"host": host, "alive": "false"}) == []
    up = api.admin.update("agents", agent["id"], admin_state_up=False, description="maint")
    assert (up["admin_state_up"], up["description"]) == (False, "maint")
    expect(api.admin.put(f"agents/{agent['id']}", {"agent": {"host": "x"}}), 400)
    # A disabled agent binds nothing.
    net, _ = api.admin.net_with_subnet("10.140.0.0/24")
    port = api.admin.port(net["id"], **{"binding:host_id": host})
    assert port["binding:vif_type"] == "binding_failed"
    assert "disabled" in port["binding:vif_details"]["reason"]
    api.admin.remove("agents", agent["id"])
    expect(api.admin.get(f"agents/{agent['id']}"), 404, "AgentNotFound")


def test_agents_are_admin_only(api):
    # Upstream filters a list by the get rule and answers 404 for an item the
    # caller may not read (pretending it does not exist), even on PUT/DELETE.
    host = api.register_agent()
    agent = api.admin.list("agents", params={"host": host})[0]
    assert expect(api.member_a.get("agents"), 200) == {"agents": []}
    nf = "The resource could not be found."
    expect(api.member_a.get(f"agents/{agent['id']}"), 404, "HTTPNotFound", nf)
    expect(api.member_a.put(f"agents/{agent['id']}", {"agent": {"description": "x"}}), 404,
           "HTTPNotFound", nf)
    expect(api.member_a.delete(f"agents/{agent['id']}"), 404, "HTTPNotFound", nf)
    assert api.admin.show("agents", agent["id"])["description"] == ""


def test_dead_agent_is_not_alive(api):
    host = api.register_agent()
    from sqlalchemy import update

    from neutrino.db import models
    old = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=1)
    a = models.agents
    api.core.db.write(lambda conn: conn.execute(
        update(a).where(a.c.host == host).values(heartbeat_timestamp=old)))
    agent = api.admin.list("agents", params={"host": host})[0]
    assert agent["alive"] is False
    net, _ = api.admin.net_with_subnet("10.141.0.0/24")
    port = api.admin.port(net["id"], **{"binding:host_id": host})
    assert port["binding:vif_type"] == "binding_failed"
    assert "not alive" in port["binding:vif_details"]["reason"]
