"""A burst of port deletions costs the DHCP agent no fetch: the ports leave
its cached network, and one cycle writes the host file once and sends
dnsmasq one SIGHUP (issue #18: 1,000 deletes; each had been a fetch of the
whole network from the server). The agent runs for real with its client
and driver replaced by recorders."""
from __future__ import annotations

import dataclasses

from neutrino import config as config_mod
from neutrino.agent.dhcp.agent import DhcpAgent
from neutrino.agent.dhcp.model import NetDesired, NetObserved
from neutrino.agent_options import DHCP_AGENT_SCHEMA
from neutrino.rpc.bus import make_transport
from tests.unit.test_dhcp_plan import CONF, NET, SUB, converged, wire

VMS = [(f"fa:16:3e:00:01:{i:02x}", f"102.0.0.{10 + i}") for i in range(40)]


class Client:
    def __init__(self, network: dict):
        self.network = network
        self.fetched: list[object] = []

    def get_dhcp_state(self, networks=None):
        self.fetched.append(None if networks is None else sorted(networks))
        return {"networks": [self.network]}

    def release_dhcp_port(self, net_id):
        raise AssertionError("not expected")


class Driver:
    """The kernel and dnsmasq as the driver would leave them: the files of
    the last write, one dnsmasq running."""

    def __init__(self, first: NetDesired):
        self.observed: NetObserved = converged(first)
        self.applied: list[list] = []
        self.asked: list[object] = []

    def taps(self, names=None) -> set[str]:
        self.asked.append(None if names is None else sorted(names))
        return set(self.observed.taps) if names is None else set(self.observed.taps) & names

    def known_networks(self) -> set[str]:
        return {NET}

    def observe(self, net_id, taps, dev, want_v6=False) -> NetObserved:
        return dataclasses.replace(self.observed, files=dict(self.observed.files))

    def apply(self, net_id, ops) -> None:
        self.applied.append(ops)
        for op in ops:
            if op[0] == "write":
                self.observed.files[op[1]] = op[2]

    def process(self, net_id):
        raise AssertionError("not expected")


def agent(tmp_path, network: dict) -> tuple[DhcpAgent, Client, Driver]:
    ini = tmp_path / "dhcp_agent.ini"
    ini.write_text(f"[DEFAULT]\nhost = node1\nstate_path = {CONF.state_path}\n"
                   f"dnsmasq_binary = sh\nnum_sync_threads = 1\n")
    cfg = config_mod.load(DHCP_AGENT_SCHEMA, [str(ini)])
    a = DhcpAgent(cfg, make_transport("inproc://dhcp-burst"))
    a.conf = CONF
    a.client = Client(network)
    a.driver = Driver(NetDesired.from_wire(network, "node1"))
    a.sync(True)
    return a, a.client, a.driver


def notify(a: DhcpAgent, port_id: str, deleted: bool) -> None:
    a._on_notification("resource_changed", {"resource": "port", "id": port_id,
                                            "network_id": NET, "deleted": deleted,
                                            "revision": -1 if deleted else 2})


def cycle(a: DhcpAgent) -> None:
    """What the reconcile loop does on a wake: take the dirty ids, sync."""
    with a._cond:
        ids, a.triggers.ids = a.triggers.ids, set()
    a.sync(False, ids)


def test_a_burst_of_deletes_is_one_write_one_reload_and_no_fetch(tmp_path):
    net = wire(vm_ports=VMS)
    a, client, driver = agent(tmp_path, net)
    assert client.fetched == [None] and driver.applied == []    # converged already
    gone = [p for p in net["ports"] if p["device_owner"] == "compute:nova"][:30]
    # the server has deleted them: a later fetch would not list them
    client.network = {**net, "ports": [p for p in net["ports"] if p not in gone]}
    for p in gone:
        notify(a, p["id"], deleted=True)
    cycle(a)
    assert client.fetched == [None]                  # no fetch for the burst
    assert len(driver.applied) == 1                   # one cycle for the burst
    kinds = [op[0] for op in driver.applied[0]]
    assert kinds.count("reload") == 1 and set(kinds) == {"write", "reload"}
    assert a.reloads == 1 and a.fetches == 1
    host_file = driver.observed.files["host"]
    for p in net["ports"]:
        assert (p["mac_address"] in host_file) == (p not in gone), p["mac_address"]
    # only our DHCP port's tap was looked up, not every VM tap of the host
    assert driver.asked == [None, [a.desired[NET].tap()]]
    # a later full resync agrees: nothing to change
    a.sync(True)
    assert len(driver.applied) == 1


def test_a_port_change_still_fetches_its_network(tmp_path):
    net = wire(vm_ports=VMS[:3])
    a, client, driver = agent(tmp_path, net)
    changed = dict(net["ports"][1], mac_address="fa:16:3e:00:02:99")
    client.network = {**net, "ports": [net["ports"][0], changed, *net["ports"][2:]]}
    notify(a, changed["id"], deleted=False)
    cycle(a)
    assert client.fetched == [None, [NET]]
    assert "fa:16:3e:00:02:99" in driver.observed.files["host"] and a.reloads == 1


def test_deleting_a_router_port_asks_the_server(tmp_path):
    """The metadata routes of a subnet depend on its router's port: only the
    server's view says what follows."""
    net = wire(vm_ports=VMS[:2])
    router = {"id": "router-if", "mac_address": "fa:16:3e:00:00:99",
              "device_owner": "network:router_interface", "device_id": "r1",
              "fixed_ips": [{"subnet_id": SUB, "ip_address": "102.0.0.1"}]}
    net["ports"].append(router)
    a, client, _ = agent(tmp_path, net)
    client.network = {**net, "ports": net["ports"][:-1]}
    notify(a, "router-if", deleted=True)
    cycle(a)
    assert client.fetched == [None, [NET]]
