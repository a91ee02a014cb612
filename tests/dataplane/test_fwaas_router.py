"""FWaaS v2 on a real kernel: a router namespace built by RouterNamespace
(as the L3 agent builds it: qr- devices, metadata filter rules in INPUT),
its tap ends on one bridge each in a "host" namespace, and an instance
namespace behind each bridge. The firewall is converged with Router objects
exactly as the L3 agent does (no server); what is asserted is what the
instances see: connections made, refused, or left unanswered."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import pytest

from neutrino.agent.l3.fwaas.apply import RouterFirewallKernel
from neutrino.agent.l3.fwaas.extension import FwaasExtension
from neutrino.agent.l3.fwaas.plan import plan, render
from neutrino.agent.l3.model import Router
from neutrino.agent.l3.router_ns import RouterNamespace
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink

pytestmark = pytest.mark.root

# Echo servers of an instance: TCP on every port given (IPv4 and IPv6), UDP too.
SERVER = r"""
import socket, sys, threading, time
TALK = 2222
def tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port)); s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()
def echo(c):
    while True:
        data = c.recv(100)
        if not data:
            return
        c.sendall(data)
def udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        data, peer = s.recvfrom(100)
        s.sendto(data, peer)
def ticker(c):
    try:
        while True:
            c.sendall(b"t")
            time.sleep(0.2)
    except OSError:
        return
def talk(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port)); s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=ticker, args=(c,), daemon=True).start()
threading.Thread(target=talk, args=(TALK,), daemon=True).start()
for p in sys.argv[1:]:
    threading.Thread(target=tcp, args=(int(p),), daemon=True).start()
    threading.Thread(target=udp, args=(int(p),), daemon=True).start()
threading.Event().wait()
"""
PORTS = (22, 80, 81, 53)
TALK = 2222         # the servers send a byte every 0.2 s to whoever connects here
EXT = "203.0.113"          # the external network (TEST-NET-3), outside host .254
FIP = f"{EXT}.20"
WAIT = 1.5          # seconds without an answer that count as "dropped"


def fam(ip: str) -> int:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def tcp(netns: str, ip: str, port: int) -> str:
    """'ok' (connected and echoed), 'refused' (RST) or 'timeout'."""
    with ns.in_netns(netns):
        s = socket.socket(fam(ip), socket.SOCK_STREAM)
    s.settimeout(WAIT)
    try:
        s.connect((ip, port))
        s.sendall(b"hi")
        return "ok" if s.recv(10) == b"hi" else "bad"
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, socket.timeout):
        return "timeout"
    finally:
        s.close()


def udp(netns: str, ip: str, port: int) -> str:
    with ns.in_netns(netns):
        s = socket.socket(fam(ip), socket.SOCK_DGRAM)
    s.settimeout(WAIT)
    try:
        s.connect((ip, port))
        s.send(b"hi")
        return "ok" if s.recv(10) == b"hi" else "bad"
    except ConnectionRefusedError:       # ICMP port unreachable
        return "refused"
    except (TimeoutError, socket.timeout):
        return "timeout"
    finally:
        s.close()


def ping(netns: str, ip: str) -> bool:
    out = ns.run(["ping", "-c", "1", "-W", "1", ip], netns=netns, check=False, timeout=10)
    return "1 received" in out


def rule(action="allow", ip_version=4, **kw):
    return {"id": kw.pop("id", uuid.uuid4().hex), "enabled": True, "protocol": None,
            "ip_version": ip_version, "source_ip_address": None,
            "destination_ip_address": None, "source_port": None, "destination_port": None,
            "action": action, **kw}


class World:
    """Router with interfaces on 10.81.1.0/24 (+2001:db8:81:1::/64) and
    10.81.2.0/24 (+2001:db8:81:2::/64); instance "a" behind the first,
    "b" behind the second, both running echo servers."""

    def __init__(self, netns, tmp_path, gateway: bool = False):
        self.prefix = netns.prefix
        self.host = netns("host")
        self.rid = str(uuid.uuid4())
        self.ports = {"a": str(uuid.uuid4()), "b": str(uuid.uuid4())}
        self.gw = str(uuid.uuid4()) if gateway else None
        self.addr = {"a": ("10.81.1", "2001:db8:81:1"), "b": ("10.81.2", "2001:db8:81:2")}
        self.ns = RouterNamespace(self.rid, self.prefix, self.host, garp_count=0)
        self.servers: list[subprocess.Popen] = []
        self.inst = {}
        # no duplicate address detection: the IPv6 addresses work at once
        ns.create(self.ns.name, exist_ok=True)
        for key in ("all", "default"):
            ns.sysctl_set(f"net.ipv6.conf.{key}.accept_dad", 0, self.ns.name)
        self.groups: dict[str, dict | None] = {"a": None, "b": None}
        self.converge()
        # written once: rewriting it for the second server truncated the file
        # the first could still be reading (it then ran nothing and exited 0)
        script = tmp_path / "echo.py"
        script.write_text(SERVER)
        for side, port_id in self.ports.items():
            inst = netns(side)
            self.inst[side] = inst
            v4, v6 = self.addr[side]
            br = f"br{side}{port_id[:6]}"
            with Netlink(self.host) as nl:
                nl.ensure_bridge(br)
                nl.set_master("tap" + port_id[:11], br)
                nl.create_veth(f"v{side}{port_id[:8]}", "eth0", peer_netns=inst)
                nl.set_master(f"v{side}{port_id[:8]}", br)
                nl.set_up(f"v{side}{port_id[:8]}")
            ns.sysctl_set("net.ipv6.conf.all.accept_dad", 0, inst)
            ns.sysctl_set("net.ipv6.conf.eth0.accept_dad", 0, inst)
            with Netlink(inst) as nl:
                nl.set_up("eth0")
                nl.add_address("eth0", f"{v4}.5/24")
                nl.add_address("eth0", f"{v6}::5/64")
                nl.add_route("0.0.0.0/0", gateway=f"{v4}.1")
            ns.run(["ip", "-6", "route", "add", "default", "via", f"{v6}::1"], netns=inst)
            self.servers.append(subprocess.Popen(
                ["ip", "netns", "exec", inst, sys.executable, str(script),
                 *map(str, PORTS)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if self.gw:        # the outside host on the external network
            self.outside = netns("out")
            br = f"brx{self.gw[:8]}"
            with Netlink(self.host) as nl:
                nl.ensure_bridge(br)
                nl.set_master("tap" + self.gw[:11], br)
                nl.create_veth(f"vx{self.gw[:8]}", "eth0", peer_netns=self.outside)
                nl.set_master(f"vx{self.gw[:8]}", br)
                nl.set_up(f"vx{self.gw[:8]}")
            with Netlink(self.outside) as nl:
                nl.set_up("eth0")
                nl.add_address("eth0", f"{EXT}.254/24")
        # servers listening (asked from inside); a loaded machine takes seconds to start Python
        for side, server in zip(self.inst, self.servers):
            deadline = time.monotonic() + 30
            while tcp(self.inst[side], "127.0.0.1", 22) != "ok":
                assert server.poll() is None, f"echo server exited {server.returncode}"
                assert time.monotonic() < deadline, "echo server did not start in 30 s"
                time.sleep(0.1)

    def ip(self, side: str, version: int = 4) -> str:
        v4, v6 = self.addr[side]
        return f"{v4}.5" if version == 4 else f"{v6}::5"

    def router(self) -> Router:
        def port(side):
            v4, v6 = self.addr[side]
            return {"id": self.ports[side], "mac_address": f"fa:16:3e:81:00:0{len(side)}"
                    if side == "a" else "fa:16:3e:81:00:0b", "mtu": 1500,
                    "fixed_ips": [{"ip_address": f"{v4}.1", "prefixlen": 24},
                                  {"ip_address": f"{v6}::1", "prefixlen": 64}],
                    "firewall_group": self.groups[side]}
        gw = {"id": self.gw, "mac_address": "fa:16:3e:81:00:0e", "mtu": 1500,
              "fixed_ips": [{"ip_address": f"{EXT}.10", "prefixlen": 24,
                             "gateway_ip": f"{EXT}.254"}],
              "firewall_group": None} if self.gw else None
        fips = [{"id": "fip-a", "floating_ip_address": FIP, "fixed_ip_address": self.ip("a"),
                 "status": "ACTIVE"}] if self.gw else []
        return Router.from_wire({"id": self.rid, "admin_state_up": True, "enable_snat": True,
                                 "gw_port": gw, "interfaces": [port("a"), port("b")],
                                 "routes": [], "floating_ips": fips})

    def converge(self, fwaas: FwaasExtension | None = None) -> bool:
        router = self.router()
        self.ns.converge(router)
        return (fwaas or FwaasExtension()).converge(self.ns.name, router)

    def close(self):
        for proc in self.servers:
            proc.kill()
            proc.wait(5)
        self.ns.destroy()


@pytest.fixture
def world(netns, tmp_path):
    w = World(netns, tmp_path)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def world_gw(netns, tmp_path):
    w = World(netns, tmp_path, gateway=True)
    try:
        yield w
    finally:
        w.close()


def group(ingress=None, egress=None, admin=True, version="1"):
    return {"id": "f0a0b0c0-0000-4000-8000-000000000001", "admin_state_up": admin,
            "version": version, "ingress": ingress, "egress": egress}


def test_without_a_group_everything_passes(world):
    a, b = world.inst["a"], world.ip("b")
    assert tcp(a, b, 80) == "ok" and udp(a, b, 53) == "ok" and ping(a, b)


def test_tcp_udp_icmp_pass_and_drop_as_the_rules_say(world):
    world.groups["b"] = group(ingress=[rule(protocol="tcp", destination_port="22"),
                                       rule(protocol="udp", destination_port="50:60"),
                                       rule(protocol="icmp")])
    assert world.converge()
    a, b = world.inst["a"], world.ip("b")
    assert tcp(a, b, 22) == "ok"
    assert tcp(a, b, 80) == "timeout"          # unmatched: dropped
    assert udp(a, b, 53) == "ok"
    assert udp(a, world.ip("b"), 22) == "timeout"
    assert ping(a, b)
    # b's group has no egress policy: nothing new leaves b through its port
    assert tcp(world.inst["b"], world.ip("a"), 22) == "timeout"
    assert not ping(world.inst["b"], world.ip("a"))


def test_reject_is_refused_at_once_and_deny_times_out(world):
    world.groups["b"] = group(ingress=[rule("reject", protocol="tcp", destination_port="80"),
                                       rule("deny", protocol="tcp", destination_port="81"),
                                       rule("reject", protocol="udp", destination_port="53"),
                                       rule()])
    world.converge()
    a, b = world.inst["a"], world.ip("b")
    assert tcp(a, b, 80) == "refused"
    assert tcp(a, b, 81) == "timeout"
    assert udp(a, b, 53) == "refused"
    assert tcp(a, b, 22) == "ok"


def test_established_tcp_session_is_cut_by_a_new_deny(world):
    allow22 = rule(protocol="tcp", destination_port="22")
    world.groups["b"] = group(ingress=[allow22])
    world.converge()
    with ns.in_netns(world.inst["a"]):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    try:
        s.connect((world.ip("b"), 22))
        s.sendall(b"one")
        assert s.recv(10) == b"one"
        # a deny for it inserted before the allow
        world.groups["b"] = group(ingress=[rule("deny", protocol="tcp", destination_port="22"),
                                           allow22], version="2")
        assert world.converge()
        s.sendall(b"two")
        with pytest.raises((TimeoutError, socket.timeout)):
            s.recv(10)
    finally:
        s.close()
    assert tcp(world.inst["a"], world.ip("b"), 22) == "timeout"


def test_removing_the_port_from_the_group_restores_traffic(world):
    world.groups["b"] = group(ingress=[rule(protocol="tcp", destination_port="22")])
    world.converge()
    a, b = world.inst["a"], world.ip("b")
    assert tcp(a, b, 80) == "timeout"
    world.groups["b"] = None
    assert world.converge()
    assert tcp(a, b, 80) == "ok" and ping(a, b)
    assert not any(c.startswith("neutron-l3-agent-iv4") or c == "neutron-l3-agent-FORWARD"
                   for c in RouterFirewallKernel(world.ns.name).observe()[4])


def test_ipv6_rules(world):
    world.groups["b"] = group(ingress=[rule(ip_version=6, protocol="tcp", destination_port="22"),
                                       rule(ip_version=6, protocol="icmp")])
    world.converge()
    a = world.inst["a"]
    assert tcp(a, world.ip("b", 6), 22) == "ok"
    assert tcp(a, world.ip("b", 6), 80) == "timeout"
    assert ping(a, world.ip("b", 6))
    assert tcp(a, world.ip("b"), 22) == "timeout"      # no IPv4 rule: IPv4 dropped


def test_admin_down_group_drops_everything_even_established(world):
    world.groups["b"] = group(ingress=[rule()], egress=[rule()])
    world.converge()
    a, b = world.inst["a"], world.ip("b")
    assert tcp(a, b, 80) == "ok"
    world.groups["b"] = group(ingress=[rule()], egress=[rule()], admin=False, version="2")
    world.converge()
    assert tcp(a, b, 80) == "timeout" and not ping(a, b)


def test_l3_converge_and_restart_leave_the_firewall_alone(world):
    """The router's own converge (metadata rules in INPUT of the same table)
    keeps the FWaaS chains; a fresh extension (a restarted agent) against an
    identical kernel plans nothing, and connections keep working (protocols
    iptables-save spells by this machine's protocol table included)."""
    world.groups["b"] = group(ingress=[rule(protocol="tcp", destination_port="22"),
                                       rule(protocol="113"), rule(protocol="115"),
                                       rule(protocol="47")])
    world.converge()
    kernel = RouterFirewallKernel(world.ns.name)
    before = kernel.observe()
    assert "neutron-l3-agent-INPUT" in before[4]            # the metadata filter rules
    router = world.router()
    world.ns.converge(router)
    assert kernel.observe() == before
    assert plan(render(router), kernel.observe()).empty
    assert not FwaasExtension().converge(world.ns.name, router)
    assert tcp(world.inst["a"], world.ip("b"), 22) == "ok"
    assert tcp(world.inst["a"], world.ip("b"), 80) == "timeout"


def test_show_router_prints_the_firewall_chains(world):
    from neutrino.agent.l3.fwaas import show
    world.groups["b"] = group(ingress=[rule("reject", protocol="tcp", destination_port="80")])
    world.converge()
    chains = show.chains(world.ns.name)
    text = "\n".join(show.render([{"id": "f0a0", "name": "web", "status": "ERROR",
                                   "status_reason": "host1: RuntimeError: boom",
                                   "ports": [world.ports["b"]]}], chains))
    qr_b = "qr-" + world.ports["b"][:11]
    assert "-A FORWARD -j neutron-l3-agent-FORWARD" in chains["4"]
    assert f"-A neutron-l3-agent-FORWARD -o {qr_b} -j neutron-l3-agent-iv4f0a0b0c0" in text
    assert ("-A neutron-l3-agent-iv4f0a0b0c0 -p tcp -m tcp --dport 80 "
            "-j neutron-l3-agent-rejected") in text
    assert "firewall (FWaaS) ip6tables -S" in text and "f0a0 'web' ERROR" in text
    assert "reason: host1: RuntimeError: boom" in text
    assert not any("INPUT" in line for line in chains["4"])     # only ours


def test_outside_to_a_floating_ip_session_cut_and_reject_through_nat(world_gw):
    """Outside -> floating IP (DNAT to a): the chains see the fixed address;
    a session allowed in is cut by a new deny; reject answers through NAT."""
    w = world_gw
    allow22 = rule(protocol="tcp", destination_port="22")
    w.groups["a"] = group(ingress=[rule("reject", protocol="tcp", destination_port="80"),
                                   allow22])
    w.converge()
    assert tcp(w.outside, FIP, 80) == "refused"
    assert tcp(w.outside, FIP, 81) == "timeout"
    with ns.in_netns(w.outside):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    try:
        s.connect((FIP, 22))
        s.sendall(b"one")
        assert s.recv(10) == b"one"
        w.groups["a"] = group(ingress=[rule("deny", protocol="tcp", destination_port="22",
                                            source_ip_address=f"{EXT}.254"), allow22],
                              version="2")
        w.converge()
        s.sendall(b"two")
        with pytest.raises((TimeoutError, socket.timeout)):
            s.recv(10)
    finally:
        s.close()
    # a's group has no egress policy: its new connections out are dropped
    # (the outside host, with nothing on 22, would answer with a reset)
    assert tcp(w.inst["a"], f"{EXT}.254", 22) == "timeout"
    w.groups["a"] = None
    w.converge()
    assert tcp(w.inst["a"], f"{EXT}.254", 22) == "refused"


def test_a_cut_session_is_not_picked_up_again_by_the_other_side(world):
    """The server side keeps sending after the cut; its egress policy allows
    everything, yet its mid-stream packets must not re-create the flow (TCP
    loose pickup is off where a firewall group applies)."""
    world.groups["b"] = group(ingress=[rule(protocol="tcp", destination_port=str(TALK))],
                              egress=[rule()])
    world.converge()
    with ns.in_netns(world.inst["a"]):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    try:
        s.connect((world.ip("b"), TALK))
        assert s.recv(1) == b"t"
        world.groups["b"] = group(ingress=[rule("deny", protocol="tcp",
                                                destination_port=str(TALK))],
                                  egress=[rule()], version="2")
        assert world.converge()
        time.sleep(0.5)                      # what was in flight arrives
        s.setblocking(False)
        try:
            while s.recv(100):
                pass
        except BlockingIOError:
            pass
        s.settimeout(WAIT)
        with pytest.raises((TimeoutError, socket.timeout)):
            s.recv(1)
    finally:
        s.close()
