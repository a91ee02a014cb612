"""The lab's long-running process: API server, the server side of the bus,
and the agents of every simulated host.

    python -m neutrino.lab.runtime <lab_dir>

inproc: everything in this one process; each host's agent runs on threads
that enter the host's namespace, on the in-process bus.
rabbit: the server talks to RabbitMQ from here; each host's agent is its
own process started inside the host namespace, reaching the broker at
127.0.0.1 through a relay (neutrino.lab.relay) -- agent processes outlive
this process, and a restarted runtime adopts them.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time

from neutrino.dataplane.process import Daemon
from neutrino.lab.state import LabState, broker_address

LOG = logging.getLogger(__name__)


def _agent_process(state: LabState, host: str, ini, name: str, *kind: str) -> Daemon:
    """An agent process of `host` (rabbit labs), identified by its config path;
    `kind`: neutrino.cli.agents' subcommand (none for the L2 agent)."""
    hdir = state.host_dir(host)
    return Daemon([sys.executable, "-m", "neutrino.cli.agents", *kind, "--config-file", str(ini)],
                  pidfile=hdir / f"{name}.pid", netns=state.host_netns(host),
                  cmdline_match=str(ini), log_file=hdir / f"{name}.stdout")


def agent_daemon(state: LabState, host: str) -> Daemon:
    """The (L2) agent process of `host`."""
    return _agent_process(state, host, state.agent_ini_path(host), "agent")


def l3_agent_daemon(state: LabState, host: str) -> Daemon:
    return _agent_process(state, host, state.l3_agent_ini_path(host), "l3-agent", "l3")


def metadata_agent_daemon(state: LabState, host: str) -> Daemon:
    return _agent_process(state, host, state.metadata_agent_ini_path(host), "metadata-agent",
                          "metadata")


def dhcp_agent_daemon(state: LabState, host: str) -> Daemon:
    return _agent_process(state, host, state.dhcp_agent_ini_path(host), "dhcp-agent", "dhcp")


def lb_agent_daemon(state: LabState, host: str) -> Daemon:
    return _agent_process(state, host, state.lb_agent_ini_path(host), "lb-agent", "lb")


class LabRuntime:
    def __init__(self, state: LabState):
        self.state = state
        self.core = None
        self.transport = None
        self.rpc = None
        self.server = None
        self.agents = []
        self.relays = []
        self.nova_metadata = None
        self._server_thread: threading.Thread | None = None

    def start(self) -> LabRuntime:
        from neutrino.api.app import build_app
        from neutrino.rpc.bus import make_transport
        from neutrino.rpc.server_handlers import attach_bus
        from neutrino.service import build_auth, build_core, load_server_config

        state = self.state
        cfg = load_server_config([], state.server_overrides())
        self.core = build_core(cfg)
        options = {} if state.transport == "inproc" else {
            "client_name": f"neutrino-lab:{state.prefix}server"}
        self.transport = make_transport(state.transport_url, **options)
        self.rpc = attach_bus(self.core, self.transport, prefix=state.control_exchange)
        auth = build_auth(cfg, self.core.db)   # keystone: bootstraps the admin user
        if state.auth == "keystone":
            from neutrino.identity.store import IdentityStore
            from neutrino.lab.identity import ensure_demo
            ensure_demo(IdentityStore(self.core.db), state.passwords["demo"])
        self._start_api(build_app(self.core, auth))
        self._start_nova_metadata()
        if state.transport == "inproc":
            self._start_inproc_agents()
        else:
            self._start_agent_processes()
        state.runtime_file.write_text(json.dumps({"pid": os.getpid(), "api_url": state.api_url,
                                                  "started_at": time.time()}))
        LOG.info("lab %s up: API %s, %d host(s), transport %s", state.prefix, state.api_url,
                 state.n_hosts, state.transport)
        return self

    def _start_api(self, app) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.state.port))
        sock.listen(512)
        if not self.state.port:
            self.state.port = sock.getsockname()[1]
            self.state.save()
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self.server.run,
                                               kwargs={"sockets": [sock]}, name="lab-api",
                                               daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self._server_thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)

    def _start_nova_metadata(self) -> None:
        """The lab's Nova metadata stand-in, on 127.0.0.1:8775 in each host
        running a metadata agent (neutrino.lab.nova_metadata)."""
        from sqlalchemy import select

        from neutrino.db import models
        from neutrino.lab.instances import Instances
        from neutrino.lab.nova_metadata import LabNovaMetadata
        hosts = self.state.metadata_hosts()
        if not hosts:
            return
        fip = models.floatingips

        def floating_ip(port_id: str) -> str | None:
            return self.core.db.read(lambda conn: conn.execute(
                select(fip.c.floating_ip_address).where(fip.c.fixed_port_id == port_id)
                .limit(1)).scalar())
        self.nova_metadata = LabNovaMetadata(
            Instances(self.state, None), self.state.extra.get("metadata_secret", ""),
            [self.state.host_netns(h) for h in hosts], floating_ip).start()

    def _start_inproc_agents(self) -> None:
        from neutrino import config as config_mod
        from neutrino.agent.l2.agent import LinuxBridgeAgent
        from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA
        from neutrino.rpc.bus import make_transport

        for host in self.state.host_names():
            cfg = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [str(self.state.agent_ini_path(host))])
            agent = LinuxBridgeAgent(cfg, make_transport(self.state.transport_url),
                                     netns=self.state.host_netns(host))
            self.agents.append(agent.start())
        from neutrino.agent.l3.agent import L3Agent
        from neutrino.agent_options import L3_AGENT_SCHEMA
        for host in self.state.host_names():
            ini = self.state.l3_agent_ini_path(host)
            if ini.exists():   # labs made before L3 agents existed have none
                cfg = config_mod.load(L3_AGENT_SCHEMA, [str(ini)])
                agent = L3Agent(cfg, make_transport(self.state.transport_url),
                                host_netns=self.state.host_netns(host))
                self.agents.append(agent.start())

        from neutrino.agent.dhcp.agent import DhcpAgent
        from neutrino.agent_options import DHCP_AGENT_SCHEMA
        for host in self.state.dhcp_hosts():
            cfg = config_mod.load(DHCP_AGENT_SCHEMA, [str(self.state.dhcp_agent_ini_path(host))])
            self.agents.append(DhcpAgent(cfg, make_transport(self.state.transport_url),
                                         netns=self.state.host_netns(host)).start())

        from neutrino.agent.metadata.agent import MetadataAgent
        from neutrino.agent_options import METADATA_AGENT_SCHEMA
        for host in self.state.metadata_hosts():
            cfg = config_mod.load(METADATA_AGENT_SCHEMA,
                                  [str(self.state.metadata_agent_ini_path(host))])
            self.agents.append(MetadataAgent(cfg, make_transport(self.state.transport_url),
                                             netns=self.state.host_netns(host)).start())

        from neutrino.agent.lb.agent import LbAgent
        from neutrino.agent.lb.options import LB_AGENT_SCHEMA
        for host in self.state.lb_hosts():
            cfg = config_mod.load(LB_AGENT_SCHEMA, [str(self.state.lb_agent_ini_path(host))])
            self.agents.append(LbAgent(cfg, make_transport(self.state.transport_url),
                                       host_netns=self.state.host_netns(host)).start())

    def _start_agent_processes(self) -> None:
        from neutrino.lab.relay import BrokerRelay

        upstream = broker_address(self.state.rabbit_url)
        for host in self.state.host_names():
            relay = BrokerRelay(self.state.host_netns(host), ("127.0.0.1", upstream[1]),
                                upstream)
            self.relays.append(relay.start())
        for host in self.state.host_names():
            agent_daemon(self.state, host).start(wait=30)
            if self.state.l3_agent_ini_path(host).exists():
                l3_agent_daemon(self.state, host).start(wait=30)
        for host in self.state.dhcp_hosts():
            dhcp_agent_daemon(self.state, host).start(wait=30)
        for host in self.state.metadata_hosts():
            metadata_agent_daemon(self.state, host).start(wait=30)
        for host in self.state.lb_hosts():
            lb_agent_daemon(self.state, host).start(wait=30)

    def stop(self, stop_agent_processes: bool = True) -> None:
        for agent in self.agents:
            agent.stop()
        if stop_agent_processes and self.state.transport != "inproc":
            for host in self.state.host_names():
                agent_daemon(self.state, host).stop()
                l3_agent_daemon(self.state, host).stop()
                dhcp_agent_daemon(self.state, host).stop()
                metadata_agent_daemon(self.state, host).stop()
                lb_agent_daemon(self.state, host).stop()
        if self.nova_metadata is not None:
            self.nova_metadata.stop()
        for relay in self.relays:
            relay.stop()
        if self.server is not None:
            self.server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(10)
        if self.core is not None and hasattr(self.core.notifier, "close"):
            self.core.notifier.close()
        if self.transport is not None:
            self.transport.close()
        if self.core is not None:
            self.core.db.dispose()


def main(argv: list[str] | None = None) -> int:
    from neutrino.cli.common import setup_logging

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m neutrino.lab.runtime <lab_dir>", file=sys.stderr)
        return 2
    state = LabState.load(argv[0])
    state.server_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(os.environ.get("NEUTRINO_LAB_DEBUG") == "1", str(state.runtime_log))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runtime = LabRuntime(state)
    try:
        runtime.start()
    except Exception:
        LOG.exception("lab runtime failed to start")
        runtime.stop(stop_agent_processes=False)
        return 1
    stop.wait()
    LOG.info("lab runtime stopping")
    runtime.stop(stop_agent_processes=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
