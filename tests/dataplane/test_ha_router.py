"""HA routers on a real kernel: two simulated hosts (namespaces), each with
the same router converged by RouterNamespace as the L3 agent does, and its
keepalived supervised by HaRouters, their ha- devices on one shared HA
bridge and their qr- devices on one tenant bridge with an instance behind
it. What is asserted is what the instance and the server would see: one
instance takes the VIP and answers pings; killing its keepalived (by PID)
moves the VIP to the other, the reported states flip, and the one that
comes back stays standby."""
from __future__ import annotations

import os
import shutil
import signal
import time
import uuid

import pytest

from neutrino.agent.l3.ha import HaRouters
from neutrino.agent.l3.keepalived import VrrpOptions, primary_vip
from neutrino.agent.l3.model import Router
from neutrino.agent.l3.router_ns import RouterNamespace
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink

pytestmark = [pytest.mark.root,
              pytest.mark.missing(shutil.which("keepalived") is None,
                                 reason="keepalived is not installed (./bootstrap)")]

VIP = "10.82.1.1"
VRID = 7
ADVERT = 0.5        # seconds (VRRPv3): a standby takes over after about 2 s


def ping(netns: str, ip: str) -> bool:
    out = ns.run(["ping", "-c", "1", "-W", "1", ip], netns=netns, check=False, timeout=10)
    return "1 received" in out


def eventually(check, timeout: float = 20.0, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class HaWorld:
    def __init__(self, netns, tmp_path):
        self.rid = str(uuid.uuid4())
        self.qr_port = str(uuid.uuid4())
        self.ha_ports = {"h1": str(uuid.uuid4()), "h2": str(uuid.uuid4())}
        self.fabric = netns("fabric")
        self.vm = netns("vm")
        with Netlink(self.fabric) as nl:
            for br in ("brha", "brint"):
                nl.ensure_bridge(br)
                nl.set_up(br)
            nl.create_veth("vmport", "eth0", peer_netns=self.vm)
            nl.set_master("vmport", "brint")
            nl.set_up("vmport")
        with Netlink(self.vm) as nl:
            nl.set_up("eth0")
            nl.add_address("eth0", "10.82.1.5/24")
            nl.add_route("0.0.0.0/0", gateway=VIP)
        self.hosts, self.routers, self.reports = {}, {}, {"h1": [], "h2": []}
        for i, host in enumerate(("h1", "h2"), 1):
            hns = netns(host)
            self.hosts[host] = hns
            rns = RouterNamespace(self.rid, f"{netns.prefix}{host}-", hns, garp_count=0)
            self.routers[host] = rns
            rns.converge(self.router(host))
            with Netlink(hns) as nl:
                for net in ("ha", "int"):
                    nl.ensure_bridge(f"br{net}")
                    nl.set_up(f"br{net}")
                    nl.create_veth(f"up{net}", f"{host}{net}", peer_netns=self.fabric)
                    nl.set_master(f"up{net}", f"br{net}")
                    nl.set_up(f"up{net}")
                nl.set_master("tap" + self.ha_ports[host][:11], "brha")
                nl.set_master("tap" + self.qr_port[:11], "brint")
            with Netlink(self.fabric) as nl:
                for net in ("ha", "int"):
                    nl.set_master(f"{host}{net}", f"br{net}")
                    nl.set_up(f"{host}{net}")
        self.ha = {host: HaRouters(tmp_path / host, VrrpOptions(advert_int=ADVERT),
                                   report=self.reports[host].append)
                   for host in self.hosts}

    def router(self, host: str) -> Router:
        i = 1 if host == "h1" else 2
        return Router.from_wire({
            "id": self.rid, "admin_state_up": True, "enable_snat": True, "gw_port": None,
            "interfaces": [{"id": self.qr_port, "mac_address": "fa:16:3e:82:00:01", "mtu": 1500,
                            "fixed_ips": [{"ip_address": VIP, "prefixlen": 24}]}],
            "routes": [], "floating_ips": [], "ha": True, "ha_vr_id": VRID,
            "ha_port": {"id": self.ha_ports[host], "mac_address": f"fa:16:3e:82:01:0{i}",
                        "mtu": 1500,
                        "fixed_ips": [{"ip_address": f"169.254.192.{i}", "prefixlen": 18}]}})

    def ensure(self, host: str) -> bool:
        router = self.router(host)
        self.routers[host].converge(router)
        return self.ha[host].ensure(router, self.routers[host].name)

    def states(self) -> dict[str, str | None]:
        return {host: self.ha[host].state(self.rid) for host in self.hosts}

    def vip_on(self, host: str) -> bool:
        with Netlink(self.routers[host].name) as nl:
            return f"{VIP}/24" in nl.addresses("qr-" + self.qr_port[:11])

    def close(self):
        for host, ha in self.ha.items():
            ha.stop(self.rid, self.routers[host].name)
            self.routers[host].destroy()


@pytest.fixture
def world(netns, tmp_path):
    w = HaWorld(netns, tmp_path)
    try:
        yield w
    finally:
        w.close()


def test_vrrp_failover_between_two_hosts(world):
    for host in world.hosts:
        assert world.ensure(host)               # keepalived started
    # Converging again with the same config changes nothing (no reload).
    pids = {h: world.ha[h].pid(world.rid) for h in world.hosts}
    assert all(pids.values())
    for host in world.hosts:
        assert not world.ensure(host)
        assert world.ha[host].pid(world.rid) == pids[host]

    states = eventually(lambda: (s := world.states()) and sorted(s.values()) == [
        "active", "standby"] and s)
    assert states, world.states()
    master = next(h for h, s in states.items() if s == "active")
    other = "h2" if master == "h1" else "h1"
    assert world.vip_on(master) and not world.vip_on(other)
    with Netlink(world.routers[master].name) as nl:      # the primary VIP on ha-
        assert primary_vip(VRID) in nl.addresses("ha-" + world.ha_ports[master][:11])
    assert eventually(lambda: ping(world.vm, VIP), timeout=10)

    # A restarted agent (a new HaRouters on the same files) converging the
    # master again adopts its keepalived and leaves the VIPs where they are.
    restarted = HaRouters(world.ha[master].root, VrrpOptions(advert_int=ADVERT), report=print)
    world.routers[master].converge(world.router(master))
    assert not restarted.ensure(world.router(master), world.routers[master].name)
    assert restarted.pid(world.rid) == pids[master]
    assert world.vip_on(master) and world.states()[master] == "active"

    # What the agents report: the master active, the other standby.
    for host in world.hosts:
        world.ha[host].watch({world.rid})
        world.ha[host].report_changes(full=True)
    assert world.reports[master][-1] == {world.rid: "active"}
    assert world.reports[other][-1] == {world.rid: "standby"}

    # The master's keepalived dies: the other takes the VIP.
    os.kill(pids[master], signal.SIGTERM)
    assert eventually(lambda: world.states()[other] == "active", timeout=15), world.states()
    assert eventually(lambda: world.vip_on(other) and not world.vip_on(master), timeout=5)
    assert eventually(lambda: ping(world.vm, VIP), timeout=10)
    for host in world.hosts:
        world.ha[host].report_changes()
    assert world.reports[other][-1] == {world.rid: "active"}
    assert world.reports[master][-1] == {world.rid: "standby"}

    # The next converge starts it again: it comes back standby (nopreempt).
    assert eventually(lambda: world.ha[master].pid(world.rid) is None, timeout=10)
    assert world.ensure(master)
    assert eventually(lambda: world.states()[master] == "standby", timeout=10)
    time.sleep(3 * ADVERT + 1)      # longer than the master-down interval
    assert world.states() == {master: "standby", other: "active"}
    assert ping(world.vm, VIP)


def test_config_change_reloads_and_stop_removes(world):
    assert world.ensure("h1")
    pid = world.ha["h1"].pid(world.rid)
    assert eventually(lambda: world.states()["h1"] == "active")
    # A new interface address: the config changes, keepalived reloads in place.
    router = world.router("h1")
    router.interfaces[0] = type(router.interfaces[0])(
        router.interfaces[0].id, router.interfaces[0].mac, (f"{VIP}/24", "10.82.9.1/24"), 1500)
    assert world.ha["h1"].ensure(router, world.routers["h1"].name)
    assert world.ha["h1"].pid(world.rid) == pid
    assert eventually(lambda: "10.82.9.1/24" in Netlink(world.routers["h1"].name).addresses(
        "qr-" + world.qr_port[:11]), timeout=10)
    # Stopping it (before the namespace goes) takes the VIPs away.
    assert world.ha["h1"].stop(world.rid, world.routers["h1"].name)
    assert world.ha["h1"].pid(world.rid) is None
    assert eventually(lambda: not world.vip_on("h1"), timeout=5)


def pids_of(world, host):
    d = world.ha[host].dir(world.rid)
    return [int((d / name).read_text().split()[0]) for name in ("keepalived.pid", "vrrp.pid")]


def set_uplinks(world, host, up: bool):
    with Netlink(world.fabric) as nl:
        for net in ("ha", "int"):
            (nl.set_up if up else nl.set_down)(f"{host}{net}")


def test_frozen_master_comes_back_as_backup(world):
    """h2 (the higher HA address, which would win a tie between two masters)
    is master, is frozen and cut off; h1 takes over. When h2 resumes, its
    keepalived still believes it is master: the agent's freeze handling
    restarts it as backup, and h1 keeps the router."""
    assert world.ensure("h2")
    assert eventually(lambda: world.states()["h2"] == "active")
    assert world.ensure("h1")
    assert eventually(lambda: world.states()["h1"] == "standby")
    frozen = pids_of(world, "h2")
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        set_uplinks(world, "h2", False)
        assert eventually(lambda: world.states()["h1"] == "active", timeout=15)
        assert eventually(lambda: ping(world.vm, VIP), timeout=10)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert world.ha["h2"].restart_masters() == [world.rid]     # what the watcher does
    set_uplinks(world, "h2", True)
    assert world.ha["h2"].pid(world.rid) not in frozen
    assert eventually(lambda: world.states()["h2"] == "standby", timeout=10)
    time.sleep(3 * ADVERT + 1)
    assert world.states() == {"h1": "active", "h2": "standby"}
    assert world.vip_on("h1") and not world.vip_on("h2")
    assert ping(world.vm, VIP)
