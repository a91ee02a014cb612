"""The server's side of the agent protocol, over the in-process bus, against
a real core (SQLite): host state, device status, heartbeats and rebinding,
and notifications going to exactly the hosts concerned."""
from __future__ import annotations

import threading
import uuid

import warnings

import pytest

with warnings.catch_warnings():   # starlette wants httpx2 for its TestClient; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from neutrino.api.app import build_app
from neutrino.rpc.bus import make_transport
from neutrino.rpc.client import BATCH_METHOD, NOTICE_BATCHES, ServerClient, host_topic
from neutrino.rpc.server_handlers import attach_bus
from neutrino.service import build_auth, build_core, load_server_config


class Inbox:
    def __init__(self):
        self.items: list[dict] = []
        self.messages: list[str] = []
        self.cond = threading.Condition()

    def __call__(self, method, payload):
        with self.cond:
            self.messages.append(method)
            # a batch (to agents that unpack them) counts as its changes
            self.items.extend(payload["changes"] if method == BATCH_METHOD else [payload])
            self.cond.notify_all()

    def wait(self, pred, timeout=5.0):
        with self.cond:
            assert self.cond.wait_for(lambda: any(pred(i) for i in self.items), timeout), \
                self.items


@pytest.fixture
def env(tmp_path):
    prefix = f"srv-{uuid.uuid4().hex[:8]}"
    cfg = load_server_config([], {
        "DEFAULT": {"state_path": str(tmp_path), "auth_strategy": "noauth"},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge"},
        "ml2_type_vxlan": {"vni_ranges": "100:200"},
        "oslo_policy": {"policy_file": ""}})
    core = build_core(cfg)
    transport = make_transport(f"inproc://{prefix}")
    attach_bus(core, transport, prefix=prefix)
    client = TestClient(build_app(core, build_auth(cfg, core.db)))
    agent_bus = make_transport(f"inproc://{prefix}")
    yield core, client, agent_bus, prefix
    agent_bus.close()
    core.notifier.close()
    transport.close()
    core.db.dispose()


def _state(host, start=True):
    state = {"agent_type": "Linux bridge agent", "binary": "neutrino-linuxbridge-agent",
             "host": host, "topic": "N/A",
             "configurations": {"interface_mappings": {"physnet1": "eth1"},
                                "bridge_mappings": {}, "tunnel_types": ["vxlan"],
                                "devices": 0}}
    if start:
        state["start_flag"] = True
    return state


def _port(client, net_id, host):
    r = client.post("/v2.0/ports", json={"port": {"network_id": net_id,
                                                  "binding:host_id": host}})
    assert r.status_code == 201, r.text
    return r.json()["port"]


def test_host_state_status_and_notifications(env):
    core, client, bus, prefix = env
    rpc = ServerClient(bus, "h1", prefix)
    inbox = Inbox()
    bus.subscribe(host_topic("h1", prefix), inbox)
    assert rpc.report_state(_state("h1"), wait=True)["alive"] is True
    agents = client.get("/v2.0/agents").json()["agents"]
    assert [a["host"] for a in agents] == ["h1"] and agents[0]["alive"]

    net = client.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
    client.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                  "cidr": "10.0.0.0/24"}})
    port = _port(client, net["id"], "h1")
    assert port["binding:vif_type"] == "bridge" and port["status"] == "DOWN"
    inbox.wait(lambda m: m["resource"] == "port" and m["id"] == port["id"])

    state = rpc.get_host_state()
    assert [p["id"] for p in state["ports"]] == [port["id"]]
    p = state["ports"][0]
    assert p["mac_address"] == port["mac_address"] and p["network_id"] == net["id"]
    assert p["fixed_ips"][0]["ip_address"] == port["fixed_ips"][0]["ip_address"]
    (n,) = state["networks"]
    assert (n["network_type"], n["segmentation_id"], n["mtu"]) == (
        "vxlan", net["provider:segmentation_id"], 1450)
    assert rpc.get_host_state(ports=["nope"]) == {"host": "h1", "ports": [], "networks": []}
    assert len(rpc.get_host_state(networks=[net["id"]])["ports"]) == 1
    assert ServerClient(bus, "h2", prefix).get_host_state()["ports"] == []

    # status: BUILD only from DOWN, then ACTIVE; a late BUILD does not undo ACTIVE
    def status():
        return client.get(f"/v2.0/ports/{port['id']}").json()["port"]["status"]
    handlers = _handlers(core, bus, prefix)
    handlers.update_device_status("h1", up=[], down=[], build=[port["id"]])
    assert status() == "BUILD"
    handlers.update_device_status("h1", up=[port["id"]], down=[], build=[])
    assert status() == "ACTIVE"
    handlers.update_device_status("h1", up=[], down=[], build=[port["id"]])
    assert status() == "ACTIVE"
    handlers.update_device_status("h2", up=[], down=[port["id"]], build=[])   # not its host
    assert status() == "ACTIVE"
    rpc.update_device_status(down=[port["id"]])                               # over the bus
    _wait(lambda: status() == "DOWN")

    # a network change reaches the hosts with ports on it
    client.put(f"/v2.0/networks/{net['id']}", json={"network": {"mtu": 1400}})
    inbox.wait(lambda m: m["resource"] == "network" and m["id"] == net["id"])


def test_failed_bindings_are_redone_when_the_agent_starts(env):
    core, client, bus, prefix = env
    net = client.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
    port = _port(client, net["id"], "h2")
    assert port["binding:vif_type"] == "binding_failed"
    assert "no Linux bridge agent on host h2" in port["binding:vif_details"]["reason"]
    inbox = Inbox()
    bus.subscribe(host_topic("h2", prefix), inbox)
    ServerClient(bus, "h2", prefix).report_state(_state("h2"), wait=True)
    got = client.get(f"/v2.0/ports/{port['id']}").json()["port"]
    assert got["binding:vif_type"] == "bridge"
    assert got["binding:vif_details"]["bridge_name"] == "brq" + net["id"][:11]
    inbox.wait(lambda m: m["id"] == port["id"])
    # a plain heartbeat (no start_flag) does not rebind anything
    ServerClient(bus, "h2", prefix).report_state(_state("h2", start=False), wait=True)


def _handlers(core, bus, prefix):
    from neutrino.rpc.server_handlers import ServerRpc
    return ServerRpc(core, bus, prefix)


def _wait(pred, timeout=5.0):
    import time
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_burst_reaches_a_host_in_batches_only_if_its_agents_unpack_them(env):
    """40 changes at once: h1's agents report notice_batches and hear them in
    a few messages, `resources_changed` batches; h2's agent (an earlier release, no
    such key) hears 40 `resource_changed`, one per change, as before."""
    core, client, bus, prefix = env
    inboxes = {}
    for host, batches in (("h1", True), ("h2", False)):
        state = _state(host)
        if batches:
            state["configurations"][NOTICE_BATCHES] = True
        ServerClient(bus, host, prefix).report_state(state, wait=True)
        inboxes[host] = Inbox()
        bus.subscribe(host_topic(host, prefix), inboxes[host])
    ids = [str(uuid.uuid4()) for _ in range(40)]
    for port_id in ids:
        core.notifier.resource_changed("port", port_id, 3, hosts=("h1", "h2"),
                                       network_id="n1", deleted=True)
    core.notifier.flush()
    for host, inbox in inboxes.items():
        inbox.wait(lambda m: m["id"] == ids[-1])
        assert [m["id"] for m in inbox.items] == ids, host      # every change, in order
    # (the burst's first change may leave alone, at once: a lone change waits for nothing)
    assert BATCH_METHOD in inboxes["h1"].messages
    assert len(inboxes["h1"].messages) <= 3, inboxes["h1"].messages
    assert inboxes["h2"].messages == ["resource_changed"] * 40
