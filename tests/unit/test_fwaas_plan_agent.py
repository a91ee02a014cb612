"""FWaaS hooked into the L3 agent's sync, without a kernel: a router's
firewall converges after the router, a failure on one router marks its
groups ERROR (with the reason) and leaves the others alone, and the groups'
statuses are cast after each pass (all after a full sync, else changes)."""
from __future__ import annotations

import pytest

from neutrino import config
from neutrino.agent.l3 import agent as agent_mod
from neutrino.agent.l3.fwaas import extension as fwaas_extension
from neutrino.agent_options import L3_AGENT_SCHEMA


class FakeBus:
    def __init__(self, routers):
        self.routers = routers
        self.casts = []

    def call(self, target, method, payload, timeout=None):
        return {"routers": self.routers}

    def cast(self, target, method, payload):
        assert target.endswith(".server.status")
        self.casts.append((method, payload))


def wire(rid, fwg):
    port = {"id": f"if-{rid}", "mac_address": "fa:16:3e:00:00:02", "mtu": 1500,
            "fixed_ips": [{"ip_address": "10.0.0.1", "prefixlen": 24}], "firewall_group": fwg}
    return {"id": rid, "admin_state_up": True, "enable_snat": True, "gw_port": None,
            "interfaces": [port], "routes": [], "floating_ips": []}


def fwg(gid, version="1"):
    return {"id": gid, "admin_state_up": True, "version": version,
            "ingress": [{"id": "x", "enabled": True, "protocol": "tcp", "ip_version": 4,
                         "source_ip_address": None, "destination_ip_address": None,
                         "source_port": None, "destination_port": "22", "action": "allow"}],
            "egress": None}


@pytest.fixture
def setup(monkeypatch, tmp_path):
    applied = []
    broken = {"qrouter-r2"}

    class FakeNs:
        def __init__(self, rid, prefix, *args, **kw):
            self.name = f"{prefix}qrouter-{rid}"

        def converge(self, router, host_links=None):
            applied.append(("router", router.id))

    class FakeKernel:
        def __init__(self, netns):
            self.netns = netns

        def observe(self):
            if self.netns in broken:
                raise RuntimeError("iptables-restore: line 3 failed")
            return {4: {}, 6: {}}

        def apply(self, plan):
            applied.append(self.netns)

        def flows(self):
            return []

        def delete_flows(self, flows):
            pass

    class FakeLinks:
        def __init__(self, netns):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def dump(self):
            return []

    monkeypatch.setattr(fwaas_extension, "RouterFirewallKernel", FakeKernel)
    monkeypatch.setattr(agent_mod, "RouterNamespace", FakeNs)
    monkeypatch.setattr(agent_mod, "FastLinks", FakeLinks)
    monkeypatch.setattr(agent_mod, "existing_routers", lambda prefix: ["r1", "r2", "r3"])
    monkeypatch.setattr(agent_mod.L3Agent, "_metadata_proxy", lambda self, rid, ns: None)
    cfg = config.load(L3_AGENT_SCHEMA, [], {"DEFAULT": {"host": "net1",
                                                        "state_path": str(tmp_path)}})
    bus = FakeBus([wire("r1", fwg("g1")), wire("r2", fwg("g2")), wire("r3", None)])
    return agent_mod.L3Agent(cfg, transport=bus), bus, applied, broken


def test_failure_on_one_router_marks_its_group_error_and_spares_the_others(setup):
    agent, bus, applied, broken = setup
    with pytest.raises(RuntimeError, match="r2"):
        agent.sync(full=True)
    assert [a for a in applied if isinstance(a, str)] == ["qrouter-r1"]   # r3: no group
    method, payload = bus.casts[-1]
    assert method == "update_firewall_group_statuses" and payload["host"] == "net1"
    assert payload["statuses"]["g1"] == {"status": "ACTIVE", "version": "1", "reason": None}
    g2 = payload["statuses"]["g2"]
    assert g2["status"] == "ERROR" and "line 3 failed" in g2["reason"]
    # repaired: the next pass reports only the change
    broken.clear()
    bus.casts.clear()
    agent.sync(full=False, dirty={"r2"})
    assert bus.casts == [("update_firewall_group_statuses", {"host": "net1", "statuses": {
        "g2": {"status": "ACTIVE", "version": "1", "reason": None}}})]
    # nothing changed: nothing sent; a full sync sends everything again
    bus.casts.clear()
    agent.sync(full=False, dirty={"r1"})
    assert bus.casts == []
    agent.sync(full=True)
    assert set(bus.casts[-1][1]["statuses"]) == {"g1", "g2"}


def test_a_new_version_is_reported_once_applied(setup):
    agent, bus, applied, broken = setup
    broken.clear()
    agent.sync(full=True)
    bus.routers[0] = wire("r1", fwg("g1", version="2"))
    bus.casts.clear()
    applied.clear()
    agent.sync(full=False, dirty={"r1"})
    # only the firewall changed: the router's namespace is not converged again
    assert applied == ["qrouter-r1"]
    # nothing changed: the router converges as before (a notification repairs)
    applied.clear()
    agent.sync(full=False, dirty={"r1"})
    assert ("router", "r1") in applied
    assert bus.casts[-1][1]["statuses"] == {"g1": {"status": "ACTIVE", "version": "2",
                                                   "reason": None}}


def test_disabled_reports_nothing(setup, tmp_path):
    agent, bus, applied, broken = setup
    cfg = config.load(L3_AGENT_SCHEMA, [], {"DEFAULT": {"host": "net1",
                                                        "state_path": str(tmp_path)},
                                            "fwaas": {"enabled": "false"}})
    broken.clear()
    off = agent_mod.L3Agent(cfg, transport=bus)
    off.sync(full=True)
    assert bus.casts == [] and not [a for a in applied if isinstance(a, str)]


def test_a_failed_cut_is_tried_again_though_the_rules_are_in():
    """Rules written but the conntrack cut failed (or the agent died between
    the two): the next converge judges the flows again, plan or not."""
    from neutrino.agent.l3.fwaas.extension import FwaasExtension
    from neutrino.agent.l3.fwaas.plan import render
    from neutrino.agent.l3.model import Router
    router = Router.from_wire(wire("r1", fwg("g1")))
    state = {"table": {4: {}, 6: {}}, "fail": True, "listed": 0}

    class Kernel:
        def __init__(self, netns):
            pass

        def observe(self):
            return state["table"]

        def apply(self, plan):      # the rules are in: the kernel now shows them
            state["table"] = {v: {"FORWARD": ["-A FORWARD -j neutron-l3-agent-FORWARD"],
                                  **render(router).chains[v]} for v in (4, 6)}

        def flows(self):
            state["listed"] += 1
            if state["fail"]:
                raise RuntimeError("conntrack: Operation not permitted")
            return []

        def delete_flows(self, flows):
            pass

    ext = FwaasExtension(kernel=Kernel)
    with pytest.raises(RuntimeError):
        ext.converge("ns", router)
    state["fail"] = False
    assert ext.converge("ns", router) is False       # nothing to write any more
    assert state["listed"] == 2                      # but the flows were judged
    ext.converge("ns", router)
    assert state["listed"] == 2                      # and only until that succeeded
