"""From the API to dnsmasq's files: a port's dns_name (with a configured
[DEFAULT] dns_domain) and extra_dhcp_opts reach the DHCP agent in
get_dhcp_state and become its host, addn_hosts and opts lines."""
from __future__ import annotations

import uuid
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from neutrino.agent.dhcp.model import NetDesired
from neutrino.agent.dhcp.rpc import DhcpClient
from neutrino.api.app import build_app
from neutrino.dataplane.dnsmasq import DnsmasqConf
from neutrino.rpc.bus import make_transport
from neutrino.rpc.server_handlers import attach_bus
from neutrino.service import build_auth, build_core, load_server_config
from tests.unit.test_agent_server_rpc import _state
from tests.unit.test_dhcp_server_rpc import dhcp_state


@pytest.fixture
def env(tmp_path):
    prefix = f"dnsdhcp-{uuid.uuid4().hex[:8]}"
    cfg = load_server_config([], {
        "DEFAULT": {"state_path": str(tmp_path), "auth_strategy": "noauth",
                    "dns_domain": "example.org"},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge"},
        "ml2_type_vxlan": {"vni_ranges": "100:200"},
        "oslo_policy": {"policy_file": ""}})
    core = build_core(cfg)
    transport = make_transport(f"inproc://{prefix}")
    attach_bus(core, transport, prefix=prefix)
    api = TestClient(build_app(core, build_auth(cfg, core.db)))
    agent_bus = make_transport(f"inproc://{prefix}")
    yield api, agent_bus, prefix, tmp_path, core
    agent_bus.close()
    core.notifier.close()
    transport.close()
    core.db.dispose()


def test_names_and_options_reach_the_dnsmasq_files(env):
    api, bus, prefix, tmp, core = env
    client = DhcpClient(bus, "node1", prefix)
    client.report_state(_state("node1"), wait=True)
    client.report_state(dhcp_state("node1"), wait=True)
    net = api.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
    api.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                               "cidr": "10.9.0.0/24"}})
    web = api.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "dns_name": "web-1",
        "extra_dhcp_opts": [{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"},
                            {"opt_name": "150", "opt_value": "10.9.0.50"},
                            {"opt_name": "bootfile-url", "opt_value": "http://x/y",
                             "ip_version": 6}]}}).json()["port"]
    plain = api.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    core.notifier.flush(30)     # DHCP scheduling runs on the notifier thread
    client.ensure_dhcp_port(net["id"])
    wire = client.get_dhcp_state([net["id"]])["networks"][0]
    ports = {p["id"]: p for p in wire["ports"]}
    web_ip = web["fixed_ips"][0]["ip_address"]
    assert ports[web["id"]]["dns_assignment"] == [
        {"ip_address": web_ip, "hostname": "web-1", "fqdn": "web-1.example.org."}]
    assert {o["opt_name"] for o in ports[web["id"]]["extra_dhcp_opts"]} == {
        "bootfile-name", "150", "bootfile-url"}
    assert ports[plain["id"]]["extra_dhcp_opts"] == []

    files = NetDesired.from_wire(wire, "node1").files(
        DnsmasqConf(state_path=str(tmp), domain="example.org"))
    tag = f"port-{web['id']}"
    assert f"{web['mac_address']},set:{tag},web-1.example.org,{web_ip}\n" in files["host"]
    plain_ip = plain["fixed_ips"][0]["ip_address"]
    plain_name = "host-" + plain_ip.replace(".", "-")
    assert f"{plain['mac_address']},{plain_name}.example.org,{plain_ip}\n" in files["host"]
    assert f"{web_ip}\tweb-1.example.org web-1\n" in files["addn_hosts"]
    assert f"tag:{tag},option:bootfile-name,pxelinux.0\n" in files["opts"]
    assert f"tag:{tag},150,10.9.0.50\n" in files["opts"]
    assert f"tag:{tag},option6:bootfile-url,http://x/y\n" in files["opts"]
    # an update changes what the agent gets
    api.put(f"/v2.0/ports/{web['id']}", json={"port": {
        "dns_name": "web-2", "extra_dhcp_opts": [{"opt_name": "150", "opt_value": None}]}})
    wire = client.get_dhcp_state([net["id"]])["networks"][0]
    port = next(p for p in wire["ports"] if p["id"] == web["id"])
    assert port["dns_assignment"][0]["hostname"] == "web-2"
    assert "150" not in {o["opt_name"] for o in port["extra_dhcp_opts"]}
