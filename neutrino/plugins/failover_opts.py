"""Options of the server's failover check (upstream's neutron.conf
[DEFAULT] names and defaults; see neutrino.rpc.failover)."""
from __future__ import annotations

from neutrino.config import Opt, to_bool

SERVER_OPTS = (
    Opt("allow_automatic_l3agent_failover", to_bool, False,
        "Move non-HA routers off L3 agents that have not reported for agent_down_time "
        "to a live L3 agent (the lab turns it on)."),
    Opt("allow_automatic_dhcp_failover", to_bool, True,
        "Take networks off DHCP agents that have not reported for agent_down_time (their "
        "DHCP ports deleted) and schedule them to live DHCP agents."),
)
