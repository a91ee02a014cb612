"""A lab's on-disk state: what `lab up` decided, where each piece lives, and
the configuration it hands to the server and to each host's agent.

    <lab_dir>/lab.json                  this file's LabState
    <lab_dir>/topology/                 neutrino.lab.topology (namespaces, outside HTTP)
    <lab_dir>/server/                   the server's state_path (SQLite), runtime log
    <lab_dir>/hosts/<host>/             linuxbridge_agent.ini, agent.pid, agent.log
    <lab_dir>/instances/<name>.json     one per instance
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urllib.parse import urlsplit, urlunsplit

from neutrino.lab.topology import HostInfo, Lab, LabTopology
from neutrino.rpc.bus import parse_transport_url

DEFAULT_LAB_DIR = "/run/neutrino-lab/default"
DEFAULT_RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"
LAB_VNI_RANGE = "1000:1999"
LAB_VLAN_RANGE = "physnet1:100:199"
AGENT_REPORT_INTERVAL = 5
AGENT_DOWN_TIME = 20


def broker_address(rabbit_url: str) -> tuple[str, int]:
    amqp = urlsplit(parse_transport_url(rabbit_url)[0][0])
    return amqp.hostname or "127.0.0.1", amqp.port or 5672


def loopback_url(rabbit_url: str) -> str:
    """The same broker URL pointing at 127.0.0.1, where the broker relay
    listens inside each host namespace."""
    parts = urlsplit(rabbit_url)
    creds, _, _ = parts.netloc.split(",")[0].rpartition("@")
    netloc = (creds + "@" if creds else "") + f"127.0.0.1:{broker_address(rabbit_url)[1]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def default_lab_dir() -> str:
    return os.environ.get("NEUTRINO_LAB_DIR", DEFAULT_LAB_DIR)


@dataclass
class LabState:
    lab_dir: str
    prefix: str
    n_hosts: int
    transport: str                       # "inproc" | "rabbit"
    rabbit_url: str = DEFAULT_RABBIT_URL
    control_exchange: str = ""
    port: int = 0                        # API port (0 until the runtime picked one)
    extra: dict[str, Any] = field(default_factory=dict)
    db: str = "sqlite"                   # "sqlite" | "postgresql" | "mariadb"
    db_url: str = ""                     # the lab's own database ("" = SQLite in server/)
    servers: int = 1                     # API server processes (2+: rabbit only)
    l2pop: bool = False                  # l2population driver and agents
    l3_hosts: list[str] | None = None    # hosts running an L3 agent (None: all)
    firewall: bool = True                # security groups enforced by the L2 agents
    firewall_driver: str = "iptables"    # ... with "iptables" or "nftables"
    iptables_backend: str = "auto"       # ... iptables: its tools (auto, nft, legacy)
    auth: str = "noauth"                 # "noauth" | "keystone" (the embedded identity)
    passwords: dict[str, str] = field(default_factory=dict)   # keystone: user -> password
    dhcp_agent_hosts: list[str] | None = None   # hosts running a DHCP agent (None: host1)
    dhcp_agents_per_network: int = 1            # the server's dhcp_agents_per_network

    # --- persistence ---------------------------------------------------------
    @property
    def path(self) -> Path:
        return Path(self.lab_dir)

    def save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "lab.json.tmp"
        # 0600: it holds the lab users' passwords (keystone labs)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(dataclasses.asdict(self), indent=2))
        os.replace(tmp, self.path / "lab.json")

    @classmethod
    def load(cls, lab_dir: str | os.PathLike[str]) -> LabState:
        data = json.loads((Path(lab_dir) / "lab.json").read_text())
        if "firewall" not in data:   # labs made before security groups were on by default
            data["firewall"] = bool(data.get("extra", {}).get("firewall"))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def exists(cls, lab_dir: str | os.PathLike[str]) -> bool:
        return (Path(lab_dir) / "lab.json").exists()

    # --- places ----------------------------------------------------------------
    @property
    def topology_dir(self) -> Path:
        return self.path / "topology"

    @property
    def server_dir(self) -> Path:
        return self.path / "server"

    @property
    def instances_dir(self) -> Path:
        return self.path / "instances"

    def host_dir(self, host: str) -> Path:
        return self.path / "hosts" / host

    @property
    def runtime_pidfile(self) -> Path:
        return self.path / "runtime.pid"

    @property
    def runtime_log(self) -> Path:
        return self.server_dir / "runtime.log"

    @property
    def runtime_file(self) -> Path:
        return self.path / "runtime.json"

    @property
    def identity_url(self) -> str:
        """OS_AUTH_URL of a keystone lab (the embedded identity on the API port)."""
        return f"{self.api_url}/identity/v3" if self.api_url else ""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.port else ""

    @property
    def transport_url(self) -> str:
        if self.transport == "inproc":
            return f"inproc://lab-{self.prefix.rstrip('-')}"
        return self.rabbit_url

    @property
    def agent_transport_url(self) -> str:
        return self.transport_url if self.transport == "inproc" else loopback_url(self.rabbit_url)

    # --- topology ----------------------------------------------------------------
    def lab(self) -> Lab:
        return Lab.load(self.topology_dir / "topology.json")

    def topology(self) -> LabTopology:
        return self.lab().topology

    def host_names(self) -> list[str]:
        return [f"host{i}" for i in range(1, self.n_hosts + 1)]

    def host_info(self, host: str) -> HostInfo:
        if host not in self.host_names():
            raise KeyError(f"unknown lab host {host!r} (hosts: {', '.join(self.host_names())})")
        return self.lab().host(int(host[4:]))

    def host_netns(self, host: str) -> str:
        return self.host_info(host).netns

    # --- configuration -------------------------------------------------------------
    def server_overrides(self) -> dict[str, dict[str, str]]:
        """The server's embedded defaults (as if from neutron.conf + ml2_conf.ini)."""
        keystone = self.auth == "keystone"
        return {
            "DEFAULT": {"state_path": str(self.server_dir), "bind_host": "127.0.0.1",
                        "api_workers": "1", "transport_url": self.transport_url,
                        "agent_down_time": str(AGENT_DOWN_TIME),
                        # a lab host can be stopped (`lab host stop`): its non-HA
                        # routers move (upstream's default is false)
                        "allow_automatic_l3agent_failover": "true",
                        "dhcp_agents_per_network": str(self.dhcp_agents_per_network),
                        "auth_strategy": "keystone" if keystone else "noauth"},
            "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                    "mechanism_drivers": "linuxbridge,l2population" if self.l2pop
                    else "linuxbridge"},
            **({"database": {"connection": self.db_url}} if self.db_url else {}),
            "ml2_type_flat": {"flat_networks": "physnet1,external"},
            "ml2_type_vlan": {"network_vlan_ranges": LAB_VLAN_RANGE},
            "ml2_type_vxlan": {"vni_ranges": LAB_VNI_RANGE},
            "quotas": {"quota_network": "-1", "quota_subnet": "-1", "quota_port": "-1",
                       "quota_security_group": "-1", "quota_security_group_rule": "-1"},
            "oslo_policy": {"policy_file": ""},
            # the dashboard may create/delete/ping this lab's instances (admin only)
            "dashboard": {"lab_dir": str(self.lab_dir)},
            # keystone: the embedded identity, asked for explicitly; the bootstrap
            # admin gets the lab's admin password (the runtime adds the demo user)
            **({"identity": {"embedded": "true", "admin_password": self.passwords["admin"]}}
               if keystone else {}),
        }

    def _agent_default(self, host: str, log_name: str) -> list[str]:
        """The head of every agent file the lab writes: its [DEFAULT] up to
        the log file (the caller adds the agent's own DEFAULT options)."""
        hdir = self.host_dir(host)
        return ["# written by `neutrino lab up`",
                "[DEFAULT]",
                f"host = {host}",
                f"transport_url = {self.agent_transport_url}",
                f"control_exchange = {self.control_exchange}",
                f"state_path = {hdir}",
                f"log_file = {hdir / (log_name + '.log')}"]

    def _agent_section(self, host: str) -> list[str]:
        """The [agent] section of the L3, DHCP and LB agents' files: the
        lab's report interval, and the host's prefix on their namespaces."""
        return ["",
                "[agent]",
                f"report_interval = {AGENT_REPORT_INTERVAL}",
                f"namespace_prefix = {self.prefix}{host}-",
                ""]

    def agent_ini(self, host: str) -> str:
        info = self.host_info(host)
        return "\n".join([
            *self._agent_default(host, "agent"),
            "",
            "[linux_bridge]",
            f"physical_interface_mappings = {info.physical_interface_mappings}",
            "",
            "[vxlan]",
            "enable_vxlan = true",
            f"local_ip = {info.vtep_ip}",
            *(["l2_population = true", "arp_responder = true"] if self.l2pop else []),
            "",
            "[agent]",
            "polling_interval = 2",
            f"report_interval = {AGENT_REPORT_INTERVAL}",
            f"namespace_prefix = {self.prefix}{host}-",
            "",
            "[securitygroup]",   # on unless the lab was made with --no-firewall
            f"enable_security_group = {'true' if self.firewall else 'false'}",
            f"firewall_driver = {self.firewall_driver if self.firewall else 'noop'}",
            f"iptables_backend = {self.iptables_backend}",
            "",
        ])

    def agent_ini_path(self, host: str) -> Path:
        return self.host_dir(host) / "linuxbridge_agent.ini"

    def l3_agent_ini(self, host: str) -> str:
        """Every lab host runs an L3 agent too (routers spread over them)."""
        return "\n".join([
            *self._agent_default(host, "l3-agent"),
            "interface_driver = linuxbridge",
            "agent_mode = legacy",
            # HA routers: VRRPv3 adverts every 0.5 s, so a lost master is replaced
            # in about 2 s (upstream's default of 2 s takes about 7)
            "ha_vrrp_advert_int = 0.5",
            *self._agent_section(host),
        ])

    def l3_agent_ini_path(self, host: str) -> Path:
        return self.host_dir(host) / "l3_agent.ini"

    def dhcp_agent_ini(self, host: str) -> str:
        """host1 runs the DHCP agent, as upstream's network node does."""
        return "\n".join([
            *self._agent_default(host, "dhcp-agent"),
            "interface_driver = linuxbridge",
            "dhcp_driver = dnsmasq",
            "resync_interval = 5",
            # upstream's default is false; devstack-like labs serve isolated networks
            "enable_isolated_metadata = true",
            *self._agent_section(host),
        ])

    # --- extra API servers (--servers N) ---------------------------------------------
    def extra_server_names(self) -> list[str]:
        return [f"server{i}" for i in range(2, self.servers + 1)]

    def server_ini_path(self, name: str) -> Path:
        return self.server_dir / f"{name}.conf"

    def server_ini(self, name: str, port: int) -> str:
        """neutron.conf + ml2_conf.ini of an extra API server process: the
        runtime's settings, its own port and log."""
        sections = self.server_overrides()
        sections["DEFAULT"] = {**sections["DEFAULT"], "bind_port": str(port),
                               "control_exchange": self.control_exchange,
                               "log_file": str(self.server_dir / f"{name}.log")}
        lines = ["# written by `neutrino lab up`"]
        for section, values in sections.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {v}" for k, v in values.items()]
            lines.append("")
        return "\n".join(lines)

    def server_urls(self) -> list[str]:
        """Every API server of the lab, the runtime's first."""
        return [self.api_url] + list(self.extra.get("server_urls", []))

    def dhcp_agent_ini_path(self, host: str) -> Path:
        return self.host_dir(host) / "dhcp_agent.ini"

    def dhcp_hosts(self) -> list[str]:
        """Hosts with a DHCP agent (labs made before DHCP existed have none)."""
        return [h for h in self.host_names() if self.dhcp_agent_ini_path(h).exists()]

    def write_agent_configs(self) -> None:
        for host in self.host_names():
            self.host_dir(host).mkdir(parents=True, exist_ok=True)
            self.agent_ini_path(host).write_text(self.agent_ini(host))
            if self.l3_hosts is None or host in self.l3_hosts:
                self.l3_agent_ini_path(host).write_text(self.l3_agent_ini(host))
                # load balancers go where routers go (hosts with an L3 agent)
                self.lb_agent_ini_path(host).write_text(self.lb_agent_ini(host))
        for host in self.dhcp_agent_hosts or ["host1"]:
            self.dhcp_agent_ini_path(host).write_text(self.dhcp_agent_ini(host))
        if "metadata_secret" not in self.extra:
            import secrets
            self.extra["metadata_secret"] = secrets.token_hex(16)
            self.save()
        for host in self.host_names():     # beside every L3 and DHCP agent
            if self.l3_agent_ini_path(host).exists() or self.dhcp_agent_ini_path(host).exists():
                self.metadata_agent_ini_path(host).write_text(self.metadata_agent_ini(host))

    # --- metadata -----------------------------------------------------------------------
    def metadata_agent_ini(self, host: str) -> str:
        """The metadata agent asks the lab's Nova stand-in on the host's
        loopback (neutrino.lab.nova_metadata), with upstream's defaults."""
        return "\n".join([
            *self._agent_default(host, "metadata-agent"),
            "nova_metadata_host = 127.0.0.1",
            "nova_metadata_port = 8775",
            f"metadata_proxy_shared_secret = {self.extra.get('metadata_secret', '')}",
            "",
            "[agent]",
            f"report_interval = {AGENT_REPORT_INTERVAL}",
            "",
        ])

    def metadata_agent_ini_path(self, host: str) -> Path:
        return self.host_dir(host) / "metadata_agent.ini"

    def metadata_hosts(self) -> list[str]:
        """Hosts with a metadata agent (labs made before metadata have none)."""
        return [h for h in self.host_names() if self.metadata_agent_ini_path(h).exists()]

    # --- load balancing -----------------------------------------------------------------
    def lb_agent_ini(self, host: str) -> str:
        """The LB agent runs beside every L3 agent; its haproxies' files go
        under <host dir>/lbaas/."""
        return "\n".join([
            *self._agent_default(host, "lb-agent"),
            "interface_driver = linuxbridge",
            *self._agent_section(host),
        ])

    def lb_agent_ini_path(self, host: str) -> Path:
        return self.host_dir(host) / "lbaas_agent.ini"

    def lb_hosts(self) -> list[str]:
        """Hosts with an LB agent (labs made before load balancing have none)."""
        return [h for h in self.host_names() if self.lb_agent_ini_path(h).exists()]
