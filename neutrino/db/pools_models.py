"""Address scopes and subnet pools (subnet_allocation, address-scope).

On neutrino.db.models.metadata; imported where used (not from models.py).
A pool's prefixes are rows of subnetpool_prefixes (compacted CIDRs); the
subnets allocated from a pool point at it with subnets.subnetpool_id (no
foreign key, as upstream: deleting a pool with subnets is refused first).
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table

from neutrino.db.models import NAME, PROJECT, UUID, _standard, metadata

address_scopes = Table(
    "address_scopes", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("shared", Boolean, nullable=False, default=False),
    Column("ip_version", Integer, nullable=False),
    *_standard(),
)

subnetpools = Table(
    "subnetpools", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("ip_version", Integer, nullable=False),
    Column("default_prefixlen", Integer, nullable=False),
    Column("min_prefixlen", Integer, nullable=False),
    Column("max_prefixlen", Integer, nullable=False),
    Column("shared", Boolean, nullable=False, default=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("default_quota", Integer),
    Column("address_scope_id", UUID, index=True),
    *_standard(),
)

subnetpool_prefixes = Table(
    "subnetpool_prefixes", metadata,
    Column("subnetpool_id", UUID, ForeignKey("subnetpools.id", ondelete="CASCADE"),
           primary_key=True),
    Column("cidr", String(64), primary_key=True),
)
