"""Tables of the L3 extensions (helper area l3x): floating IP port
forwardings, router conntrack helpers, metering labels and their rules,
service flavors and profiles.

On neutrino.db.models.metadata; imported where used (not from models.py).
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, ForeignKey, Integer, String, Table, Text,
                        UniqueConstraint)

from neutrino.db.models import IP, NAME, PROJECT, UUID, metadata

# A port forwarding maps a protocol and external port range of a floating IP
# to an internal address and port range. Its router is the one that joins
# the internal subnet to the floating IP's network (found on create), kept
# here because the floating IP itself stays unassociated (fixed_port_id NULL).
portforwardings = Table(
    "portforwardings", metadata,
    Column("id", UUID, primary_key=True),
    Column("floatingip_id", UUID, ForeignKey("floatingips.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("router_id", UUID, ForeignKey("routers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    # SET NULL, not CASCADE: the floating IP sweep (after a port delete) then
    # removes the forwardings and tells their routers' agents
    Column("internal_port_id", UUID, ForeignKey("ports.id", ondelete="SET NULL"),
           index=True),
    Column("internal_ip_address", IP, nullable=False),
    Column("internal_port_start", Integer, nullable=False),
    Column("internal_port_end", Integer, nullable=False),
    Column("external_port_start", Integer, nullable=False),
    Column("external_port_end", Integer, nullable=False),
    Column("protocol", String(40), nullable=False),
    Column("description", String(255), nullable=False, default=""),
    # the backstop of the overlap checks (which run with the FIP row locked)
    UniqueConstraint("floatingip_id", "protocol", "external_port_start"),
)

conntrack_helpers = Table(
    "conntrack_helpers", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("router_id", UUID, ForeignKey("routers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("protocol", String(40), nullable=False),
    Column("port", Integer, nullable=False),
    Column("helper", String(64), nullable=False),
    UniqueConstraint("router_id", "protocol", "port", "helper"),
)

metering_labels = Table(
    "metering_labels", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(1024), nullable=False, default=""),
    Column("shared", Boolean, nullable=False, default=False),
)

metering_label_rules = Table(
    "metering_label_rules", metadata,
    Column("id", UUID, primary_key=True),
    Column("project_id", PROJECT, nullable=False, index=True),
    Column("metering_label_id", UUID, ForeignKey("metering_labels.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("direction", String(16), nullable=False),
    Column("excluded", Boolean, nullable=False, default=False),
    Column("remote_ip_prefix", String(64)),
    Column("source_ip_prefix", String(64)),
    Column("destination_ip_prefix", String(64)),
)

flavors = Table(
    "flavors", metadata,
    Column("id", UUID, primary_key=True),
    Column("name", NAME, nullable=False, default=""),
    Column("description", String(1024), nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("service_type", String(36), nullable=False),
)

service_profiles = Table(
    "service_profiles", metadata,
    Column("id", UUID, primary_key=True),
    Column("description", String(1024), nullable=False, default=""),
    Column("driver", String(1024), nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("metainfo", Text, nullable=False, default=""),
)

flavor_profile_bindings = Table(
    "flavor_profile_bindings", metadata,
    Column("flavor_id", UUID, ForeignKey("flavors.id", ondelete="CASCADE"), primary_key=True),
    Column("service_profile_id", UUID, ForeignKey("service_profiles.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)

# A router's attributes of the L3 extensions: its availability zone hints
# (router_availability_zone, JSON list), `distributed` (dvr) and its flavor (l3-flavors; none: the
# default L3 service).
router_extra_attributes = Table(
    "router_extra_attributes", metadata,
    Column("router_id", UUID, ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True),
    Column("availability_zone_hints", String(255)),
    # dvr: hosted centrally like any router (docs/api.md), kept as asked
    Column("distributed", Boolean, nullable=False, default=False),
    Column("flavor_id", UUID, ForeignKey("flavors.id"), index=True),
)
