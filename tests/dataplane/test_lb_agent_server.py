"""neutrino-lb-agent against a real server (SQLite, the Octavia API) over
the in-process bus, with a real Linux bridge agent (security groups on) in
a host namespace: instances are ports whose taps lead to namespaces running
HTTP servers that answer their own name. Through the API only: a load
balancer goes ACTIVE and serves round robin, the health monitor's verdict
reaches the API's status tree, a restarted agent keeps the same haproxy,
and a cascade delete removes the namespace and the load balancer."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from neutrino import config
from neutrino.agent.lb.agent import LbAgent
from neutrino.agent.lb.driver import stop_all
from neutrino.agent.lb.options import LB_AGENT_SCHEMA
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink
from tests.dataplane.conftest import have
from tests.dataplane.helpers import server_with_l2_agent
from tests.dataplane.lb_env import SERVER

pytestmark = [pytest.mark.root,
              pytest.mark.missing(not have("haproxy"), reason="needs haproxy")]
HOST = "lbhost"
LB = "/v2/lbaas"


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Stack:
    def __init__(self, client, core, host_ns, netns_factory, tmp_path):
        self.client, self.core, self.host_ns = client, core, host_ns
        self.make = netns_factory
        self.tmp_path = tmp_path
        self.procs: dict[str, subprocess.Popen] = {}
        self.spaces: dict[str, str] = {}
        self.agents: list[LbAgent] = []

    def post(self, path, body, status=201):
        r = self.client.post(path, json=body)
        assert r.status_code == status, r.text
        return r.json()

    def lb_agent(self) -> LbAgent:
        prefix = self.core.notifier.prefix
        cfg = config.load(LB_AGENT_SCHEMA, [], {
            "DEFAULT": {"host": HOST, "transport_url": f"inproc://{prefix}",
                        "control_exchange": prefix, "state_path": str(self.tmp_path / "lbnode")},
            "agent": {"report_interval": "1", "resync_interval": "3600",
                      "namespace_prefix": self.make.prefix}})
        from neutrino.rpc.bus import make_transport
        agent = LbAgent(cfg, make_transport(f"inproc://{prefix}"), host_netns=self.host_ns)
        self.agents.append(agent.start())
        assert agent.wait_synced(30)
        return agent

    def instance(self, name: str, net_id: str, port_no: int = 8080) -> dict:
        """A port bound to the host, its tap plugged, an HTTP server behind it."""
        port = self.post("/v2.0/ports", {"port": {
            "network_id": net_id, "binding:host_id": HOST, "device_owner": "compute:x",
            "name": name}})["port"]
        space = self.make(name)
        with Netlink(self.host_ns) as nl:
            nl.create_veth("tap" + port["id"][:11], "eth0", peer_netns=space,
                           mac="fe" + port["mac_address"][2:], peer_mac=port["mac_address"])
            nl.set_up("tap" + port["id"][:11])
        ip = port["fixed_ips"][0]["ip_address"]
        with Netlink(space) as nl:
            nl.add_address("eth0", f"{ip}/24")
            nl.set_up("eth0")
        self.spaces[name] = space
        self.serve(name, port_no)
        return port

    def serve(self, name: str, port_no: int = 8080) -> None:
        with ns.in_netns(self.spaces[name]):
            self.procs[name] = subprocess.Popen([sys.executable, "-c", SERVER, name, str(port_no)],
                                                stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)

    def stop_serving(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)

    def get(self, space: str, url: str, timeout: float = 3.0) -> str:
        with ns.in_netns(space):
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(url, timeout=timeout) as resp:
                return resp.read().decode().strip()

    def lb(self, lb_id: str) -> dict:
        r = self.client.get(f"{LB}/loadbalancers/{lb_id}")
        return r.json()["loadbalancer"] if r.status_code == 200 else {}

    def wait_active(self, lb_id: str) -> None:
        wait_for(lambda: self.lb(lb_id).get("provisioning_status") == "ACTIVE", 30,
                 f"load balancer {lb_id} ACTIVE (is {self.lb(lb_id).get('provisioning_status')})")

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        for proc in self.procs.values():
            proc.kill()
            proc.wait(5)
        stop_all(self.tmp_path / "lbnode" / "lbaas")
        for name in ns.list_netns():
            if name.startswith(f"{self.make.prefix}qlbaas-"):
                ns.delete(name, missing_ok=True)


@pytest.fixture
def stack(tmp_path, netns):
    with server_with_l2_agent(tmp_path, netns, "lb", HOST) as (client, core, host_ns, start_l2):
        built = Stack(client, core, host_ns, netns, tmp_path)
        start_l2()
        try:
            yield built
        finally:
            built.close()


def test_load_balancer_through_the_api(stack):
    net = stack.post("/v2.0/networks", {"network": {"name": "lbnet"}})["network"]
    subnet = stack.post("/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": "10.78.0.0/24",
        "enable_dhcp": False}})["subnet"]
    # members accept 8080 from the subnet (the VIP's haproxy connects from the VIP)
    sg = stack.client.get("/v2.0/security-groups").json()["security_groups"][0]
    stack.post("/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 8080, "port_range_max": 8080, "remote_ip_prefix": "10.78.0.0/24"}})
    members = {name: stack.instance(name, net["id"]) for name in ("web1", "web2")}
    client_port = stack.instance("client", net["id"])
    agent = stack.lb_agent()

    lb = stack.post(f"{LB}/loadbalancers", {"loadbalancer": {
        "name": "lb1", "vip_subnet_id": subnet["id"]}})["loadbalancer"]
    stack.wait_active(lb["id"])
    listener = stack.post(f"{LB}/listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}})["listener"]
    stack.wait_active(lb["id"])
    pool = stack.post(f"{LB}/pools", {"pool": {
        "listener_id": listener["id"], "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN"}})["pool"]
    stack.wait_active(lb["id"])
    for name, port in members.items():
        stack.post(f"{LB}/pools/{pool['id']}/members", {"member": {
            "address": port["fixed_ips"][0]["ip_address"], "protocol_port": 8080,
            "subnet_id": subnet["id"]}})
        stack.wait_active(lb["id"])
    stack.post(f"{LB}/healthmonitors", {"healthmonitor": {
        "pool_id": pool["id"], "type": "HTTP", "delay": 1, "timeout": 2, "max_retries": 1,
        "max_retries_down": 2, "url_path": "/"}})
    stack.wait_active(lb["id"])

    vip = f"http://{lb['vip_address']}/"
    client_ns = stack.spaces["client"]
    assert client_port["fixed_ips"][0]["ip_address"] != lb["vip_address"]
    wait_for(lambda: _tries(stack, client_ns, vip), 30, "the VIP answering")

    def member_states():
        tree = stack.client.get(f"{LB}/loadbalancers/{lb['id']}/status").json()
        pools = tree["statuses"]["loadbalancer"]["listeners"][0]["pools"]
        return {m["address"]: m["operating_status"] for m in pools[0]["members"]}
    web1 = members["web1"]["fixed_ips"][0]["ip_address"]
    wait_for(lambda: set(member_states().values()) == {"ONLINE"}, 30, "members ONLINE")
    answers = [stack.get(client_ns, vip) for _ in range(10)]
    assert sorted(answers) == ["web1"] * 5 + ["web2"] * 5
    stack.stop_serving("web1")
    wait_for(lambda: member_states()[web1] == "ERROR", 30, "web1 ERROR in the API")
    assert stack.lb(lb["id"])["operating_status"] == "DEGRADED"
    assert {stack.get(client_ns, vip) for _ in range(6)} == {"web2"}

    # a restarted agent keeps the same haproxy
    pid = agent.driver.pid(lb["id"])
    agent.stop()
    stack.agents.remove(agent)
    again = stack.lb_agent()
    assert again.driver.pid(lb["id"]) == pid

    # cascade delete: everything goes, and the load balancer with it
    r = stack.client.delete(f"{LB}/loadbalancers/{lb['id']}", params={"cascade": "true"})
    assert r.status_code == 204, r.text
    wait_for(lambda: stack.client.get(f"{LB}/loadbalancers/{lb['id']}").status_code == 404
             or stack.lb(lb["id"]).get("provisioning_status") == "DELETED", 30,
             "load balancer gone")
    assert not ns.exists(f"{stack.make.prefix}qlbaas-{lb['id']}")
    assert again.driver.pid(lb["id"]) is None


def _tries(stack, space, url) -> bool:
    try:
        stack.get(space, url, timeout=1)
        return True
    except OSError:
        return False
