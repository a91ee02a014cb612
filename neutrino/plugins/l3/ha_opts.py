"""Options of HA routers (upstream's neutron/conf/l3/ha.py and
neutron/conf/agent/l3/ha.py, same names and defaults)."""
from __future__ import annotations

import ipaddress
import math

from neutrino.config import Opt, choice, int_range, string, to_bool


def _cidr(raw: str) -> str:
    net = ipaddress.ip_network(raw.strip(), strict=False)
    if net.version != 4 or net.prefixlen > 29:
        raise ValueError(f"{raw.strip()!r} is not an IPv4 CIDR of at least 8 addresses")
    return str(net)


def _advert(raw: str) -> float:
    """Seconds; fractions (VRRPv3 centiseconds) are a neutrino extension."""
    value = float(raw.strip())
    if not math.isfinite(value) or not 0.01 <= value <= 255:
        raise ValueError(f"{raw.strip()!r} is not between 0.01 and 255")
    return int(value) if value == int(value) else round(value, 2)


_advert.__name__ = "number"

# neutron.conf [DEFAULT], the server.
SERVER_OPTS = (
    Opt("l3_ha", to_bool, False,
        "Create routers highly available (the default of a router's `ha`)."),
    Opt("max_l3_agents_per_router", int_range(0), 3,
        "Most L3 agents an HA router is scheduled to (0: every live one)."),
    Opt("min_l3_agents_per_router", int_range(0), 2,
        "Accepted for compatibility (removed upstream): an HA router is scheduled to "
        "however many live agents there are.", ignored=True),
    Opt("l3_ha_net_cidr", _cidr, "169.254.192.0/18",
        "Subnet of the per-project HA networks (addresses of the ha- ports)."),
    Opt("l3_ha_network_type", string, "",
        "Network type of the HA networks (empty: the first of tenant_network_types)."),
    Opt("l3_ha_network_physical_name", string, "",
        "Physical network of the HA networks, for flat and vlan types."),
)

# l3_agent.ini [DEFAULT], the agent.
AGENT_OPTS = (
    Opt("ha_confs_path", string, "",
        "Where keepalived's files of each HA router live (empty: <state_path>/ha_confs)."),
    Opt("ha_vrrp_auth_type", choice("AH", "PASS"), "PASS",
        "VRRP authentication type (with a password only)."),
    Opt("ha_vrrp_auth_password", string, "",
        "VRRP authentication password (empty: no authentication)."),
    Opt("ha_vrrp_advert_int", _advert, 2,
        "Seconds between VRRP advertisements; a standby takes over after about three "
        "missed ones. Fractions (0.5) select VRRP version 3."),
)
