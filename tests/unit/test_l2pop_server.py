"""l2population, the server side, over the in-process bus against a real
core (SQLite): the forwarding table a host gets for a vxlan network (only
ACTIVE ports of other hosts, with their VTEP), and who is told when it
changes (only the hosts serving that network)."""
from __future__ import annotations

import time
import uuid
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from neutrino.api.app import build_app
from neutrino.rpc.bus import make_transport
from neutrino.rpc.client import ServerClient, host_topic
from neutrino.rpc.server_handlers import ServerRpc, attach_bus
from neutrino.service import build_auth, build_core, load_server_config
from tests.unit.test_agent_server_rpc import Inbox as AgentInbox

VTEP = {"h1": "10.255.0.11", "h2": "10.255.0.12", "h3": "10.255.0.13", "h4": "10.255.0.14"}


class Inbox(AgentInbox):
    def fdb(self, net_id):
        with self.cond:
            return [m for m in self.items if m["resource"] == "fdb" and m["id"] == net_id]

    def about(self, net_id):
        """Port and fdb notifications concerning `net_id`."""
        with self.cond:
            return [m for m in self.items if m["resource"] in ("port", "fdb")
                    and net_id in (m.get("id"), m.get("network_id"))]

    def clear(self):
        with self.cond:
            self.items.clear()


@pytest.fixture(params=["linuxbridge,l2population"])
def env(request, tmp_path):
    prefix = f"l2p-{uuid.uuid4().hex[:8]}"
    cfg = load_server_config([], {
        "DEFAULT": {"state_path": str(tmp_path), "auth_strategy": "noauth"},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": request.param},
        "ml2_type_flat": {"flat_networks": "physnet1"},
        "ml2_type_vxlan": {"vni_ranges": "100:200"},
        "oslo_policy": {"policy_file": ""}})
    core = build_core(cfg)
    transport = make_transport(f"inproc://{prefix}")
    attach_bus(core, transport, prefix=prefix)
    client = TestClient(build_app(core, build_auth(cfg, core.db)))
    bus = make_transport(f"inproc://{prefix}")
    inboxes = {}
    for host, vtep in VTEP.items():
        ServerClient(bus, host, prefix).report_state({
            "agent_type": "Linux bridge agent", "binary": "neutrino-linuxbridge-agent",
            "host": host, "topic": "N/A", "start_flag": True,
            "configurations": {"interface_mappings": {"physnet1": "eth1"},
                               "tunnel_types": ["vxlan"], "tunneling_ip": vtep,
                               "l2_population": True}}, wait=True)
        inboxes[host] = Inbox()
        bus.subscribe(host_topic(host, prefix), inboxes[host])
    yield core, client, bus, prefix, inboxes
    bus.close()
    core.notifier.close()
    transport.close()
    core.db.dispose()


def _network(client, **extra):
    net = client.post("/v2.0/networks", json={"network": {"name": "n", **extra}}).json()["network"]
    r = client.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                      "cidr": "10.0.0.0/24"}})
    assert r.status_code == 201, r.text
    return net


def _port(client, net_id, host):
    r = client.post("/v2.0/ports", json={"port": {"network_id": net_id, "binding:host_id": host}})
    assert r.status_code == 201, r.text
    return r.json()["port"]


def _table(bus, prefix, host, net_id):
    state = ServerClient(bus, prefix=prefix, host=host).get_host_state(networks=[net_id])
    (net,) = [n for n in state["networks"] if n["id"] == net_id]
    return net.get("l2pop")


def _flush(core):
    core.notifier.flush()
    time.sleep(0.05)   # inproc delivery runs on handler threads


def test_forwarding_table_holds_active_ports_of_other_hosts(env):
    core, client, bus, prefix, inboxes = env
    rpc = ServerRpc(core, bus, prefix)
    net = _network(client)
    p1, p2, p3 = (_port(client, net["id"], h) for h in ("h1", "h2", "h3"))
    # nothing is ACTIVE yet: empty tables (a DOWN or BUILD port floods nowhere)
    assert _table(bus, prefix, "h1", net["id"]) == {"vteps": [], "ports": []}
    rpc.update_device_status("h2", up=[], down=[], build=[p2["id"]])
    assert _table(bus, prefix, "h1", net["id"]) == {"vteps": [], "ports": []}
    rpc.update_device_status("h2", up=[p2["id"]], down=[], build=[])
    rpc.update_device_status("h3", up=[p3["id"]], down=[], build=[])
    t1 = _table(bus, prefix, "h1", net["id"])
    assert t1["vteps"] == [VTEP["h2"], VTEP["h3"]]
    assert t1["ports"] == [
        {"vtep": VTEP["h2"], "mac_address": p2["mac_address"],
         "ips": [p2["fixed_ips"][0]["ip_address"]]},
        {"vtep": VTEP["h3"], "mac_address": p3["mac_address"],
         "ips": [p3["fixed_ips"][0]["ip_address"]]}]
    # a host never sees its own ports
    assert _table(bus, prefix, "h2", net["id"])["vteps"] == [VTEP["h3"]]
    # DOWN leaves the table; delete too
    rpc.update_device_status("h3", up=[], down=[p3["id"]], build=[])
    assert _table(bus, prefix, "h1", net["id"])["vteps"] == [VTEP["h2"]]
    client.delete(f"/v2.0/ports/{p2['id']}")
    assert _table(bus, prefix, "h1", net["id"]) == {"vteps": [], "ports": []}
    assert p1["status"] == "DOWN"


def test_a_port_fetch_leaves_out_the_tables_the_agent_holds(env):
    """An agent fetching new ports of a network whose table it has says so;
    the answer then has the ports but not the table (O(1) per port, not
    O(ports on the network)); asking for the network itself brings it."""
    core, client, bus, prefix, _ = env
    rpc = ServerRpc(core, bus, prefix)
    net = _network(client)
    p1, p2 = _port(client, net["id"], "h1"), _port(client, net["id"], "h2")
    rpc.update_device_status("h2", up=[p2["id"]], down=[], build=[])
    agent = ServerClient(bus, prefix=prefix, host="h1")
    plain = agent.get_host_state(ports=[p1["id"]], networks=[])
    assert plain["networks"][0]["l2pop"]["vteps"] == [VTEP["h2"]]
    held = agent.get_host_state(ports=[p1["id"]], networks=[], tables_held=[net["id"]])
    assert [p["id"] for p in held["ports"]] == [p1["id"]]
    assert held["networks"][0]["id"] == net["id"] and "l2pop" not in held["networks"][0]
    asked = agent.get_host_state(ports=[], networks=[net["id"]], tables_held=[net["id"]])
    assert asked["networks"][0]["l2pop"]["vteps"] == [VTEP["h2"]]


def test_an_fdb_fetch_brings_the_table_without_the_ports(env):
    """After an fdb notice the agent asks for the network's table alone:
    the entry and its table, none of the host's ports (they did not
    change); nothing for a network the host no longer serves."""
    core, client, bus, prefix, _ = env
    rpc = ServerRpc(core, bus, prefix)
    net, other = _network(client), _network(client)
    _port(client, net["id"], "h1")
    p2 = _port(client, net["id"], "h2")
    _port(client, other["id"], "h3")
    rpc.update_device_status("h2", up=[p2["id"]], down=[], build=[])
    agent = ServerClient(bus, prefix=prefix, host="h1")
    state = agent.get_host_state(ports=[], networks=[], tables=[net["id"], other["id"]])
    assert state["ports"] == []
    assert [n["id"] for n in state["networks"]] == [net["id"]]
    assert state["networks"][0]["l2pop"]["ports"] == [
        {"vtep": VTEP["h2"], "mac_address": p2["mac_address"],
         "ips": [p2["fixed_ips"][0]["ip_address"]]}]


def test_flat_networks_get_no_table(env):
    core, client, bus, prefix, _ = env
    net = _network(client, **{"provider:network_type": "flat",
                              "provider:physical_network": "physnet1"})
    _port(client, net["id"], "h1")
    assert _table(bus, prefix, "h1", net["id"]) is None


def test_changes_reach_only_the_hosts_serving_the_network(env):
    core, client, bus, prefix, inboxes = env
    rpc = ServerRpc(core, bus, prefix)
    net = _network(client)
    other = _network(client)
    p1 = _port(client, net["id"], "h1")
    p2 = _port(client, net["id"], "h2")
    _port(client, other["id"], "h4")        # h4 serves another network only
    _flush(core)
    for inbox in inboxes.values():
        inbox.clear()
    rpc.update_device_status("h1", up=[p1["id"]], down=[], build=[])
    _flush(core)
    assert len(inboxes["h2"].fdb(net["id"])) == 1          # the other host on it
    assert inboxes["h1"].fdb(net["id"]) == []              # its own host needs nothing
    assert inboxes["h3"].about(net["id"]) == [] and inboxes["h4"].about(net["id"]) == []
    # the same status again changes nothing and sends nothing
    rpc.update_device_status("h1", up=[p1["id"]], down=[], build=[])
    _flush(core)
    assert len(inboxes["h2"].fdb(net["id"])) == 1
    # moving the port to h3: every host serving the network re-fetches
    for inbox in inboxes.values():
        inbox.clear()
    r = client.put(f"/v2.0/ports/{p1['id']}", json={"port": {"binding:host_id": "h3"}})
    assert r.json()["port"]["status"] == "DOWN"
    _flush(core)
    assert inboxes["h2"].fdb(net["id"]) and inboxes["h3"].fdb(net["id"])
    assert inboxes["h1"].about(net["id"])                    # told its port left
    assert inboxes["h4"].about(net["id"]) == []
    # deleting a port: the rest of the network's hosts
    for inbox in inboxes.values():
        inbox.clear()
    client.delete(f"/v2.0/ports/{p2['id']}")
    _flush(core)
    assert inboxes["h3"].fdb(net["id"])
    assert inboxes["h4"].about(net["id"]) == []


def test_a_burst_of_status_reports_sends_each_host_two_notices_not_one_per_report(env):
    """20 ports of h2 going ACTIVE one report at a time: h1 (serving the
    network) hears at once of the first and once more of the other 19
    together (each notice makes it fetch the whole table: one per report
    was O(ports) fetches of O(ports) rows); what it then fetches is the
    whole truth."""
    core, client, bus, prefix, inboxes = env
    core.notifier.fdb_window_min = core.notifier.fdb_window_max = 3600   # the rest waits for flush()
    rpc = ServerRpc(core, bus, prefix)
    net = _network(client)
    _port(client, net["id"], "h1")
    burst = [_port(client, net["id"], "h2") for _ in range(20)]
    _flush(core)
    for inbox in inboxes.values():
        inbox.clear()
    for port in burst:
        rpc.update_device_status("h2", up=[port["id"]], down=[], build=[])
    _flush(core)
    assert len(inboxes["h1"].fdb(net["id"])) == 2
    assert inboxes["h3"].about(net["id"]) == []
    assert {e["mac_address"] for e in _table(bus, prefix, "h1", net["id"])["ports"]} \
        == {p["mac_address"] for p in burst}
    # the window's end sends what is owed without anyone flushing: a report
    # made while a window is open (one that ends 1-2 s from now) goes out then
    core.notifier.fdb_window_min = core.notifier.fdb_window_max = 0.2
    core.notifier._fdb_sent[net["id"]] = time.monotonic() + 1.0
    port = _port(client, net["id"], "h2")
    rpc.update_device_status("h2", up=[port["id"]], down=[], build=[])
    deadline = time.monotonic() + 20
    while len(inboxes["h1"].fdb(net["id"])) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(inboxes["h1"].fdb(net["id"])) == 3


def test_a_deleted_port_s_own_host_is_not_told_to_refetch_the_table(env):
    """Deleting a port changes the tables of the other hosts on its network,
    not its own host's (which never held its own ports): only they hear an
    fdb notice (the own host hears of the port itself)."""
    core, client, bus, prefix, inboxes = env
    rpc = ServerRpc(core, bus, prefix)
    net = _network(client)
    p1, keep = _port(client, net["id"], "h1"), _port(client, net["id"], "h1")
    p2 = _port(client, net["id"], "h2")
    rpc.update_device_status("h1", up=[p1["id"], keep["id"]], down=[], build=[])
    rpc.update_device_status("h2", up=[p2["id"]], down=[], build=[])
    _flush(core)
    for inbox in inboxes.values():
        inbox.clear()
    client.delete(f"/v2.0/ports/{p1['id']}")
    _flush(core)
    assert inboxes["h2"].fdb(net["id"])
    assert inboxes["h1"].fdb(net["id"]) == []
    assert [m["id"] for m in inboxes["h1"].about(net["id"]) if m["resource"] == "port"] \
        == [p1["id"]]


def test_without_the_driver_nothing_is_sent(tmp_path):
    prefix = f"l2p-{uuid.uuid4().hex[:8]}"
    cfg = load_server_config([], {
        "DEFAULT": {"state_path": str(tmp_path), "auth_strategy": "noauth"},
        "ml2": {"type_drivers": "vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge"},
        "ml2_type_vxlan": {"vni_ranges": "100:200"},
        "oslo_policy": {"policy_file": ""}})
    core = build_core(cfg)
    transport = make_transport(f"inproc://{prefix}")
    attach_bus(core, transport, prefix=prefix)
    try:
        assert core.mech.l2population is False
        assert core.notifier.l2pop_hosts is None
    finally:
        core.notifier.close()
        transport.close()
        core.db.dispose()
