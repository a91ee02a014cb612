"""The fleet simulator (neutrino.testing.fleet) against a real server core
(SQLite) on the in-process bus: 5 simulated hosts running the real Linux
bridge agent loop. A port created on a vxlan network reaches ACTIVE through
the real server handlers, the other hosts of that network record its fdb
entry, and the hosts off that network hear nothing of it (fan-out is
O(hosts concerned), not O(all hosts))."""
from __future__ import annotations

import collections
import time
import uuid
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from neutrino.agent.l2.model import tap_name
from neutrino.api.app import build_app
from neutrino.rpc.bus import make_transport
from neutrino.rpc.server_handlers import attach_bus
from neutrino.service import build_auth, build_core, load_server_config
from neutrino.testing.fleet import SimulatedHost, vtep_of

HOSTS = [f"sim{i}" for i in range(5)]


def wait_for(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def fleet(tmp_path):
    prefix = f"fleet-{uuid.uuid4().hex[:8]}"
    cfg = load_server_config([], {
        "DEFAULT": {"state_path": str(tmp_path), "auth_strategy": "noauth"},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "100:200"},
        "oslo_policy": {"policy_file": ""}})
    core = build_core(cfg)
    server_bus = make_transport(f"inproc://{prefix}")
    attach_bus(core, server_bus, prefix=prefix)
    client = TestClient(build_app(core, build_auth(cfg, core.db)))
    agent_bus = make_transport(f"inproc://{prefix}")
    hosts = {h: SimulatedHost(h, vtep_of(i), agent_bus, prefix).start()
             for i, h in enumerate(HOSTS)}
    yield client, hosts
    for sim in hosts.values():
        sim.stop()
    agent_bus.close()
    core.notifier.close()
    server_bus.close()


def create_port(client, net_id, host):
    r = client.post("/v2.0/ports", json={"port": {"network_id": net_id,
                                                  "binding:host_id": host,
                                                  "device_owner": "compute:sim"}})
    assert r.status_code == 201, r.text
    return r.json()["port"]


def status(client, port_id):
    return client.get(f"/v2.0/ports/{port_id}").json()["port"]["status"]


def test_port_change_reaches_active_and_only_the_hosts_concerned(fleet):
    client, hosts = fleet
    net = client.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
    client.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                  "cidr": "10.9.0.0/24"}})
    vni = net["provider:segmentation_id"]
    first = {h: create_port(client, net["id"], h) for h in ("sim0", "sim1")}
    assert wait_for(lambda: all(status(client, p["id"]) == "ACTIVE" for p in first.values()))
    assert wait_for(lambda: hosts["sim1"].kernel.remote_macs(vni)
                    == {(first["sim0"]["mac_address"], vtep_of(0))})
    before = {h: sim.messages() for h, sim in hosts.items()}
    fetched = {h: collections.Counter(sim.fetches) for h, sim in hosts.items()}

    port = create_port(client, net["id"], "sim0")
    # ACTIVE through the real handlers: the agent wired the tap it was told of
    assert wait_for(lambda: status(client, port["id"]) == "ACTIVE")
    assert tap_name(port["id"]) in hosts["sim0"].kernel.wired_taps()
    # the other host on the network learnt the new MAC (l2population)
    assert wait_for(lambda: (port["mac_address"], vtep_of(0))
                    in hosts["sim1"].kernel.remote_macs(vni))
    time.sleep(0.3)
    told = {h: sum((sim.messages() - before[h]).values()) for h, sim in hosts.items()}
    assert told["sim0"] >= 1 and told["sim1"] >= 1
    assert told["sim2"] == told["sim3"] == told["sim4"] == 0, told
    assert hosts["sim2"].kernel.remote_macs(vni) == set()
    # sim0 fetched its new port without the network's table (it holds it)
    # and kept it: sim1's port is still in its fdb
    assert hosts["sim0"].kernel.remote_macs(vni) == {(first["sim1"]["mac_address"], vtep_of(1))}
    # what each fetched: sim0 its new port (not the network), sim1 the
    # network's table alone (not the network's ports)
    new_fetches = {h: collections.Counter(sim.fetches) - fetched[h] for h, sim in hosts.items()}
    assert new_fetches["sim0"]["ports"] >= 1 and new_fetches["sim1"]["tables"] >= 1, new_fetches
    assert new_fetches["sim0"]["networks"] == new_fetches["sim1"]["networks"] == 0, new_fetches
