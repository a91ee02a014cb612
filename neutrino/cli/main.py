"""neutrino: the operator's command line.

    neutrino lab ...                    a simulated multi-host lab (see `neutrino lab -h`)
    neutrino show network|port|router NAME|ID  kernel objects behind a network, port or router
    neutrino aio ...                    server + Linux bridge agent in one process
"""
from __future__ import annotations

import argparse
import logging
import sys

from neutrino.cli import aio, lab, show
from neutrino.cli import identity
from neutrino.lab.state import default_lab_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neutrino", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab-dir", default=None,
                        help="lab state directory (default $NEUTRINO_LAB_DIR or "
                             "/run/neutrino-lab/default)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    lab.add_parser(sub)
    show.add_parser(sub)
    aio.add_parser(sub)
    identity.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.lab_dir = args.lab_dir or default_lab_dir()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s %(message)s")
    from neutrino.lab.api import ApiError
    from neutrino.lab.errors import LabError
    try:
        return args.func(args) or 0
    except (LabError, ApiError, KeyError, ValueError) as exc:
        print(f"neutrino {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
