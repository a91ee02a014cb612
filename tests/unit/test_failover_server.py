"""The server's failover over the in-process bus, against a real core
(SQLite): DHCP agents per network, networks and non-HA routers moving off
agents that stopped reporting, and what a returning agent is given.

Agents report through the server's report_state handler; an agent "stops"
by its last heartbeat being older than agent_down_time (its row's
timestamp set back, as time would do)."""
from __future__ import annotations

import uuid
import warnings
from datetime import timedelta

import pytest
from sqlalchemy import update

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from neutrino.agent.dhcp.model import NetDesired
from neutrino.agent.dhcp.rpc import DhcpClient
from neutrino.api.app import build_app
from neutrino.dataplane import dnsmasq
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.rpc.bus import make_transport
from neutrino.rpc.client import ServerClient, host_topic, server_target
from neutrino.rpc.server_handlers import attach_bus
from neutrino.service import build_auth, build_core, load_server_config
from tests.unit.test_agent_server_rpc import Inbox, _state
from tests.unit.test_dhcp_server_rpc import dhcp_state, network

DOWN = 75


def make_env(tmp_path, **default):
    prefix = f"fo-{uuid.uuid4().hex[:8]}"
    cfg = load_server_config([], {
        "DEFAULT": {"state_path": str(tmp_path), "auth_strategy": "noauth",
                    "agent_down_time": str(DOWN), **default},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge"},
        "ml2_type_flat": {"flat_networks": "*"},
        "ml2_type_vxlan": {"vni_ranges": "100:200"},
        "oslo_policy": {"policy_file": ""}})
    core = build_core(cfg)
    transport = make_transport(f"inproc://{prefix}")
    rpc = attach_bus(core, transport, prefix=prefix)
    rpc.failover.stop()        # the tests run its rounds themselves
    api = TestClient(build_app(core, build_auth(cfg, core.db)))
    bus = make_transport(f"inproc://{prefix}")
    return core, rpc, api, bus, prefix, transport


@pytest.fixture
def envs(tmp_path):
    made = []

    def make(**default):
        made.append(make_env(tmp_path / str(len(made)), **default))
        core, rpc, api, bus, prefix, _ = made[-1]
        return core, rpc, api, bus, prefix
    yield make
    for core, _, _, bus, _, transport in made:
        bus.close()
        core.notifier.close()
        transport.close()
        core.db.dispose()


def silence(core, host, agent_type=None):
    """`host`'s agents last reported agent_down_time + 5 s ago."""
    a = models.agents
    where = [a.c.host == host] + ([a.c.agent_type == agent_type] if agent_type else [])
    past = listing.now() - timedelta(seconds=DOWN + 5)
    core.db.write(lambda conn: conn.execute(
        update(a).where(*where).values(heartbeat_timestamp=past)))


def dhcp_agent(bus, host, prefix):
    client = DhcpClient(bus, host, prefix)
    client.report_state(_state(host), wait=True)
    client.report_state(dhcp_state(host), wait=True)
    return client


def l3_state(host):
    return {"agent_type": "L3 agent", "binary": "neutrino-l3-agent", "host": host,
            "topic": "l3_agent", "configurations": {"agent_mode": "legacy"},
            "start_flag": True}


def l3_agent(bus, host, prefix):
    client = ServerClient(bus, host, prefix)
    client.report_state(_state(host), wait=True)
    client.report_state(l3_state(host), wait=True)
    return client


def get_routers(bus, host, prefix):
    return bus.call(server_target(prefix), "get_routers", {"host": host}, timeout=10)["routers"]


def dhcp_hosts(api, net_id):
    return sorted(a["host"] for a in
                  api.get(f"/v2.0/networks/{net_id}/dhcp-agents").json()["agents"])


# --- dhcp_agents_per_network ------------------------------------------------------

def test_two_dhcp_agents_per_network_two_dhcp_ports_same_hosts_both_dns(envs):
    core, rpc, api, bus, prefix = envs(dhcp_agents_per_network="2")
    clients = [dhcp_agent(bus, h, prefix) for h in ("node1", "node2", "node3")]
    net, sub = network(api)
    core.notifier.flush()     # DHCP scheduling runs on the notifier thread
    assert len(dhcp_hosts(api, net["id"])) == 2
    serving = [c for c in clients if c.get_dhcp_state()["networks"]]
    assert len(serving) == 2
    for c in serving:
        c.ensure_dhcp_port(net["id"])
    vm = api.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    ports = api.get("/v2.0/ports", params={"network_id": net["id"],
                                           "device_owner": "network:dhcp"}).json()["ports"]
    assert len(ports) == 2
    assert {p["binding:host_id"] for p in ports} == {c.host for c in serving}
    dhcp_ips = sorted(p["fixed_ips"][0]["ip_address"] for p in ports)
    files = []
    for c in serving:
        (wire,) = c.get_dhcp_state([net["id"]])["networks"]
        desired = NetDesired.from_wire(wire, c.host)
        conf = dnsmasq.DnsmasqConf(state_path="/nonexistent")
        files.append((dnsmasq.host_file(desired.network, conf),
                      dnsmasq.opts_file(desired.network, desired.dhcp_port)))
    # the same lease for the instance from either dnsmasq
    assert files[0][0] == files[1][0]
    assert f"{vm['mac_address']},host-" in files[0][0]
    assert vm["fixed_ips"][0]["ip_address"] in files[0][0]
    # both name both DHCP ports as DNS servers (upstream's agent does so)
    for _, opts in files:
        servers = next(l for l in opts.splitlines() if "dns-server" in l).split(",", 2)[2]
        assert sorted(servers.split(",")) == dhcp_ips


def test_one_dhcp_agent_per_network_by_default(envs):
    core, rpc, api, bus, prefix = envs()
    for h in ("node1", "node2"):
        dhcp_agent(bus, h, prefix)
    net, _ = network(api)
    core.notifier.flush()     # DHCP scheduling runs on the notifier thread
    assert len(dhcp_hosts(api, net["id"])) == 1


# --- DHCP failover --------------------------------------------------------------

def test_network_moves_off_a_dead_dhcp_agent_and_its_port_goes(envs):
    core, rpc, api, bus, prefix = envs()
    c1 = dhcp_agent(bus, "node1", prefix)
    net, _ = network(api)
    core.notifier.flush()     # DHCP scheduling runs on the notifier thread
    assert dhcp_hosts(api, net["id"]) == ["node1"]
    port = c1.ensure_dhcp_port(net["id"])
    c2 = dhcp_agent(bus, "node2", prefix)
    inbox = Inbox()
    bus.subscribe(host_topic("node2", prefix), inbox)
    silence(core, "node1")
    c2.report_state(dhcp_state("node2", start=False), wait=True)   # node2 is alive
    done = rpc.failover.run_once()
    assert done["networks"] == [(net["id"], "node1")]
    assert dhcp_hosts(api, net["id"]) == ["node2"]
    assert api.get(f"/v2.0/ports/{port['id']}").status_code == 404
    inbox.wait(lambda p: p["resource"] == "network" and p["id"] == net["id"])
    assert [n["id"] for n in c2.get_dhcp_state()["networks"]] == [net["id"]]
    # node1 comes back: it is given nothing (its full resync removes the dnsmasq)
    c1.report_state(dhcp_state("node1", start=False), wait=True)
    assert c1.get_dhcp_state()["networks"] == []
    assert rpc.failover.run_once()["networks"] == []     # nothing left to move


def test_two_agents_per_network_one_dies_a_third_takes_over(envs):
    core, rpc, api, bus, prefix = envs(dhcp_agents_per_network="2")
    for h in ("node1", "node2"):
        dhcp_agent(bus, h, prefix)
    net, _ = network(api)
    core.notifier.flush()     # DHCP scheduling runs on the notifier thread
    assert dhcp_hosts(api, net["id"]) == ["node1", "node2"]
    dhcp_agent(bus, "node3", prefix)
    silence(core, "node1")
    rpc.failover.run_once()
    assert dhcp_hosts(api, net["id"]) == ["node2", "node3"]


def test_dhcp_failover_off_or_no_live_agent_moves_nothing(envs):
    core, rpc, api, bus, prefix = envs(allow_automatic_dhcp_failover="false")
    dhcp_agent(bus, "node1", prefix)
    net, _ = network(api)
    core.notifier.flush()     # DHCP scheduling runs on the notifier thread
    dhcp_agent(bus, "node2", prefix)
    silence(core, "node1")
    assert rpc.failover.run_once()["networks"] == []
    assert dhcp_hosts(api, net["id"]) == ["node1"]

    core, rpc, api, bus, prefix = envs()
    dhcp_agent(bus, "node1", prefix)
    net, _ = network(api)
    core.notifier.flush()     # DHCP scheduling runs on the notifier thread
    silence(core, "node1")          # the only DHCP agent: the server's view is suspect
    assert rpc.failover.run_once()["networks"] == []
    assert dhcp_hosts(api, net["id"]) == ["node1"]


# --- L3 failover ------------------------------------------------------------------

def router_with_interface(api):
    net, sub = network(api, cidr="10.9.0.0/24")
    router = api.post("/v2.0/routers", json={"router": {"name": "r"}}).json()["router"]
    r = api.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                json={"subnet_id": sub["id"]})
    assert r.status_code == 200, r.text
    return router, r.json()["port_id"]


def router_hosts(api, router_id):
    return sorted(a["host"] for a in
                  api.get(f"/v2.0/routers/{router_id}/l3-agents").json()["agents"])


def test_router_moves_off_a_dead_l3_agent_and_both_hosts_hear(envs):
    core, rpc, api, bus, prefix = envs(allow_automatic_l3agent_failover="true")
    l3_agent(bus, "node1", prefix)
    router, port_id = router_with_interface(api)
    assert router_hosts(api, router["id"]) == ["node1"]
    assert [r["id"] for r in get_routers(bus, "node1", prefix)] == [router["id"]]
    assert api.get(f"/v2.0/ports/{port_id}").json()["port"]["binding:host_id"] == "node1"
    l3_agent(bus, "node2", prefix)
    inboxes = {h: Inbox() for h in ("node1", "node2")}
    for h, inbox in inboxes.items():
        bus.subscribe(host_topic(h, prefix), inbox)
    silence(core, "node1")
    assert rpc.failover.run_once()["routers"] == [(router["id"], "node1", "node2")]
    assert router_hosts(api, router["id"]) == ["node2"]
    for inbox in inboxes.values():
        inbox.wait(lambda p: p["resource"] == "router" and p["id"] == router["id"])
    # the new host's fetch binds the router's ports to it (its L2 agent wires them)
    assert [r["id"] for r in get_routers(bus, "node2", prefix)] == [router["id"]]
    assert api.get(f"/v2.0/ports/{port_id}").json()["port"]["binding:host_id"] == "node2"
    # node1 returns: its full sync gets no router, so it deletes the namespace
    ServerClient(bus, "node1", prefix).report_state(l3_state("node1"), wait=True)
    assert get_routers(bus, "node1", prefix) == []
    assert rpc.failover.run_once()["routers"] == []
    assert router_hosts(api, router["id"]) == ["node2"]


def test_l3_failover_is_off_by_default_and_needs_a_live_agent(envs):
    core, rpc, api, bus, prefix = envs()
    l3_agent(bus, "node1", prefix)
    router, _ = router_with_interface(api)
    l3_agent(bus, "node2", prefix)
    silence(core, "node1")
    assert rpc.failover.run_once()["routers"] == []
    assert router_hosts(api, router["id"]) == ["node1"]

    core, rpc, api, bus, prefix = envs(allow_automatic_l3agent_failover="true")
    l3_agent(bus, "node1", prefix)
    router, _ = router_with_interface(api)
    silence(core, "node1")           # no other L3 agent: the router stays
    assert rpc.failover.run_once()["routers"] == []
    assert router_hosts(api, router["id"]) == ["node1"]


def test_routers_spread_over_the_live_agents(envs):
    core, rpc, api, bus, prefix = envs(allow_automatic_l3agent_failover="true")
    l3_agent(bus, "node1", prefix)
    routers = []
    for i in range(4):
        routers.append(api.post("/v2.0/routers",
                                json={"router": {"name": f"r{i}"}}).json()["router"])
    for h in ("node2", "node3"):
        l3_agent(bus, h, prefix)
    silence(core, "node1")
    moved = rpc.failover.run_once()["routers"]
    assert len(moved) == 4
    assert sorted(new for _, _, new in moved) == ["node2", "node2", "node3", "node3"]


def test_the_periodic_round_skips_after_a_pause(envs):
    core, rpc, api, bus, prefix = envs(allow_automatic_l3agent_failover="true")
    check = rpc.failover
    assert check.tick()["skipped"]                   # the first round after start
    assert not check.tick()["skipped"]
    check._last_round -= DOWN + 1                     # the server was suspended
    assert check.tick()["skipped"]


def test_an_agent_that_did_not_run_for_a_while_resyncs_fully(monkeypatch):
    """A frozen process (SIGSTOP, a host stopped): on waking, the heartbeat
    thread sees the gap and every worker's next pass is a full resync."""
    import threading
    from neutrino.agent import threads as threads_mod
    clock = [1000.0]
    monkeypatch.setattr(threads_mod.time, "monotonic", lambda: clock[0])
    life = threads_mod.AgentThreads("node1")
    triggers = threads_mod.Triggers(life.cond)
    triggers.full = False
    life._triggers.append(triggers)          # as reconcile() registers them
    reports = threading.Semaphore(0)
    ticks = iter([0.0, 10.0, 200.0])

    def report():
        reports.release()
    # drive the loop's clock: each report moves time on
    life.stopped.wait = lambda t: (clock.__setitem__(0, clock[0] + next(ticks, 0.0))
                                   or life.stopped.is_set())
    life.heartbeat("hb", report, 5.0)
    for _ in range(4):
        assert reports.acquire(timeout=5)
    life.stopped.set()
    assert life.freezes == 1 and triggers.full


def test_ha_routers_are_left_to_vrrp(envs):
    core, rpc, api, bus, prefix = envs(allow_automatic_l3agent_failover="true")
    for h in ("node1", "node2", "node3"):
        l3_agent(bus, h, prefix)
    r = api.post("/v2.0/routers", json={"router": {"name": "ha", "ha": True}})
    assert r.status_code == 201, r.text
    router = r.json()["router"]
    hosts = router_hosts(api, router["id"])
    assert len(hosts) >= 2
    silence(core, hosts[0])
    assert rpc.failover.run_once()["routers"] == []
    assert router_hosts(api, router["id"]) == hosts
