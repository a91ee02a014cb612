"""Trunks (a parent port and its VLAN subports) and the optional port
attributes of the port extensions (NUMA affinity policy, device profile,
data plane status, uplink status propagation, IP allocation) and the
inactive port bindings (binding-extended).

On neutrino.db.models.metadata; imported where used (not from models.py).
A port is the parent of at most one trunk (unique trunks.port_id) and a
subport of at most one (subports' primary key); a trunk's VLAN ids are
unique (unique key). A parent port cannot go while its trunk exists (no
cascade: 409 PortInUseAsTrunkParent), subports go with their trunk.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, ForeignKey, Integer, String, Table, Text,
                        UniqueConstraint)

from neutrino.db.models import NAME, PROJECT, UUID, _standard, metadata

trunks = Table(
    "trunks", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(255), nullable=False, default=""),
    Column("admin_state_up", Boolean, nullable=False, default=True),
    Column("port_id", UUID, ForeignKey("ports.id"), nullable=False, unique=True),
    Column("status", String(16), nullable=False, default="DOWN"),
    *_standard(),
)

subports = Table(
    "trunk_subports", metadata,
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("trunk_id", UUID, ForeignKey("trunks.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("segmentation_type", String(32), nullable=False),
    Column("segmentation_id", Integer, nullable=False),
    UniqueConstraint("trunk_id", "segmentation_type", "segmentation_id"),
)

# One row per port with any non-default value (most ports have none).
port_attrs = Table(
    "port_attrs", metadata,
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("numa_affinity_policy", String(16)),
    Column("device_profile", String(255)),
    Column("data_plane_status", String(16)),
    Column("propagate_uplink_status", Boolean, nullable=False, default=True),
    Column("ip_allocation", String(16), nullable=False, default="immediate"),
)

# binding-extended: a port's inactive bindings (its active one stays on the
# ports row, where everything else reads it).
port_bindings = Table(
    "port_bindings", metadata,
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("host", String(255), primary_key=True),
    Column("vif_type", String(64), nullable=False),
    Column("vif_details", Text, nullable=False),
    Column("vnic_type", String(64), nullable=False),
    Column("profile", Text, nullable=False),
)
