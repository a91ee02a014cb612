"""Agent options (linuxbridge_agent.ini), with upstream section and option names.

Parsed once into a frozen Config by neutrino.config.load and passed down;
`LinuxBridgeConf.from_config` turns the raw strings into the typed values
the reconciler uses (mappings as dicts, the VXLAN mode, ...).
"""
from __future__ import annotations

import ipaddress
import math
import socket

from neutrino.agent.metadata import options as metadata_options
from neutrino.config import (Opt, Schema, Section, choice, default_state_path, int_range,
                             string, to_bool, to_list)


def _mapping_list(raw: str) -> tuple[str, ...]:
    """'physnet1:eth1, external:eth2' -> ('physnet1:eth1', 'external:eth2'), validated."""
    items = to_list(raw)
    seen = set()
    for item in items:
        label, sep, dev = item.partition(":")
        if not sep or not label.strip() or not dev.strip():
            raise ValueError(f"{item!r} is not label:device")
        if label in seen:
            raise ValueError(f"physical network {label!r} is mapped twice")
        if len(dev.strip()) > 15:
            raise ValueError(f"device name {dev.strip()!r} is longer than 15 characters")
        seen.add(label)
    return items


def seconds(lo: float = 0):
    """A number of seconds, integer or not (upstream's FloatOpt)."""
    def parse(raw: str) -> float:
        value = float(raw.strip())
        if not math.isfinite(value):
            raise ValueError(f"{raw.strip()!r} is not a finite number")
        if value < lo:
            raise ValueError(f"{value:g} is below the minimum {lo:g}")
        return int(value) if value == int(value) else value
    parse.__name__ = "number"
    return parse


def _ip_or_empty(raw: str) -> str:
    raw = raw.strip()
    if raw:
        ipaddress.ip_address(raw)
    return raw


def _optional_int(lo: int, hi: int):
    conv = int_range(lo, hi)

    def parse(raw: str) -> int | None:
        return None if raw.strip() in ("", "None", "none") else conv(raw)
    parse.__name__ = "integer"
    return parse


AGENT_DEFAULT = Section("DEFAULT", (
    Opt("host", string, socket.gethostname(),
        "Name of this host, as used in binding:host_id (default: the hostname)."),
    Opt("transport_url", string, "inproc://",
        "Message bus to the server: rabbit://user:pass@host:port/vhost (inproc:// only "
        "when the agent runs inside the server process)."),
    Opt("control_exchange", string, "neutrino",
        "Prefix of the bus names (server target, per-host topics); server and agents "
        "must agree. Lets several deployments share one broker vhost."),
    Opt("state_path", string, default_state_path(), "Directory for the agent's state."),
    Opt("debug", to_bool, False, "Log at DEBUG level."),
    Opt("log_file", string, "", "Log to this file instead of stderr."),
    Opt("use_syslog", to_bool, False, "Accepted for compatibility.", ignored=True),
    Opt("log_dir", string, "", "Accepted for compatibility; see log_file.", ignored=True),
    Opt("verbose", to_bool, False, "Accepted for compatibility.", ignored=True),
    Opt("rpc_backend", string, "", "Accepted for compatibility; see transport_url.",
        ignored=True),
))

LINUX_BRIDGE = Section("linux_bridge", (
    Opt("physical_interface_mappings", _mapping_list, (),
        "physnet:interface pairs: flat networks enslave the interface, vlan networks "
        "put <interface>.<vid> devices on it."),
    Opt("bridge_mappings", _mapping_list, (),
        "physnet:bridge pairs: flat networks use this existing bridge (never created or "
        "deleted by the agent) instead of brq<net>."),
))

VXLAN = Section("vxlan", (
    Opt("enable_vxlan", to_bool, True, "Serve vxlan networks (needs local_ip)."),
    Opt("local_ip", _ip_or_empty, "", "This host's VTEP address (must be on an interface)."),
    Opt("vxlan_group", string, "224.0.0.1",
        "Multicast group for flooding (a single address, or a CIDR to spread VNIs over)."),
    Opt("udp_dstport", _optional_int(1, 65535), None,
        "UDP destination port (unset: the kernel's 8472, as upstream)."),
    Opt("ttl", _optional_int(1, 255), None, "TTL of VXLAN packets (unset: kernel default)."),
    Opt("tos", _optional_int(0, 255), None, "TOS of VXLAN packets (unset: kernel default)."),
    Opt("l2_population", to_bool, False,
        "Unicast flooding from the server's forwarding tables instead of multicast."),
    Opt("arp_responder", to_bool, False, "Answer ARP locally (with l2_population)."),
    Opt("multicast_ranges", to_list, (), "Accepted for compatibility.", ignored=True),
))

AGENT = Section("agent", (
    Opt("polling_interval", int_range(1), 2,
        "Seconds between kernel rescans (device changes are also seen at once through "
        "netlink events)."),
    Opt("report_interval", seconds(0), 30,
        "Seconds between heartbeats to the server (0: no heartbeats; the agent is then "
        "never alive and ports cannot bind)."),
    Opt("resync_interval", int_range(1), 60,
        "Seconds between full fetches of this host's desired state (neutrino addition: "
        "lost notifications are repaired at the latest after this)."),
    Opt("namespace_prefix", string, "",
        "Prefix of the network namespaces this host's agents create (simulated hosts on "
        "one machine use distinct prefixes so their qdhcp-/qrouter- namespaces never "
        "collide)."),
    Opt("quitting_rpc_timeout", int_range(1), 10, "Accepted for compatibility.", ignored=True),
    Opt("dscp", int_range(0, 63), 0, "Accepted for compatibility.", ignored=True),
))

IPTABLES_BACKENDS = ("auto", "nft", "legacy")    # [securitygroup] iptables_backend

SECURITY_GROUP = Section("securitygroup", (
    Opt("firewall_driver", choice("iptables", "nftables", "noop"), "iptables",
        "Security group firewall (iptables, nftables, noop)."),
    Opt("enable_security_group", to_bool, True, "Filter ports with security groups."),
    Opt("enable_ipset", to_bool, True, "Use ipsets for remote-group rules."),
    Opt("iptables_backend", choice(*IPTABLES_BACKENDS), "auto",
        "The iptables driver's tools (neutrino addition): auto, the iptables-save/-restore "
        "on PATH (upstream's behaviour: the host's alternative); nft, iptables-nft; "
        "legacy, iptables-legacy (x_tables): restores of whole tables, three times faster "
        "at thousands of ports (a cold start at 5,000 ports: 2.3-3.1 s against 5.7-9.9 s). "
        "ebtables always comes from PATH."),
))

LINUXBRIDGE_AGENT_SCHEMA = Schema(
    (AGENT_DEFAULT, LINUX_BRIDGE, VXLAN, AGENT, SECURITY_GROUP),
    ignored_sections=("oslo_concurrency", "oslo_messaging_rabbit", "network_log",
                      "oslo_messaging_notifications"),
)


from neutrino.plugins.l3.ha_opts import AGENT_OPTS as L3_HA_AGENT_OPTS  # noqa: E402

L3_DEFAULT = Section("DEFAULT", AGENT_DEFAULT.opts + (
    Opt("interface_driver", choice("linuxbridge", "neutron.agent.linux.interface."
                                   "BridgeInterfaceDriver"), "linuxbridge",
        "How router ports are plugged: linuxbridge (a veth whose tap<port> end the Linux "
        "bridge agent of this host puts on the network's bridge)."),
    Opt("agent_mode", choice("legacy"), "legacy",
        "legacy: every router of this agent is a namespace on this host (no DVR)."),
    Opt("handle_internal_only_routers", to_bool, True,
        "Serve routers without an external gateway."),
    Opt("external_network_bridge", string, "", "Accepted for compatibility.", ignored=True),
    Opt("send_arp_for_ha", int_range(0), 3,
        "Gratuitous ARPs sent for each address added to a router port (0: none)."),
) + L3_HA_AGENT_OPTS + metadata_options.L3_OPTS + metadata_options.SHARED_OPTS)

FWAAS_DRIVERS = ("iptables_v2", "neutron_fwaas.services.firewall.service_drivers.agents."
                 "drivers.linux.iptables_fwaas_v2.IptablesFwaasDriver")
L3_FWAAS = Section("fwaas", (
    Opt("enabled", to_bool, True,
        "Enforce FWaaS v2 firewall groups on this agent's router ports (false: the agent "
        "removes its FWaaS chains and reports no firewall group status)."),
    Opt("driver", choice(*FWAAS_DRIVERS), "iptables_v2",
        "The FWaaS driver: iptables_v2 (upstream's class path means the same)."),
    Opt("agent_version", string, "v2", "Accepted for compatibility.", ignored=True),
    Opt("conntrack_driver", string, "conntrack", "Accepted for compatibility.", ignored=True),
    Opt("firewall_l2_driver", string, "noop", "Accepted for compatibility.", ignored=True),
))

AZ_OPT = Opt("availability_zone", string, "nova",
             "The availability zone this agent reports (GET /v2.0/availability_zones; "
             "networks' availability_zones are their DHCP agents' zones).")
L3_AGENT_SCHEMA = Schema(
    (L3_DEFAULT, Section("agent", AGENT.opts + (AZ_OPT,)), metadata_options.RATE_LIMITING,
     L3_FWAAS),
    ignored_sections=("oslo_concurrency", "oslo_messaging_rabbit",
                      "oslo_messaging_notifications", "ovs"),
)


def parse_mappings(items) -> dict[str, str]:
    return {label.strip(): dev.strip()
            for label, _, dev in (item.partition(":") for item in items)}


# --- dhcp_agent.ini ---------------------------------------------------------------

def _choice(*allowed: str):
    def parse(raw: str) -> str:
        value = raw.strip()
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value
    parse.__name__ = "string"
    return parse


def _ip_list(raw: str) -> tuple[str, ...]:
    items = to_list(raw)
    for item in items:
        ipaddress.ip_address(item)
    return items


DHCP_DEFAULT = Section("DEFAULT", AGENT_DEFAULT.opts + (
    Opt("interface_driver", _choice("linuxbridge", "neutron.agent.linux.interface."
                                    "BridgeInterfaceDriver"), "linuxbridge",
        "How the DHCP namespace is plugged: a veth whose tap end the L2 agent wires "
        "(linuxbridge is the only driver)."),
    Opt("dhcp_driver", _choice("dnsmasq", "neutron.agent.linux.dhcp.Dnsmasq"), "dnsmasq",
        "The DHCP server (dnsmasq is the only driver)."),
    *metadata_options.DHCP_OPTS, *metadata_options.SHARED_OPTS,
    Opt("dnsmasq_dns_servers", _ip_list, (),
        "Upstream DNS servers dnsmasq forwards to (empty: the namespace's resolv.conf)."),
    Opt("dnsmasq_lease_max", int_range(1), 16777216,
        "Maximum number of leases per dnsmasq (--dhcp-lease-max)."),
    Opt("dhcp_domain", string, "openstacklocal", "Domain of the instances' host names."),
    Opt("dns_domain", string, "",
        "Upstream's name of dhcp_domain (neutron.conf's [DEFAULT] dns_domain, which upstream's "
        "DHCP agent reads): when set, it is the domain instead of dhcp_domain."),
    Opt("num_sync_threads", int_range(1), 4,
        "Networks converged in parallel during a full resync."),
    Opt("resync_interval", int_range(1), 5,
        "Seconds between periodic checks with the server (each network's digest; those "
        "not as last fetched are fetched again); every 12th, a full resync."),
    Opt("dnsmasq_binary", string, "dnsmasq", "The dnsmasq executable."),
))

DHCP_AGENT_SECTION = Section("agent", (
    Opt("report_interval", seconds(0), 30,
        "Seconds between heartbeats to the server (0: never report)."),
    Opt("check_child_processes_interval", int_range(0), 1,
        "Seconds between checks that every dnsmasq is alive (0: never)."),
    Opt("namespace_prefix", string, "",
        "Prefix of the qdhcp- namespace names (the lab uses it to keep hosts apart)."),
    AZ_OPT,
))

DHCP_AGENT_SCHEMA = Schema(
    (DHCP_DEFAULT, DHCP_AGENT_SECTION, metadata_options.RATE_LIMITING),
    ignored_sections=("oslo_concurrency", "oslo_messaging_rabbit",
                      "oslo_messaging_notifications"),
)


# --- metadata_agent.ini -----------------------------------------------------------

METADATA_AGENT_SCHEMA = Schema(
    (Section("DEFAULT", AGENT_DEFAULT.opts + metadata_options.SHARED_OPTS
             + metadata_options.PROXY_HANDLER_OPTS + metadata_options.UNIX_SOCKET_OPTS),
     Section("agent", (
         Opt("report_interval", seconds(0), 30,
             "Seconds between heartbeats to the server (0: never report)."),
         Opt("log_agent_heartbeats", to_bool, False, "Accepted for compatibility.",
             ignored=True)))),
    ignored_sections=("oslo_concurrency", "oslo_messaging_rabbit",
                      "oslo_messaging_notifications", "cache", "metadata_rate_limiting"),
)
