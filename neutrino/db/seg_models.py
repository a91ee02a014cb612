"""Tables of the segment features (helper seg, migration 0015): subnets'
segment and service types, network segment ranges, the default external
network and the projects' auto-allocated topologies.

On neutrino.db.models.metadata; imported where used (not from models.py).
The network_segments columns of the segment extension (name, description,
timestamps, index) live on models.segments itself.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table

from neutrino.db.models import NAME, PROJECT, UUID, _standard, metadata

# A subnet bound to one segment of its network (routed provider networks).
subnet_segments = Table(
    "subnet_segments", metadata,
    Column("subnet_id", UUID, ForeignKey("subnets.id", ondelete="CASCADE"),
           primary_key=True),
    Column("segment_id", UUID, ForeignKey("network_segments.id"), nullable=False,
           index=True),
)

# subnet-service-types: the device owners a subnet hands addresses to.
subnet_service_types = Table(
    "subnet_service_types", metadata,
    Column("subnet_id", UUID, ForeignKey("subnets.id", ondelete="CASCADE"),
           primary_key=True),
    Column("service_type", String(255), primary_key=True),
)

network_segment_ranges = Table(
    "network_segment_ranges", metadata,
    Column("id", UUID, primary_key=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("shared", Boolean, nullable=False, default=True),
    Column("project_id", PROJECT, index=True),
    Column("network_type", String(32), nullable=False),
    Column("physical_network", String(64), nullable=False, default=""),
    Column("minimum", Integer, nullable=False),
    Column("maximum", Integer, nullable=False),
    *_standard(),
)

# At most one default external network: the row's `singleton` is always 1.
default_external_networks = Table(
    "default_external_networks", metadata,
    Column("network_id", UUID, ForeignKey("networks.id", ondelete="CASCADE"),
           primary_key=True),
    Column("singleton", Integer, nullable=False, unique=True, default=1),
)

# One topology per project; the unique project is what makes two racing
# GETs end with one network.
auto_allocated_topologies = Table(
    "auto_allocated_topologies", metadata,
    Column("project_id", PROJECT, primary_key=True),
    Column("network_id", UUID, ForeignKey("networks.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("router_id", UUID, ForeignKey("routers.id", ondelete="SET NULL"), index=True),
)
