"""Load balancing tables (the Octavia v2 API, neutrino/octavia/).

Every object below a load balancer carries its `loadbalancer_id`, so one
indexed query reads a whole tree (the agent's payload, the status tree, the
report that turns a tree ACTIVE) and ON DELETE CASCADE removes it. JSON-ish
attributes (tags, insert_headers, allowed_cidrs, session_persistence) are
stored as text: nothing filters on their insides.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, ForeignKey, Integer, String,
                        Table, Text, UniqueConstraint)

from neutrino.db.models import IP, NAME, PROJECT, UUID, metadata


def _common(*extra: Column) -> list[Column]:
    return [Column("project_id", PROJECT, nullable=False, index=True),
            Column("name", NAME, nullable=False, default=""),
            Column("description", String(255), nullable=False, default=""),
            Column("admin_state_up", Boolean, nullable=False, default=True),
            Column("provisioning_status", String(16), nullable=False),
            Column("operating_status", String(16), nullable=False),
            Column("tags", Text, nullable=False, default="[]"),
            Column("created_at", DateTime, nullable=False),
            Column("updated_at", DateTime),
            *extra]


def _lb_fk() -> Column:
    return Column("loadbalancer_id", UUID,
                  ForeignKey("lbaas_loadbalancers.id", ondelete="CASCADE"),
                  nullable=False, index=True)


def _stats() -> list[Column]:
    return [Column(name, BigInteger, nullable=False, default=0)
            for name in ("bytes_in", "bytes_out", "active_connections", "total_connections",
                         "request_errors")]


loadbalancers = Table(
    "lbaas_loadbalancers", metadata,
    Column("id", UUID, primary_key=True),
    *_common(),
    Column("provider", String(64), nullable=False),
    Column("flavor_id", UUID),
    Column("availability_zone", String(255)),
    Column("vip_address", IP),
    Column("vip_port_id", UUID, index=True),
    Column("vip_subnet_id", UUID),
    Column("vip_network_id", UUID),
    # True when neutrino created the VIP port (deleted with the load
    # balancer); False for a vip_port_id the user gave (handed back).
    Column("vip_port_owned", Boolean, nullable=False, default=True),
    Column("vip_sg_id", UUID),
    # Bumped by every change of anything in the tree: the agent's "version".
    Column("version", Integer, nullable=False, default=1),
    Column("epoch", Integer, nullable=False, default=0),      # +1 per failover
    Column("status_reason", Text),
)

loadbalancer_agents = Table(
    "lbaas_loadbalancer_agents", metadata,
    Column("loadbalancer_id", UUID, ForeignKey("lbaas_loadbalancers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("agent_id", UUID, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False,
           index=True),
)

listeners = Table(
    "lbaas_listeners", metadata,
    Column("id", UUID, primary_key=True),
    _lb_fk(),
    *_common(),
    Column("protocol", String(32), nullable=False),
    Column("protocol_port", Integer, nullable=False),
    Column("connection_limit", Integer, nullable=False, default=-1),
    Column("default_pool_id", UUID),
    Column("timeout_client_data", Integer, nullable=False),
    Column("timeout_member_connect", Integer, nullable=False),
    Column("timeout_member_data", Integer, nullable=False),
    Column("timeout_tcp_inspect", Integer, nullable=False),
    Column("insert_headers", Text, nullable=False, default="{}"),
    Column("allowed_cidrs", Text, nullable=False, default="[]"),
    *_stats(),
    UniqueConstraint("loadbalancer_id", "protocol_port", "protocol"),
)

pools = Table(
    "lbaas_pools", metadata,
    Column("id", UUID, primary_key=True),
    _lb_fk(),
    *_common(),
    Column("protocol", String(32), nullable=False),
    Column("lb_algorithm", String(32), nullable=False),
    Column("session_persistence", Text),
)

members = Table(
    "lbaas_members", metadata,
    Column("id", UUID, primary_key=True),
    _lb_fk(),
    Column("pool_id", UUID, ForeignKey("lbaas_pools.id", ondelete="CASCADE"), nullable=False,
           index=True),
    *_common(),
    Column("address", IP, nullable=False),
    Column("protocol_port", Integer, nullable=False),
    Column("weight", Integer, nullable=False, default=1),
    Column("backup", Boolean, nullable=False, default=False),
    Column("subnet_id", UUID),
    Column("monitor_address", IP),
    Column("monitor_port", Integer),
    UniqueConstraint("pool_id", "address", "protocol_port"),
)

healthmonitors = Table(
    "lbaas_healthmonitors", metadata,
    Column("id", UUID, primary_key=True),
    _lb_fk(),
    Column("pool_id", UUID, ForeignKey("lbaas_pools.id", ondelete="CASCADE"), nullable=False,
           unique=True),
    *_common(),
    Column("type", String(32), nullable=False),
    Column("delay", Integer, nullable=False),
    Column("timeout", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("max_retries_down", Integer, nullable=False),
    Column("http_method", String(16)),
    Column("url_path", String(2048)),
    Column("expected_codes", String(64)),
    Column("http_version", String(8)),
    Column("domain_name", String(255)),
)

l7policies = Table(
    "lbaas_l7policies", metadata,
    Column("id", UUID, primary_key=True),
    _lb_fk(),
    Column("listener_id", UUID, ForeignKey("lbaas_listeners.id", ondelete="CASCADE"),
           nullable=False, index=True),
    *_common(),
    Column("action", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    Column("redirect_pool_id", UUID),
    Column("redirect_url", String(2048)),
    Column("redirect_prefix", String(2048)),
    Column("redirect_http_code", Integer),
)

l7rules = Table(
    "lbaas_l7rules", metadata,
    Column("id", UUID, primary_key=True),
    _lb_fk(),
    Column("l7policy_id", UUID, ForeignKey("lbaas_l7policies.id", ondelete="CASCADE"),
           nullable=False, index=True),
    *_common(),
    Column("type", String(32), nullable=False),
    Column("compare_type", String(32), nullable=False),
    Column("key", String(255)),
    Column("value", String(255), nullable=False),
    Column("invert", Boolean, nullable=False, default=False),
)

quotas = Table(
    "lbaas_quotas", metadata,
    Column("project_id", PROJECT, primary_key=True),
    *[Column(name, Integer) for name in ("load_balancer", "listener", "pool", "member",
                                         "health_monitor", "l7policy", "l7rule")],
)
