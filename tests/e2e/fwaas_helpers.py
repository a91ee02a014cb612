"""What the FWaaS e2e tests need beyond helpers.py: the fwaas_v2 API as a
tenant calls it, and probes that say what a user sees (a TCP connection
opens, is refused at once, or times out; a DNS question is answered or not).
Every process here is started by the test and ended by its PID."""
from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from neutrino.dataplane import netns as ns
from neutrino.lab.api import ApiError

FW = "/v2.0/fwaas"
PLURAL = {"firewall_rule": "firewall_rules", "firewall_policy": "firewall_policies",
          "firewall_group": "firewall_groups"}


class Fwaas:
    """Firewall rules, policies and groups made by one test; `cleanup()`
    detaches and deletes them (groups, then policies, then rules)."""

    def __init__(self, api_of, tag: str):
        self._api_of = api_of        # callable: the lab's current client
        self.tag = tag
        self.rules: list[str] = []
        self.policies: list[str] = []
        self.groups: list[str] = []

    @property
    def api(self):
        return self._api_of()

    def _create(self, kind: str, body: dict) -> dict:
        return self.api.request("POST", f"{FW}/{PLURAL[kind]}", {kind: body})[kind]

    def rule(self, name: str, **fields) -> dict:
        rule = self._create("firewall_rule", {"name": f"{name}-{self.tag}", **fields})
        self.rules.append(rule["id"])
        return rule

    def policy(self, name: str, rules: list[dict] = (), **fields) -> dict:
        policy = self._create("firewall_policy", {"name": f"{name}-{self.tag}",
                                                  "firewall_rules": [r["id"] for r in rules],
                                                  **fields})
        self.policies.append(policy["id"])
        return policy

    def group(self, name: str, ingress: dict | None = None, egress: dict | None = None,
              ports: list[str] = (), **fields) -> dict:
        body = {"name": f"{name}-{self.tag}", "ports": list(ports), **fields}
        if ingress:
            body["ingress_firewall_policy_id"] = ingress["id"]
        if egress:
            body["egress_firewall_policy_id"] = egress["id"]
        group = self._create("firewall_group", body)
        self.groups.append(group["id"])
        return group

    def show(self, kind: str, rid: str) -> dict:
        return self.api.request("GET", f"{FW}/{PLURAL[kind]}/{rid}")[kind]

    def update(self, kind: str, rid: str, **fields) -> dict:
        return self.api.request("PUT", f"{FW}/{PLURAL[kind]}/{rid}", {kind: fields})[kind]

    def insert_rule(self, policy: dict, rule: dict, before: dict | None = None,
                    after: dict | None = None) -> dict:
        body = {"firewall_rule_id": rule["id"],
                "insert_before": before["id"] if before else "",
                "insert_after": after["id"] if after else ""}
        return self.api.request("PUT", f"{FW}/firewall_policies/{policy['id']}/insert_rule", body)

    def remove_rule(self, policy: dict, rule: dict) -> dict:
        return self.api.request("PUT", f"{FW}/firewall_policies/{policy['id']}/remove_rule",
                                {"firewall_rule_id": rule["id"]})

    def status(self, group: dict) -> str:
        return self.show("firewall_group", group["id"])["status"]

    def settled(self, gid: str, timeout: float = 20.0) -> None:
        """Wait while the group is PENDING_* (the API refuses changes then)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ApiError):
                if not self.show("firewall_group", gid)["status"].startswith("PENDING"):
                    return
            time.sleep(0.2)

    def cleanup(self) -> None:
        for gid in reversed(self.groups):
            self.settled(gid)
            with contextlib.suppress(ApiError):
                self.update("firewall_group", gid, ports=[])
            with contextlib.suppress(ApiError):
                self.api.request("DELETE", f"{FW}/firewall_groups/{gid}")
        for pid in reversed(self.policies):
            with contextlib.suppress(ApiError):
                self.api.request("DELETE", f"{FW}/firewall_policies/{pid}")
        for rid in reversed(self.rules):
            with contextlib.suppress(ApiError):
                self.api.request("DELETE", f"{FW}/firewall_rules/{rid}")


# ---------------------------------------------------------------- probes

def tcp_probe(netns: str, ip: str, port: int, timeout: float = 2.0) -> str:
    """"open", "refused" (a RST or an ICMP unreachable came back) or
    "timeout" (nothing came back) for a TCP connection from `netns`."""
    with ns.in_netns(netns):        # the socket lives in the namespace it was made in
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((ip, port))
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, socket.timeout):
        return "timeout"
    except OSError as exc:          # e.g. EHOSTUNREACH: say which
        return os.strerror(exc.errno) if exc.errno else str(exc)
    finally:
        sock.close()


DNS_ANSWER = "192.0.2.53"

# A DNS server for one name's A record (every question gets DNS_ANSWER),
# enough for an instance to resolve through the outside host.
_DNS_RESPONDER = r"""
import socket, struct, sys
answer = socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 53))
print("ready", flush=True)
while True:
    query, peer = s.recvfrom(512)
    if len(query) < 12:
        continue
    qid, = struct.unpack("!H", query[:2])
    end = 12
    while query[end]:
        end += query[end] + 1
    question = query[12:end + 5]
    head = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + answer
    s.sendto(head + question + rr, peer)
"""


@contextlib.contextmanager
def dns_responder(netns: str, address: str):
    """A DNS server on `address`:53/udp in `netns`, ended by its PID."""
    with ns.in_netns(netns):
        proc = subprocess.Popen([sys.executable, "-c", _DNS_RESPONDER, address, DNS_ANSWER],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"DNS responder did not start: {proc.stderr.read()}"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def dns_query(netns: str, server: str, name: str = "example.test",
              timeout: float = 2.0) -> str | None:
    """The A record `server` gives for `name` (asked from `netns`), or None
    if no answer came back."""
    qid = int.from_bytes(os.urandom(2), "big")
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)
    with ns.in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.sendto(query, (server, 53))
        reply, _ = sock.recvfrom(512)
    except (TimeoutError, socket.timeout, ConnectionRefusedError):
        return None
    finally:
        sock.close()
    if reply[:2] != query[:2] or len(reply) < len(query) + 16:
        return None
    return socket.inet_ntoa(reply[-4:])


class Servers:
    """Small servers in namespaces (a TCP sink, an HTTP server), each in its
    own process group, ended by PID in `stop()`."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def _start(self, netns: str, argv: list[str], **kw) -> subprocess.Popen:
        with ns.in_netns(netns):
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True, **kw)
        self.procs.append(proc)
        return proc

    def tcp_sink(self, netns: str, port: int, path: Path) -> subprocess.Popen:
        """Accepts connections on `port`, appends what they carry to `path`."""
        return self._start(netns, ["socat", "-u", f"TCP4-LISTEN:{port},reuseaddr,fork",
                                   f"OPEN:{path},creat,append"])

    def http(self, netns: str, port: int, directory: Path) -> subprocess.Popen:
        return self._start(netns, [sys.executable, "-m", "http.server", str(port),
                                   "--bind", "0.0.0.0", "--directory", str(directory)])

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()
        self.procs.clear()


class TcpSession:
    """One long-lived TCP connection from `netns` to ip:port (socat reading
    stdin); `send()` writes a line into it."""

    def __init__(self, netns: str, ip: str, port: int):
        with ns.in_netns(netns):
            self.proc = subprocess.Popen(["socat", "-u", "STDIN", f"TCP4:{ip}:{port}"],
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, text=True,
                                         start_new_session=True)

    def send(self, line: str) -> bool:
        """False once the connection is gone (socat exited)."""
        if self.proc.poll() is not None:
            return False
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 9)
        self.proc.wait()


def wait_gone(path: Path, text: str, settle: float = 2.0) -> bool:
    """True if `text` has not reached `path` after `settle` seconds."""
    time.sleep(settle)
    return not (path.exists() and text in path.read_text())
