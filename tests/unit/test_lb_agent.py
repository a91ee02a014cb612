"""The LB agent's sync and reports, with a fake bus and a fake driver
(the real kernel is tests/dataplane/test_lb_haproxy.py): it converges what
get_loadbalancers lists, reports the applied version ACTIVE (ERROR with a
reason when the config cannot be made), removes deleted ones and reports
DELETED, cleans up what the server no longer lists, and re-reports
operating statuses only when they change."""
from __future__ import annotations

from neutrino import config
from neutrino.agent.lb.agent import LB_AGENT_TYPE, LbAgent
from neutrino.agent.lb.model import LbObserved, Paths
from neutrino.agent.lb.options import LB_AGENT_SCHEMA
from tests.unit.lb_samples import listener, loadbalancer


class FakeBus:
    def __init__(self):
        self.lbs: list[dict] = []
        self.casts: list[tuple[str, str, dict]] = []

    def call(self, target, method, payload, timeout=10.0):
        assert method == "get_loadbalancers" and payload == {"host": "hostA"}
        return {"loadbalancers": self.lbs}

    def cast(self, target, method, payload):
        self.casts.append((target, method, payload))

    def reports(self):
        return [p["loadbalancers"] for _, m, p in self.casts if m == "update_loadbalancer_statuses"]


class FakeDriver:
    """Keeps 'the kernel' as a dict lb id -> LbObserved."""
    def __init__(self):
        self.world: dict[str, LbObserved] = {}
        self.applied: list[tuple[str, list]] = []
        self.fail: set[str] = set()

    def paths(self, lb_id):
        return Paths.of("/x", lb_id)

    def taps(self):
        return set()

    def known(self):
        return set(self.world)

    def observe(self, lb_id, taps, dev, v6=False):
        return self.world.get(lb_id, LbObserved())

    def pid(self, lb_id):
        return self.world.get(lb_id, LbObserved()).pid

    def rows(self, lb_id):
        return {("lis1", "FRONTEND"): {"status": "OPEN", "scur": "0", "stot": "0"}} \
            if self.pid(lb_id) else None

    def apply(self, lb_id, ops, vip=None):
        if lb_id in self.fail:
            raise RuntimeError("boom")
        self.applied.append((lb_id, [op[0] for op in ops]))
        obs = self.world.setdefault(lb_id, LbObserved())
        for op in ops:
            if op[0] == "write_config":
                obs.config = op[1]
            elif op[0] == "write_epoch":
                obs.epoch = op[1]
            elif op[0] == "start":
                obs.pid = 99
            elif op[0] == "create_netns":
                obs.netns_exists = True
            elif op[0] == "create_veth":
                obs.ns_devices[op[2]] = (op[3], op[4], True)
                obs.taps.add(op[1])
            elif op[0] == "address":
                obs.addresses.add(op[3])
            elif op[0] == "route":
                obs.default_gw = op[1]
            elif op[0] == "delete_netns":
                self.world.pop(lb_id, None)


def make_agent():
    cfg = config.load(LB_AGENT_SCHEMA, [], {"DEFAULT": {"host": "hostA"},
                                            "haproxy": {"haproxy_binary": "true"}})
    bus = FakeBus()
    agent = LbAgent(cfg, transport=bus)
    agent.driver = FakeDriver()
    return agent, bus


def test_converges_and_reports_active_with_the_version():
    agent, bus = make_agent()
    bus.lbs = [loadbalancer(version="v1")]
    agent.sync(full=True)
    assert agent.driver.applied[0][1][-1] == "start"
    [report] = bus.reports()
    assert report["lb1"]["version"] == "v1"
    assert report["lb1"]["provisioning_status"] == "ACTIVE"
    assert report["lb1"]["operating_status"] == "ONLINE"
    assert report["lb1"]["listeners"] == {"lis1": "ONLINE"}
    # again: nothing to apply, nothing new to say
    agent.sync(full=True)
    assert len(agent.driver.applied) == 1 and len(bus.reports()) == 1
    # a new version with the same config is still confirmed
    bus.lbs = [loadbalancer(version="v2")]
    agent.sync(full=False, dirty={"lb1"})
    assert bus.reports()[-1]["lb1"]["version"] == "v2"


def test_unsupported_config_is_error_with_reason():
    agent, bus = make_agent()
    bus.lbs = [loadbalancer(listeners=[listener(protocol="UDP")])]
    agent.sync(full=True)      # no exception: no backoff loop for the others
    [report] = bus.reports()
    assert report["lb1"]["provisioning_status"] == "ERROR"
    assert "UDP" in report["lb1"]["reason"]


def test_deleted_is_torn_down_and_reported_deleted():
    agent, bus = make_agent()
    bus.lbs = [loadbalancer()]
    agent.sync(full=True)
    bus.lbs = [dict(loadbalancer(version="v2"), deleted=True)]
    agent.sync(full=False, dirty={"lb1"})
    assert agent.driver.applied[-1][1][0] == "stop"
    assert "lb1" not in agent.driver.world
    assert bus.reports()[-1] == {"lb1": {"version": "v2", "provisioning_status": "DELETED",
                                         "reason": None}}


def test_unlisted_leftovers_are_removed_silently():
    agent, bus = make_agent()
    agent.driver.world["old"] = LbObserved(netns_exists=True, pid=7, has_dir=True)
    agent.sync(full=True)
    assert agent.driver.applied == [("old", ["stop", "delete_netns", "remove_dir"])]
    assert bus.reports() == []


def test_poll_reports_only_changes_and_restarts_dead_haproxy():
    agent, bus = make_agent()
    bus.lbs = [loadbalancer()]
    agent.sync(full=True)
    n = len(bus.reports())
    agent.poll_once()
    assert len(bus.reports()) == n           # nothing changed
    agent.driver.world["lb1"].pid = None     # haproxy died
    agent.poll_once()
    assert bus.reports()[-1]["lb1"]["operating_status"] == "ERROR"
    assert "lb1" in agent.triggers.ids


def test_notification_marks_the_load_balancer():
    agent, _ = make_agent()
    agent._on_notification("resource_changed", {"resource": "loadbalancer", "id": "lbX"})
    agent._on_notification("resource_changed", {"resource": "router", "id": "r"})
    assert agent.triggers.ids == {"lbX"}
    assert agent.agent_state(True)["agent_type"] == LB_AGENT_TYPE


def test_missing_vip_is_error_not_a_delete():
    agent, bus = make_agent()
    bus.lbs = [loadbalancer(vip=None)]
    agent.sync(full=True)
    [report] = bus.reports()
    assert report["lb1"]["provisioning_status"] == "ERROR"
    assert "VIP" in report["lb1"]["reason"]


def test_kernel_error_is_error_and_retried_with_a_full_pass():
    import pytest
    agent, bus = make_agent()
    bus.lbs = [loadbalancer()]
    agent.driver.fail.add("lb1")
    with pytest.raises(RuntimeError):
        agent.sync(full=True)
    assert bus.reports()[-1]["lb1"]["provisioning_status"] == "ERROR"
    agent.driver.fail.clear()
    agent.sync(full=True)
    assert bus.reports()[-1]["lb1"]["provisioning_status"] == "ACTIVE"
