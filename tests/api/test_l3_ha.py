"""HA routers (l3-ha) through the API: the admin-only `ha` attribute, the
per-project HA network and its ha- ports, scheduling to several L3 agents,
ha_state per agent in l3-agents, the HA part of get_routers, and the rule
that a router changes mode only while it is administratively down."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand

HA_OWNER = "network:router_ha_interface"


def l3_agent(api, host: str) -> None:
    """A live L3 agent (and the Linux bridge agent ha- ports bind to) on host."""
    api.register_agent(host)
    api.agents.report_state({"agent_type": "L3 agent", "host": host,
                             "binary": "neutrino-l3-agent", "topic": "l3_agent",
                             "configurations": {}, "start_flag": True})


@pytest.fixture
def hosts(api):
    names = [rand("ha-host") for _ in range(4)]
    for name in names:
        l3_agent(api, name)
    return names


def ha_network(api, project_id):
    nets = api.admin.list("networks", {"name": f"HA network tenant {project_id}"})
    return nets[0] if nets else None


def ha_ports(api, router_id):
    return api.admin.list("ports", {"device_id": router_id, "device_owner": HA_OWNER})


def rpc(api):
    from neutrino.rpc.l3_handlers import L3Rpc
    return L3Rpc(api.core, api.app.state.api.plugins["ports"])


def test_ha_attribute_is_admin_only(api, hosts):
    m = api.project()
    router = m.create("routers", name=rand("r"))
    assert "ha" not in router                      # not shown to members
    assert api.admin.show("routers", router["id"])["ha"] is False   # l3_ha default: false
    expect(m.post("routers", {"router": {"name": "x", "ha": True}}), 403,
           "PolicyNotAuthorized")
    expect(m.put(f"routers/{router['id']}", {"router": {"ha": True}}), 403,
           "PolicyNotAuthorized")
    expect(api.admin.post("routers", {"router": {"name": "x", "ha": "maybe"}}), 400)
    ext = [e["alias"] for e in expect(m.get("extensions"), 200)["extensions"]]
    assert "l3-ha" in ext


def test_ha_router_network_ports_and_states(api, hosts):
    project = api.project().project_id
    router = api.admin.create("routers", name=rand("r"), ha=True, project_id=project)
    assert router["ha"] is True
    net = ha_network(api, project)
    assert net is not None and net["project_id"] == ""      # no project owns it
    subnets = api.admin.list("subnets", {"network_id": net["id"]})
    assert [s["cidr"] for s in subnets] == ["169.254.192.0/18"]
    assert subnets[0]["name"] == f"HA subnet tenant {project}"
    ports = ha_ports(api, router["id"])
    assert len(ports) == 3                           # max_l3_agents_per_router
    assert all(p["name"] == f"HA port tenant {project}" for p in ports)
    agents = expect(api.admin.get(f"routers/{router['id']}/l3-agents"), 200)["agents"]
    assert len(agents) == 3
    assert {a["host"] for a in agents} == {p["binding:host_id"] for p in ports}
    assert {a["ha_state"] for a in agents} == {"standby"}

    # The agents' view: each its own ha- port, the same VRID and HA cidr.
    wires = []
    for agent in agents:
        state = rpc(api).get_routers(agent["host"])
        wire = next(r for r in state["routers"] if r["id"] == router["id"])
        assert wire["ha"] is True and wire["ha_cidr"] == "169.254.192.0/18"
        assert wire["ha_port"]["binding_host"] == agent["host"]
        wires.append(wire)
    assert len({w["ha_port"]["id"] for w in wires}) == 3
    assert len({w["ha_vr_id"] for w in wires}) == 1 and 1 <= wires[0]["ha_vr_id"] <= 255

    # Keepalived's reports: one active, the others standby.
    first, second = agents[0]["host"], agents[1]["host"]
    rpc(api).update_ha_routers_states(first, {router["id"]: "active"})
    shown = {a["host"]: a["ha_state"] for a in expect(
        api.admin.get(f"routers/{router['id']}/l3-agents"), 200)["agents"]}
    assert shown[first] == "active" and list(shown.values()).count("active") == 1
    rpc(api).update_ha_routers_states(first, {router["id"]: "standby"})
    rpc(api).update_ha_routers_states(second, {router["id"]: "active"})
    shown = {a["host"]: a["ha_state"] for a in expect(
        api.admin.get(f"routers/{router['id']}/l3-agents"), 200)["agents"]}
    assert (shown[first], shown[second]) == ("standby", "active")
    rpc(api).update_ha_routers_states(second, {router["id"]: "bogus"})   # ignored
    assert {a["host"]: a["ha_state"] for a in expect(
        api.admin.get(f"routers/{router['id']}/l3-agents"), 200)["agents"]}[second] == "active"


def test_ha_network_goes_with_the_last_ha_router(api, hosts):
    project = api.project().project_id
    r1 = api.admin.create("routers", name=rand("r"), ha=True, project_id=project)
    r2 = api.admin.create("routers", name=rand("r"), ha=True, project_id=project)
    net = ha_network(api, project)
    vrids = set()
    for r in (r1, r2):
        host = expect(api.admin.get(f"routers/{r['id']}/l3-agents"), 200)["agents"][0]["host"]
        wire = next(w for w in rpc(api).get_routers(host)["routers"] if w["id"] == r["id"])
        vrids.add(wire["ha_vr_id"])
    assert len(vrids) == 2                            # one VRID per router in the network
    api.admin.remove("routers", r1["id"])
    assert ha_ports(api, r1["id"]) == []
    assert ha_network(api, project)["id"] == net["id"]   # r2 still needs it
    api.admin.remove("routers", r2["id"])
    assert ha_ports(api, r2["id"]) == []
    assert ha_network(api, project) is None
    expect(api.admin.get(f"networks/{net['id']}"), 404)


def test_removing_an_instance_by_hand_takes_its_ha_port(api, hosts):
    project = api.project().project_id
    router = api.admin.create("routers", name=rand("r"), ha=True, project_id=project)
    agents = expect(api.admin.get(f"routers/{router['id']}/l3-agents"), 200)["agents"]
    gone = agents[0]
    expect(api.admin.delete(f"agents/{gone['id']}/l3-routers/{router['id']}"), 204)
    ports = ha_ports(api, router["id"])
    assert len(ports) == 2 and gone["host"] not in {p["binding:host_id"] for p in ports}
    assert gone["host"] not in {a["host"] for a in expect(
        api.admin.get(f"routers/{router['id']}/l3-agents"), 200)["agents"]}
    api.admin.remove("routers", router["id"])


def test_change_ha_only_while_admin_down(api, hosts):
    m = api.project()
    router = m.create("routers", name=rand("r"))
    expect(api.admin.put(f"routers/{router['id']}", {"router": {"ha": True}}), 400,
           "BadRequest", contains="Cannot change HA attribute of active routers")
    assert api.admin.show("routers", router["id"])["ha"] is False
    assert ha_network(api, m.project_id) is None      # no half-written state
    api.admin.update("routers", router["id"], admin_state_up=False)
    assert api.admin.update("routers", router["id"], ha=True)["ha"] is True
    assert len(ha_ports(api, router["id"])) == 3
    assert len(expect(api.admin.get(f"routers/{router['id']}/l3-agents"),
                      200)["agents"]) == 3
    assert api.admin.update("routers", router["id"], ha=False)["ha"] is False
    assert ha_ports(api, router["id"]) == []
    assert ha_network(api, m.project_id) is None
    agents = expect(api.admin.get(f"routers/{router['id']}/l3-agents"), 200)["agents"]
    assert len(agents) == 1 and "ha_state" not in agents[0]


def test_l3_ha_default_from_config(make_api):
    api = make_api({"DEFAULT": {"l3_ha": "true"}})
    m = api.project()
    router = m.create("routers", name=rand("r"))
    assert api.admin.show("routers", router["id"])["ha"] is True


def test_concurrent_ha_routers_share_one_network(server_factory, db_url):
    """Parallel first HA routers of a project (two API workers): one HA
    network, distinct VRIDs, every router made; then parallel deletes take
    the network with the last."""
    import secrets

    from tests.api.helpers import UNLIMITED_QUOTAS, two_worker_config
    from tests.api.test_races import check_answers, together
    server = server_factory(two_worker_config(db_url, DEFAULT={"api_workers": "2",
                                                               "l3_ha": "true"},
                                              quotas=UNLIMITED_QUOTAS))
    project = secrets.token_hex(16)
    headers = {"X-Project-Id": project, "X-Roles": "member", "X-User-Id": "ha"}
    answers = together(server, [("POST", "routers", {"router": {"name": f"r{i}"}})
                                for i in range(6)], headers)
    assert check_answers(server, answers, {201: None}) == [201] * 6
    admin = {"X-Project-Id": secrets.token_hex(16), "X-Roles": "admin", "X-User-Id": "a"}
    import httpx
    with httpx.Client(base_url=server.url + "/v2.0", headers=admin, timeout=60) as c:
        nets = c.get("networks", params={"name": f"HA network tenant {project}"}).json()
        assert len(nets["networks"]) == 1
        routers = [r.json()["router"] for r in answers]
        assert all(r["ha"] for r in (c.get(f"routers/{x['id']}").json()["router"]
                                     for x in routers))
    from neutrino.db import models
    from sqlalchemy import create_engine, select
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            vr = models.ha_router_vrid_allocations
            vrids = conn.execute(select(vr.c.vr_id).where(
                vr.c.router_id.in_([r["id"] for r in routers]))).scalars().all()
    finally:
        engine.dispose()
    assert len(vrids) == 6 and len(set(vrids)) == 6
    answers = together(server, [("DELETE", f"routers/{r['id']}", None) for r in routers],
                       headers)
    assert check_answers(server, answers, {204: None}) == [204] * 6
    with httpx.Client(base_url=server.url + "/v2.0", headers=admin, timeout=60) as c:
        nets = c.get("networks", params={"name": f"HA network tenant {project}"}).json()
        assert nets["networks"] == []


def test_ha_network_type_from_config(make_api):
    api = make_api({"DEFAULT": {"l3_ha_network_type": "vlan",
                                "l3_ha_network_physical_name": "physnet1",
                                "l3_ha_net_cidr": "169.254.128.0/24"}})
    project = api.project().project_id
    router = api.admin.create("routers", name=rand("r"), ha=True, project_id=project)
    net = ha_network(api, project)
    assert (net["provider:network_type"], net["provider:physical_network"]) == ("vlan",
                                                                                "physnet1")
    assert 1000 <= net["provider:segmentation_id"] <= 1500
    assert [s["cidr"] for s in api.admin.list("subnets", {"network_id": net["id"]})] == [
        "169.254.128.0/24"]
    api.admin.remove("routers", router["id"])
    assert ha_network(api, project) is None
