"""FWaaS v2 tables: rules, policies (ordered rule lists), firewall groups,
their ports, and the L3 agents' status reports per group and host.

On neutrino.db.models.metadata; imported where used (not from models.py).
Safety as unique keys: a port is in at most one group (its primary key in
firewall_group_ports), a project has at most one default group
(firewall_groups.default_for) and a rule appears once per policy.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Table

from neutrino.db.models import NAME, PROJECT, UUID, _standard, metadata

firewall_rules = Table(
    "firewall_rules", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("protocol", String(40)),
    Column("ip_version", Integer, nullable=False),
    Column("source_ip_address", String(64)),
    Column("destination_ip_address", String(64)),
    Column("source_port_range_min", Integer),
    Column("source_port_range_max", Integer),
    Column("destination_port_range_min", Integer),
    Column("destination_port_range_max", Integer),
    Column("action", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("shared", Boolean, nullable=False, default=False),
    *_standard(),
)

firewall_policies = Table(
    "firewall_policies", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("audited", Boolean, nullable=False, default=False),
    Column("shared", Boolean, nullable=False, default=False),
    *_standard(),
)

# A rule is deleted only once no policy holds it (409 FirewallRuleInUse):
# no cascade from the rule side.
firewall_policy_rules = Table(
    "firewall_policy_rules", metadata,
    Column("firewall_policy_id", UUID, ForeignKey("firewall_policies.id", ondelete="CASCADE"),
           primary_key=True),
    Column("firewall_rule_id", UUID, ForeignKey("firewall_rules.id"), primary_key=True,
           index=True),
    Column("position", Integer, nullable=False),
)

firewall_groups = Table(
    "firewall_groups", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("admin_state_up", Boolean, nullable=False, default=True),
    Column("status", String(16), nullable=False),
    Column("shared", Boolean, nullable=False, default=False),
    Column("ingress_firewall_policy_id", UUID, ForeignKey("firewall_policies.id"), index=True),
    Column("egress_firewall_policy_id", UUID, ForeignKey("firewall_policies.id"), index=True),
    # Set only on each project's "default" group: makes its creation race-free.
    Column("default_for", PROJECT, unique=True),
    *_standard(),
    # What the agents enforce for it, hashed, and a counter bumped whenever
    # that changes (migration 0007): its version never repeats, so an old
    # report cannot confirm a configuration the agents have since undone.
    Column("config_hash", String(64)),
    Column("config_generation", Integer, nullable=False, default=0, server_default="0"),
)

# A port leaves its group with the port (cascade): a deleted router
# interface takes its association along, as upstream's foreign key does.
firewall_group_ports = Table(
    "firewall_group_ports", metadata,
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("firewall_group_id", UUID, ForeignKey("firewall_groups.id", ondelete="CASCADE"),
           nullable=False, index=True),
)

# The last report of each L3 agent host for each group it enforces, kept
# only when it was for the group's current version.
firewall_group_reports = Table(
    "firewall_group_reports", metadata,
    Column("firewall_group_id", UUID, ForeignKey("firewall_groups.id", ondelete="CASCADE"),
           primary_key=True),
    Column("host", String(255), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(1024)),
    Column("reported_at", DateTime, nullable=False),
)
