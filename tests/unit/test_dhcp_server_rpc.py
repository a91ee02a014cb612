"""The server's side of the DHCP agent protocol over the in-process bus,
against a real core (SQLite): scheduling, the DHCP port, the network state
an agent gets, and who is notified."""
from __future__ import annotations

import uuid
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from neutrino.agent.dhcp.rpc import DhcpClient
from neutrino.api.app import build_app
from neutrino.rpc.bus import make_transport
from neutrino.rpc.client import host_topic
from neutrino.rpc.dhcp_handlers import dhcp_device_id
from neutrino.rpc.server_handlers import attach_bus
from neutrino.service import build_auth, build_core, load_server_config
from tests.unit.test_agent_server_rpc import Inbox, _state


@pytest.fixture
def env(tmp_path):
    prefix = f"dhcp-{uuid.uuid4().hex[:8]}"
    cfg = load_server_config([], {
        "DEFAULT": {"state_path": str(tmp_path), "auth_strategy": "noauth"},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge"},
        "ml2_type_vxlan": {"vni_ranges": "100:200"},
        "oslo_policy": {"policy_file": ""}})
    core = build_core(cfg)
    transport = make_transport(f"inproc://{prefix}")
    attach_bus(core, transport, prefix=prefix)
    api = TestClient(build_app(core, build_auth(cfg, core.db)))
    agent_bus = make_transport(f"inproc://{prefix}")
    yield core, api, agent_bus, prefix
    agent_bus.close()
    core.notifier.close()
    transport.close()
    core.db.dispose()


def dhcp_state(host, start=True):
    state = {"agent_type": "DHCP agent", "binary": "neutrino-dhcp-agent", "host": host,
             "topic": "dhcp_agent", "configurations": {}}
    if start:
        state["start_flag"] = True
    return state


def network(api, cidr="10.5.0.0/24", enable_dhcp=True):
    net = api.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
    sub = api.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": cidr, "ip_version": 4,
        "enable_dhcp": enable_dhcp}}).json()["subnet"]
    return net, sub


def test_network_created_before_the_agent_is_scheduled_when_it_registers(env):
    core, api, bus, prefix = env
    net, _ = network(api)
    client = DhcpClient(bus, "node1", prefix)
    assert client.get_dhcp_state()["networks"] == []
    client.report_state(_state("node1"), wait=True)          # L2 agent, binds ports
    client.report_state(dhcp_state("node1"), wait=True)
    (got,) = client.get_dhcp_state()["networks"]
    assert got["id"] == net["id"] and got["subnets"][0]["enable_dhcp"]
    agents = api.get(f"/v2.0/networks/{net['id']}/dhcp-agents").json()["agents"]
    assert [a["host"] for a in agents] == ["node1"]


def test_subnet_created_with_a_live_agent_is_scheduled_and_notified(env):
    core, api, bus, prefix = env
    client = DhcpClient(bus, "node1", prefix)
    client.report_state(_state("node1"), wait=True)
    client.report_state(dhcp_state("node1"), wait=True)
    inbox = Inbox()
    bus.subscribe(host_topic("node1", prefix), inbox)
    net, _ = network(api)
    inbox.wait(lambda p: p["resource"] == "network" and p["id"] == net["id"])
    assert [n["id"] for n in client.get_dhcp_state([net["id"]])["networks"]] == [net["id"]]


def test_dhcp_port_is_created_once_bound_and_released(env):
    core, api, bus, prefix = env
    client = DhcpClient(bus, "node1", prefix)
    client.report_state(_state("node1"), wait=True)
    client.report_state(dhcp_state("node1"), wait=True)
    net, sub = network(api)
    port = client.ensure_dhcp_port(net["id"])
    assert port["device_owner"] == "network:dhcp"
    assert port["device_id"] == dhcp_device_id("node1", net["id"])
    assert port["binding:host_id"] == "node1" and port["binding:vif_type"] == "bridge"
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [sub["id"]]
    assert client.ensure_dhcp_port(net["id"])["id"] == port["id"]      # idempotent
    # a second DHCP subnet: the same port gets an address there too
    sub2 = api.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.6.0.0/24", "ip_version": 4}}).json()["subnet"]
    again = client.ensure_dhcp_port(net["id"])
    assert again["id"] == port["id"]
    assert {f["subnet_id"] for f in again["fixed_ips"]} == {sub["id"], sub2["id"]}
    core.notifier.flush(30)     # DHCP scheduling runs on the notifier thread
    state = client.get_dhcp_state([net["id"]])["networks"][0]
    assert port["id"] in {p["id"] for p in state["ports"]}
    assert client.release_dhcp_port(net["id"]) is True
    assert api.get(f"/v2.0/ports/{port['id']}").status_code == 404


def test_network_without_dhcp_subnet_gets_no_port_and_is_not_scheduled(env):
    core, api, bus, prefix = env
    client = DhcpClient(bus, "node1", prefix)
    client.report_state(dhcp_state("node1"), wait=True)
    net, _ = network(api, enable_dhcp=False)
    assert client.ensure_dhcp_port(net["id"]) is None
    assert client.get_dhcp_state()["networks"] == []


def test_port_change_reaches_the_dhcp_host(env):
    core, api, bus, prefix = env
    client = DhcpClient(bus, "node1", prefix)
    client.report_state(dhcp_state("node1"), wait=True)
    net, _ = network(api)
    core.notifier.flush(30)     # DHCP scheduling runs on the notifier thread
    inbox = Inbox()
    bus.subscribe(host_topic("node1", prefix), inbox)
    port = api.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    inbox.wait(lambda p: p["resource"] == "port" and p["id"] == port["id"])


def test_a_networks_digest_changes_with_what_the_agent_is_sent_and_only_then(env):
    """get_dhcp_digests: the agent's periodic check. Each change the DHCP
    agent's payload shows (a port created, its DHCP options, a subnet's DNS
    servers, a port deleted, the network's MTU) changes its network's
    digest, never another network's; no change, no new digest."""
    core, api, bus, prefix = env
    client = DhcpClient(bus, "node1", prefix)
    client.report_state(dhcp_state("node1"), wait=True)
    net, sub = network(api)
    other, _ = network(api, cidr="10.7.0.0/24")
    core.notifier.flush(30)     # DHCP scheduling runs on the notifier thread
    digests = client.get_dhcp_digests()
    assert set(digests) == {net["id"], other["id"]}
    assert client.get_dhcp_digests() == digests                     # nothing changed
    fetched = {w["id"]: w["digest"] for w in client.get_dhcp_state()["networks"]}
    assert fetched == digests                                       # as fetched

    seen = [digests[net["id"]]]

    def changed(what):
        now = client.get_dhcp_digests()
        assert now[other["id"]] == digests[other["id"]], what     # the other network: never
        assert now[net["id"]] not in seen, what
        seen.append(now[net["id"]])
    port = api.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    changed("a port created")
    r = api.put(f"/v2.0/ports/{port['id']}", json={"port": {"extra_dhcp_opts": [
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0"}]}})
    assert r.status_code == 200, r.text
    changed("the port's DHCP options")
    r = api.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {"dns_nameservers": ["192.0.2.53"]}})
    assert r.status_code == 200, r.text
    changed("the subnet's DNS servers")
    assert api.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    changed("the port deleted")
    r = api.put(f"/v2.0/networks/{net['id']}", json={"network": {"mtu": 1400}})
    assert r.status_code == 200, r.text
    changed("the network's MTU")
    assert client.get_dhcp_digests()[net["id"]] == seen[-1]
