"""Tables of the DNS, extra DHCP option and availability zone extensions
(helper area "dns"): one row per resource that has a non-default value, so
the core tables stay as they are and deleting the resource cascades.

On neutrino.db.models.metadata; imported where used (not from models.py).
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, UniqueConstraint

from neutrino.db.models import UUID, metadata

# dns_name / dns_domain of a port (dns-integration, dns-domain-ports).
port_dns = Table(
    "port_dns", metadata,
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("dns_name", String(255), nullable=False, default=""),
    Column("dns_domain", String(255), nullable=False, default=""),
)

# dns_domain of a network (dns-integration).
network_dns_domains = Table(
    "network_dns_domains", metadata,
    Column("network_id", UUID, ForeignKey("networks.id", ondelete="CASCADE"),
           primary_key=True),
    Column("dns_domain", String(255), nullable=False),
)

# Subnets with dns_publish_fixed_ip = True (subnet-dns-publish-fixed-ip).
subnet_dns_publish_fixed_ips = Table(
    "subnet_dns_publish_fixed_ips", metadata,
    Column("subnet_id", UUID, ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True),
    Column("dns_publish_fixed_ip", Boolean, nullable=False),
)

# extra_dhcp_opts of a port: one option per (name, IP version).
extra_dhcp_opts = Table(
    "extra_dhcp_opts", metadata,
    Column("id", UUID, primary_key=True),
    Column("port_id", UUID, ForeignKey("ports.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("opt_name", String(64), nullable=False),
    Column("opt_value", String(255), nullable=False),
    Column("ip_version", Integer, nullable=False),
    UniqueConstraint("port_id", "opt_name", "ip_version"),
)

# availability_zone_hints of a network (network_availability_zone), as the
# JSON list upstream keeps in its column.
network_az_hints = Table(
    "network_az_hints", metadata,
    Column("network_id", UUID, ForeignKey("networks.id", ondelete="CASCADE"),
           primary_key=True),
    Column("hints", String(255), nullable=False),
)
