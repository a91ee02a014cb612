"""The LB agent's dataplane on the real kernel: from a desired-state value
the driver builds the qlbaas- namespace (VIP veth on the host's bridge,
default route) and one haproxy; members are namespaces running HTTP servers
that answer their own name. What a user sees is asserted: who answers,
which member the health check takes out, no failed request across reloads,
the same haproxy after an agent restart, nothing left after a delete."""
from __future__ import annotations

import time

import pytest

from neutrino.agent.lb import stats as lbstats
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink
from tests.dataplane.conftest import have
from tests.dataplane.lb_env import (BRIDGE, VIP, LbWorld, RequestLoop, http_monitor, lb_wire,
                                    member, new_ids, pid_alive)

pytestmark = [pytest.mark.root,
              pytest.mark.missing(not have("haproxy"), reason="needs haproxy")]


@pytest.fixture
def world(netns, tmp_path):
    built = LbWorld(netns, tmp_path)
    try:
        yield built
    finally:
        built.close()


def three_members(world: LbWorld) -> list[dict]:
    return [member(f"m{i}", world.add_member(f"m{i}", 20 + i)) for i in (1, 2, 3)]


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_builds_namespace_and_round_robin_spreads(world):
    lb_id, port_id = new_ids()
    wire = lb_wire(lb_id, port_id, three_members(world))
    world.converge(wire)
    nsname = f"{world.prefix}qlbaas-{lb_id}"
    assert ns.exists(nsname)
    with Netlink(nsname) as nl:
        assert f"{VIP}/24" in nl.addresses(f"ns-{port_id[:11]}")
        assert any(r.dst == "0.0.0.0/0" and r.gateway == "10.77.0.1" for r in nl.routes())
    with Netlink(world.host) as nl:
        assert nl.link(f"tap{port_id[:11]}").master == BRIDGE
    conf = (world.lbaas_dir / lb_id / "haproxy.conf").read_text()
    assert "balance roundrobin" in conf and f"bind {VIP}:80" in conf
    world.wait_serving()
    answers = [world.get() for _ in range(30)]
    assert {name: answers.count(name) for name in set(answers)} == {"m1": 10, "m2": 10, "m3": 10}


def test_source_ip_pins_one_client(world):
    lb_id, port_id = new_ids()
    world.converge(lb_wire(lb_id, port_id, three_members(world), algorithm="SOURCE_IP"))
    world.wait_serving()
    assert len({world.get() for _ in range(12)}) == 1


def test_http_cookie_persistence_pins_a_client(world):
    lb_id, port_id = new_ids()
    world.converge(lb_wire(lb_id, port_id, three_members(world),
                           persistence={"type": "HTTP_COOKIE", "cookie_name": None}))
    world.wait_serving()
    # without the cookie: round robin; with the cookie haproxy set: one member
    assert len({world.get() for _ in range(6)}) == 3
    assert {world.get(headers={"Cookie": "SRV=m2"}) for _ in range(6)} == {"m2"}


def test_health_check_takes_a_stopped_member_out_and_back(world):
    lb_id, port_id = new_ids()
    wire = lb_wire(lb_id, port_id, three_members(world), monitor=http_monitor())
    world.converge(wire)
    world.wait_serving()
    driver = world.driver()

    def member_states():
        return lbstats.statuses(wire, driver.rows(lb_id))["members"]
    wait_for(lambda: member_states() == {"m1": "ONLINE", "m2": "ONLINE", "m3": "ONLINE"},
             what="all members ONLINE")
    world.stop_server("m2")
    wait_for(lambda: member_states()["m2"] == "ERROR", what="m2 marked down")
    report = lbstats.statuses(wire, driver.rows(lb_id))
    assert report["pools"]["pool-1"] == "DEGRADED"
    assert report["operating_status"] == "DEGRADED"
    answers = [world.get() for _ in range(20)]
    assert "m2" not in answers and set(answers) == {"m1", "m3"}
    world.start_server("m2")
    wait_for(lambda: member_states()["m2"] == "ONLINE", what="m2 back")
    assert "m2" in {world.get() for _ in range(9)}


def test_reload_under_load_drops_nothing(world):
    lb_id, port_id = new_ids()
    members = three_members(world)
    wire = lb_wire(lb_id, port_id, members[:2], monitor=http_monitor())
    world.converge(wire)
    world.wait_serving()
    pid = world.driver().pid(lb_id)
    changes = [
        dict(members=members),                                   # add m3
        dict(members=members[1:]),                               # remove m1
        dict(members=members[1:], algorithm="LEAST_CONNECTIONS"),
        dict(members=members, algorithm="LEAST_CONNECTIONS"),    # m1 back
        dict(members=members, algorithm="ROUND_ROBIN"),
        dict(members=members[:2]),                               # remove m3
    ]
    with RequestLoop(world) as loop:
        time.sleep(0.5)
        for n, change in enumerate(changes, start=2):
            ops = world.converge(lb_wire(lb_id, port_id, monitor=http_monitor(),
                                         version=str(n), **change))
            assert [op[0] for op in ops] == ["write_config", "reload"]
            time.sleep(0.5)
    assert loop.failures == []
    assert loop.ok > 50
    assert world.driver().pid(lb_id) == pid       # reloaded, never restarted
    assert set(loop.seen) == {"m1", "m2", "m3"}


def test_a_change_is_in_effect_when_apply_returns(world):
    lb_id, port_id = new_ids()
    members = three_members(world)
    world.converge(lb_wire(lb_id, port_id, members[:1]))
    world.wait_serving()
    assert {world.get() for _ in range(3)} == {"m1"}
    for n in range(2, 6):      # back to back, as notifications may come
        world.converge(lb_wire(lb_id, port_id, members[:2] if n % 2 else members[2:],
                               version=str(n)))
        want = {"m1", "m2"} if n % 2 else {"m3"}
        assert {world.get() for _ in range(4)} == want


def test_restart_readopts_the_running_haproxy(world):
    lb_id, port_id = new_ids()
    wire = lb_wire(lb_id, port_id, three_members(world))
    world.converge(wire)
    world.wait_serving()
    pid = world.driver().pid(lb_id)
    with RequestLoop(world, threads=2) as loop:
        time.sleep(0.3)
        # a new driver, as a restarted agent has: the kernel matches, nothing to do
        assert world.converge(wire, driver=world.driver()) == []
        time.sleep(0.3)
    assert loop.failures == [] and loop.ok > 0
    assert world.driver().pid(lb_id) == pid


def test_dead_haproxy_is_started_again(world):
    import os
    import signal
    lb_id, port_id = new_ids()
    wire = lb_wire(lb_id, port_id, three_members(world))
    world.converge(wire)
    pid = world.driver().pid(lb_id)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: world.driver().pid(lb_id) is None, what="haproxy gone")
    assert [op[0] for op in world.converge(wire)] == ["start"]
    world.wait_serving()


def test_failover_epoch_rebuilds_from_scratch(world):
    lb_id, port_id = new_ids()
    world.converge(lb_wire(lb_id, port_id, three_members(world)))
    pid = world.driver().pid(lb_id)
    ops = world.converge(lb_wire(lb_id, port_id, [member("m1", "10.77.0.21")], epoch=1,
                                 version="2"))
    kinds = [op[0] for op in ops]
    assert kinds[:1] == ["stop"] and "delete_netns" in kinds and "create_veth" in kinds
    world.wait_serving()
    assert world.driver().pid(lb_id) not in (None, pid)
    assert {world.get() for _ in range(4)} == {"m1"}


def test_delete_removes_haproxy_namespace_tap_and_files(world):
    lb_id, port_id = new_ids()
    world.converge(lb_wire(lb_id, port_id, three_members(world)))
    pid = world.driver().pid(lb_id)
    world.converge(None, lb_id=lb_id)
    wait_for(lambda: not pid_alive(pid), what="haproxy stopped")
    assert not ns.exists(f"{world.prefix}qlbaas-{lb_id}")
    with Netlink(world.host) as nl:
        assert nl.link(f"tap{port_id[:11]}") is None
    assert not (world.lbaas_dir / lb_id).exists()


def test_tcp_listener_and_l7_policy(world):
    lb_id, port_id = new_ids()
    members = three_members(world)
    wire = lb_wire(lb_id, port_id, members[:2], protocol="TCP")
    world.converge(wire)
    world.wait_serving()
    assert {world.get() for _ in range(4)} == {"m1", "m2"}
    wire = lb_wire(lb_id, port_id, members[:2], version="2")
    wire["pools"].append({"id": "pool-api", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                          "admin_state_up": True, "session_persistence": None,
                          "healthmonitor": None, "members": [members[2]]})
    wire["listeners"][0]["l7policies"] = [
        {"id": "p-api", "position": 1, "action": "REDIRECT_TO_POOL",
         "redirect_pool_id": "pool-api", "redirect_url": None, "redirect_prefix": None,
         "redirect_http_code": None, "admin_state_up": True,
         "rules": [{"id": "r-api", "type": "PATH", "compare_type": "STARTS_WITH", "key": None,
                    "value": "/api", "invert": False, "admin_state_up": True}]},
        {"id": "p-deny", "position": 2, "action": "REJECT", "redirect_pool_id": None,
         "redirect_url": None, "redirect_prefix": None, "redirect_http_code": None,
         "admin_state_up": True,
         "rules": [{"id": "r-deny", "type": "PATH", "compare_type": "STARTS_WITH", "key": None,
                    "value": "/", "invert": False, "admin_state_up": True}]}]
    world.converge(wire)     # returns once the new worker answers
    assert {world.get("/api/x") for _ in range(4)} == {"m3"}
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as err:
        world.get("/other")
    assert err.value.code == 403


def test_insert_headers_reach_the_member(world):
    import json
    lb_id, port_id = new_ids()
    world.converge(lb_wire(lb_id, port_id, [member("m1", world.add_member("m1", 21))],
                           insert_headers={"X-Forwarded-For": "true",
                                           "X-Forwarded-Port": "true",
                                           "X-Forwarded-Proto": "true"}))
    world.wait_serving()
    headers = json.loads(world.get("/headers"))
    assert headers["x-forwarded-for"] == "10.77.0.200"       # the client
    assert headers["x-forwarded-port"] == "80"
    assert headers["x-forwarded-proto"] == "http"


def test_allowed_cidrs_refuse_other_clients(world):
    lb_id, port_id = new_ids()
    world.converge(lb_wire(lb_id, port_id, [member("m1", world.add_member("m1", 21))],
                           allowed_cidrs=["10.77.0.200/32"]))
    world.wait_serving()
    other = world.add_client("other", 201)
    assert world.get() == "m1"
    with pytest.raises(OSError):       # connection reset/closed by haproxy
        world.get(client=other, timeout=3)


def test_app_cookie_persistence_follows_the_application_cookie(world):
    lb_id, port_id = new_ids()
    world.converge(lb_wire(lb_id, port_id, three_members(world),
                           persistence={"type": "APP_COOKIE", "cookie_name": "SID"}))
    world.wait_serving()
    # the member that answers /login sets SID=<its name>; haproxy learns it
    first = world.get("/login")
    assert {world.get(headers={"Cookie": f"SID={first}"}) for _ in range(6)} == {first}


def test_backup_member_serves_only_when_the_others_are_down(world):
    lb_id, port_id = new_ids()
    members = [member("m1", world.add_member("m1", 21)),
               member("m2", world.add_member("m2", 22), backup=True)]
    wire = lb_wire(lb_id, port_id, members, monitor=http_monitor())
    world.converge(wire)
    world.wait_serving()
    driver = world.driver()
    # the first checks may run before the tap is on the bridge
    wait_for(lambda: lbstats.statuses(wire, driver.rows(lb_id))["members"]["m1"] == "ONLINE",
             what="m1 up")
    assert {world.get() for _ in range(4)} == {"m1"}
    world.stop_server("m1")
    wait_for(lambda: lbstats.statuses(wire, driver.rows(lb_id))["members"]["m1"] == "ERROR",
             what="m1 down")
    assert {world.get() for _ in range(4)} == {"m2"}


def test_ipv6_vip(world):
    lb_id, port_id = new_ids()
    address = world.add_member("m1", 21)
    v6 = {"m1": "fd00:77::21", "client": "fd00:77::200"}
    for name, space in (("m1", world.members["m1"][0]), ("client", world.client)):
        ns.sysctl_set("net.ipv6.conf.eth0.accept_dad", "0", space)
        with Netlink(space) as nl:
            nl.add_address("eth0", f"{v6[name]}/64")
    wire = lb_wire(lb_id, port_id, [member("m1", v6["m1"])])
    wire["vip"].update(address="fd00:77::10", cidr="fd00:77::/64", prefixlen=64,
                       gateway_ip="fd00:77::1", ip_version=6)
    assert address
    ops = world.converge(wire)
    assert ("route", "fd00:77::1", "::/0") in ops
    assert "bind [fd00:77::10]:80" in (world.lbaas_dir / lb_id / "haproxy.conf").read_text()
    import urllib.request

    def get6():
        with ns.in_netns(world.client):
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open("http://[fd00:77::10]/", timeout=2) as resp:
                return resp.read().decode().strip()
    wait_for(lambda: _ok(get6), what="the IPv6 VIP answering")
    assert get6() == "m1"
    # converged: nothing more to do (addresses and the v6 default route observed)
    assert world.converge(wire) == []


def _ok(fn) -> bool:
    try:
        fn()
        return True
    except OSError:
        return False


def test_show_loadbalancer_prints_namespace_pid_config_and_members(world):
    from neutrino.agent.lb.show import loadbalancer_view, render_loadbalancer
    lb_id, port_id = new_ids()
    wire = lb_wire(lb_id, port_id, three_members(world), monitor=http_monitor())
    world.converge(wire)
    world.wait_serving()
    driver = world.driver()
    wait_for(lambda: set(lbstats.statuses(wire, driver.rows(lb_id))["members"].values())
             == {"ONLINE"}, what="members up")

    class Api:       # what the view asks of the API
        def request(self, method, path, params=None):
            assert path == f"/v2/lbaas/loadbalancers/{lb_id}"
            return {"loadbalancer": {"id": lb_id, "name": "web", "vip_address": VIP,
                                     "vip_port_id": port_id, "provisioning_status": "ACTIVE",
                                     "operating_status": "ONLINE", "admin_state_up": True}}
    view = loadbalancer_view(Api(), lb_id, [world.lbaas_dir])
    text = "\n".join(render_loadbalancer(view))
    assert f"namespace {world.prefix}qlbaas-{lb_id}" in text
    assert f"{VIP}/24" in text
    assert f"haproxy pid {driver.pid(lb_id)} config {world.lbaas_dir / lb_id / 'haproxy.conf'}" \
        in text
    for name, octet in (("m1", 21), ("m2", 22), ("m3", 23)):
        assert f"member {name} 10.77.0.{octet}:8080: UP" in text


def test_weight_and_admin_state_changes_survive_the_saved_server_state(world):
    """The servers' state saved before a reload must not undo a change of
    the config (haproxy keeps what the config changed)."""
    lb_id, port_id = new_ids()
    members = three_members(world)
    world.converge(lb_wire(lb_id, port_id, members, monitor=http_monitor()))
    world.wait_serving()
    changed = [dict(members[0], weight=0), dict(members[1], admin_state_up=False), members[2]]
    world.converge(lb_wire(lb_id, port_id, changed, monitor=http_monitor(), version="2"))
    assert {world.get() for _ in range(6)} == {"m3"}
    world.converge(lb_wire(lb_id, port_id, members, monitor=http_monitor(), version="3"))
    driver = world.driver()
    wire = lb_wire(lb_id, port_id, members, monitor=http_monitor())
    wait_for(lambda: set(lbstats.statuses(wire, driver.rows(lb_id))["members"].values())
             == {"ONLINE"}, what="all back")
    assert {world.get() for _ in range(9)} == {"m1", "m2", "m3"}


def test_namespace_deleted_under_haproxy_is_rebuilt_without_a_leftover(world):
    lb_id, port_id = new_ids()
    wire = lb_wire(lb_id, port_id, three_members(world))
    world.converge(wire)
    world.wait_serving()
    pid = world.driver().pid(lb_id)
    ns.delete(f"{world.prefix}qlbaas-{lb_id}")
    ops = world.converge(wire)
    assert ops[0] == ("stop_stray",)
    assert not pid_alive(pid)
    world.wait_serving()
    assert world.driver().pid(lb_id) not in (None, pid)


def test_a_reused_vip_address_is_announced_to_clients_that_cached_the_old_mac(world):
    members = [member("m1", world.add_member("m1", 21))]
    lb_a, port_a = new_ids()
    world.converge(lb_wire(lb_a, port_a, members))
    world.wait_serving()                 # the client caches the VIP's MAC
    world.converge(None, lb_id=lb_a)
    lb_b, port_b = new_ids()
    wire = lb_wire(lb_b, port_b, members)
    wire["vip"]["mac_address"] = "fa:16:3e:4c:00:0b"
    world.converge(wire)

    def client_mac():
        with Netlink(world.client) as nl:
            return {n.ip: n.mac for n in nl.neighbours("eth0")}.get(VIP)
    # without the announcement the client would keep the old MAC until its
    # neighbour entry ages out (tens of seconds)
    wait_for(lambda: client_mac() == "fa:16:3e:4c:00:0b", timeout=10, what="the new MAC")
    assert world.get(timeout=3) == "m1"
