"""neutrino aio: the all-in-one -- API server, the server side of the bus and
this host's Linux bridge agent in one process.

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
    aio.set_defaults(func=cmd_aio)


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
    import uvicorn
    d = cfg.DEFAULT
    try:
        uvicorn.run(build_app(core, auth), host=d.bind_host, port=d.bind_port,
                    log_level="warning", access_log=False, lifespan="off")
    finally:
        agent.stop()
        transport.close()
    return 0
