"""RBAC policies, address groups and the default security group rules
(the rbac helper's tables, on neutrino.db.models.metadata).

One rbac_policies table for every object type (upstream keeps one table per
type): an object's owner registers its type with neutrino.plugins.rbac.registry,
which also deletes an object's policies with the object (no foreign key can
point at several tables). The unique key makes a duplicate grant a 409
whatever the race.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from neutrino.db.models import NAME, PROJECT, UUID, _standard, metadata

rbac_policies = Table(
    "rbac_policies", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("object_type", String(32), nullable=False),
    Column("object_id", UUID, nullable=False),
    Column("action", String(32), nullable=False),
    Column("target_project", PROJECT, nullable=False),
    UniqueConstraint("object_type", "object_id", "action", "target_project"),
    Index("ix_rbac_policies_target", "object_type", "target_project"),
)

address_groups = Table(
    "address_groups", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    *_standard(),
)

address_group_addresses = Table(
    "address_group_addresses", metadata,
    Column("address_group_id", UUID, ForeignKey("address_groups.id", ondelete="CASCADE"),
           primary_key=True),
    Column("address", String(64), primary_key=True),
)

# Templates of the rules a new security group gets (security-groups-default-rules)
default_security_group_rules = Table(
    "default_security_group_rules", metadata,
    Column("id", UUID, primary_key=True),
    Column("direction", String(16), nullable=False),
    Column("ethertype", String(8), nullable=False),
    Column("protocol", String(40)),
    Column("port_range_min", Integer),
    Column("port_range_max", Integer),
    Column("remote_ip_prefix", String(64)),
    # "PARENT" (the group itself) or NULL
    Column("remote_group_id", String(36)),
    Column("remote_address_group_id", UUID),
    Column("description", String(255), nullable=False, default=""),
    Column("used_in_default_sg", Boolean, nullable=False, default=False),
    Column("used_in_non_default_sg", Boolean, nullable=False, default=True),
)
