"""Shared command-line plumbing: --config-file parsing and logging."""
from __future__ import annotations

import argparse
import logging
import sys


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH",
                        help="INI file (repeatable; later files override earlier ones)")


def setup_logging(debug: bool = False, log_file: str = "") -> None:
    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
