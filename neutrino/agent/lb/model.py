"""What the LB agent wants for one load balancer (from get_loadbalancers) and
what it finds (namespace, devices, files, haproxy), in plain values for
`plan`. The wire format is what neutrino/octavia/payload.py serves; the
pieces haproxy needs stay dicts (haproxy_config renders them), the pieces
the kernel needs become typed values."""
from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

NS_MARKER = "qlbaas-"
CONF_NAME = "haproxy.conf"
PID_NAME = "haproxy.pid"
SOCK_NAME = "haproxy.sock"
STATE_NAME = "servers.state"     # server health kept across reloads
EPOCH_NAME = "epoch"             # the failover epoch the files were built for
LOG_NAME = "haproxy.log"
MAX_SOCK_PATH = 90          # haproxy refuses stats socket paths over 97 bytes
SHORT_SOCK_DIR = "/run/neutrino-lb"


def namespace(prefix: str, lb_id: str) -> str:
    return f"{prefix}{NS_MARKER}{lb_id}"


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def ns_dev_name(port_id: str) -> str:
    return "ns-" + port_id[:11]


@dataclass(frozen=True)
class Paths:
    """The files of one load balancer under <lbaas state dir>/<lb-id>/."""
    root: Path

    @classmethod
    def of(cls, lbaas_dir: str | Path, lb_id: str) -> Paths:
        return cls(Path(lbaas_dir) / lb_id)

    @property
    def conf(self) -> Path:
        return self.root / CONF_NAME

    @property
    def pid(self) -> Path:
        return self.root / PID_NAME

    @property
    def sock(self) -> Path:
        """The stats socket: in the directory unless its path would be too
        long for haproxy (a unix socket path plus its ".<pid>.tmp"), then under
        /run by a hash of it."""
        path = self.root / SOCK_NAME
        if len(str(path)) <= MAX_SOCK_PATH:
            return path
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:20]
        return Path(SHORT_SOCK_DIR) / f"{digest}.sock"

    @property
    def state(self) -> Path:
        return self.root / STATE_NAME

    @property
    def epoch(self) -> Path:
        return self.root / EPOCH_NAME

    @property
    def log(self) -> Path:
        return self.root / LOG_NAME


@dataclass(frozen=True)
class Vip:
    address: str
    port_id: str
    mac_address: str
    prefixlen: int
    gateway_ip: str | None
    mtu: int
    ip_version: int = 4

    @classmethod
    def from_wire(cls, wire: dict) -> Vip:
        prefixlen = wire.get("prefixlen")
        if prefixlen is None:
            prefixlen = ipaddress.ip_network(wire["cidr"], strict=False).prefixlen
        return cls(address=wire["address"], port_id=wire["port_id"],
                   mac_address=wire["mac_address"], prefixlen=int(prefixlen),
                   gateway_ip=wire.get("gateway_ip") or None, mtu=int(wire.get("mtu") or 1500),
                   ip_version=int(wire.get("ip_version") or 4))

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefixlen}"

    @property
    def default_dst(self) -> str:
        return "0.0.0.0/0" if self.ip_version == 4 else "::/0"

    @property
    def dev(self) -> str:
        return ns_dev_name(self.port_id)

    @property
    def tap(self) -> str:
        return tap_name(self.port_id)


@dataclass(frozen=True)
class LbDesired:
    id: str
    deleted: bool
    epoch: int
    version: str
    vip: Vip | None
    config: str | None       # haproxy.conf as it must be (None: deleted)

    @property
    def wanted(self) -> bool:
        return not self.deleted and self.vip is not None


@dataclass
class LbObserved:
    netns_exists: bool = False
    # ns-* devices in the namespace: name -> (mac, mtu, up)
    ns_devices: dict[str, tuple[str | None, int, bool]] = field(default_factory=dict)
    addresses: set[str] = field(default_factory=set)      # on the wanted ns- device
    default_gw: str | None = None                         # default route's gateway
    taps: set[str] = field(default_factory=set)           # tap* in the host namespace
    config: str | None = None                             # haproxy.conf on disk
    epoch: int | None = None                              # epoch file on disk
    pid: int | None = None                                # haproxy master, verified
    stray_pid: int | None = None     # ours by pid file and config, but not in the namespace
    has_dir: bool = False
