"""neutrino aio: the all-in-one -- API server, the server side of the bus,
this host's Linux bridge agent and its load balancer agent in one process.

    neutrino aio --config-file neutron.conf --config-file ml2_conf.ini \
                 --agent-config-file linuxbridge_agent.ini

With transport_url = inproc:// (the default) server and agent talk on the
in-process bus; with rabbit://... other hosts' agents can join as well.
This manages the devices of the namespace it runs in: on a real host, run it
as the network node's service, not on a machine whose interfaces you need.
"""
from __future__ import annotations

import argparse
import logging
import sys

from neutrino.config import ConfigError

LOG = logging.getLogger("neutrino.aio")


def add_parser(sub: argparse._SubParsersAction) -> None:
    aio = sub.add_parser("aio", help="server + Linux bridge agent in one process")
    aio.add_argument("--config-file", action="append", default=[], metavar="PATH",
                     help="server INI file (neutron.conf, ml2_conf.ini; repeatable)")
    aio.add_argument("--agent-config-file", action="append", default=[], metavar="PATH",
                     help="linuxbridge_agent.ini (repeatable)")
    aio.add_argument("--lb-agent-config-file", action="append", default=[], metavar="PATH",
                     help="lbaas_agent.ini of the load balancer agent (repeatable; host "
                          "and state_path default to the Linux bridge agent's)")
    aio.add_argument("--no-lb-agent", action="store_true",
                     help="do not run the load balancer agent (neutrino-lb-agent)")
    aio.set_defaults(func=cmd_aio)


def start_lb_agent(args, agent_cfg, url: str, transport):
    """The all-in-one's load balancer agent (on by default): None if it is
    turned off, or cannot start while nobody asked for it by a file."""
    if getattr(args, "no_lb_agent", False):
        return None
    from neutrino.agent.lb.agent import LbAgent
    from neutrino.agent.startup import AgentCannotStart
    from neutrino.cli.agents import load_agent_config
    files = getattr(args, "lb_agent_config_file", [])
    d = agent_cfg.DEFAULT
    cfg = load_agent_config(files, {"DEFAULT": {"host": d.host, "state_path": d.state_path}}
                            if not files else None,
                            schema="neutrino.agent.lb.options:LB_AGENT_SCHEMA")
    cfg = cfg.replace("DEFAULT", transport_url=url)
    try:
        return LbAgent(cfg, transport if url.startswith("inproc") else None).start()
    except AgentCannotStart as exc:
        if files:
            raise
        LOG.warning("load balancer agent not started: %s", exc)
        return None


def cmd_aio(args) -> int:
    from neutrino.agent.startup import AgentCannotStart
    from neutrino.api.app import build_app
    from neutrino.cli.agents import load_agent_config
    from neutrino.cli.common import setup_logging
    from neutrino.cli.server import build_checked_core
    from neutrino.config import log_unused
    from neutrino.db.migrate import SchemaNotCurrent
    from neutrino.identity.opts import auth_summary
    from neutrino.rpc.bus import make_transport
    from neutrino.rpc.server_handlers import attach_bus
    from neutrino.service import build_auth, load_server_config

    try:
        cfg = load_server_config(args.config_file)
        agent_cfg = load_agent_config(args.agent_config_file)
    except ConfigError as exc:
        print(f"neutrino aio: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(cfg.DEFAULT.debug, cfg.DEFAULT.log_file)
    log_unused(cfg, LOG)
    log_unused(agent_cfg, logging.getLogger("neutrino.aio.agent"))
    try:
        # The embedded SQLite database migrates itself (build_core); a shared
        # one must be at the code's revision, as for neutrino-server.
        core = build_checked_core(cfg, args.config_file)
        auth = build_auth(cfg, core.db)
    except ConfigError as exc:
        print(f"neutrino aio: configuration error: {exc}", file=sys.stderr)
        return 2
    except SchemaNotCurrent as exc:
        print(f"neutrino aio: cannot start: {exc}", file=sys.stderr)
        return 1
    LOG.info("%s", auth_summary(cfg))
    url = cfg.DEFAULT.transport_url
    transport = make_transport(url)
    attach_bus(core, transport)
    from neutrino.agent.l2.agent import LinuxBridgeAgent
    agent_transport = transport if url.startswith("inproc") else None
    agent_cfg = agent_cfg.replace("DEFAULT", transport_url=url)
    try:
        agent = LinuxBridgeAgent(agent_cfg, agent_transport).start()
    except AgentCannotStart as exc:
        LOG.error("%s. Agent terminated!", exc)
        print(f"neutrino aio: {exc}. Agent terminated!", file=sys.stderr)
        transport.close()
        core.db.dispose()
        return 1
    try:
        lb_agent = start_lb_agent(args, agent_cfg, url, transport)
    except (AgentCannotStart, ConfigError) as exc:
        print(f"neutrino aio: load balancer agent: {exc}", file=sys.stderr)
        agent.stop()
        transport.close()
        core.db.dispose()
        return 1
    import uvicorn
    d = cfg.DEFAULT
    try:
        uvicorn.run(build_app(core, auth), host=d.bind_host, port=d.bind_port,
                    log_level="warning", access_log=False, lifespan="off")
    finally:
        if lb_agent is not None:
            lb_agent.stop()
        agent.stop()
        transport.close()
    return 0
