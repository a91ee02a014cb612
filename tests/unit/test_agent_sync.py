"""One reconciler cycle of the Linux bridge agent (LinuxBridgeAgent.sync)
against a fake server on the in-process bus and a fake kernel: what it
fetches, what it reports (DOWN -> BUILD -> ACTIVE, DOWN when unplugged),
and that an unchanged world costs no report at all."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from neutrino import config as config_mod
from neutrino.agent.l2.agent import LinuxBridgeAgent
from neutrino.agent.l2.apply import ApplyResult
from neutrino.agent.l2.model import tap_name
from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA
from neutrino.rpc.bus import make_transport
from neutrino.rpc.client import host_topic, server_target, status_target
from tests.unit.test_agent_plan import NET_A, PORT_1, PORT_2, FakeKernel, link


class KernelStub(FakeKernel):
    """FakeKernel with the agent's Kernel interface (observe/apply)."""

    fail: set[str] = set()

    def observe(self):
        return dict(self.links)

    def apply(self, ops) -> ApplyResult:
        ok = [op for op in ops if op.name not in self.fail]
        super().apply(ok)
        return ApplyResult(failed={op.name: "refused" for op in ops if op.name in self.fail},
                           applied=len(ok))

    def close(self):
        pass


class FakeServer:
    def __init__(self, url: str, prefix: str):
        self.transport = make_transport(url)
        self.ports: dict[str, dict] = {}
        self.network = {"id": NET_A, "network_type": "local", "mtu": 1500,
                        "admin_state_up": True}
        self.fetches: list[dict] = []
        self.reports: list[tuple[str, list[str]]] = []
        self.cond = threading.Condition()
        self.transport.serve(server_target(prefix), self.handle)
        self.transport.serve(status_target(prefix), self.handle)

    def bind(self, port_id: str, status: str = "DOWN") -> None:
        self.ports[port_id] = {"id": port_id, "network_id": NET_A, "status": status,
                               "mac_address": "fa:16:3e:00:00:01", "admin_state_up": True,
                               "fixed_ips": []}

    def handle(self, method: str, payload: dict):
        if method == "get_host_state":
            self.fetches.append(payload)
            wanted = payload.get("ports")
            ports = [p for p in self.ports.values() if wanted is None or p["id"] in wanted]
            return {"ports": ports, "networks": [self.network] if ports else []}
        if method == "update_device_status":
            with self.cond:
                for key, status in (("build", "BUILD"), ("up", "ACTIVE"), ("down", "DOWN")):
                    if payload[key]:
                        self.reports.append((status, payload[key]))
                        for pid in payload[key]:
                            if pid in self.ports:
                                self.ports[pid]["status"] = status
                self.cond.notify_all()
            return None
        return {}

    def wait_reports(self, n: int, timeout: float = 5.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.reports) >= n, timeout), self.reports
            return list(self.reports)


@pytest.fixture
def setup():
    prefix = f"unit-{uuid.uuid4().hex[:8]}"
    url = f"inproc://{prefix}"
    server = FakeServer(url, prefix)
    cfg = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], {
        "DEFAULT": {"host": "h1", "control_exchange": prefix, "transport_url": url},
        "linux_bridge": {"physical_interface_mappings": "physnet1:eth1"},
        "vxlan": {"enable_vxlan": "false"},
    })
    kernel = KernelStub.host()
    agent = LinuxBridgeAgent(cfg, make_transport(url), kernel=kernel)
    yield server, agent, kernel
    agent.transport.close()
    server.transport.close()


def test_first_sync_wires_and_reports_build_then_active(setup):
    server, agent, kernel = setup
    server.bind(PORT_1)
    kernel.links[tap_name(PORT_1)] = link(tap_name(PORT_1))
    result = agent.sync(full=True)
    assert result.wired == {PORT_1}
    assert server.fetches == [{"host": "h1"}]
    assert server.wait_reports(2) == [("BUILD", [PORT_1]), ("ACTIVE", [PORT_1])]
    assert kernel.links[tap_name(PORT_1)].master == "brq" + NET_A[:11]
    # nothing changed: no fetch (not full), no ops, no report
    result = agent.sync(full=False)
    assert result.ops == [] and len(server.fetches) == 1
    time.sleep(0.05)
    assert len(server.reports) == 2


def test_tap_appearing_later_needs_no_rpc_and_unplug_reports_down(setup):
    server, agent, kernel = setup
    server.bind(PORT_1)
    agent.sync(full=True)
    assert agent.last_plan.unwired == {PORT_1}
    kernel.links[tap_name(PORT_1)] = link(tap_name(PORT_1))     # the hypervisor plugs it
    agent.sync(full=False)
    assert len(server.fetches) == 1                               # kernel event: no fetch
    assert server.wait_reports(2) == [("BUILD", [PORT_1]), ("ACTIVE", [PORT_1])]
    del kernel.links[tap_name(PORT_1)]                            # unplugged
    agent.sync(full=False)
    assert server.wait_reports(3)[-1] == ("DOWN", [PORT_1])


def test_notification_fetches_only_the_dirty_port(setup):
    server, agent, kernel = setup
    server.bind(PORT_1, "ACTIVE")
    kernel.links[tap_name(PORT_1)] = link(tap_name(PORT_1))
    agent.sync(full=True)
    server.bind(PORT_2)
    kernel.links[tap_name(PORT_2)] = link(tap_name(PORT_2))
    agent.sync(full=False, ports={PORT_2})
    assert server.fetches[-1] == {"host": "h1", "ports": [PORT_2], "networks": []}
    assert set(agent.desired.ports) == {PORT_1, PORT_2}
    reports = server.wait_reports(2)
    assert ("ACTIVE", [PORT_2]) in reports
    assert all(PORT_1 not in ids for _, ids in reports)          # already ACTIVE: not re-sent
    # PORT_2 unbound: a notification, the fetch returns nothing for it
    del server.ports[PORT_2]
    result = agent.sync(full=False, ports={PORT_2})
    assert set(agent.desired.ports) == {PORT_1}
    assert any(op.name == tap_name(PORT_2) for op in result.ops)  # released from the bridge


def test_failed_device_change_reports_down_and_raises_for_a_resync(setup):
    server, agent, kernel = setup
    server.bind(PORT_1, "ACTIVE")
    kernel.links[tap_name(PORT_1)] = link(tap_name(PORT_1))
    kernel.fail = {tap_name(PORT_1)}
    with pytest.raises(RuntimeError, match="failed"):
        agent.sync(full=True)
    assert server.wait_reports(1) == [("DOWN", [PORT_1])]


def test_agent_state_carries_what_binding_needs(setup):
    _, agent, _ = setup
    state = agent.agent_state(start_flag=True)
    assert state["agent_type"] == "Linux bridge agent" and state["start_flag"] is True
    assert state["configurations"]["interface_mappings"] == {"physnet1": "eth1"}
    assert state["configurations"]["tunnel_types"] == []
    assert host_topic("h1", "x") == "x.host.h1"


def test_deleted_ports_cost_no_fetch(setup):
    """A burst of delete notifications: the ports leave the desired state and
    their taps their bridge, and the server is not asked about them."""
    server, agent, kernel = setup
    for pid in (PORT_1, PORT_2):
        server.bind(pid, "ACTIVE")
        kernel.links[tap_name(pid)] = link(tap_name(pid))
    agent.sync(full=True)
    assert set(agent.last_plan.wired) == {PORT_1, PORT_2}
    server.ports.clear()                      # deleted on the server
    for pid in (PORT_1, PORT_2):
        agent._on_notification("resource_changed", {"resource": "port", "id": pid,
                                                    "deleted": True, "network_id": NET_A})
    with agent._cond:
        ports, gone = set(agent._dirty_ports), set(agent._deleted_ports)
    result = agent.sync(full=False, ports=ports, gone=gone)
    assert len(server.fetches) == 1               # only the first full sync
    assert agent.desired.ports == {}
    assert result.wired == set() and result.ops          # unwired (their bridge goes)
