"""A load balancer's world on the real kernel, without a server: a host
namespace with a bridge (the Linux bridge agent's part is done here: taps
are enslaved to it), member "instances" (namespaces on the bridge running a
tiny HTTP server that answers its own name) and a client namespace.
Everything carries the test's random namespace prefix and is removed by
`close()`, which the fixture calls even when the test fails."""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from neutrino.agent.lb.driver import Driver, stop_all
from neutrino.agent.lb.haproxy_config import render
from neutrino.agent.lb.model import LbDesired, Vip
from neutrino.agent.lb.plan import plan
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink

SUBNET = "10.77.0"
VIP = f"{SUBNET}.10"
CLIENT = f"{SUBNET}.200"
BRIDGE = "brlb0"
MEMBER_PORT = 8080

# answers its name; /headers: the request's headers as JSON; /login: its
# name, setting the application cookie SID=<name>
SERVER = r"""
import http.server, json, socket, sys
name = sys.argv[1].encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = name + b"\n"
        if self.path == "/headers":
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        if self.path == "/login":
            self.send_header("Set-Cookie", "SID=" + name.decode())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6          # dual stack: IPv4 too
s = S(("::", int(sys.argv[2])), H)
s.daemon_threads = True
s.serve_forever()
"""


def member(mid: str, address: str, **kw) -> dict:
    return {"id": mid, "address": address, "protocol_port": MEMBER_PORT, "weight": 1,
            "backup": False, "admin_state_up": True, "monitor_address": None,
            "monitor_port": None, "subnet_id": "sub", **kw}


def http_monitor(**kw) -> dict:
    # two failed checks to go down: a loaded test machine may miss one
    return {"id": "hm", "type": "HTTP", "delay": 1, "timeout": 2, "max_retries": 1,
            "max_retries_down": 2, "http_method": "GET", "url_path": "/",
            "expected_codes": "200", "admin_state_up": True, **kw}


def lb_wire(lb_id: str, port_id: str, members: list[dict], algorithm="ROUND_ROBIN",
            monitor: dict | None = None, persistence: dict | None = None,
            version: str = "1", epoch: int = 0, protocol: str = "HTTP",
            **listener_options) -> dict:
    wire = {
        "id": lb_id, "admin_state_up": True, "provisioning_status": "PENDING_CREATE",
        "deleted": False, "epoch": epoch, "version": version,
        "vip": {"address": VIP, "port_id": port_id, "mac_address": "fa:16:3e:4c:00:0a",
                "subnet_id": "sub", "network_id": "net", "cidr": f"{SUBNET}.0/24",
                "gateway_ip": f"{SUBNET}.1", "prefixlen": 24, "mtu": 1500, "ip_version": 4},
        "listeners": [{"id": "listener-1", "protocol": protocol, "protocol_port": 80,
                       "admin_state_up": True, "connection_limit": -1,
                       "default_pool_id": "pool-1", "timeout_client_data": None,
                       "timeout_member_connect": None, "timeout_member_data": None,
                       "timeout_tcp_inspect": None, "insert_headers": {},
                       "allowed_cidrs": [], "l7policies": []}],
        "pools": [{"id": "pool-1", "protocol": protocol, "lb_algorithm": algorithm,
                   "admin_state_up": True, "session_persistence": persistence,
                   "healthmonitor": monitor, "members": members}]}
    wire["listeners"][0].update(listener_options)
    return wire


class LbWorld:
    def __init__(self, netns_factory, tmp_path: Path):
        self.make = netns_factory
        self.prefix = netns_factory.prefix
        self.host = netns_factory("host")
        self.client = netns_factory("client")
        self.lbaas_dir = tmp_path / "lbaas"
        self.members: dict[str, tuple[str, str]] = {}    # name -> (namespace, address)
        self.servers: dict[str, subprocess.Popen] = {}
        self.lb_ids: set[str] = set()
        with Netlink(self.host) as nl:
            nl.ensure_bridge(BRIDGE)
        self._plug(self.client, "cl", CLIENT)

    def driver(self) -> Driver:
        """A fresh driver: what a (re)started agent has."""
        return Driver(self.lbaas_dir, self.prefix, self.host, garp_count=1)

    def _plug(self, netns_name: str, tag: str, address: str) -> None:
        host_end = f"v{self.prefix[2:8]}{tag}"
        with Netlink(self.host) as nl:
            nl.create_veth(host_end, "eth0", peer_netns=netns_name)
            nl.set_master(host_end, BRIDGE)
            nl.set_up(host_end)
        with Netlink(netns_name) as nl:
            nl.add_address("eth0", f"{address}/24")
            nl.set_up("eth0")

    def add_member(self, name: str, last_octet: int) -> str:
        address = f"{SUBNET}.{last_octet}"
        netns_name = self.make(name)
        self._plug(netns_name, name[-3:], address)
        self.members[name] = (netns_name, address)
        self.start_server(name)
        return address

    def start_server(self, name: str) -> None:
        netns_name, address = self.members[name]
        with ns.in_netns(netns_name):
            self.servers[name] = subprocess.Popen(
                [sys.executable, "-c", SERVER, name, str(MEMBER_PORT)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._connects(netns_name, address):
            if time.monotonic() > deadline:
                raise RuntimeError(f"member {name} did not start")
            time.sleep(0.05)

    def stop_server(self, name: str) -> None:
        proc = self.servers.pop(name)
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)

    @staticmethod
    def _connects(netns_name: str, address: str) -> bool:
        import socket
        with ns.in_netns(netns_name):
            sock = socket.socket()
        with sock:
            sock.settimeout(0.5)
            try:
                sock.connect((address, MEMBER_PORT))
                return True
            except OSError:
                return False

    # ------------------------------------------------------------ the LB

    def converge(self, wire: dict | None, lb_id: str | None = None,
                 driver: Driver | None = None) -> list[tuple]:
        """What the agent does for one load balancer; returns the ops run.
        Plays the Linux bridge agent too: the new tap goes on the bridge."""
        driver = driver or self.driver()
        lb_id = lb_id or wire["id"]
        self.lb_ids.add(lb_id)
        desired = None
        if wire is not None and not wire.get("deleted"):
            desired = LbDesired(lb_id, False, wire["epoch"], wire["version"],
                                Vip.from_wire(wire["vip"]), render(wire, driver.paths(lb_id)))
        observed = driver.observe(lb_id, driver.taps(), desired.vip.dev if desired else None,
                                  v6=bool(desired) and desired.vip.ip_version == 6)
        ops = plan(desired, observed)
        driver.apply(lb_id, ops, desired.vip if desired else None)
        if desired is not None:
            with Netlink(self.host) as nl:
                link = nl.link(desired.vip.tap)
                if link is not None and link.master != BRIDGE:
                    nl.set_master(desired.vip.tap, BRIDGE)
        return ops

    def add_client(self, tag: str, last_octet: int) -> str:
        """Another client namespace on the bridge; returns its name."""
        space = self.make(tag)
        self._plug(space, tag[-3:], f"{SUBNET}.{last_octet}")
        return space

    def get(self, path: str = "/", timeout: float = 5.0, headers=None,
            client: str | None = None) -> str:
        """One HTTP request from the client namespace to the VIP."""
        with ns.in_netns(client or self.client):
            req = urllib.request.Request(f"http://{VIP}{path}", headers=headers or {})
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(req, timeout=timeout) as resp:
                return resp.read().decode().strip()

    def wait_serving(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get(timeout=1)
                return
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        for proc in self.servers.values():
            with contextlib.suppress(Exception):
                proc.kill()
                proc.wait(5)
        driver = self.driver()
        for lb_id in self.lb_ids:
            log = driver.paths(lb_id).log
            if log.exists():      # for the test report
                print(f"--- {log}\n{log.read_text()[-3000:]}")
            with contextlib.suppress(Exception):
                driver.apply(lb_id, plan(None, driver.observe(lb_id, driver.taps(), None)))
        stop_all(self.lbaas_dir)
        for name in ns.list_netns():      # a failed teardown: the namespaces we made
            if name.startswith(f"{self.prefix}qlbaas-"):
                ns.delete(name, missing_ok=True)


class RequestLoop:
    """Client threads sending requests to the VIP until stopped; counts
    answers and failures (with the failures' texts)."""

    def __init__(self, world: LbWorld, threads: int = 4):
        self.world = world
        self.ok = 0
        self.failures: list[str] = []
        self.seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                name = self.world.get(timeout=10)
                with self._lock:
                    self.ok += 1
                    self.seen[name] = self.seen.get(name, 0) + 1
            except Exception as exc:  # noqa: BLE001 - counted
                with self._lock:
                    self.failures.append(f"{type(exc).__name__}: {exc}")

    def __enter__(self) -> RequestLoop:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def new_ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


def pid_alive(pid: int) -> bool:
    """Running (a zombie, an exited child of this test process not reaped
    yet, is not)."""
    from neutrino.dataplane.process import pid_cmdline
    return pid_cmdline(pid) is not None
