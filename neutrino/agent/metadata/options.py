"""Metadata options, with upstream's names, sections and defaults.

metadata_agent.ini ([DEFAULT] and [agent]) for neutrino-metadata-agent, and
the options the L3 and DHCP agents share with it (where the agent's unix
socket is) or add for the proxies they start. neutrino.agent_options puts
them into the L3, DHCP and metadata-agent schemas.
"""
from __future__ import annotations

import os
from pathlib import Path

from neutrino.config import Opt, Section, choice, int_range, string, to_bool, to_list

# --- shared by the L3, DHCP and metadata agents (upstream's SHARED_OPTS) -----------

SHARED_OPTS = (
    Opt("metadata_proxy_socket", string, "$state_path/metadata_proxy",
        "The metadata agent's unix socket: the metadata agent listens on it, the "
        "haproxy proxies of the L3 and DHCP agents forward to it ($state_path is "
        "replaced by [DEFAULT] state_path)."),
    Opt("metadata_proxy_user", string, "",
        "User (name or uid) the haproxy metadata proxies run as (empty: the agent's "
        "effective user)."),
    Opt("metadata_proxy_group", string, "",
        "Group (name or gid) the haproxy metadata proxies run as (empty: the agent's "
        "effective group)."),
)

# --- metadata_agent.ini [DEFAULT] -----------------------------------------------------

PROXY_HANDLER_OPTS = (
    Opt("nova_metadata_host", string, "127.0.0.1",
        "IP address or DNS name of the Nova metadata server."),
    Opt("nova_metadata_port", int_range(1, 65535), 8775,
        "TCP port of the Nova metadata server."),
    Opt("nova_metadata_protocol", choice("http", "https"), "http",
        "Protocol to reach the Nova metadata server."),
    Opt("nova_metadata_insecure", to_bool, False,
        "https: do not verify the Nova metadata server's certificate."),
    Opt("metadata_proxy_shared_secret", string, "",
        "Secret of the X-Instance-ID-Signature header (HMAC-SHA256 of the instance "
        "id); Nova must have the same value in its [neutron] section."),
    Opt("auth_ca_cert", string, "",
        "CA certificate file to verify the Nova metadata server (https)."),
    Opt("nova_client_cert", string, "",
        "Client certificate presented to the Nova metadata server (https)."),
    Opt("nova_client_priv_key", string, "", "Private key of nova_client_cert."),
)

UNIX_SOCKET_OPTS = (
    Opt("metadata_proxy_socket_mode", choice("deduce", "user", "group", "all"), "deduce",
        "Mode of the unix socket: user 0644, group 0664, all 0666; deduce: from "
        "metadata_proxy_user/group (user when they are the agent's own)."),
    Opt("metadata_workers", int_range(0), max(1, (os.cpu_count() or 2) // 2),
        "Requests served at once (neutrino serves them on threads, not processes: "
        "the number bounds the threads)."),
    Opt("metadata_backlog", int_range(1), 4096, "Listen backlog of the unix socket."),
)

# --- l3_agent.ini [DEFAULT] ------------------------------------------------------------

L3_OPTS = (
    Opt("enable_metadata_proxy", to_bool, True,
        "Run a metadata proxy (haproxy on metadata_port) in every router namespace and "
        "redirect 169.254.169.254:80 to it."),
    Opt("metadata_port", int_range(1, 65535), 9697,
        "Port the router namespace's metadata proxy listens on."),
    Opt("metadata_access_mark", string, "0x1",
        "iptables mark of the requests to 169.254.169.254:80 coming in on qr- devices "
        "(only they may reach metadata_port)."),
)

# --- dhcp_agent.ini [DEFAULT] ----------------------------------------------------------

DHCP_OPTS = (
    Opt("enable_isolated_metadata", to_bool, False,
        "Serve metadata from the DHCP namespace to subnets without a router (their "
        "instances get a host route to 169.254.169.254 via the DHCP port)."),
    Opt("force_metadata", to_bool, False,
        "Serve metadata from the DHCP namespace on every network, routed or not."),
    Opt("enable_metadata_network", to_bool, False,
        "With enable_isolated_metadata: also serve networks with a subnet in "
        "169.254.0.0/16 (a dedicated metadata network)."),
)


# --- l3_agent.ini and dhcp_agent.ini [metadata_rate_limiting] ---------------------------

RATE_LIMITING = Section("metadata_rate_limiting", (
    Opt("rate_limit_enabled", to_bool, False,
        "Limit the metadata requests of each instance (haproxy answers 429 beyond)."),
    Opt("ip_versions", to_list, ("4",),
        "Address versions to limit (one of 4, 6; neutrino serves metadata over IPv4 "
        "only, so 4; anything else is logged and the limits are off, as upstream does "
        "with versions it cannot use)."),
    Opt("base_window_duration", int_range(1), 10, "Seconds of the base window."),
    Opt("base_query_rate_limit", int_range(1), 10,
        "Requests of one address accepted in the base window."),
    Opt("burst_window_duration", int_range(1), 10, "Seconds of the burst window."),
    Opt("burst_query_rate_limit", int_range(1), 10,
        "Requests of one address accepted in the burst window."),
))


def socket_path(raw: str, state_path: str) -> str:
    """metadata_proxy_socket with $state_path (oslo.config's interpolation) done."""
    return str(Path(raw.replace("$state_path", state_path).replace("${state_path}",
                                                                   state_path)))
