"""The lab's Python API (used by `neutrino lab ...`, the e2e tests and the
benchmarks): bring a lab up, look at it, start and kill its processes,
tear it down.

    lab = LabControl.up(hosts=2, transport="inproc")     # returns when all is up
    lab.api.create_network(...); lab.instances.create("vm1", "net1", host="host1")
    lab.down()                                            # removes everything it made

The namespaces (built by neutrino.lab.topology) belong to this object, not to
the runtime process, so killing and restarting the runtime or an agent leaves
the dataplane, and the traffic on it, alone.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from neutrino.dataplane import netns as _netns
from neutrino.dataplane.process import Daemon
from neutrino.lab import database as lab_database
from neutrino.lab.api import ApiError, Credentials, NeutronApi
from neutrino.lab.instances import Instances
from neutrino.lab.runtime import (agent_daemon, dhcp_agent_daemon, l3_agent_daemon,
                                  lb_agent_daemon, metadata_agent_daemon)
from neutrino.lab.state import DEFAULT_RABBIT_URL, LabState, default_lab_dir
from neutrino.lab.topology import Lab, new_prefix
from neutrino.rpc.client import LINUXBRIDGE_AGENT_TYPE

LOG = logging.getLogger(__name__)


class LabError(RuntimeError):
    pass


class LabControl:
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
        `firewall_driver`: iptables (upstream's) or nftables, when `firewall`.
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

    # --- the runtime process ------------------------------------------------------
    def runtime_daemon(self) -> Daemon:
        return Daemon([sys.executable, "-m", "neutrino.lab.runtime", self.state.lab_dir],
                      pidfile=self.state.runtime_pidfile,
                      cmdline_match=f"neutrino.lab.runtime {self.state.lab_dir}",
                      log_file=self.state.server_dir / "runtime.stdout")

    def start_runtime(self, timeout: float = 90.0) -> int:
        """Start (or adopt) the runtime; returns once its API answers."""
        with contextlib.suppress(FileNotFoundError):
            self.state.runtime_file.unlink()
        self.state.server_dir.mkdir(parents=True, exist_ok=True)
        daemon = self.runtime_daemon()
        pid = daemon.start(wait=timeout)
        deadline = time.monotonic() + timeout
        while not self.state.runtime_file.exists():
            if daemon.pid is None:
                raise LabError(f"the lab runtime exited; see {self.state.runtime_log}")
            if time.monotonic() > deadline:
                raise LabError(f"the lab runtime did not come up; see {self.state.runtime_log}")
            time.sleep(0.05)
        self.state = LabState.load(self.state.lab_dir)   # the runtime recorded its port
        self._reset_api()
        return pid

    def _start_in_process(self) -> None:
        from neutrino.lab.runtime import LabRuntime
        self.state.server_dir.mkdir(parents=True, exist_ok=True)
        self._runtime = LabRuntime(self.state).start()
        self._reset_api()

    def runtime_pid(self) -> int | None:
        if self._runtime is not None:
            return os.getpid()
        return self.runtime_daemon().pid

    def kill_runtime(self, sig: int = signal.SIGKILL) -> None:
        if self._runtime is not None:
            raise LabError("the runtime runs in this process")
        pid = self.runtime_pid()
        if pid is None:
            raise LabError("the lab runtime is not running")
        os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while self.runtime_daemon().pid is not None and time.monotonic() < deadline:
            time.sleep(0.02)

    # --- extra API servers (--servers N) ---------------------------------------------
    def server_daemon(self, name: str) -> Daemon:
        ini = self.state.server_ini_path(name)
        return Daemon([sys.executable, "-m", "neutrino.cli.server", "--config-file", str(ini)],
                      pidfile=self.state.server_dir / f"{name}.pid", cmdline_match=str(ini),
                      log_file=self.state.server_dir / f"{name}.stdout")

    def start_extra_servers(self, timeout: float = 90.0) -> None:
        """neutrino-server processes beside the runtime's, on the same
        database and broker (root namespace, 127.0.0.1, a free port each)."""
        urls = []
        for name in self.state.extra_server_names():
            # The free port is found by binding and releasing it: another
            # process may take it first. A server that dies at start is
            # started again on another port (twice at most).
            for _ in range(3):
                url = self._start_extra_server(name, timeout)
                if url is not None:
                    break
            else:
                raise LabError(f"API server {name} did not come up: " + self._server_log_tail())
            urls.append(url)
        self.state.extra["server_urls"] = urls
        self.state.save()

    def _start_extra_server(self, name: str, timeout: float) -> str | None:
        """Start one extra server on a free port; its URL once it answers,
        None if it died first."""
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        ini = self.state.server_ini_path(name)
        ini.touch(mode=0o600)     # keystone labs: it holds the admin password
        ini.write_text(self.state.server_ini(name, port))
        daemon = self.server_daemon(name)
        daemon.start(wait=timeout)
        url = f"http://127.0.0.1:{port}"
        api = NeutronApi(url, credentials=self.credentials("admin"))
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    api.list("networks")
                    return url
                except Exception:  # noqa: BLE001 - refused, reset, 5xx: not up yet
                    if daemon.pid is None:
                        return None
                    if time.monotonic() > deadline:
                        raise LabError(f"API server {url} did not come up: "
                                       + self._server_log_tail()) from None
                    time.sleep(0.2)
        finally:
            api.close()

    def _server_log_tail(self, lines: int = 15) -> str:
        """The end of the extra servers' output (the lab directory goes with down())."""
        out = []
        for path in sorted(self.state.server_dir.glob("server*.*")):
            if path.suffix in (".stdout", ".log"):
                out.append(f"--- {path.name}\n" + "\n".join(
                    path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out) or "no output"

    def server_pid(self, name: str) -> int | None:
        """PID of an extra API server ("server2", ...)."""
        return self.server_daemon(name).pid

    # --- agent processes (rabbit labs) ----------------------------------------------
    def agent_pid(self, host: str) -> int | None:
        return agent_daemon(self.state, host).pid

    def kill_agent(self, host: str, sig: int = signal.SIGKILL) -> None:
        if self.state.transport == "inproc":
            raise LabError("inproc labs run agents inside the runtime: kill_runtime()")
        pid = self.agent_pid(host)
        if pid is None:
            raise LabError(f"no agent process for {host}")
        os.kill(pid, sig)
        daemon = agent_daemon(self.state, host)
        deadline = time.monotonic() + 10
        while daemon.pid is not None and time.monotonic() < deadline:
            time.sleep(0.02)

    def start_agent(self, host: str) -> int:
        return agent_daemon(self.state, host).start(wait=30)

    def l3_agent_pid(self, host: str) -> int | None:
        return l3_agent_daemon(self.state, host).pid

    def kill_l3_agent(self, host: str, sig: int = signal.SIGKILL) -> None:
        """Signal `host`'s L3 agent process (rabbit labs), by its PID."""
        if self.state.transport == "inproc":
            raise LabError("inproc labs run agents inside the runtime: kill_runtime()")
        pid = self.l3_agent_pid(host)
        if pid is None:
            raise LabError(f"no L3 agent process for {host}")
        os.kill(pid, sig)
        daemon = l3_agent_daemon(self.state, host)
        deadline = time.monotonic() + 10
        while daemon.pid is not None and time.monotonic() < deadline:
            time.sleep(0.02)

    def start_l3_agent(self, host: str) -> int:
        return l3_agent_daemon(self.state, host).start(wait=30)

    def lb_agent_pid(self, host: str) -> int | None:
        return lb_agent_daemon(self.state, host).pid

    def kill_lb_agent(self, host: str, sig: int = signal.SIGKILL) -> None:
        """Signal `host`'s LB agent process (rabbit labs), by its PID; its
        haproxies live on (a restarted agent adopts them)."""
        if self.state.transport == "inproc":
            raise LabError("inproc labs run agents inside the runtime: kill_runtime()")
        pid = self.lb_agent_pid(host)
        if pid is None:
            raise LabError(f"no LB agent process for {host}")
        os.kill(pid, sig)
        daemon = lb_agent_daemon(self.state, host)
        deadline = time.monotonic() + 10
        while daemon.pid is not None and time.monotonic() < deadline:
            time.sleep(0.02)

    def start_lb_agent(self, host: str) -> int:
        return lb_agent_daemon(self.state, host).start(wait=30)

    def dhcp_agent_pid(self, host: str = "host1") -> int | None:
        return dhcp_agent_daemon(self.state, host).pid

    def kill_dhcp_agent(self, host: str = "host1", sig: int = signal.SIGKILL) -> None:
        """Signal `host`'s DHCP agent process (rabbit labs), by its PID;
        its dnsmasq processes live on."""
        if self.state.transport == "inproc":
            raise LabError("inproc labs run agents inside the runtime: kill_runtime()")
        pid = self.dhcp_agent_pid(host)
        if pid is None:
            raise LabError(f"no DHCP agent process for {host}")
        os.kill(pid, sig)
        daemon = dhcp_agent_daemon(self.state, host)
        deadline = time.monotonic() + 10
        while daemon.pid is not None and time.monotonic() < deadline:
            time.sleep(0.02)

    def start_dhcp_agent(self, host: str = "host1") -> int:
        return dhcp_agent_daemon(self.state, host).start(wait=30)

    # --- pulling the plug on a host (neutrino.lab.power) ----------------------------
    def stop_host(self, host: str, mode: str = "freeze") -> dict:
        """Freeze (SIGSTOP) or kill (SIGKILL) every process of `host`, by
        PID, and set its underlay links down, as a power loss would (rabbit
        labs); returns {"mode", "pids", "stopped_at"}."""
        from neutrino.lab import power
        try:
            return power.stop(self.state, host, mode)
        except ValueError as exc:
            raise LabError(str(exc)) from None

    def start_host(self, host: str, timeout: float = 60.0) -> dict:
        """Bring a stopped host back: resume (freeze) or restart (kill) its
        agents, wait until they report, then set its links up."""
        from neutrino.lab import power
        try:
            return power.start(self, host, timeout)
        except (ValueError, TimeoutError) as exc:
            raise LabError(str(exc)) from None

    def host_stopped(self, host: str) -> dict | None:
        """The stop record of `host` (mode, pids, stopped_at), None if running."""
        from neutrino.lab import power
        return power.stopped(self.state, host)

    def wait_dhcp_agents_alive(self, timeout: float = 60.0) -> None:
        want = set(self.state.dhcp_hosts())
        deadline = time.monotonic() + timeout
        while True:
            try:
                seen = {a["host"] for a in self.api.list("agents", agent_type="DHCP agent")
                        if a["alive"]}
            except (ApiError, OSError):
                seen = set()
            if want <= seen:
                return
            if time.monotonic() > deadline:
                raise LabError(f"DHCP agents not alive after {timeout:.0f} s: "
                               f"{sorted(want - seen)}; see {self.state.runtime_log}")
            time.sleep(0.1)

    def dhcp_check(self, network: str, host: str | None = None,
                   timeout: float = 5.0) -> dict[str, Any]:
        """Look for DHCP servers on a network's segment that are not its
        DHCP agents' dnsmasq: a probe namespace plugged into the network's
        bridge on `host` (default: a host where it is wired) sends a
        DISCOVER from an unknown MAC; neutrino's static-only dnsmasq stays
        silent, so every OFFER is a rogue server."""
        import secrets

        from neutrino.agent.dhcp.probe import probe
        from neutrino.dataplane.netlink import Netlink

        net = self.api.find_network(network)
        bridge = "brq" + net["id"][:11]
        hosts = [host] if host else self.state.host_names()
        where = None
        for h in hosts:
            with Netlink(self.state.host_netns(h)) as nl:
                if nl.exists(bridge):
                    where = h
                    break
        if where is None:
            raise LabError(f"network {net['id']} is wired on no lab host (no {bridge})")
        ours = sorted(f["ip_address"] for p in self.api.list(
            "ports", network_id=net["id"], device_owner="network:dhcp") for f in p["fixed_ips"])
        tag = secrets.token_hex(3)
        probe_ns, veth = f"{self.state.prefix}probe-{tag}", f"prb{tag}"
        _netns.create(probe_ns)
        try:
            with Netlink(self.state.host_netns(where)) as nl:
                nl.create_veth(veth, "eth0", peer_netns=probe_ns)
                nl.set_master(veth, bridge)
                nl.set_up(veth)
            with Netlink(probe_ns) as nl:
                nl.set_up("eth0")
            with _netns.in_netns(probe_ns):
                offers = probe("eth0", timeout=timeout)
        finally:
            with contextlib.suppress(Exception), Netlink(self.state.host_netns(where)) as nl:
                nl.delete_link(veth)
            _netns.delete(probe_ns, missing_ok=True)
        rogue = [o for o in offers if o.server_id not in ours]
        return {"network_id": net["id"], "host": where, "bridge": bridge,
                "dhcp_ports": ours, "rogue_servers": [o.__dict__ for o in rogue],
                "ok": not rogue}

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

    def wait_agents_alive(self, timeout: float = 60.0, started_after: float | None = None) -> None:
        want = set(self.state.host_names())
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while time.monotonic() < deadline:
            try:
                seen = {a["host"] for a in self.agents() if a["alive"]}
            except (ApiError, OSError):
                seen = set()
            if want <= seen:
                return
            time.sleep(0.1)
        raise LabError(f"agents not alive after {timeout:.0f} s: {sorted(want - seen)}; "
                       f"see {self.state.runtime_log}")

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
        state = self.state
        from neutrino.lab import power
        power.resume_all(state)      # a frozen host's processes must hear SIGTERM
        if self._runtime is not None:
            with contextlib.suppress(Exception):
                self._runtime.stop()
            self._runtime = None
        with contextlib.suppress(Exception):
            self.runtime_daemon().stop(timeout=10)
        for name in state.extra_server_names():
            with contextlib.suppress(Exception):
                self.server_daemon(name).stop(timeout=10)
        if state.transport != "inproc":
            for host in state.host_names():
                with contextlib.suppress(Exception):
                    agent_daemon(state, host).stop(timeout=10)
                with contextlib.suppress(Exception):
                    l3_agent_daemon(state, host).stop(timeout=10)
                with contextlib.suppress(Exception):
                    dhcp_agent_daemon(state, host).stop(timeout=10)
                with contextlib.suppress(Exception):
                    metadata_agent_daemon(state, host).stop(timeout=10)
                with contextlib.suppress(Exception):
                    lb_agent_daemon(state, host).stop(timeout=10)
            with contextlib.suppress(Exception):
                self._delete_exchanges()
        _stop_dnsmasqs(state)
        _stop_metadata_proxies(state)
        _stop_keepalived(state)
        _stop_lb_haproxies(state)
        # instance namespaces: recorded ones, and any left with our instance prefix
        # and the agents' router/DHCP namespaces (the agents are stopped by now)
        inst_prefix = f"{state.prefix}i-"
        for name in _netns.list_netns():
            if name.startswith(inst_prefix) or (name.startswith(state.prefix) and (
                    "-qrouter-" in name or "-qdhcp-" in name)):
                _netns.delete(name, missing_ok=True)
        topo_file = state.topology_dir / "topology.json"
        if topo_file.exists():
            Lab.load(topo_file).teardown()
        self._reset_api()
        if state.db_url:
            try:
                lab_database.drop(state.db, state.db_url)
            except Exception as exc:  # noqa: BLE001 - still remove the rest
                LOG.warning("could not drop the lab database %s: %s", state.db_url, exc)
        if (Path(state.lab_dir) / "lab.json").exists():
            shutil.rmtree(state.lab_dir, ignore_errors=True)

    def _delete_exchanges(self) -> None:
        import kombu

        from neutrino.rpc.bus import parse_transport_url
        from neutrino.rpc.client import host_topic
        from neutrino.rpc.rabbit import fanout_exchange

        with kombu.Connection(parse_transport_url(self.state.rabbit_url)[0][0],
                              connect_timeout=3) as conn:
            channel = conn.channel()
            for host in self.state.host_names():
                name = fanout_exchange(host_topic(host, self.state.control_exchange)).name
                channel.exchange_delete(name)


def _stop_metadata_proxies(state: LabState) -> None:
    """The haproxy metadata proxies the L3 and DHCP agents started, before
    their namespaces go."""
    from neutrino.agent.metadata.proxy import stop_all
    for host in state.host_names():
        stop_all(str(state.host_dir(host)))


def _stop_keepalived(state: LabState) -> None:
    """The L3 agents' keepalived of HA routers (by verified PID)."""
    from neutrino.agent.l3.ha import stop_all
    for host in state.host_names():
        with contextlib.suppress(Exception):
            stop_all(state.host_dir(host) / "ha_confs")


def _stop_lb_haproxies(state: LabState) -> None:
    """The LB agents' haproxies (by verified PID) and their qlbaas-
    namespaces, which carry the lab prefix."""
    from neutrino.agent.lb.driver import stop_all
    for host in state.host_names():
        with contextlib.suppress(Exception):
            stop_all(state.host_dir(host) / "lbaas")
    for name in _netns.list_netns():
        if name.startswith(state.prefix) and "-qlbaas-" in name:
            _netns.delete(name, missing_ok=True)


def _stop_dnsmasqs(state: LabState) -> None:
    """The DHCP agents' dnsmasq processes (by the verified PID in each pid
    file) and their qdhcp- namespaces, which carry the lab prefix."""
    from neutrino.dataplane.dnsmasq import stop_strays
    from neutrino.dataplane.process import stop_process
    for host in state.host_names():
        for pidfile in (state.host_dir(host) / "dhcp").glob("*/pid"):
            with contextlib.suppress(Exception):
                stop_process(pidfile, f"--pid-file={pidfile}", timeout=5)
        # and any whose pid file was lost: their command line names our directory
        with contextlib.suppress(Exception):
            stop_strays(f"--pid-file={state.host_dir(host) / 'dhcp'}/")
    for name in _netns.list_netns():
        if name.startswith(state.prefix) and "-qdhcp-" in name:
            _netns.delete(name, missing_ok=True)


def status_json(ctl: LabControl) -> str:
    return json.dumps(ctl.status(), indent=2)
