"""neutrino-server --config-file neutron.conf --config-file ml2_conf.ini"""
from __future__ import annotations

import argparse
import os
import sys

from neutrino.cli.common import add_config_args, setup_logging
from neutrino.config import ConfigError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="neutrino-server",
                                     description="Neutron v2.0 API server")
    add_config_args(parser)
    args = parser.parse_args(argv)
    from neutrino.service import build_auth, build_core, load_server_config
    try:
        cfg = load_server_config(args.config_file)
        build_core(cfg).db.dispose()  # validates drivers, policy; creates SQLite schema
        build_auth(cfg)
    except ConfigError as exc:
        print(f"neutrino-server: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(cfg.DEFAULT.debug, cfg.DEFAULT.log_file)
    os.environ["NEUTRINO_CONFIG_FILES"] = os.pathsep.join(os.path.abspath(f)
                                                          for f in args.config_file)
    import uvicorn
    d = cfg.DEFAULT
    uvicorn.run("neutrino.api.app:create_app_from_env", factory=True, host=d.bind_host,
                port=d.bind_port, workers=d.api_workers if d.api_workers > 1 else None,
                log_level="warning", access_log=False, lifespan="off",
                # A worker whose pong thread starves for the GIL on a busy
                # 2-core host is not hung: uvicorn's 5 s default killed
                # workers mid-request under load (connection resets in CI).
                timeout_worker_healthcheck=60,
                # Clients (openstacksdk, the CLI) keep connections open between
                # calls; a 5 s idle close races their next request.
                timeout_keep_alive=75)
    return 0


if __name__ == "__main__":
    sys.exit(main())
