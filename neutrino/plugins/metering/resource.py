"""The metering resources (metering, metering_source_and_destination_fields)
as neutron-lib's metering definition: labels (a name, shared or not) and
their rules (direction, a prefix, excluded)."""
from __future__ import annotations

import ipaddress

from neutrino import validators as v
from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.api.resources import Resource


def prefix_or_none(value):
    """type:subnet (or null): an IP network in CIDR form."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"'{v.shown(value)}' is not a valid IP subnet"
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return f"'{v.shown(value)}' is not a valid IP subnet"
    if "/" not in value or str(net) != value:
        return f"'{v.shown(value)}' isn't a recognized IP subnet cidr, '{net}' is recommended"
    return None


METERING_LABEL = Resource("metering_label", "metering-labels", (
    Attr("id", column="id"),
    Attr("name", post=True, default="", validate=a.name_string(255), column="name"),
    Attr("description", post=True, default="", validate=a.string(1024), column="description"),
    *a.owner_attrs(),
    Attr("shared", post=True, default=False, convert=a.to_boolean, column="shared"),
), not_found="MeteringLabelNotFound", tags=False)

METERING_LABEL_RULE = Resource("metering_label_rule", "metering-label-rules", (
    Attr("id", column="id"),
    Attr("metering_label_id", post=True, validate=a.uuid_check, column="metering_label_id"),
    Attr("direction", post=True, validate=a.values("ingress", "egress"), column="direction"),
    Attr("excluded", post=True, default=False, convert=a.to_boolean, column="excluded"),
    Attr("remote_ip_prefix", post=True, default=None, validate=prefix_or_none,
         column="remote_ip_prefix"),
    Attr("source_ip_prefix", post=True, default=None, validate=prefix_or_none,
         column="source_ip_prefix"),
    Attr("destination_ip_prefix", post=True, default=None, validate=prefix_or_none,
         column="destination_ip_prefix"),
    *a.owner_attrs(),
), not_found="MeteringLabelRuleNotFound", tags=False)


def label_view(r) -> dict:
    return {"id": r["id"], "name": r["name"], "description": r["description"],
            "shared": r["shared"], "project_id": r["project_id"], "tenant_id": r["project_id"]}


def rule_view(r) -> dict:
    return {"id": r["id"], "metering_label_id": r["metering_label_id"],
            "direction": r["direction"], "excluded": r["excluded"],
            "remote_ip_prefix": r["remote_ip_prefix"], "source_ip_prefix": r["source_ip_prefix"],
            "destination_ip_prefix": r["destination_ip_prefix"],
            "project_id": r["project_id"], "tenant_id": r["project_id"]}
