"""Tables. Core tables (not ORM classes): the plugins read and write rows as
dicts, which keeps list calls of thousands of ports fast.

Allocation safety lives here as unique keys: (subnet_id, ip_address) for IPs,
(network_id, mac_address) for MACs and segments.alloc_key for VLAN ids, VNIs
and flat physnets. Writers insert and retry on conflict; nobody relies on
read-then-write.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Index, Integer,
                        MetaData, String, Table, Text, UniqueConstraint)

# Every foreign key column leads an index (tests/unit/test_schema_indexes.py):
# deleting a parent row looks its children up by that column, and neither
# SQLite nor PostgreSQL indexes it by itself (a port delete scanned all
# floating IPs: 5.9 ms per delete at 20,000 of them on SQLite, 0.3 indexed).
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

UUID = String(36)
PROJECT = String(255)
NAME = String(255)
IP = String(64)


def _standard(*extra: Column) -> list[Column]:
    """Neutron's standard attributes: timestamps and revision."""
    return [
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        Column("revision_number", Integer, nullable=False, default=0),
        *extra,
    ]


networks = Table(
    "networks", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("shared", Boolean, nullable=False, default=False),
    Column("external", Boolean, nullable=False, default=False),
    Column("mtu", Integer, nullable=False),
    Column("port_security_enabled", Boolean, nullable=False, default=True),
    *_standard(),
)

segments = Table(
    "network_segments", metadata,
    Column("id", UUID, primary_key=True),
    Column("network_id", UUID, ForeignKey("networks.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("network_type", String(32), nullable=False),
    Column("physical_network", String(64)),
    Column("segmentation_id", Integer),
    # "vlan:physnet1:100", "vxlan::5000", "flat:physnet1:"; NULL for local.
    # Unique: two networks never share a segment, whatever the race.
    Column("alloc_key", String(128), unique=True),
    # segment extension (migration 0015): the network's first segment (index
    # 0) is the one the provider:* attributes show; timestamps NULL on rows
    # older than 0015 (their network's are shown).
    Column("segment_index", Integer, nullable=False, default=0, server_default="0"),
    Column("name", NAME),
    Column("description", String(255), nullable=False, default="", server_default=""),
    Column("created_at", DateTime),
    Column("updated_at", DateTime),
    Column("revision_number", Integer, nullable=False, default=0, server_default="0"),
)

subnets = Table(
    "subnets", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("network_id", UUID, ForeignKey("networks.id"), nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("ip_version", Integer, nullable=False),
    Column("cidr", String(64), nullable=False),
    Column("gateway_ip", IP),
    Column("enable_dhcp", Boolean, nullable=False),
    Column("ipv6_ra_mode", String(16)),
    Column("ipv6_address_mode", String(16)),
    Column("subnetpool_id", UUID),
    *_standard(),
)

allocation_pools = Table(
    "allocation_pools", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subnet_id", UUID, ForeignKey("subnets.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("first_ip", IP, nullable=False),
    Column("last_ip", IP, nullable=False),
)

dns_nameservers = Table(
    "dns_nameservers", metadata,
    Column("subnet_id", UUID, ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True),
    Column("address", IP, primary_key=True),
    Column("position", Integer, nullable=False),
)

host_routes = Table(
    "subnet_routes", metadata,
    Column("subnet_id", UUID, ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True),
    Column("destination", String(64), primary_key=True),
    Column("nexthop", IP, primary_key=True),
)

ports = Table(
    "ports", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("network_id", UUID, ForeignKey("networks.id"), nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("mac_address", String(32), nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("device_id", String(255), nullable=False, default=""),
    Column("device_owner", String(255), nullable=False, default=""),
    Column("port_security_enabled", Boolean, nullable=False, default=True),
    # Binding (ML2 port binding extension), kept on the port row: one fewer
    # join on every list.
    Column("binding_host", String(255), nullable=False, default="", index=True),
    Column("binding_vif_type", String(64), nullable=False, default="unbound"),
    Column("binding_vif_details", Text, nullable=False, default="{}"),
    Column("binding_vnic_type", String(64), nullable=False, default="normal"),
    Column("binding_profile", Text, nullable=False, default="{}"),
    *_standard(),
    UniqueConstraint("network_id", "mac_address"),
    Index("ix_ports_device", "device_id"),
)

ip_allocations = Table(
    "ip_allocations", metadata,
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("ip_address", IP, nullable=False),
    Column("subnet_id", UUID, ForeignKey("subnets.id"), nullable=False),
    Column("network_id", UUID, nullable=False, index=True),
    UniqueConstraint("subnet_id", "ip_address"),
)

allowed_address_pairs = Table(
    "allowed_address_pairs", metadata,
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("mac_address", String(32), primary_key=True),
    Column("ip_address", String(64), primary_key=True),
)

security_groups = Table(
    "security_groups", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("stateful", Boolean, nullable=False, default=True),
    # Set only on each project's "default" group: makes its creation race-free.
    Column("default_for", PROJECT, unique=True),
    *_standard(),
)

security_group_rules = Table(
    "security_group_rules", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("security_group_id", UUID, ForeignKey("security_groups.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("remote_group_id", UUID, ForeignKey("security_groups.id", ondelete="CASCADE"),
           index=True),
    Column("remote_address_group_id", UUID),
    Column("direction", String(16), nullable=False),
    Column("ethertype", String(8), nullable=False),
    Column("protocol", String(40)),
    Column("port_range_min", Integer),
    Column("port_range_max", Integer),
    Column("remote_ip_prefix", String(64)),
    Column("description", String(255), nullable=False, default=""),
    Column("normalized_cidr", String(64)),
    *_standard(),
)

port_security_groups = Table(
    "port_security_groups", metadata,
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("security_group_id", UUID, ForeignKey("security_groups.id"), primary_key=True,
           index=True),
)

tags = Table(
    "tags", metadata,
    Column("resource_id", UUID, primary_key=True),
    Column("tag", String(255), primary_key=True),
    Column("resource_type", String(32), nullable=False),
)

quotas = Table(
    "quotas", metadata,
    Column("project_id", PROJECT, primary_key=True),
    Column("resource", String(64), primary_key=True),
    Column("limit", Integer, nullable=False),
)

# One row per (project, resource) whose quota was enforced: a create locks its
# row (SELECT ... FOR UPDATE) before counting, so that the count and the
# insert are atomic with respect to other creates of that project. SQLite
# needs no row: its writers are serialized (BEGIN IMMEDIATE).
quota_locks = Table(
    "quota_locks", metadata,
    Column("project_id", PROJECT, primary_key=True),
    Column("resource", String(64), primary_key=True),
)

agents = Table(
    "agents", metadata,
    Column("id", UUID, primary_key=True),
    Column("agent_type", String(255), nullable=False),
    Column("binary", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("availability_zone", String(255)),
    Column("admin_state_up", Boolean, nullable=False, default=True),
    Column("description", String(255), nullable=False, default=""),
    Column("configurations", Text, nullable=False, default="{}"),
    Column("resource_versions", Text, nullable=False, default="{}"),
    Column("load", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("heartbeat_timestamp", DateTime, nullable=False),
    UniqueConstraint("agent_type", "host"),
)

routers = Table(
    "routers", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("gw_port_id", UUID, ForeignKey("ports.id", ondelete="SET NULL"), index=True),
    Column("enable_snat", Boolean, nullable=False, default=True),
    *_standard(),
    # HA routers (neutrino.plugins.l3.ha): VRRP between several L3 agents
    Column("ha", Boolean, nullable=False, default=False, server_default="0"),
)

router_ports = Table(
    "router_ports", metadata,
    Column("router_id", UUID, ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True),
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True,
           unique=True),
    Column("port_type", String(255), nullable=False),
)

router_routes = Table(
    "router_routes", metadata,
    Column("router_id", UUID, ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True),
    Column("destination", String(64), primary_key=True),
    Column("nexthop", IP, primary_key=True),
)

floatingips = Table(
    "floatingips", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("description", String(255), nullable=False, default=""),
    Column("floating_ip_address", IP, nullable=False),
    Column("floating_network_id", UUID, ForeignKey("networks.id"), nullable=False),
    Column("floating_port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("fixed_port_id", UUID, ForeignKey("ports.id", ondelete="SET NULL"), index=True),
    Column("fixed_ip_address", IP),
    Column("router_id", UUID, ForeignKey("routers.id", ondelete="SET NULL"), index=True),
    Column("status", String(16), nullable=False),
    *_standard(),
    # One floating IP per fixed address per external network.
    UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address"),
)

router_agent_bindings = Table(
    "router_agent_bindings", metadata,
    Column("router_id", UUID, ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True),
    # An HA router has one row per agent (its instances); others one row.
    Column("agent_id", UUID, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True,
           index=True),
    # HA only: this instance's ha- port and its VRRP state as the agent reported it
    Column("ha_port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), index=True),
    Column("ha_state", String(16)),
)

# HA routers: one HA network per project (upstream's "HA network tenant <p>")
ha_router_networks = Table(
    "ha_router_networks", metadata,
    Column("project_id", PROJECT, primary_key=True),
    Column("network_id", UUID, ForeignKey("networks.id", ondelete="CASCADE"), nullable=False,
           unique=True),
)

# A VRRP id per HA router, unique within its HA network.
ha_router_vrid_allocations = Table(
    "ha_router_vrid_allocations", metadata,
    Column("network_id", UUID, ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True),
    Column("vr_id", Integer, primary_key=True, autoincrement=False),
    Column("router_id", UUID, ForeignKey("routers.id", ondelete="CASCADE"), nullable=False,
           unique=True),
)

network_dhcp_agent_bindings = Table(
    "network_dhcp_agent_bindings", metadata,
    Column("network_id", UUID, ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", UUID, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)

# The embedded identity's tables share this metadata (Alembic sees them too).
import neutrino.identity.models  # noqa: E402,F401
