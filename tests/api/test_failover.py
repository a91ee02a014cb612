"""Failover by the server on each database backend, with two server
processes (cores) on one database and one bus racing each other: every
router and network of a dead agent moves exactly once, to a live agent
(neutrino.rpc.failover). A fresh database per test: the check acts on
every agent in it. Heartbeats go through the servers' report_state."""
from __future__ import annotations

import threading
import uuid
import warnings

import pytest
from sqlalchemy import func, select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from neutrino.api.app import build_app
from neutrino.db import migrate, models
from neutrino.db.engine import Database
from neutrino.rpc.bus import make_transport
from neutrino.rpc.server_handlers import attach_bus
from neutrino.service import build_auth, build_core, load_server_config
from tests.unit.test_dhcp_server_rpc import dhcp_state, network
from tests.unit.test_failover_server import (DOWN, dhcp_agent, dhcp_hosts, l3_agent,
                                             router_hosts, silence)


@pytest.fixture
def servers(backend, databases, tmp_path):
    url = databases.create(backend)
    db = Database(url, state_path=str(tmp_path))
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()
    prefix = f"fo-{uuid.uuid4().hex[:8]}"
    made = []
    for i in range(2):
        cfg = load_server_config([], {
            "DEFAULT": {"state_path": str(tmp_path / f"s{i}"), "auth_strategy": "noauth",
                        "agent_down_time": str(DOWN), "dhcp_agents_per_network": "2",
                        "allow_automatic_l3agent_failover": "true"},
            "database": {"connection": url},
            "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                    "mechanism_drivers": "linuxbridge"},
            "ml2_type_vxlan": {"vni_ranges": "100:200"},
            "oslo_policy": {"policy_file": ""}})
        (tmp_path / f"s{i}").mkdir()
        core = build_core(cfg)
        transport = make_transport(f"inproc://{prefix}")
        rpc = attach_bus(core, transport, prefix=prefix)
        rpc.failover.stop()
        made.append((core, rpc, transport, TestClient(build_app(core, build_auth(cfg, core.db)))))
    bus = make_transport(f"inproc://{prefix}")
    yield made, bus, prefix
    bus.close()
    for core, _, transport, _ in made:
        core.notifier.close()
        transport.close()
        core.db.dispose()


def race(checks):
    results, barrier = [None] * len(checks), threading.Barrier(len(checks))

    def run(i):
        barrier.wait()
        results[i] = checks[i].run_once()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(checks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_servers_move_each_router_and_network_once(servers):
    made, bus, prefix = servers
    core, _, _, api = made[0]
    for h in ("node1", "node2", "node3"):
        l3_agent(bus, h, prefix)
    dhcp_agent(bus, "node1", prefix)
    dhcp_agent(bus, "node2", prefix)
    routers = [api.post("/v2.0/routers", json={"router": {"name": f"r{i}"}}).json()["router"]
               for i in range(6)]
    on_node1 = [r["id"] for r in routers if router_hosts(api, r["id"]) == ["node1"]]
    assert on_node1
    nets = [network(api, cidr=f"10.{60 + i}.0.0/24")[0] for i in range(3)]
    core.notifier.flush()     # DHCP scheduling runs on the notifier thread
    assert all(dhcp_hosts(api, n["id"]) == ["node1", "node2"] for n in nets)
    dhcp_agent(bus, "node3", prefix)
    silence(core, "node1")
    results = race([rpc.failover for _, rpc, _, _ in made])
    moved = sorted(r for res in results for r in res["routers"])
    assert [m[0] for m in moved] == sorted(on_node1)          # each exactly once
    assert all(old == "node1" and new in ("node2", "node3") for _, old, new in moved)
    taken = sorted(n for res in results for n in res["networks"])
    assert taken == sorted((n["id"], "node1") for n in nets)
    for r in routers:
        assert len(router_hosts(api, r["id"])) == 1 and "node1" not in router_hosts(api, r["id"])
    for n in nets:
        assert dhcp_hosts(api, n["id"]) == ["node2", "node3"]
    # one binding per router, whatever the interleaving
    rb = models.router_agent_bindings
    count = core.db.read(lambda conn: conn.execute(select(func.count()).select_from(rb)).scalar())
    assert count == len(routers)
    # node1 returns: nothing of it comes back, and a second round moves nothing
    bus_client_state = dhcp_state("node1", start=False)
    from neutrino.agent.dhcp.rpc import DhcpClient
    DhcpClient(bus, "node1", prefix).report_state(bus_client_state, wait=True)
    assert all(r == {"routers": [], "networks": [], "skipped": False}
               for r in race([rpc.failover for _, rpc, _, _ in made]))
