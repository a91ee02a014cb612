"""Losing a host (issue 17, parts 2-4): `neutrino lab host stop|start`
pulls the plug on a lab host, DHCP with two agents per network keeps
serving, and a non-HA router on a stopped host is moved by the server and
forwards again within agent_down_time + 10 s.

One 3-host lab over RabbitMQ (agents are processes there, so a host can be
frozen) with a DHCP agent on every host and dhcp_agents_per_network 2.
Every test brings back the hosts it stopped, in a finally."""
from __future__ import annotations

import contextlib
import os
import secrets
import time

import pytest

from neutrino.lab.state import AGENT_DOWN_TIME
from tests.e2e.conftest import NOT_ROOT, RABBIT_URL, _rabbit_unreachable
from neutrino.dataplane import netns as ns
from tests.e2e.helpers import wait_for
from tests.e2e.l3_helpers import OUTSIDE, L3World
from tests.machine import missing

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def ha_lab(tmp_path_factory):
    if os.geteuid() != 0:
        missing(NOT_ROOT)
    reason = _rabbit_unreachable()
    if reason:
        missing(reason)
    from neutrino.lab.control import LabControl
    ctl = LabControl.up(hosts=3, transport="rabbit", rabbit_url=RABBIT_URL,
                        lab_dir=tmp_path_factory.mktemp("lab-failover") / "lab",
                        dhcp_hosts=["host1", "host2", "host3"], dhcp_agents_per_network=2)
    try:
        yield ctl
    finally:
        ctl.down()


@pytest.fixture
def world(ha_lab):
    w = L3World(ha_lab, tag=secrets.token_hex(2))
    stopped: list[str] = []
    w.stopped = stopped
    try:
        yield w
    finally:
        for host in stopped:
            with contextlib.suppress(Exception):
                ha_lab.start_host(host)
        w.cleanup()


def stop(world, host, mode="freeze"):
    world.stopped.append(host)
    return world.lab.stop_host(host, mode)


def start(world, host):
    done = world.lab.start_host(host)
    world.stopped.remove(host)
    return done


def no_carrier(lab, host) -> list[bool]:
    """Per host NIC: does the host see its cable pulled?"""
    return ["NO-CARRIER" in ns.run(["ip", "-o", "link", "show", nic],
                                   netns=lab.state.host_netns(host))
            for nic in ("eth0", "eth1", "eth2")]


def dhcp_ports(world, net):
    return world.api.list("ports", network_id=net["id"], device_owner="network:dhcp")


def test_host_stop_freezes_its_processes_and_cuts_its_links(world):
    lab = world.lab
    pid = lab.l3_agent_pid("host3")
    record = stop(world, "host3")
    assert pid in record["pids"]
    with open(f"/proc/{pid}/stat") as f:
        assert f.read().rsplit(")", 1)[1].split()[0] == "T"      # stopped
    assert no_carrier(lab, "host3") == [True, True, True]
    assert lab.host_stopped("host3") is not None
    assert {h["name"]: h["stopped"] for h in lab.status()["hosts"]}["host3"] == "freeze"
    # the server notices: its agents turn dead after agent_down_time
    wait_for(lambda: not any(a["alive"] for a in lab.api.list("agents", host="host3")),
             timeout=AGENT_DOWN_TIME + 15, what="host3's agents dead")
    start(world, "host3")
    with open(f"/proc/{pid}/stat") as f:
        assert f.read().rsplit(")", 1)[1].split()[0] != "T"
    assert all(a["alive"] for a in lab.api.list("agents", host="host3"))
    assert no_carrier(lab, "host3") == [False, False, False]
    assert lab.host_stopped("host3") is None


def test_host_stop_kill_is_a_power_loss_and_start_boots_its_agents(world):
    lab = world.lab
    net = world.network("kill", cidr="10.80.0.0/24")
    servers = serving(world, net)
    host = sorted(servers)[0]
    before = lab.dhcp_agent_pid(host)
    dnsmasq_pidfile = lab.state.host_dir(host) / "dhcp" / net["id"] / "pid"
    old_dnsmasq = int(dnsmasq_pidfile.read_text())
    record = stop(world, host, mode="kill")
    assert before in record["pids"] and old_dnsmasq in record["pids"]
    assert lab.dhcp_agent_pid(host) is None
    assert not os.path.exists(f"/proc/{old_dnsmasq}/stat") or \
        open(f"/proc/{old_dnsmasq}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    assert no_carrier(lab, host) == [True, True, True]
    done = start(world, host)
    assert lab.dhcp_agent_pid(host) not in (None, before)
    assert lab.dhcp_agent_pid(host) in done["started"]
    assert no_carrier(lab, host) == [False, False, False]
    # the restarted DHCP agent brings its dnsmasq back
    wait_for(lambda: dnsmasq_pidfile.exists() and int(dnsmasq_pidfile.read_text()) != old_dnsmasq
             and os.path.exists(f"/proc/{int(dnsmasq_pidfile.read_text())}"), timeout=30,
             what="dnsmasq started again")


def serving(world, net) -> dict[str, str]:
    """host -> DHCP port address, once the network has its two DHCP ports."""
    wait_for(lambda: len(dhcp_ports(world, net)) == 2 and all(
        p["status"] == "ACTIVE" for p in dhcp_ports(world, net)), timeout=30,
        what="two ACTIVE DHCP ports")
    return {p["binding:host_id"]: p["fixed_ips"][0]["ip_address"]
            for p in dhcp_ports(world, net)}


def test_two_dhcp_agents_serve_the_same_lease_and_survive_a_stopped_host(world):
    lab = world.lab
    net = world.network("dhcpha", cidr="10.77.0.0/24")
    servers = serving(world, net)
    first, second = sorted(servers)
    other = next(h for h in lab.state.host_names() if h not in servers)
    vm1 = world.instance("vm1", net, host=other, wait=False)
    lease = lab.instances.dhcp(vm1)
    port = lab.api.show("ports", vm1.port_id)
    assert lease["ip"] == port["fixed_ips"][0]["ip_address"]
    # both dnsmasq are named as DNS servers, whichever answered
    assert sorted(lease["dns"].split()) == sorted(servers.values())
    # each dnsmasq alone gives that MAC the same address
    for down, up in ((first, second), (second, first)):
        stop(world, down)
        again = lab.instances.dhcp(vm1)
        assert again["ip"] == lease["ip"]
        assert again["serverid"] == servers[up]
        start(world, down)
    # with one stopped, a new instance still gets its lease (from the other)
    stop(world, first)
    vm2 = world.instance("vm2", net, host=other, wait=False)
    got = lab.instances.dhcp(vm2)
    assert got["ip"] == lab.api.show("ports", vm2.port_id)["fixed_ips"][0]["ip_address"]
    assert got["serverid"] == servers[second]
    start(world, first)


def test_network_moves_off_a_stopped_dhcp_host_which_cleans_up_on_return(world):
    lab = world.lab
    net = world.network("dhcpfo", cidr="10.79.0.0/24")
    servers = serving(world, net)
    gone, stays = sorted(servers)
    third = next(h for h in lab.state.host_names() if h not in servers)
    old_ns = f"{lab.state.prefix}{gone}-qdhcp-{net['id']}"
    assert ns.exists(old_ns)
    stop(world, gone)
    hosts = lambda: sorted(a["host"] for a in lab.api.request(   # noqa: E731
        "GET", f"/v2.0/networks/{net['id']}/dhcp-agents")["agents"])
    wait_for(lambda: hosts() == sorted([stays, third]), timeout=AGENT_DOWN_TIME + 15,
             what=f"the network moved from {gone} to {third}")
    now = serving(world, net)
    assert sorted(now) == sorted([stays, third])
    vm = world.instance("vm", net, host=third, wait=False)
    assert lab.instances.dhcp(vm)["serverid"] in now.values()
    start(world, gone)
    # back: its dnsmasq and namespace for the network are removed
    wait_for(lambda: not ns.exists(old_ns), timeout=30, what=f"{old_ns} removed")
    assert hosts() == sorted([stays, third])


def test_non_ha_router_of_a_stopped_host_forwards_again_from_another(world):
    lab = world.lab
    ext = world.external()
    net, sub = world.tenant("fo", "10.78.0.0/24")
    router = world.router("fo", ext=ext)
    world.add_interface(router, sub)
    old = world.router_host(router)
    client_host = next(h for h in ("host3", "host2", "host1") if h != old)
    vm = world.instance("vm", net, host=client_host)
    wait_for(lambda: world.ping(vm, OUTSIDE), timeout=30, what="SNAT to the outside")
    stopped_at = time.monotonic()
    stop(world, old)
    # moved by the server once the L3 agent is dead, and forwarding again
    new = wait_for(lambda: (h := world.router_host(router)) != old and h,
                   timeout=AGENT_DOWN_TIME + 10, what="router rescheduled")
    wait_for(lambda: world.ping(vm, OUTSIDE), timeout=AGENT_DOWN_TIME + 10
             - (time.monotonic() - stopped_at), interval=0.2,
             what="forwarding from the new host")
    took = time.monotonic() - stopped_at
    print(f"router {router['id']} {old} -> {new}: forwarding again {took:.1f} s after "
          f"the stop (agent_down_time {AGENT_DOWN_TIME} s)")
    # the old host comes back: its copy of the router is removed and
    # traffic keeps flowing through the new one
    start(world, old)
    old_ns = f"{lab.state.prefix}{old}-qrouter-{router['id']}"
    wait_for(lambda: not ns.exists(old_ns), timeout=30, what="old router namespace gone")
    assert world.router_host(router) == new
    assert world.ping(vm, OUTSIDE)
