"""The lab's Python API (used by `neutrino lab ...`, the e2e tests and the
benchmarks): bring a lab up, look at it, start and kill its processes,
tear it down.

    lab = LabControl.up(hosts=2, transport="inproc")     # returns when all is up
    lab.api.create_network(...); lab.instances.create("vm1", "net1", host="host1")
    lab.down()                                            # removes everything it made

The namespaces (built by neutrino.lab.topology) belong to this object, not to
the runtime process, so killing and restarting the runtime or an agent leaves
the dataplane, and the traffic on it, alone. Its processes are handled by
neutrino.lab.processes, its removal by neutrino.lab.teardown.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from neutrino.agent_options import IPTABLES_BACKENDS
from neutrino.lab import database as lab_database
from neutrino.lab import teardown
from neutrino.lab.api import ApiError, Credentials, NeutronApi
from neutrino.lab.errors import LabError
from neutrino.lab.instances import Instances
from neutrino.lab.processes import LabProcesses
from neutrino.lab.state import DEFAULT_RABBIT_URL, LabState, default_lab_dir
from neutrino.lab.topology import Lab, new_prefix
from neutrino.rpc.client import LINUXBRIDGE_AGENT_TYPE


class LabControl(LabProcesses):
    def __init__(self, state: LabState):
        self.state = state
        self._api: NeutronApi | None = None
        self._runtime = None     # a LabRuntime running in this process (in_process=True)

    # --- bring up / load ---------------------------------------------------------
    @classmethod
    def up(cls, hosts: int = 2, port: int = 0, transport: str = "inproc",
           lab_dir: str | os.PathLike[str] | None = None, rabbit_url: str = DEFAULT_RABBIT_URL,
           timeout: float = 90.0, in_process: bool = False, db: str = "sqlite",
           servers: int = 1, l2pop: bool = False,
           l3_hosts: list[str] | None = None, firewall: bool = True,
           auth: str = "noauth", firewall_driver: str = "iptables",
           iptables_backend: str = "auto",
           dhcp_hosts: list[str] | None = None,
           dhcp_agents_per_network: int = 1) -> LabControl:
        """Build the namespaces, start server and agents, wait until every
        host's agent is alive. `in_process`: run server and agents (inproc
        only) in this process instead of a runtime process (e.g. inside vm-run,
        where starting another interpreter is slow). `db`: sqlite, or a new
        database on the machine's postgresql/mariadb (dropped by down()).
        `servers`: API server processes on that database and the broker
        (more than one: rabbit and a shared database). `l2pop`: the
        l2population driver, agents with l2_population and arp_responder.
        `l3_hosts`: the hosts running an L3 agent (default: all).
        `firewall`: security groups enforced by the L2 agents (iptables), as
        upstream's default; False for the noop driver. `auth`: noauth, or
        keystone (the embedded identity with the seed's admin and demo users).
        `firewall_driver`: iptables (upstream's) or nftables, when `firewall`;
        `iptables_backend`: the iptables driver's tools (auto, nft, legacy).
        `dhcp_hosts`: the hosts running a DHCP agent (default: host1);
        `dhcp_agents_per_network`: the server's option (DHCP HA with 2+)."""
        if in_process and transport != "inproc":
            raise ValueError("in_process needs the inproc transport")
        if transport not in ("inproc", "rabbit"):
            raise ValueError("transport must be inproc or rabbit")
        if auth not in ("noauth", "keystone"):
            raise ValueError("auth must be noauth or keystone")
        if firewall_driver not in ("iptables", "nftables"):
            raise ValueError("firewall_driver must be iptables or nftables")
        if iptables_backend not in IPTABLES_BACKENDS:
            raise ValueError(f"iptables_backend must be one of {', '.join(IPTABLES_BACKENDS)}")
        if db not in lab_database.BACKENDS:
            raise ValueError(f"db must be one of {', '.join(lab_database.BACKENDS)}")
        if servers > 1 and (transport != "rabbit" or db == "sqlite"):
            raise ValueError("several API servers need --transport rabbit and a shared "
                             "database (postgresql or mariadb)")
        if l3_hosts is not None and not set(l3_hosts) <= {f"host{i}" for i in
                                                           range(1, hosts + 1)}:
            raise ValueError(f"l3_hosts {l3_hosts} are not all lab hosts")
        if dhcp_hosts is not None and not (dhcp_hosts and set(dhcp_hosts) <= {
                f"host{i}" for i in range(1, hosts + 1)}):
            raise ValueError(f"dhcp_hosts {dhcp_hosts} are not all lab hosts")
        if dhcp_agents_per_network < 1:
            raise ValueError("dhcp_agents_per_network must be at least 1")
        lab_dir = Path(lab_dir or default_lab_dir())
        if LabState.exists(lab_dir):
            raise LabError(f"a lab is already up in {lab_dir} (neutrino lab down first)")
        prefix = new_prefix()
        state = LabState(lab_dir=str(lab_dir), prefix=prefix, n_hosts=hosts,
                         transport=transport, rabbit_url=rabbit_url,
                         control_exchange=f"neutrino-lab-{prefix.rstrip('-')}", port=port,
                         db=db, servers=servers, l2pop=l2pop, l3_hosts=l3_hosts,
                         firewall=firewall, auth=auth, firewall_driver=firewall_driver,
                         iptables_backend=iptables_backend,
                         dhcp_agent_hosts=dhcp_hosts,
                         dhcp_agents_per_network=dhcp_agents_per_network)
        if auth == "keystone":
            from neutrino.lab.identity import new_passwords
            state.passwords = new_passwords()
        lab_dir.mkdir(parents=True, exist_ok=True)
        state.save()
        ctl = cls(state)
        try:
            if db != "sqlite":
                state.db_url = lab_database.create(db, prefix)
                state.save()   # recorded first: down() drops it whatever fails next
                lab_database.migrate(state.db_url)
            Lab.build(hosts, prefix=prefix, state_dir=state.topology_dir)
            state.write_agent_configs()
            if in_process:
                ctl._start_in_process()
            else:
                ctl.start_runtime(timeout=timeout)
                ctl.start_extra_servers(timeout=timeout)
            ctl.wait_agents_alive(timeout=timeout)
            ctl.wait_dhcp_agents_alive(timeout=timeout)
        except BaseException:
            ctl.down()
            raise
        return ctl

    @classmethod
    def load(cls, lab_dir: str | os.PathLike[str] | None = None) -> LabControl:
        lab_dir = lab_dir or default_lab_dir()
        if not LabState.exists(lab_dir):
            raise LabError(f"no lab in {lab_dir} (neutrino lab up first)")
        return cls(LabState.load(lab_dir))

    # --- waiting and looking ------------------------------------------------------------
    @property
    def api(self) -> NeutronApi:
        if self._api is None:
            if not self.state.api_url:
                raise LabError("the lab runtime has not started")
            self._api = NeutronApi(self.state.api_url, credentials=self.credentials("admin"))
        return self._api

    def credentials(self, user: str = "admin") -> Credentials | None:
        """A keystone lab user's credentials (None in a noauth lab)."""
        if self.state.auth != "keystone":
            return None
        from neutrino.lab.identity import LAB_USERS
        if user not in self.state.passwords:
            raise LabError(f"no lab user {user!r} (users: {', '.join(self.state.passwords)})")
        return Credentials(self.state.identity_url, user, self.state.passwords[user],
                           LAB_USERS[user][0])

    def openrc(self, user: str) -> str:
        """The seed's <user>-openrc.sh for this (keystone) lab."""
        from neutrino.lab.identity import openrc_lines
        if self.state.auth != "keystone":
            raise LabError("this lab has no users (noauth): `neutrino lab up --auth keystone`; "
                           f"here: export OS_AUTH_TYPE=none OS_ENDPOINT={self.state.api_url}")
        creds = self.credentials(user)
        return "\n".join(openrc_lines(creds.auth_url, user, creds.password)) + "\n"

    def _reset_api(self) -> None:
        if self._api is not None:
            self._api.close()
        self._api = None

    @property
    def instances(self) -> Instances:
        return Instances(self.state, self.api)

    @property
    def lab(self) -> Lab:
        return self.state.lab()

    def agents(self) -> list[dict]:
        return self.api.list("agents", agent_type=LINUXBRIDGE_AGENT_TYPE)

    def wait_agents_alive(self, timeout: float = 60.0) -> None:
        """Until every host's Linux bridge agent is alive."""
        self._wait_alive(LINUXBRIDGE_AGENT_TYPE, self.state.host_names(), "agents", timeout)

    def wait_dhcp_agents_alive(self, timeout: float = 60.0) -> None:
        self._wait_alive("DHCP agent", self.state.dhcp_hosts(), "DHCP agents", timeout)

    def wait_l3_agents_alive(self, timeout: float = 60.0) -> None:
        self._wait_alive("L3 agent", self.state.host_names(), "L3 agents", timeout)

    def _wait_alive(self, agent_type: str, hosts: list[str], what: str,
                    timeout: float) -> None:
        want = set(hosts)
        deadline = time.monotonic() + timeout
        while True:
            try:
                seen = {a["host"] for a in self.api.list("agents", agent_type=agent_type)
                        if a["alive"]}
            except (ApiError, OSError):
                seen = set()
            if want <= seen:
                return
            if time.monotonic() > deadline:
                raise LabError(f"{what} not alive after {timeout:.0f} s: "
                               f"{sorted(want - seen)}; see {self.state.runtime_log}")
            time.sleep(0.1)

    def dhcp_check(self, network: str, host: str | None = None,
                   timeout: float = 5.0) -> dict[str, Any]:
        """Look for DHCP servers on a network's segment that are not its
        DHCP agents' dnsmasq (neutrino.lab.rogue_dhcp)."""
        from neutrino.lab.rogue_dhcp import find_rogue_servers
        return find_rogue_servers(self.state, self.api, network, host, timeout)

    def wait_port_status(self, port_id: str, status: str = "ACTIVE",
                         timeout: float = 30.0) -> float:
        """Seconds until the port reached `status`."""
        start = time.monotonic()
        last = None
        while time.monotonic() - start < timeout:
            last = self.api.show("ports", port_id)["status"]
            if last == status:
                return time.monotonic() - start
            time.sleep(0.01)
        raise LabError(f"port {port_id} is {last}, not {status}, after {timeout:.0f} s")

    def status(self) -> dict[str, Any]:
        t = self.state.topology()
        agents: list[dict] = []
        api_ok = False
        if self.runtime_pid() is not None and self.state.api_url:
            try:
                agents = self.agents()
                api_ok = True
            except (ApiError, OSError):
                pass
        by_host = {a["host"]: a for a in agents}
        hosts = []
        for host in self.state.host_names():
            info = self.state.host_info(host)
            agent = by_host.get(host)
            hosts.append({"name": host, "netns": info.netns, "vtep_ip": info.vtep_ip,
                          "interface_mappings": info.nics,
                          "agent": {"id": agent["id"], "alive": agent["alive"],
                                    "admin_state_up": agent["admin_state_up"],
                                    "devices": agent["configurations"].get("devices", 0)}
                          if agent else None,
                          "agent_pid": (self.agent_pid(host)
                                        if self.state.transport != "inproc" else None),
                          # `lab host stop`: "freeze" or "kill", None while running
                          "stopped": (self.host_stopped(host) or {}).get("mode")})
        return {"lab_dir": self.state.lab_dir, "prefix": self.state.prefix,
                "api_url": self.state.api_url, "api_up": api_ok,
                "api_servers": self.state.server_urls(),
                "database": self.state.db, "l2_population": self.state.l2pop,
                "firewall": self.state.firewall, "auth": self.state.auth,
                "firewall_driver": self.state.firewall_driver,
                "iptables_backend": self.state.iptables_backend,
                "l3_agent_hosts": self.state.l3_hosts or self.state.host_names(),
                "lb_agent_hosts": self.state.lb_hosts(),
                "transport": self.state.transport, "transport_url": self.state.transport_url,
                "control_exchange": self.state.control_exchange,
                "runtime_pid": self.runtime_pid(), "hosts": hosts,
                "outside": {"netns": t.outside_netns, "ip": t.outside_ip,
                            "http_port": t.http_port},
                "underlay_netns": t.underlay_netns,
                "physical_networks": {"physnet1": "eth1", "external": "eth2"},
                "instances": len(self.instances.list()) if api_ok else None}

    # --- teardown ------------------------------------------------------------------------
    def down(self) -> None:
        """Stop every process this lab started, delete its namespaces, its
        broker exchanges and its directory. Safe to call on a half-built lab."""
        from neutrino.lab import power
        power.resume_all(self.state)      # a frozen host's processes must hear SIGTERM
        self.stop_processes()
        teardown.remove(self.state)
        self._reset_api()


def status_json(ctl: LabControl) -> str:
    return json.dumps(ctl.status(), indent=2)
