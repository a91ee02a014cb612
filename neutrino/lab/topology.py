"""A simulated multi-host lab on one machine, built only from network namespaces.

    <p>underlay   bridges: physnet1, external, tunnel (one per physical network)
      |            veth      veth      veth
    <p>hostN      eth1 (physnet1), eth2 (external), eth0 (tunnel, VTEP 10.255.0.(10+N)/24)
    <p>outside    eth0 203.0.113.254/24 on `external`; answers ping and HTTP :80

Every name carries the lab's random prefix <p> (e.g. "nl3f9a2c-"), so labs never
collide with each other or with anything else, and `teardown()` removes exactly
the namespaces and processes this lab created. Nothing touches the root
namespace: veth pairs are created in the underlay namespace with their peer
created directly inside the host namespace.

Host NIC names are fixed (eth0/eth1/eth2) so every host can use
`physical_interface_mappings = physnet1:eth1,external:eth2` and
`[vxlan] local_ip = <vtep>`.

Multicast VXLAN across the tunnel bridge -- does it flow between two host
namespaces? YES, on this kernel (6.18) with no extra setup (checked by
tests/dataplane/test_lab_topology.py::test_multicast_vxlan_between_hosts).
Each host gets `vxlan-42 id 42 group 224.0.0.1 dev eth0 local <vtep>
dstport 8472` on a bridge with a veth into an instance namespace; instance 1
pings instance 2. The first ARP broadcast is sent to 224.0.0.1 over eth0,
the underlay `tunnel` bridge floods it, the receiving vxlan device learns
MAC -> VTEP (`bridge fdb` shows "<mac> dst 10.255.0.12 self"), and replies go
unicast. 224.0.0.1 is in 224.0.0.0/24, which bridges always flood whatever
IGMP snooping says; a routable group (239.1.1.1) also works because the
underlay bridge has no multicast querier, and without one a snooping Linux
bridge floods unregistered multicast. No multicast route is needed in the
hosts since the vxlan device is bound to eth0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neutrino.dataplane import netns as _netns
from neutrino.dataplane.netlink import Netlink
from neutrino.dataplane.process import Daemon, stop_process

PHYSNETS = {"physnet1": "eth1", "external": "eth2"}   # physical network -> host NIC
TUNNEL_NIC = "eth0"
TUNNEL_BRIDGE = "tunnel"
VTEP_NET = "10.255.0"                                 # VTEP of host i: 10.255.0.(10+i)/24
EXTERNAL_CIDR = "203.0.113.0/24"                      # TEST-NET-3
OUTSIDE_IP = "203.0.113.254"
OUTSIDE_HTTP_PORT = 80
OUTSIDE_HTTP_BODY = "hello from outside\n"
DEFAULT_STATE_ROOT = "/run/neutrino-lab"
MAX_HOSTS = 200

# The outside world's web server: stdlib only (starts in ~50 ms, needs no
# neutrino on sys.path). GET / returns a fixed body, GET /whoami returns the
# client's source address (lets tests assert SNAT/DNAT directly); every
# request's client address is appended to the log file.
_HTTP_SERVER = r"""
import http.server, sys
port, body, log = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ip = self.client_address[0]
        with open(log, "a") as f:
            f.write(f"{ip} {self.command} {self.path}\n")
        out = (ip + "\n").encode() if self.path == "/whoami" else body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-Client-IP", ip)
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
S(("0.0.0.0", port), H).serve_forever()
"""


@dataclass
class HostInfo:
    index: int                 # 1-based
    netns: str
    vtep_ip: str               # without prefix length
    vtep_cidr: str
    tunnel_interface: str
    nics: dict[str, str]       # physical network -> interface name in the host

    @property
    def physical_interface_mappings(self) -> str:
        return ",".join(f"{net}:{nic}" for net, nic in self.nics.items())


@dataclass
class LabTopology:
    """Everything a test, an agent config or `neutrino lab status --json`
    needs to know about a lab. Round-trips through JSON."""
    prefix: str
    underlay_netns: str
    outside_netns: str
    bridges: dict[str, str]    # physical network (and "tunnel") -> bridge in underlay
    hosts: list[HostInfo]
    outside_ip: str = OUTSIDE_IP
    external_cidr: str = EXTERNAL_CIDR
    http_port: int = OUTSIDE_HTTP_PORT
    http_body: str = OUTSIDE_HTTP_BODY
    state_dir: str = ""
    http_pidfile: str = ""
    http_log: str = ""
    namespaces: list[str] = field(default_factory=list)   # created by the lab, in order

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for host, info in zip(data["hosts"], self.hosts):
            host["physical_interface_mappings"] = info.physical_interface_mappings
        return data

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabTopology:
        data = dict(data)
        hosts = []
        for h in data.pop("hosts"):
            h = {k: v for k, v in h.items() if k != "physical_interface_mappings"}
            hosts.append(HostInfo(**h))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(hosts=hosts, **{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_json(cls, text: str) -> LabTopology:
        return cls.from_dict(json.loads(text))


def plan_topology(n_hosts: int, prefix: str, state_dir: str) -> LabTopology:
    """Pure: the names and addresses of a lab, before anything is created."""
    if not 1 <= n_hosts <= MAX_HOSTS:
        raise ValueError(f"n_hosts must be 1..{MAX_HOSTS}")
    hosts = [
        HostInfo(index=i, netns=f"{prefix}host{i}", vtep_ip=f"{VTEP_NET}.{10 + i}",
                 vtep_cidr=f"{VTEP_NET}.{10 + i}/24", tunnel_interface=TUNNEL_NIC,
                 nics=dict(PHYSNETS))
        for i in range(1, n_hosts + 1)
    ]
    bridges = {net: net for net in PHYSNETS} | {"tunnel": TUNNEL_BRIDGE}
    return LabTopology(
        prefix=prefix, underlay_netns=f"{prefix}underlay", outside_netns=f"{prefix}outside",
        bridges=bridges, hosts=hosts, state_dir=state_dir,
        http_pidfile=os.path.join(state_dir, "outside-http.pid"),
        http_log=os.path.join(state_dir, "outside-http.log"))


def new_prefix() -> str:
    # Short: namespace names appear in many commands; 6 hex chars = 16M labs.
    return f"nl{secrets.token_hex(3)}-"


class Lab:
    """Build with `Lab.build(n)`, always `teardown()` (idempotent)."""

    def __init__(self, topology: LabTopology):
        self.topology = topology

    # ---------------------------------------------------------------- access

    @property
    def prefix(self) -> str:
        return self.topology.prefix

    @property
    def hosts(self) -> list[HostInfo]:
        return self.topology.hosts

    def host(self, i: int) -> HostInfo:
        if not 1 <= i <= len(self.topology.hosts):
            raise IndexError(f"lab has hosts 1..{len(self.topology.hosts)}")
        return self.topology.hosts[i - 1]

    def host_ns(self, i: int) -> str:
        return self.host(i).netns

    @property
    def underlay_ns(self) -> str:
        return self.topology.underlay_netns

    @property
    def outside_ns(self) -> str:
        return self.topology.outside_netns

    @property
    def state_file(self) -> Path:
        return Path(self.topology.state_dir) / "topology.json"

    def http_daemon(self) -> Daemon:
        t = self.topology
        return Daemon([sys.executable, "-c", _HTTP_SERVER, str(t.http_port), t.http_body,
                       t.http_log], pidfile=t.http_pidfile, netns=t.outside_netns,
                      cmdline_match=t.http_log)

    def http_clients(self) -> list[str]:
        """Source addresses of the requests the outside server has seen."""
        try:
            lines = Path(self.topology.http_log).read_text().splitlines()
        except FileNotFoundError:
            return []
        return [line.split()[0] for line in lines if line.strip()]

    # ---------------------------------------------------------------- build

    @classmethod
    def build(cls, n_hosts: int = 2, prefix: str | None = None,
              state_dir: str | os.PathLike[str] | None = None) -> Lab:
        prefix = prefix or new_prefix()
        _netns.validate_name(f"{prefix}underlay")
        sdir = str(state_dir) if state_dir else os.path.join(DEFAULT_STATE_ROOT, prefix.rstrip("-"))
        lab = cls(plan_topology(n_hosts, prefix, sdir))
        try:
            lab._build()
        except BaseException:
            lab.teardown()
            raise
        return lab

    @classmethod
    def load(cls, state_file: str | os.PathLike[str]) -> Lab:
        return cls(LabTopology.from_json(Path(state_file).read_text()))

    def _create_ns(self, name: str) -> None:
        # Record before creating: a failure half-way must still be torn down.
        self.topology.namespaces.append(name)
        _netns.create(name)

    def _build(self) -> None:
        t = self.topology
        Path(t.state_dir).mkdir(parents=True, exist_ok=True)
        self._save()
        self._create_ns(t.underlay_netns)
        with Netlink(t.underlay_netns) as under:
            for bridge in t.bridges.values():
                under.ensure_bridge(bridge)
            for host in t.hosts:
                self._create_ns(host.netns)
                wires = [(TUNNEL_NIC, TUNNEL_BRIDGE)] + [
                    (nic, t.bridges[net]) for net, nic in host.nics.items()]
                for nic, bridge in wires:
                    # underlay side "h<i>-<nic>" (<= 15 chars), host side "<nic>"
                    outer = f"h{host.index}-{nic}"
                    under.create_veth(outer, nic, peer_netns=host.netns)
                    under.set_master(outer, bridge)
                    under.set_up(outer)
                with Netlink(host.netns) as nl:
                    for nic in [TUNNEL_NIC, *host.nics.values()]:
                        nl.set_up(nic)
                    nl.add_address(TUNNEL_NIC, host.vtep_cidr)
            self._create_ns(t.outside_netns)
            under.create_veth("out-eth0", "eth0", peer_netns=t.outside_netns)
            under.set_master("out-eth0", t.bridges["external"])
            under.set_up("out-eth0")
        with Netlink(t.outside_netns) as out:
            out.set_up("eth0")
            out.add_address("eth0", f"{t.outside_ip}/{t.external_cidr.split('/')[1]}")
        self.http_daemon().start(ready=self._http_ready)
        self._save()

    def _http_ready(self) -> bool:
        t = self.topology
        with _netns.in_netns(t.outside_netns):
            try:
                socket.create_connection((t.outside_ip, t.http_port), timeout=0.2).close()
            except OSError:
                return False
        return True

    def _save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(self.topology.to_json(indent=2))
        os.replace(tmp, self.state_file)

    # ---------------------------------------------------------------- teardown

    def teardown(self) -> None:
        """Stop the HTTP server (by verified PID) and delete the namespaces this
        lab created. Safe to call twice or after a failed build."""
        t = self.topology
        if t.http_pidfile:
            with contextlib.suppress(OSError):
                stop_process(t.http_pidfile, t.http_log, timeout=3.0)
        for name in reversed(t.namespaces):
            if not name.startswith(t.prefix):
                continue  # never delete anything we could not have made
            _netns.delete(name, missing_ok=True)
        if t.state_dir and Path(t.state_dir).is_dir():
            # Only our own files; leave the directory if others wrote into it.
            for path in (self.state_file, self.state_file.with_suffix(".tmp"),
                         Path(t.http_pidfile), Path(t.http_log)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            with contextlib.suppress(OSError):
                Path(t.state_dir).rmdir()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

