"""The L3 agent's reconciler without a kernel: which routers a sync touches
and the floating IP statuses it reports."""
from __future__ import annotations

import types

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
        assert method == "get_routers" and payload == {"host": "net1"}
        return {"routers": self.routers}

    def cast(self, target, method, payload):
        assert target.endswith(".server.status")     # in order with the port statuses
        self.casts.append((method, payload))
        for router in self.routers:                  # what the server then has
            for fip in router["floating_ips"]:
                fip["status"] = payload["statuses"].get(fip["id"], fip["status"])


def wire(rid, fips=(), interface=True):
    gw = {"id": f"gw-{rid}", "mac_address": "fa:16:3e:00:00:01", "mtu": 1500,
          "fixed_ips": [{"ip_address": "203.0.113.10", "prefixlen": 24,
                         "gateway_ip": "203.0.113.254"}]}
    ifs = [{"id": f"if-{rid}", "mac_address": "fa:16:3e:00:00:02", "mtu": 1450,
            "fixed_ips": [{"ip_address": "10.0.0.1", "prefixlen": 24}]}] if interface else []
    return {"id": rid, "admin_state_up": True, "enable_snat": True, "gw_port": gw,
            "interfaces": ifs, "routes": [],
            "floating_ips": [{"id": f, "floating_ip_address": "203.0.113.20",
                              "fixed_ip_address": "10.0.0.7", "status": "DOWN"} for f in fips]}


@pytest.fixture
def agent(monkeypatch, tmp_path):
    calls = []
    present = set()

    class FakeNs:
        def __init__(self, rid, prefix, host_netns=None, garp=3, metadata_port=9697,
                     metadata_mark="0x1"):
            self.rid = rid
            self.name = f"{prefix}qrouter-{rid}"

        def converge(self, router, host_links=None):
            calls.append(("converge", self.rid))
            present.add(self.rid)

        def destroy(self):
            calls.append(("destroy", self.rid))
            present.discard(self.rid)

    class FakeLinks:
        def __init__(self, netns):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def dump(self):
            return []

    class FakeProxies:       # the metadata proxies (haproxy) of the routers
        def __init__(self, state_path):
            pass

        def ensure(self, spec):
            calls.append(("proxy", spec.uuid))
            proxies.add(spec.uuid)

        def stop(self, uuid, netns=None):
            calls.append(("proxy-stop", uuid))
            proxies.discard(uuid)

        def known(self, router):
            return set(proxies)

    class FakeFirewallKernel:     # FWaaS (tests/unit/test_fwaas_plan_agent.py): no groups here
        def __init__(self, netns):
            pass

        def observe(self):
            return {4: {}, 6: {}}

    proxies = set()
    monkeypatch.setattr(fwaas_extension, "RouterFirewallKernel", FakeFirewallKernel)
    monkeypatch.setattr(agent_mod, "RouterNamespace", FakeNs)
    monkeypatch.setattr(agent_mod, "ProxyManager", FakeProxies)
    monkeypatch.setattr(agent_mod, "FastLinks", FakeLinks)
    monkeypatch.setattr(agent_mod, "existing_routers", lambda prefix: sorted(present))
    cfg = config.load(L3_AGENT_SCHEMA, [], {"DEFAULT": {"host": "net1",
                                                        "state_path": str(tmp_path)}})
    bus = FakeBus([wire("r1", fips=["f1"]), wire("r2", fips=["f2"], interface=False)])
    a = agent_mod.L3Agent(cfg, transport=bus)
    return types.SimpleNamespace(agent=a, bus=bus, calls=calls, present=present)


def test_full_then_partial_sync(agent):
    a, bus, calls = agent.agent, agent.bus, agent.calls
    a.sync(full=True)
    assert sorted(calls) == [("converge", "r1"), ("converge", "r2"), ("proxy", "r1"),
                             ("proxy", "r2")]
    # f1 is served; f2's router has no interface on its fixed address's
    # subnet, and the server has it DOWN already: only the change is sent
    assert bus.casts == [("update_floatingip_statuses",
                          {"host": "net1", "statuses": {"f1": "ACTIVE"}})]
    calls.clear()
    a.sync(full=False, dirty={"r1"})
    assert calls == [("converge", "r1"), ("proxy", "r1")]
    assert len(bus.casts) == 1                       # nothing changed: nothing reported
    # r2 unscheduled from us, and a stale namespace of ours nobody wants
    agent.present.add("r9")
    bus.routers = [wire("r1", fips=["f1"])]
    calls.clear()
    a.sync(full=False, dirty=set())
    # each metadata proxy is stopped before its namespace goes
    assert sorted(calls) == [("destroy", "r2"), ("destroy", "r9"), ("proxy-stop", "r2"),
                             ("proxy-stop", "r9")]
    assert calls.index(("proxy-stop", "r2")) < calls.index(("destroy", "r2"))
    assert agent.agent.proxies.known(True) == {"r1"}


def test_internal_only_routers_can_be_left_alone(agent, tmp_path):
    cfg = config.load(L3_AGENT_SCHEMA, [], {"DEFAULT": {
        "host": "net1", "state_path": str(tmp_path),
        "handle_internal_only_routers": "false"}})
    routers = [wire("r1")]
    routers[0]["gw_port"] = None
    a = agent_mod.L3Agent(cfg, transport=FakeBus(routers))
    a.sync(full=True)
    assert agent.calls == []


def test_fip_status_follows_the_server(agent):
    """The server resets a floating IP to DOWN when its association changes
    (or it is disassociated and associated again before the agent looked):
    the next sync reports ACTIVE again, once."""
    a, bus = agent.agent, agent.bus
    a.sync(full=True)
    assert bus.casts[-1][1]["statuses"] == {"f1": "ACTIVE"}
    bus.routers[0]["floating_ips"][0].update(status="DOWN", fixed_ip_address="10.0.0.8")
    a.sync(full=False, dirty={"r1"})
    assert bus.casts[-1][1]["statuses"] == {"f1": "ACTIVE"}
    a.sync(full=False, dirty={"r1"})
    assert len(bus.casts) == 2
    # the router loses its interface: the floating IP is no longer served
    bus.routers[0]["interfaces"] = []
    a.sync(full=False, dirty={"r1"})
    assert bus.casts[-1][1]["statuses"] == {"f1": "DOWN"}


def test_admin_down_router_is_converged_and_its_fips_down(agent):
    a, bus, calls = agent.agent, agent.bus, agent.calls
    bus.routers = [dict(wire("r1", fips=["f1"]), admin_state_up=False)]
    a.sync(full=True)
    # kept, devices down (not destroyed); its metadata proxy runs, as upstream's
    assert calls == [("converge", "r1"), ("proxy", "r1")]
    assert bus.casts == []                     # f1 was DOWN and stays DOWN


def test_a_metadata_proxy_that_cannot_start_does_not_fail_the_router(agent):
    """haproxy missing or failing: the router still routes (its floating IP
    is reported ACTIVE) and the proxy is tried again by the next sync."""
    a, bus = agent.agent, agent.bus

    def broken(spec):
        agent.calls.append(("proxy-failed", spec.uuid))
        raise RuntimeError("haproxy exited with 1 at start")
    a.proxies.ensure = broken
    a.sync(full=True)                                  # no exception
    assert ("converge", "r1") in agent.calls and ("proxy-failed", "r1") in agent.calls
    assert bus.casts[-1][1]["statuses"] == {"f1": "ACTIVE"}
    agent.calls.clear()
    a.sync(full=True)
    assert ("proxy-failed", "r1") in agent.calls
