"""Load balancing in the lab, in a tenant's words: Octavia v2 calls that wait
for ACTIVE between changes (as Octavia's clients do), tiny HTTP servers in
instances that answer their own name, and an HTTP client that runs in any
namespace (a socket opened there, so threads can fire requests at once)."""
from __future__ import annotations

import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from neutrino.dataplane import netns as ns
from neutrino.lab.api import ApiError
from tests.e2e.helpers import wait_for
from tests.e2e.l3_helpers import L3World

LBAAS = "/v2/lbaas"
LB_AGENT_TYPE = "Loadbalancer agent"

# A backend: answers its name to every GET; /hold/<s> answers after s seconds
# (a request that keeps a connection to the member open).
SERVER = r"""
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
name, port = sys.argv[1], int(sys.argv[2])
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        if self.path.startswith("/hold/"):
            time.sleep(float(self.path.split("/")[2]))
        body = (name + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
"""


# ------------------------------------------------------------------ HTTP

@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: str

    @property
    def name(self) -> str:
        return self.body.strip()

    def cookies(self) -> str:
        """The name=value pairs of its Set-Cookie headers, as a Cookie header."""
        return "; ".join(c.split(";", 1)[0].strip() for c in self.headers.get("set-cookie", []))


def http_get(netns: str, ip: str, port: int = 80, path: str = "/",
             headers: dict[str, str] | None = None, timeout: float = 5.0) -> Reply:
    """One GET on a new connection opened from `netns`."""
    with ns.in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(timeout)
        sock.connect((ip, port))
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n"
                     f"{extra}\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        raise ConnectionError(f"no HTTP answer: {data[:200]!r}")
    parsed: dict[str, list[str]] = collections.defaultdict(list)
    for line in lines[1:]:
        key, _, value = line.partition(":")
        parsed[key.strip().lower()].append(value.strip())
    return Reply(int(lines[0].split()[1]), dict(parsed), body.decode("utf-8", "replace"))


def names(netns: str, ip: str, n: int, port: int = 80, path: str = "/",
          headers: dict[str, str] | None = None) -> collections.Counter:
    """Who answered n sequential requests (each on a new connection); any
    status but 200 fails."""
    seen: collections.Counter = collections.Counter()
    for _ in range(n):
        reply = http_get(netns, ip, port, path, headers)
        assert reply.status == 200, reply
        seen[reply.name] += 1
    return seen


class LoadLoop:
    """`clients` threads requesting `url` from `netns` in a loop (a pause
    between requests: a bounded load) until stop(); counts every answer."""

    def __init__(self, netns: str, ip: str, port: int = 80, clients: int = 3,
                 pause: float = 0.01, timeout: float = 5.0):
        self.netns, self.ip, self.port = netns, ip, port
        self.pause, self.timeout = pause, timeout
        self.ok: collections.Counter = collections.Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                reply = http_get(self.netns, self.ip, self.port, timeout=self.timeout)
                outcome = reply.name if reply.status == 200 else f"HTTP {reply.status}"
            except OSError as exc:
                outcome = f"{type(exc).__name__}: {exc}"
                reply = None
            with self._lock:
                if reply is not None and reply.status == 200:
                    self.ok[outcome] += 1
                else:
                    self.failures.append(f"{time.strftime('%H:%M:%S')} {outcome}")
            time.sleep(self.pause)

    def __enter__(self) -> LoadLoop:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)

    @property
    def total(self) -> int:
        return sum(self.ok.values()) + len(self.failures)


# -------------------------------------------------------------- backends

class Backends:
    """HTTP servers in instances, started and ended by PID."""

    def __init__(self):
        self.procs: dict[tuple[str, int], subprocess.Popen] = {}

    def start(self, inst, port: int, name: str | None = None) -> None:
        with ns.in_netns(inst.netns):
            proc = subprocess.Popen([sys.executable, "-c", SERVER,
                                     name or inst.name.rsplit("-", 1)[0], str(port)],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs[(inst.netns, port)] = proc
        wait_for(lambda: _listening(inst.netns, port), timeout=10,
                 what=f"server on {inst.name}:{port}")

    def stop(self, inst, port: int) -> None:
        proc = self.procs.pop((inst.netns, port))
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self.procs.clear()


def _listening(netns: str, port: int) -> bool:
    with ns.in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# ----------------------------------------------------------- Octavia v2

class Octavia:
    """Octavia v2 calls on the lab's API (same port as Neutron's)."""

    COLLECTIONS = {"loadbalancer": "loadbalancers", "listener": "listeners", "pool": "pools",
                   "healthmonitor": "healthmonitors", "l7policy": "l7policies"}

    def __init__(self, lab):
        self.lab = lab

    @property
    def api(self):
        return self.lab.api

    def _path(self, kind: str, rid: str | None = None, parent: str | None = None) -> str:
        if kind == "member":
            base = f"{LBAAS}/pools/{parent}/members"
        elif kind == "rule":
            base = f"{LBAAS}/l7policies/{parent}/rules"
        else:
            base = f"{LBAAS}/{self.COLLECTIONS[kind]}"
        return f"{base}/{rid}" if rid else base

    def create(self, kind: str, body: dict, parent: str | None = None) -> dict:
        return self.api.request("POST", self._path(kind, parent=parent), {kind: body})[kind]

    def show(self, kind: str, rid: str, parent: str | None = None) -> dict:
        return self.api.request("GET", self._path(kind, rid, parent))[kind]

    def list(self, kind: str, parent: str | None = None, **params) -> list[dict]:
        key = {"member": "members", "rule": "rules"}.get(kind) or self.COLLECTIONS[kind]
        return self.api.request("GET", self._path(kind, parent=parent), params=params)[key]

    def update(self, kind: str, rid: str, body: dict, parent: str | None = None) -> dict:
        return self.api.request("PUT", self._path(kind, rid, parent), {kind: body})[kind]

    def delete(self, kind: str, rid: str, parent: str | None = None, **params) -> None:
        self.api.request("DELETE", self._path(kind, rid, parent), params=params or None)

    def status_tree(self, lb_id: str) -> dict:
        return self.api.request("GET", f"{LBAAS}/loadbalancers/{lb_id}/status")["statuses"]

    def wait_active(self, lb_id: str, timeout: float = 30.0) -> dict:
        """Until the load balancer is ACTIVE again (what the agent applied
        is the current state); ERROR fails at once."""
        def active():
            lb = self.show("loadbalancer", lb_id)
            assert lb["provisioning_status"] != "ERROR", f"load balancer in ERROR: {lb}"
            return lb if lb["provisioning_status"] == "ACTIVE" else None
        return wait_for(active, timeout=timeout, interval=0.1,
                        what=f"load balancer {lb_id} ACTIVE")

    def change(self, lb_id: str, kind: str, method: str, *args, **kw):
        """create/update/delete `kind`, then wait until the load balancer is ACTIVE."""
        result = getattr(self, method)(kind, *args, **kw)
        self.wait_active(lb_id)
        return result

    def wait_gone(self, lb_id: str, timeout: float = 30.0) -> None:
        def gone():
            try:
                self.show("loadbalancer", lb_id)
            except ApiError as exc:
                return exc.status == 404
            return False
        wait_for(gone, timeout=timeout, interval=0.2, what=f"load balancer {lb_id} deleted")

    def member_status(self, pool_id: str, member_id: str) -> str:
        return self.show("member", member_id, parent=pool_id)["operating_status"]


def lb_namespace(lb_id: str) -> str | None:
    """The namespace holding the load balancer, whatever its host prefix."""
    return next((n for n in ns.list_netns() if n.endswith(f"qlbaas-{lb_id}")), None)


def wait_lb_agents(lab, timeout: float = 60.0) -> list[dict]:
    return wait_for(lambda: [a for a in lab.api.list("agents", agent_type=LB_AGENT_TYPE)
                             if a["alive"]], timeout=timeout, what="a live load-balancer agent")


# ------------------------------------------------------------------ world

class LbWorld(L3World):
    """L3World plus load balancers (removed first on cleanup, by cascade
    delete) and the backends' servers."""

    def __init__(self, lab, tag):
        super().__init__(lab, tag)
        self.octavia = Octavia(lab)
        self.lbs: list[str] = []
        self.backends = Backends()

    def loadbalancer(self, name: str, subnet: dict, **extra) -> dict:
        lb = self.octavia.create("loadbalancer", {"name": f"{name}-{self.tag}",
                                                  "vip_subnet_id": subnet["id"], **extra})
        self.lbs.append(lb["id"])
        return lb

    def cleanup(self) -> None:
        self.backends.stop_all()
        for lb_id in self.lbs:
            with contextlib.suppress(Exception):
                self.octavia.delete("loadbalancer", lb_id, cascade="true")
            with contextlib.suppress(Exception):
                self.octavia.wait_gone(lb_id)
        super().cleanup()


@dataclass
class Farm:
    """Three web instances behind one HTTP load balancer on their tenant
    network, a client instance beside them, and a floating IP on the VIP."""
    world: LbWorld
    lb: dict
    listener: dict
    pool: dict
    webs: list
    client: object
    subnet: dict
    ext: dict
    fip: dict
    members: dict = field(default_factory=dict)       # web name -> member

    @property
    def octavia(self) -> Octavia:
        return self.world.octavia

    @property
    def vip(self) -> str:
        return self.lb["vip_address"]

    def web_names(self) -> set[str]:
        return {w.name.rsplit("-", 1)[0] for w in self.webs}

    def set_pool(self, **body) -> dict:
        self.pool = self.octavia.change(self.lb["id"], "pool", "update", self.pool["id"], body)
        return self.pool

    def from_client(self, n: int, **kw) -> collections.Counter:
        return names(self.client.netns, self.vip, n, **kw)
