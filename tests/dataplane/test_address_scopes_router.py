"""Address scopes in a router namespace on a real kernel: a router built by
RouterNamespace from a Router model (as the L3 agent builds it), three
internal subnets — 10.91.1.0/24 and 10.91.2.0/24 in address scope S1,
10.91.3.0/24 in scope S2, with IPv6 subnets scoped the same way — and a
gateway on 203.0.113.0/24, itself in S1 or unscoped. Each instance runs a TCP server that answers with the source
address it sees, so the tests read NAT (or its absence) off real packets:
subnets of one scope talk with their own addresses, another scope is cut
off, and traffic to the external network keeps its source address only
from the gateway's scope (the rest is SNATed to the gateway address)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import pytest

from neutrino.agent.l3.model import Router
from neutrino.agent.l3.router_ns import RouterNamespace
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink

pytestmark = pytest.mark.root

WHO = r"""
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 7000)); s.listen(16)
while True:
    c, peer = s.accept()
    c.sendall(peer[0].removeprefix("::ffff:").encode()); c.close()
"""
EXT = "203.0.113"
GW_IP = f"{EXT}.10"
S1, S2 = str(uuid.uuid4()), str(uuid.uuid4())
V6S1, V6S2 = str(uuid.uuid4()), str(uuid.uuid4())     # IPv6 scopes: a and b, c
SUBNETS = {"a": ("10.91.1", S1), "b": ("10.91.2", S1), "c": ("10.91.3", S2)}
V6 = {"a": ("2001:db8:91:1", V6S1), "b": ("2001:db8:91:2", V6S1),
      "c": ("2001:db8:91:3", V6S2)}


def who(netns: str, ip: str) -> str:
    """The source address the server at `ip` saw, or 'timeout'/'refused'."""
    with ns.in_netns(netns):
        s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
    s.settimeout(1.5)
    try:
        s.connect((ip, 7000))
        return s.recv(64).decode()
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, socket.timeout):
        return "timeout"
    finally:
        s.close()


class World:
    def __init__(self, netns, tmp_path, gw_scope):
        self.host = netns("host")
        self.rid = str(uuid.uuid4())
        self.ports = {side: str(uuid.uuid4()) for side in (*SUBNETS, "x")}
        self.gw_scope = gw_scope
        self.scoped = True
        self.ns = RouterNamespace(self.rid, netns.prefix, self.host, garp_count=0)
        ns.create(self.ns.name, exist_ok=True)       # no DAD: IPv6 addresses work at once
        for key in ("all", "default"):
            ns.sysctl_set(f"net.ipv6.conf.{key}.accept_dad", 0, self.ns.name)
        self.procs: list[subprocess.Popen] = []
        self.inst: dict[str, str] = {}
        self.ns.converge(self.router())
        script = tmp_path / "who.py"
        script.write_text(WHO)
        for side, pid in self.ports.items():
            inst = netns(side)
            self.inst[side] = inst
            for key in ("all", "default"):
                ns.sysctl_set(f"net.ipv6.conf.{key}.accept_dad", 0, inst)
            br, veth = f"br{side}{pid[:6]}", f"v{side}{pid[:8]}"
            with Netlink(self.host) as nl:
                nl.ensure_bridge(br)
                nl.set_master("tap" + pid[:11], br)
                nl.create_veth(veth, "eth0", peer_netns=inst)
                nl.set_master(veth, br)
                nl.set_up(veth)
            with Netlink(inst) as nl:
                nl.set_up("eth0")
                if side == "x":      # the outside host: routes to S1 via the gateway
                    nl.add_address("eth0", f"{EXT}.254/24")
                    nl.add_route("10.91.0.0/16", gateway=GW_IP)
                else:
                    nl.add_address("eth0", f"{SUBNETS[side][0]}.5/24")
                    nl.add_address("eth0", f"{V6[side][0]}::5/64")
                    nl.add_route("0.0.0.0/0", gateway=f"{SUBNETS[side][0]}.1")
            if side != "x":
                ns.run(["ip", "-6", "route", "add", "default", "via", f"{V6[side][0]}::1"],
                       netns=inst)
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", inst, sys.executable, str(script)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for side, inst in self.inst.items():
            deadline = time.monotonic() + 10
            while who(inst, "127.0.0.1") != "127.0.0.1":
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)

    def ip(self, side: str, version: int = 4) -> str:
        if version == 6:
            return f"{V6[side][0]}::5"
        return f"{EXT}.254" if side == "x" else f"{SUBNETS[side][0]}.5"

    def router(self) -> Router:
        def port(side):
            prefix, scope = SUBNETS[side]
            prefix6, scope6 = V6[side]
            return {"id": self.ports[side], "mac_address": f"fa:16:3e:91:00:0{'abc'.index(side)}",
                    "mtu": 1500, "fixed_ips": [{"ip_address": f"{prefix}.1", "prefixlen": 24},
                                               {"ip_address": f"{prefix6}::1", "prefixlen": 64}],
                    "address_scopes": {"4": scope if self.scoped else None,
                                       "6": scope6 if self.scoped else None}}
        gw = {"id": self.ports["x"], "mac_address": "fa:16:3e:91:00:0e", "mtu": 1500,
              "fixed_ips": [{"ip_address": GW_IP, "prefixlen": 24,
                             "gateway_ip": f"{EXT}.254"}],
              "address_scopes": {"4": self.gw_scope if self.scoped else None, "6": None}}
        return Router.from_wire({"id": self.rid, "admin_state_up": True, "enable_snat": True,
                                 "gw_port": gw, "interfaces": [port(s) for s in SUBNETS],
                                 "routes": [], "floating_ips": []})

    def close(self):
        for proc in self.procs:
            proc.kill()
            proc.wait(5)
        self.ns.destroy()


@pytest.fixture
def world(netns, tmp_path, request):
    w = World(netns, tmp_path, getattr(request, "param", S1))
    try:
        yield w
    finally:
        w.close()


def test_one_scope_routes_without_nat_another_scope_is_isolated(world):
    inst, ip = world.inst, world.ip
    # a and b (S1) see each other's own addresses
    assert who(inst["a"], ip("b")) == ip("a")
    assert who(inst["b"], ip("a")) == ip("b")
    # c (S2) reaches neither, and neither reaches c
    assert who(inst["c"], ip("a")) == "timeout"
    assert who(inst["a"], ip("c")) == "timeout"
    assert who(inst["b"], ip("c")) == "timeout"


def test_gateway_scope_is_not_snated_other_scopes_are(world):
    inst, ip = world.inst, world.ip
    # a is in the gateway's scope: its own address reaches the outside host
    assert who(inst["a"], ip("x")) == ip("a")
    # c is not: SNATed to the gateway address, as without scopes
    assert who(inst["c"], ip("x")) == GW_IP
    # the outside reaches S1 directly (routed, no floating IP), not S2
    assert who(inst["x"], ip("b")) == ip("x")
    assert who(inst["x"], ip("c")) == "timeout"


@pytest.mark.parametrize("world", [None], indirect=True)
def test_unscoped_gateway_snats_everyone(world):
    inst, ip = world.inst, world.ip
    assert who(inst["a"], ip("x")) == GW_IP
    assert who(inst["c"], ip("x")) == GW_IP
    assert who(inst["a"], ip("b")) == ip("a")       # scope S1 still routed inside
    assert who(inst["a"], ip("c")) == "timeout"


def test_rules_go_when_the_scopes_go(world):
    inst, ip = world.inst, world.ip
    assert who(inst["a"], ip("c")) == "timeout"
    world.scoped = False
    world.ns.converge(world.router())
    assert who(inst["a"], ip("c")) == ip("a")
    assert who(inst["c"], ip("a")) == ip("c")
    assert who(inst["a"], ip("x")) == GW_IP
    rules = ns.run(["iptables-save"], netns=world.ns.name)
    assert "scope" not in rules


def test_ipv6_scopes_are_isolated_too(world):
    inst, ip = world.inst, world.ip
    assert who(inst["a"], ip("b", 6)) == ip("a", 6)
    assert who(inst["c"], ip("a", 6)) == "timeout"
    assert who(inst["a"], ip("c", 6)) == "timeout"
    world.scoped = False
    world.ns.converge(world.router())
    assert who(inst["a"], ip("c", 6)) == ip("a", 6)
    assert "scope" not in ns.run(["ip6tables-save"], netns=world.ns.name)
