"""The conformance server with a network node: neutrino's API (the run's
neutron.conf: keystone auth, embedded identity) plus a real Linux bridge
agent and L3 agent, all on the in-process bus, the agents managing one
simulated host (a network namespace of neutrino's lab).

    network_node.py --config-file neutron.conf --work WORK [--lb-agent]

Why: tempest's router tests wait for router interface ports to become
ACTIVE before removing them (tempest.api.network.base.remove_router_interface),
as they do on a real cloud, where an L3 agent and the L2 agent of its host
wire them. Without agents each such cleanup waits `build_timeout` and fails.

The host namespace has eth0 (VXLAN endpoint), eth1 (physnet1) and eth2
(the external bridge, mapped to the physical network `public` of the
conformance `public` network). Every namespace and process made here carries
a random prefix and is removed on exit (SIGTERM or SIGINT), routers' too.
The API serves one process (api_workers does not apply: the bus is in-process).

--lb-agent also runs neutrino's load-balancer agent on that host:
octavia-tempest-plugin waits for every load balancer to become ACTIVE, which
is the agent's report that haproxy serves it.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

LOG = logging.getLogger("conformance.network_node")
HOST = "netnode"   # short: qrouter namespace names must fit 64 characters


def agent_overrides(common: dict, host_ns_prefix: str, host) -> tuple[dict, dict]:
    l2 = {"DEFAULT": dict(common),
          "linux_bridge": {"physical_interface_mappings":
                           f"physnet1:{host.nics['physnet1']},public:{host.nics['external']}"},
          "vxlan": {"enable_vxlan": "true", "local_ip": host.vtep_ip},
          "agent": {"polling_interval": "1", "report_interval": "5",
                    "namespace_prefix": host_ns_prefix},
          # the API tests need no enforcement (and no host iptables work)
          "securitygroup": {"enable_security_group": "false", "firewall_driver": "noop"}}
    l3 = {"DEFAULT": dict(common, interface_driver="linuxbridge", agent_mode="legacy"),
          "agent": {"report_interval": "5", "namespace_prefix": host_ns_prefix}}
    return l2, l3


def lb_agent_overrides(common: dict, host_ns_prefix: str) -> dict:
    return {"DEFAULT": dict(common, interface_driver="linuxbridge"),
            "agent": {"report_interval": "5", "namespace_prefix": host_ns_prefix}}


def start_lb_agent(config_mod, transport, common: dict, host_ns_prefix: str, host):
    """neutrino-lb-agent on the network node's host, as the lab runs it."""
    from neutrino.agent.lb.agent import LbAgent
    from neutrino.agent.lb.options import LB_AGENT_SCHEMA
    cfg = config_mod.load(LB_AGENT_SCHEMA, [], lb_agent_overrides(common, host_ns_prefix))
    return LbAgent(cfg, transport, host_netns=host.netns).start()


def remove_namespaces(prefix: str) -> None:
    """Namespaces the agents made (routers), all named with our prefix."""
    from neutrino.dataplane import netns
    for name in netns.list_netns():
        if name.startswith(prefix):
            netns.delete(name, missing_ok=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="network_node.py")
    parser.add_argument("--config-file", action="append", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--lb-agent", action="store_true",
                        help="also run the load-balancer agent on the host")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("network_node.py: needs root (network namespaces)", file=sys.stderr)
        return 2

    from neutrino import config as config_mod
    from neutrino.agent.l2.agent import LinuxBridgeAgent
    from neutrino.agent.l3.agent import L3Agent
    from neutrino.agent_options import L3_AGENT_SCHEMA, LINUXBRIDGE_AGENT_SCHEMA
    from neutrino.api.app import build_app
    from neutrino.cli.common import setup_logging
    from neutrino.lab.topology import Lab, new_prefix
    from neutrino.rpc.bus import make_transport
    from neutrino.rpc.server_handlers import attach_bus
    from neutrino.service import build_auth, build_core, load_server_config

    prefix = new_prefix()
    url = f"inproc://conformance-{prefix.rstrip('-')}"
    cfg = load_server_config(args.config_file, {"DEFAULT": {"transport_url": url,
                                                            "api_workers": "1"}})
    setup_logging(cfg.DEFAULT.debug, cfg.DEFAULT.log_file)
    work = Path(args.work)
    lab = Lab.build(1, prefix=prefix, state_dir=work / "lab")
    agents = []
    try:
        host = lab.host(1)
        core = build_core(cfg)
        transport = make_transport(url)
        attach_bus(core, transport)
        app = build_app(core, build_auth(cfg, core.db))
        node_dir = work / "node"
        node_dir.mkdir(parents=True, exist_ok=True)
        common = {"host": HOST, "transport_url": url, "state_path": str(node_dir),
                  "log_file": cfg.DEFAULT.log_file or ""}
        l2_over, l3_over = agent_overrides(common, f"{prefix}{HOST}-", host)
        agents.append(LinuxBridgeAgent(config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], l2_over),
                                       make_transport(url), netns=host.netns).start())
        agents.append(L3Agent(config_mod.load(L3_AGENT_SCHEMA, [], l3_over),
                              make_transport(url), host_netns=host.netns).start())
        if args.lb_agent:
            try:
                agents.append(start_lb_agent(config_mod, make_transport(url), common,
                                             f"{prefix}{HOST}-", host))
            except ImportError as exc:   # a checkout without the agent: API only
                LOG.warning("no load-balancer agent (%s): load balancers stay PENDING", exc)
        LOG.info("network node %s up in %s", HOST, host.netns)
        import signal

        import uvicorn

        def stop(signum, frame):
            raise SystemExit(0)
        # uvicorn re-raises the signal it stopped on once it has shut down:
        # this handler turns it into an exit that runs the teardown below.
        signal.signal(signal.SIGTERM, stop)
        d = cfg.DEFAULT
        uvicorn.run(app, host=d.bind_host, port=d.bind_port, log_level="warning",
                    access_log=False, lifespan="off", timeout_keep_alive=75)
    finally:
        for agent in agents:
            try:
                agent.stop()
            except Exception:  # noqa: BLE001 - tearing down regardless
                LOG.exception("stopping %s", type(agent).__name__)
        from neutrino.agent.metadata.proxy import stop_all
        stop_all(str(work / "node"))   # the routers' metadata proxies
        if args.lb_agent:
            try:   # a stopping LB agent leaves its haproxies serving: stop them
                from neutrino.agent.lb.driver import stop_all as stop_haproxies
                stop_haproxies(work / "node" / "lbaas")
            except ImportError:
                pass
        remove_namespaces(prefix)
        lab.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
