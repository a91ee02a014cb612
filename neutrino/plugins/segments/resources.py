"""The attribute maps of segments (neutron-lib's segment definition with
standard-attr-segment) and network segment ranges (network_segment_range)."""
from __future__ import annotations

from typing import Any

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.api.resources import Resource

RANGE_TYPES = ("vlan", "vxlan", "gre", "geneve")


def _standard() -> tuple[Attr, ...]:
    # timestamps and revision; neither resource is taggable upstream
    return tuple(x for x in a.standard_attrs() if x.name != "tags")


def _hidden_owner() -> tuple[Attr, ...]:
    # upstream's segment map takes tenant_id on POST and never shows it
    return (Attr("project_id", post=True, default=None, visible=False, filter=False,
                 sort=False, validate=a.project_id_check),
            Attr("tenant_id", post=True, default=None, visible=False, filter=False,
                 sort=False, validate=a.project_id_check))


SEGMENT = Resource("segment", "segments", (
    Attr("id", column="id"),
    Attr("network_id", post=True, validate=a.uuid_check, column="network_id"),
    Attr("name", post=True, put=True, default=None, validate=a.string(255, nullable=True),
         column="name"),
    Attr("description", post=True, put=True, default="", validate=a.string(255),
         column="description"),
    Attr("network_type", post=True, validate=a.string(32), column="network_type"),
    Attr("physical_network", post=True, default=None, validate=a.string(64, nullable=True),
         column="physical_network"),
    Attr("segmentation_id", post=True, default=None, convert=a.to_int_or_none,
         validate=a.db_int_or_none, column="segmentation_id"),
    *_hidden_owner(),
    *_standard(),
), not_found="SegmentNotFound", tags=False, has_owner=False)


def _range_bound(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"'{value}' is not an integer"
    if value < 0:
        return f"'{value}' should be non-negative"
    return None


# served at /v2.0/network-segment-ranges (upstream routes the collection hyphenated)
NETWORK_SEGMENT_RANGE = Resource("network_segment_range", "network-segment-ranges", (
    Attr("id", column="id"),
    Attr("name", post=True, put=True, default="", validate=a.string(255), column="name"),
    Attr("description", post=True, put=True, default="", validate=a.string(255),
         column="description"),
    Attr("default", column="is_default", convert=a.to_boolean),
    Attr("shared", post=True, default=True, convert=a.to_boolean, column="shared"),
    Attr("project_id", post=True, default=None, validate=a.string(255, nullable=True),
         column="project_id"),
    Attr("tenant_id", post=True, default=None, visible=False, filter=False, sort=False,
         validate=a.string(255, nullable=True)),
    Attr("network_type", post=True, validate=a.values(*RANGE_TYPES), column="network_type"),
    Attr("physical_network", post=True, default=None, validate=a.string(64, nullable=True),
         column="physical_network"),
    Attr("minimum", post=True, put=True, convert=a.to_int, validate=_range_bound,
         column="minimum"),
    Attr("maximum", post=True, put=True, convert=a.to_int, validate=_range_bound,
         column="maximum"),
    Attr("used", filter=False, sort=False),
    Attr("available", filter=False, sort=False),
    *_standard(),
), not_found="NetworkSegmentRangeNotFound", tags=False, has_owner=False)

__all__ = ["SEGMENT", "NETWORK_SEGMENT_RANGE", "RANGE_TYPES", "faults"]
