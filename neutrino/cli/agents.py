"""neutrino-linuxbridge-agent --config-file linuxbridge_agent.ini
neutrino-l3-agent --config-file l3_agent.ini

Runs until SIGTERM/SIGINT; stopping leaves the dataplane untouched, so a
restart disturbs no traffic.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from neutrino.cli.common import add_config_args, setup_logging
from neutrino.config import ConfigError

LOG = logging.getLogger("neutrino.linuxbridge-agent")


def load_agent_config(files: list[str], overrides=None):
    from neutrino import config as config_mod
    from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA
    return config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, files, overrides)


def linuxbridge_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neutrino-linuxbridge-agent",
                                     description="Linux bridge L2 agent")
    add_config_args(parser)
    args = parser.parse_args(argv)
    try:
        cfg = load_agent_config(args.config_file)
    except ConfigError as exc:
        print(f"neutrino-linuxbridge-agent: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(cfg.DEFAULT.debug, cfg.DEFAULT.log_file)
    logging.getLogger("kombu").setLevel(logging.WARNING)
    logging.getLogger("amqp").setLevel(logging.WARNING)
    from neutrino.agent.l2.agent import LinuxBridgeAgent

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        agent = LinuxBridgeAgent(cfg).start()
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero
        LOG.exception("agent failed to start: %s", exc)
        return 1
    stop.wait()
    LOG.info("stopping (the dataplane is left as it is)")
    agent.stop()
    return 0


def l3_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neutrino-l3-agent", description="L3 (router) agent")
    add_config_args(parser)
    args = parser.parse_args(argv)
    from neutrino import config as config_mod
    from neutrino.agent_options import L3_AGENT_SCHEMA
    try:
        cfg = config_mod.load(L3_AGENT_SCHEMA, args.config_file)
    except ConfigError as exc:
        print(f"neutrino-l3-agent: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(cfg.DEFAULT.debug, cfg.DEFAULT.log_file)
    logging.getLogger("kombu").setLevel(logging.WARNING)
    logging.getLogger("amqp").setLevel(logging.WARNING)
    from neutrino.agent.l3.agent import L3Agent

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        agent = L3Agent(cfg).start()
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero
        logging.getLogger("neutrino.l3-agent").exception("agent failed to start: %s", exc)
        return 1
    stop.wait()
    agent.stop()
    return 0


def dhcp_main(argv: list[str] | None = None) -> int:
    """neutrino-dhcp-agent --config-file dhcp_agent.ini (dnsmasq processes
    outlive it; a restarted agent adopts them)."""
    parser = argparse.ArgumentParser(prog="neutrino-dhcp-agent", description="DHCP agent")
    add_config_args(parser)
    args = parser.parse_args(argv)
    from neutrino import config as config_mod
    from neutrino.agent_options import DHCP_AGENT_SCHEMA
    try:
        cfg = config_mod.load(DHCP_AGENT_SCHEMA, args.config_file)
    except ConfigError as exc:
        print(f"neutrino-dhcp-agent: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(cfg.DEFAULT.debug, cfg.DEFAULT.log_file)
    logging.getLogger("kombu").setLevel(logging.WARNING)
    logging.getLogger("amqp").setLevel(logging.WARNING)
    from neutrino.agent.dhcp.agent import DhcpAgent

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        agent = DhcpAgent(cfg).start()
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero
        logging.getLogger("neutrino.dhcp-agent").exception("agent failed to start: %s", exc)
        return 1
    stop.wait()
    agent.stop()     # dnsmasq processes keep serving
    return 0


if __name__ == "__main__":
    # `python -m neutrino.cli.agents l3 --config-file ...` runs the L3 agent
    # `python -m neutrino.cli.agents dhcp --config-file ...` runs the DHCP agent
    if sys.argv[1:2] == ["dhcp"]:
        sys.exit(dhcp_main(sys.argv[2:]))
    sys.exit(l3_main(sys.argv[2:]) if sys.argv[1:2] == ["l3"] else linuxbridge_main())
