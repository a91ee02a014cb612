"""A routed provider network on a real kernel: a network with a flat segment
on physnet1 and one on physnet2, a subnet on each. The host's Linux bridge
agent maps only physnet2: its port is bound to that segment, gets its
address from that segment's subnet, and the agent puts physnet2's interface
into the network's bridge (and nothing of physnet1). An instance on the tap
then reaches a peer on physnet2's wire. (Flat segments: this machine's
kernel has no 802.1Q; VLAN segments take the same server path.)"""
from __future__ import annotations

import time
import uuid

import pytest

from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink

pytestmark = pytest.mark.root

HOST = "seghost"


@pytest.fixture
def server(tmp_path, netns):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from neutrino import config as config_mod
    from neutrino.agent.l2.agent import LinuxBridgeAgent
    from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA
    from neutrino.api.app import build_app
    from neutrino.rpc.bus import make_transport
    from neutrino.rpc.server_handlers import attach_bus
    from neutrino.service import build_auth, build_core, load_server_config
    prefix = f"seg-{uuid.uuid4().hex[:8]}"
    cfg = load_server_config([], {
        "DEFAULT": {"state_path": str(tmp_path), "auth_strategy": "noauth"},
        "ml2": {"type_drivers": "flat,local", "tenant_network_types": "local",
                "mechanism_drivers": "linuxbridge"},
        "ml2_type_flat": {"flat_networks": "physnet1,physnet2"},
        "oslo_policy": {"policy_file": ""}})
    core = build_core(cfg)
    bus = make_transport(f"inproc://{prefix}")
    attach_bus(core, bus, prefix=prefix)
    client = TestClient(build_app(core, build_auth(cfg, core.db)))
    host_ns = netns("host")
    wire = netns("wire")       # physnet2's wire, with a peer on it
    with Netlink(host_ns) as nl:
        nl.create_veth("eth2", "uplink", peer_netns=wire)
        nl.create_veth("eth1", "other", peer_netns=wire)    # physnet1's, not mapped
    ns.run(["ip", "link", "set", "eth2", "up"], netns=host_ns)
    agent_bus = make_transport(f"inproc://{prefix}")
    acfg = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], {
        "DEFAULT": {"host": HOST, "transport_url": f"inproc://{prefix}",
                    "control_exchange": prefix},
        "agent": {"report_interval": "0", "polling_interval": "1",
                  "resync_interval": "3600"},
        "linux_bridge": {"physical_interface_mappings": "physnet2:eth2"},
        "vxlan": {"enable_vxlan": "false"},
        "securitygroup": {"firewall_driver": "noop"}})
    agent = LinuxBridgeAgent(acfg, agent_bus, netns=host_ns).start()
    try:
        assert agent.wait_synced(30)
        agent.report()         # its mappings (physnet2 only) reach the server
        yield client, host_ns, wire, netns
    finally:
        agent.stop()
        agent_bus.close()
        core.notifier.close()
        bus.close()
        core.db.dispose()


def _post(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _wait(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_port_takes_and_wires_its_hosts_segment(server):
    client, host_ns, wire, make_ns = server
    net = _post(client, "/v2.0/networks", {"network": {"name": "routed", "segments": [
        {"provider:network_type": "flat", "provider:physical_network": "physnet1"},
        {"provider:network_type": "flat", "provider:physical_network": "physnet2"}]}}
                )["network"]
    segs = {s["physical_network"]: s["id"] for s in client.get(
        "/v2.0/segments", params={"network_id": net["id"]}).json()["segments"]}
    for physnet, cidr in (("physnet1", "10.61.0.0/24"), ("physnet2", "10.62.0.0/24")):
        _post(client, "/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": cidr, "enable_dhcp": False,
            "segment_id": segs[physnet]}})
    port = _post(client, "/v2.0/ports", {"port": {
        "network_id": net["id"], "binding:host_id": HOST, "device_owner": "compute:x",
        "port_security_enabled": False}})["port"]
    assert port["binding:vif_type"] == "bridge", port["binding:vif_details"]
    ip = port["fixed_ips"][0]["ip_address"]
    assert ip.startswith("10.62.0."), port["fixed_ips"]
    inst = make_ns("inst")
    with Netlink(host_ns) as nl:
        nl.create_veth("tap" + port["id"][:11], "eth0", peer_netns=inst,
                       peer_mac=port["mac_address"])
    ns.run(["ip", "addr", "add", f"{ip}/24", "dev", "eth0"], netns=inst)
    ns.run(["ip", "link", "set", "eth0", "up"], netns=inst)
    bridge = "brq" + net["id"][:11]

    def members() -> str:
        return ns.run(["ip", "-o", "link", "show", "master", bridge], netns=host_ns,
                      check=False)
    _wait(lambda: "eth2@" in members() and "tap" + port["id"][:11] in members(),
          f"eth2 and the tap in {bridge}")
    assert "eth1@" not in members()        # physnet1's segment is not this host's
    # the peer on physnet2's wire answers the instance
    ns.run(["ip", "addr", "add", "10.62.0.200/24", "dev", "uplink"], netns=wire)
    ns.run(["ip", "link", "set", "uplink", "up"], netns=wire)

    def pings() -> bool:
        try:
            ns.run(["ping", "-c", "1", "-W", "1", "10.62.0.200"], netns=inst)
            return True
        except Exception:
            return False
    _wait(pings, "ping over physnet2")
