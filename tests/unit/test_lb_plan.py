"""plan(desired, observed) of the LB agent: the ops for a new load
balancer, none when the kernel and files match, the smallest change for
each drift, a reload (never a restart) for a config change, teardown for a
deleted one, and a rebuild for a new epoch (failover)."""
from __future__ import annotations

from neutrino.agent.lb.haproxy_config import render
from neutrino.agent.lb.model import LbDesired, LbObserved, Paths, Vip
from neutrino.agent.lb.plan import plan
from tests.unit.lb_samples import PORT_ID, loadbalancer, member, pool

DEV, TAP = f"ns-{PORT_ID[:11]}", f"tap{PORT_ID[:11]}"
MAC = "fa:16:3e:11:22:33"


def desired(wire=None) -> LbDesired:
    wire = wire or loadbalancer()
    return LbDesired(wire["id"], False, wire["epoch"], wire["version"], Vip.from_wire(wire["vip"]),
                     render(wire, Paths.of("/x", wire["id"])))


def matching(d: LbDesired, **kw) -> LbObserved:
    obs = LbObserved(netns_exists=True, ns_devices={DEV: (MAC, 1450, True)},
                     addresses={"10.0.0.5/24"}, default_gw="10.0.0.1", taps={TAP, "tapother"},
                     config=d.config, epoch=0, pid=4242, has_dir=True)
    for key, value in kw.items():
        setattr(obs, key, value)
    return obs


def kinds(ops):
    return [op[0] for op in ops]


def test_new_load_balancer_builds_everything_in_order():
    d = desired()
    ops = plan(d, LbObserved(taps={"tapother"}))
    assert ops == [("create_netns",), ("create_veth", TAP, DEV, MAC, 1450),
                   ("address", "add", DEV, "10.0.0.5/24"),
                   ("route", "10.0.0.1", "0.0.0.0/0"), ("write_epoch", 0),
                   ("write_config", d.config), ("start",)]


def test_nothing_to_do_when_everything_matches():
    d = desired()
    assert plan(d, matching(d)) == []


def test_config_change_is_a_reload_not_a_restart():
    d = desired(loadbalancer(pools=[pool(members=[member("m1"), member("m3", "10.0.0.13")])],
                             version="v2"))
    old = desired()
    ops = plan(d, matching(d, config=old.config))
    assert ops == [("write_config", d.config), ("reload",)]


def test_dead_haproxy_is_started():
    d = desired()
    assert plan(d, matching(d, pid=None)) == [("start",)]


def test_drifts():
    d = desired()
    assert plan(d, matching(d, addresses=set())) == [("address", "add", DEV, "10.0.0.5/24")]
    assert plan(d, matching(d, addresses={"10.0.0.5/24", "10.0.0.9/24"})) == [
        ("address", "del", DEV, "10.0.0.9/24")]
    assert plan(d, matching(d, default_gw=None)) == [("route", "10.0.0.1", "0.0.0.0/0")]
    assert plan(d, matching(d, ns_devices={DEV: (MAC, 1500, True)})) == [
        ("set_dev", DEV, MAC, 1450)]
    # the host end gone: the pair is made again, with its address and route
    assert kinds(plan(d, matching(d, taps=set()))) == ["create_veth", "address", "route"]
    # a stale device of an earlier VIP port
    ops = plan(d, matching(d, ns_devices={DEV: (MAC, 1450, True),
                                          "ns-aaaaaaaaaaa": (MAC, 1450, True)},
                           taps={TAP, "tapaaaaaaaaaaa"}))
    assert ops == [("delete_dev", "ns-aaaaaaaaaaa"), ("delete_tap", "tapaaaaaaaaaaa")]


def test_no_gateway_removes_the_default_route():
    wire = loadbalancer()
    wire["vip"]["gateway_ip"] = None
    d = desired(wire)
    assert plan(d, matching(d)) == [("route", None, "0.0.0.0/0")]
    assert plan(d, matching(d, default_gw=None)) == []


def test_deleted_or_gone_tears_down():
    d = desired()
    obs = matching(d)
    expected = [("stop",), ("delete_tap", TAP), ("delete_netns",), ("remove_dir",)]
    assert plan(None, obs) == expected
    gone = LbDesired("lb1", True, 0, "v3", None, None)
    assert plan(gone, obs) == expected
    assert plan(None, LbObserved()) == []


def test_new_epoch_rebuilds_from_scratch():
    wire = loadbalancer(epoch=1, version="v9")
    d = desired(wire)
    ops = plan(d, matching(d, epoch=0))
    assert kinds(ops) == ["stop", "delete_tap", "delete_netns", "remove_dir", "create_netns",
                          "create_veth", "address", "route", "write_epoch", "write_config",
                          "start"]
    assert ("write_epoch", 1) in ops


def test_haproxy_left_outside_a_deleted_namespace_is_stopped_first():
    d = desired()
    ops = plan(d, LbObserved(taps={TAP}, config=d.config, epoch=0, stray_pid=77, has_dir=True))
    assert kinds(ops) == ["stop_stray", "create_netns", "delete_tap", "create_veth", "address",
                          "route", "start"]
    assert kinds(plan(None, LbObserved(stray_pid=77, has_dir=True))) == ["stop_stray",
                                                                        "remove_dir"]
