"""[dashboard] options of neutrino-server (documented in docs/configuration.md)."""
from __future__ import annotations

from neutrino.config import Opt, Section, int_range, string, to_bool

DASHBOARD = Section("dashboard", (
    Opt("enabled", to_bool, True,
        "Serve the web dashboard at /dashboard/ (same port, TLS and authentication as the "
        "API); false: /dashboard/ is a 404 and nothing of it runs."),
    Opt("inspect_timeout", int_range(1, 120), 5,
        "Seconds the dashboard's \"under the hood\" panel waits for each host's agent to "
        "describe its kernel objects; a host that does not answer is shown as such."),
    Opt("lab_dir", string, "",
        "Directory of a `neutrino lab` whose instances the dashboard may create, delete "
        "and ping from (admin only); empty: no instance actions. The lab sets it."),
))
