"""neutrino-linuxbridge-agent --config-file linuxbridge_agent.ini
neutrino-l3-agent --config-file l3_agent.ini
neutrino-dhcp-agent --config-file dhcp_agent.ini
neutrino-metadata-agent --config-file metadata_agent.ini
neutrino-lb-agent --config-file lbaas_agent.ini

Each runs until SIGTERM/SIGINT; stopping leaves the dataplane untouched
(dnsmasq processes keep serving and a restarted agent adopts them), so a
restart disturbs no traffic.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading

from neutrino.cli.common import add_config_args, setup_logging
from neutrino.config import ConfigError, log_unused

# prog: (description, option schema name, agent class "module:Class")
AGENTS = {
    "neutrino-linuxbridge-agent": ("Linux bridge L2 agent", "LINUXBRIDGE_AGENT_SCHEMA",
                                   "neutrino.agent.l2.agent:LinuxBridgeAgent"),
    "neutrino-l3-agent": ("L3 (router) agent", "L3_AGENT_SCHEMA",
                          "neutrino.agent.l3.agent:L3Agent"),
    "neutrino-dhcp-agent": ("DHCP agent", "DHCP_AGENT_SCHEMA",
                            "neutrino.agent.dhcp.agent:DhcpAgent"),
    "neutrino-metadata-agent": ("Metadata agent", "METADATA_AGENT_SCHEMA",
                                "neutrino.agent.metadata.agent:MetadataAgent"),
    # a schema named "module:NAME" lives in its own options module
    "neutrino-lb-agent": ("Load balancer agent (haproxy per load balancer)",
                          "neutrino.agent.lb.options:LB_AGENT_SCHEMA",
                          "neutrino.agent.lb.agent:LbAgent"),
}


def load_agent_config(files: list[str], overrides=None, schema: str = "LINUXBRIDGE_AGENT_SCHEMA"):
    from neutrino import agent_options
    from neutrino import config as config_mod
    if ":" in schema:
        module, _, name = schema.partition(":")
        return config_mod.load(getattr(importlib.import_module(module), name), files, overrides)
    return config_mod.load(getattr(agent_options, schema), files, overrides)


def run_agent(prog: str, argv: list[str] | None = None) -> int:
    description, schema, target = AGENTS[prog]
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_config_args(parser)
    args = parser.parse_args(argv)
    try:
        cfg = load_agent_config(args.config_file, schema=schema)
    except ConfigError as exc:
        print(f"{prog}: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(cfg.DEFAULT.debug, cfg.DEFAULT.log_file)
    logging.getLogger("kombu").setLevel(logging.WARNING)
    logging.getLogger("amqp").setLevel(logging.WARNING)
    log = logging.getLogger(prog)
    log_unused(cfg, log)
    module, _, cls = target.partition(":")
    agent_cls = getattr(importlib.import_module(module), cls)
    from neutrino.agent.startup import AgentCannotStart

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        agent = agent_cls(cfg).start()
    except AgentCannotStart as exc:
        log.error("%s. Agent terminated!", exc)
        if cfg.DEFAULT.log_file:   # else the line above is on stderr already
            print(f"{prog}: {exc}. Agent terminated!", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero
        log.exception("agent failed to start: %s. Agent terminated!", exc)
        return 1
    stop.wait()
    logging.getLogger(prog).info("stopping (the dataplane is left as it is)")
    agent.stop()
    return 0


def linuxbridge_main(argv: list[str] | None = None) -> int:
    return run_agent("neutrino-linuxbridge-agent", argv)


def l3_main(argv: list[str] | None = None) -> int:
    return run_agent("neutrino-l3-agent", argv)


def dhcp_main(argv: list[str] | None = None) -> int:
    return run_agent("neutrino-dhcp-agent", argv)


def metadata_main(argv: list[str] | None = None) -> int:
    return run_agent("neutrino-metadata-agent", argv)


def lb_main(argv: list[str] | None = None) -> int:
    return run_agent("neutrino-lb-agent", argv)


if __name__ == "__main__":
    # `python -m neutrino.cli.agents [l3|dhcp|metadata|lb] --config-file ...` (the lab uses this)
    kind = sys.argv[1] if sys.argv[1:2] in (["l3"], ["dhcp"], ["metadata"], ["lb"]) else None
    argv = sys.argv[2:] if kind else sys.argv[1:]
    sys.exit({"l3": l3_main, "dhcp": dhcp_main, "metadata": metadata_main, "lb": lb_main,
              None: linuxbridge_main}[kind](argv))
