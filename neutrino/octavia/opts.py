"""Octavia's quota options ([quotas] in octavia.conf), read from the
server's [quotas] section next to Neutron's (neutrino/options.py adds them)."""
from __future__ import annotations

from neutrino.config import Opt, int_range

QUOTA_RESOURCES = ("load_balancer", "listener", "pool", "member", "health_monitor",
                   "l7policy", "l7rule")
_WHAT = {"load_balancer": "Load balancers", "listener": "Listeners", "pool": "Pools",
         "member": "Members", "health_monitor": "Health monitors",
         "l7policy": "L7 policies", "l7rule": "L7 rules"}

QUOTA_OPTS = tuple(
    Opt(f"default_{name}_quota", int_range(-1), -1,
        f"{_WHAT[name]} per project (Octavia API) unless set for the project; -1: unlimited.")
    for name in QUOTA_RESOURCES)
