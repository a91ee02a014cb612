"""The server's options (neutron.conf + ml2_conf.ini), with upstream names.

docs/configuration.md is checked against these lists by a test, so every
option here is documented there.
"""
from __future__ import annotations

from neutrino.config import (Opt, Schema, Section, choice, default_state_path,
                             int_range, string, to_bool, to_list)
from neutrino.octavia.opts import QUOTA_OPTS as LBAAS_QUOTA_OPTS
from neutrino.dashboard.opts import DASHBOARD
from neutrino.plugins.fwaas import opts as fwaas_opts
from neutrino.plugins.l3.ha_opts import SERVER_OPTS as L3_HA_OPTS
from neutrino.plugins.failover_opts import SERVER_OPTS as FAILOVER_OPTS
from neutrino.plugins.fwaas.opts import QUOTA_OPTS as FWAAS_QUOTA_OPTS
from neutrino.identity.opts import (IDENTITY, KEYSTONE_AUTHTOKEN, SECURITY_COMPLIANCE,
                                    resolve_identity)


def _mac(raw: str) -> str:
    parts = raw.strip().lower().split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                  for p in parts):
        raise ValueError(f"{raw!r} is not a MAC address")
    return ":".join(parts)


DEFAULT = Section("DEFAULT", (
    Opt("bind_host", string, "0.0.0.0", "Address the API server listens on."),
    Opt("bind_port", int_range(1, 65535), 9696, "Port the API server listens on."),
    Opt("api_workers", int_range(1, 64), 2,
        "Number of API worker processes (each with its own DB pool)."),
    Opt("auth_strategy", choice("noauth", "keystone"), "noauth",
        "noauth: trust X-Project-Id/X-Roles/X-User-Id headers (no headers: admin "
        "of a default project). keystone: validate X-Auth-Token."),
    Opt("state_path", string, default_state_path(),
        "Directory for neutrino's state: the embedded SQLite database, DHCP files, locks."),
    Opt("global_physnet_mtu", int_range(68, 65535), 1500,
        "MTU of the underlying physical network; vxlan networks get 50 bytes less."),
    Opt("base_mac", _mac, "fa:16:3e:00:00:00",
        "MAC prefix for ports: the bytes that are not 00 are kept, the rest random."),
    Opt("allow_overlapping_ips", to_bool, True,
        "Allow the same CIDR on subnets of different networks."),
    Opt("transport_url", string, "inproc://",
        "Message bus between server and agents: inproc:// (all-in-one, agents in "
        "the server's process) or rabbit://user:pass@host:port/vhost."),
    Opt("control_exchange", string, "neutrino",
        "Prefix of the bus's queue and topic names; servers and agents of one cloud "
        "share it."),
    Opt("default_project_id", string, "00000000000000000000000000000000",
        "noauth only: the project of requests that carry no X-Project-Id."),
    Opt("agent_down_time", int_range(1), 75,
        "Seconds without a heartbeat after which an agent is considered dead."),
    Opt("dhcp_agents_per_network", int_range(1), 1,
        "Number of DHCP agents scheduled to serve each network with a DHCP subnet."),
    *L3_HA_OPTS,     # HA routers (neutrino.plugins.l3.ha_opts)
    *FAILOVER_OPTS,  # agent failover (neutrino.plugins.failover_opts)
    Opt("dns_domain", string, "openstacklocal", "Domain for port host names (DHCP)."),
    Opt("max_dns_nameservers", int_range(0), 5, "Maximum DNS nameservers per subnet."),
    Opt("max_subnet_host_routes", int_range(0), 20, "Maximum host routes per subnet."),
    Opt("max_fixed_ips_per_port", int_range(1), 5, "Maximum fixed IPs per port."),
    Opt("mac_generation_retries", int_range(1), 16,
        "Accepted for compatibility (no effect): a MAC collision retries the whole "
        "transaction, up to [database] max_retries.", ignored=True),
    Opt("pagination_max_limit", int_range(-1), -1,
        "Largest page a list may return (-1: no limit)."),
    Opt("max_filter_values", int_range(-1), 1000,
        "Most values one list filter may have (id=a&id=b..., tags=a,b,...); -1: no cap."),
    Opt("max_allowed_address_pair", int_range(-1), 10,
        "Most allowed address pairs a port may have; -1: no cap."),
    Opt("debug", to_bool, False, "Log at DEBUG level."),
    Opt("log_file", string, "", "Log to this file instead of stderr."),
    # Upstream options that neutrino accepts so operators can reuse their files.
    Opt("core_plugin", string, "ml2", "Accepted for compatibility; always ml2.", ignored=True),
    Opt("service_plugins", to_list, (), "Accepted for compatibility; services are built in.",
        ignored=True),
    Opt("rpc_backend", string, "", "Accepted for compatibility; see transport_url.", ignored=True),
    Opt("notify_nova_on_port_status_changes", to_bool, False, "Accepted; no Nova.",
        ignored=True),
    Opt("notify_nova_on_port_data_changes", to_bool, False, "Accepted; no Nova.", ignored=True),
    Opt("use_syslog", to_bool, False, "Accepted for compatibility.", ignored=True),
    Opt("log_dir", string, "", "Accepted for compatibility; see log_file.", ignored=True),
    Opt("verbose", to_bool, False, "Accepted for compatibility.", ignored=True),
))

DATABASE = Section("database", (
    Opt("connection", string, "",
        "SQLAlchemy URL. Empty: SQLite file <state_path>/neutrino.sqlite (WAL). "
        "postgresql://… and mysql+pymysql://… are supported."),
    Opt("max_pool_size", int_range(1), 10, "Connections kept per API worker."),
    Opt("max_overflow", int_range(0), 20, "Extra connections per worker under load."),
    Opt("pool_timeout", int_range(1), 30, "Seconds to wait for a pooled connection."),
    Opt("connection_recycle_time", int_range(1), 3600, "Recycle connections older than this."),
    Opt("max_retries", int_range(1), 20,
        "Attempts for a transaction that hit a conflict (deadlock, allocation race)."),
    Opt("statement_timeout", int_range(0), 60,
        "Seconds one SQL statement of the API server may run or wait for a lock before the "
        "database cancels it (PostgreSQL statement_timeout, MariaDB max_statement_time, "
        "MySQL max_execution_time for SELECTs, SQLite a progress handler); the call is "
        "answered 503. 0: no limit. neutrino-db-manage runs without it."),
))

ML2 = Section("ml2", (
    Opt("type_drivers", to_list, ("local", "flat", "vlan", "vxlan"),
        "Network types that can be created."),
    Opt("tenant_network_types", to_list, ("local",),
        "Types given to tenant networks, in order of preference (first with a free segment)."),
    Opt("mechanism_drivers", to_list, ("linuxbridge",),
        "Mechanism drivers: linuxbridge, l2population."),
    Opt("extension_drivers", to_list, ("port_security",),
        "Accepted for compatibility (no effect): port_security is always on.", ignored=True),
    Opt("path_mtu", int_range(0), 0, "Maximum MTU of the overlay path (0: global_physnet_mtu)."),
    Opt("physical_network_mtus", to_list, (), "Per-physnet MTU, label:mtu."),
    Opt("overlay_ip_version", choice("4", "6"), "4",
        "Accepted for compatibility (no effect): VXLAN endpoints are IPv4.", ignored=True),
))

ML2_FLAT = Section("ml2_type_flat", (
    Opt("flat_networks", to_list, ("*",),
        "Physical networks usable by flat networks; * means any."),
))

ML2_VLAN = Section("ml2_type_vlan", (
    Opt("network_vlan_ranges", to_list, (),
        "label:min:max for tenant VLANs, or a bare label (admin-only, any id)."),
))

ML2_VXLAN = Section("ml2_type_vxlan", (
    Opt("vni_ranges", to_list, (), "min:max VNI ranges for tenant networks."),
    Opt("vxlan_group", string, "",
        "Accepted for compatibility (no effect): agents take the group from their own "
        "[vxlan] vxlan_group.", ignored=True),
))

QUOTAS = Section("quotas", (
    Opt("default_quota", int_range(-1), -1, "Default for resources without their own (-1: unlimited)."),
    Opt("quota_network", int_range(-1), 100, "Networks per project."),
    Opt("quota_subnet", int_range(-1), 100, "Subnets per project."),
    Opt("quota_port", int_range(-1), 500, "Ports per project."),
    Opt("quota_router", int_range(-1), 10, "Routers per project."),
    Opt("quota_floatingip", int_range(-1), 50, "Floating IPs per project."),
    Opt("quota_security_group", int_range(-1), 10, "Security groups per project."),
    Opt("quota_security_group_rule", int_range(-1), 100, "Security group rules per project."),
    Opt("quota_rbac_policy", int_range(-1), 10, "RBAC policies per project."),
    *FWAAS_QUOTA_OPTS,   # neutron-fwaas's quota_firewall_* (neutrino/plugins/fwaas/opts.py)
    Opt("quota_driver", string, "", "Accepted for compatibility; quotas live in the database.",
        ignored=True),
    Opt("track_quota_usage", to_bool, True, "Accepted for compatibility.", ignored=True),
    *LBAAS_QUOTA_OPTS,   # Octavia's default_<resource>_quota (neutrino/octavia/opts.py)
))

OSLO_POLICY = Section("oslo_policy", (
    Opt("policy_file", string, "policy.yaml",
        "YAML/JSON rules overriding the defaults (relative: next to the first config file)."),
    Opt("enforce_new_defaults", to_bool, True, "Accepted; the new (reader/member) defaults apply.",
        ignored=True),
    Opt("enforce_scope", to_bool, True, "Accepted for compatibility.", ignored=True),
))

OSLO_MIDDLEWARE = Section("oslo_middleware", (
    Opt("max_request_body_size", int_range(0), 114688,
        "Largest request body accepted, bytes; a larger one is answered 413 without being "
        "read (from its Content-Length, or counted while a chunked body streams in). "
        "0: no limit."),
    Opt("enable_proxy_headers_parsing", to_bool, False, "Accepted for compatibility; no effect.",
        ignored=True),
))

SERVER_SCHEMA = Schema(
    (DEFAULT, DATABASE, ML2, ML2_FLAT, ML2_VLAN, ML2_VXLAN, QUOTAS, OSLO_POLICY,
     OSLO_MIDDLEWARE, KEYSTONE_AUTHTOKEN, IDENTITY, SECURITY_COMPLIANCE,
     fwaas_opts.DEFAULT_FWG_RULES, DASHBOARD),
    ignored_sections=("oslo_concurrency", "nova", "oslo_messaging_rabbit",
                      "oslo_messaging_notifications", "securitygroup", "agent",
                      "placement", "experimental"),
    finalize=lambda cfg: fwaas_opts.check(resolve_identity(cfg)),
)
