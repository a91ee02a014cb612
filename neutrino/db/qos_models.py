"""QoS tables: policies, their rules (one table for every rule type), each
project's default policy and the policy bindings of ports, networks,
floating IPs and router gateways.

On neutrino.db.models.metadata; imported where used (not from models.py).
Safety as unique keys: one rule per (policy, type, direction) — upstream's
"one rule of a type and direction per policy" — and one default policy per
project (qos_default_policies' primary key). A binding's foreign key to the
policy has no cascade: a policy in use cannot be deleted (409).
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, ForeignKey, Integer, String, Table,
                        UniqueConstraint)

from neutrino.db.models import NAME, PROJECT, UUID, _standard, metadata

qos_policies = Table(
    "qos_policies", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("shared", Boolean, nullable=False, default=False),
    *_standard(),
)

# `direction` is "egress" for dscp_marking (upstream's rule has none): the
# unique key then means "one DSCP rule per policy".
qos_rules = Table(
    "qos_rules", metadata,
    Column("id", UUID, primary_key=True),
    Column("qos_policy_id", UUID, ForeignKey("qos_policies.id", ondelete="CASCADE"),
           nullable=False),
    Column("type", String(32), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("max_kbps", Integer),
    Column("max_burst_kbps", Integer),
    Column("min_kbps", Integer),
    Column("dscp_mark", Integer),
    Column("max_kpps", Integer),
    Column("max_burst_kpps", Integer),
    Column("min_kpps", Integer),
    UniqueConstraint("qos_policy_id", "type", "direction"),
)

qos_default_policies = Table(
    "qos_default_policies", metadata,
    Column("project_id", PROJECT, primary_key=True),
    Column("qos_policy_id", UUID, ForeignKey("qos_policies.id", ondelete="CASCADE"),
           nullable=False, unique=True),
)


def _binding(name: str, key: str, target: str) -> Table:
    return Table(
        name, metadata,
        Column(key, UUID, ForeignKey(f"{target}.id", ondelete="CASCADE"), primary_key=True),
        Column("policy_id", UUID, ForeignKey("qos_policies.id"), nullable=False, index=True),
    )


qos_port_policy_bindings = _binding("qos_port_policy_bindings", "port_id", "ports")
qos_network_policy_bindings = _binding("qos_network_policy_bindings", "network_id", "networks")
qos_fip_policy_bindings = _binding("qos_fip_policy_bindings", "fip_id", "floatingips")
qos_router_gw_policy_bindings = _binding("qos_router_gw_policy_bindings", "router_id",
                                         "routers")
