"""Serve a real Keystone (keystone's own WSGI app) with waitress.

Run with the Keystone venv's python:
    OS_KEYSTONE_CONFIG_FILES=keystone.conf python run_keystone.py HOST PORT

keystone parses sys.argv with oslo.config, so the arguments are taken off
before it is imported.
"""
import sys
import warnings

warnings.filterwarnings("ignore")
host, port = sys.argv[1], int(sys.argv[2])
sys.argv = sys.argv[:1]

from keystone.server import wsgi  # noqa: E402
import waitress  # noqa: E402

application = wsgi.initialize_public_application()
waitress.serve(application, host=host, port=port, threads=8, _quiet=True)
