"""neutrino-linuxbridge-agent --config-file linuxbridge_agent.ini

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


if __name__ == "__main__":
    sys.exit(linuxbridge_main())
