"""The trunk resource's attribute map (neutron-lib's trunk definition) and
its sub_ports validator (validate_subports, in neutrino's words)."""
from __future__ import annotations

from typing import Any

from neutrino import validators as v
from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.api.resources import Resource

VLAN, INHERIT = "vlan", "inherit"
SEGMENTATION_TYPES = (VLAN, INHERIT)
MIN_VID, MAX_VID = 1, 4094


def subports_check(value: Any) -> str | None:
    """A list of {port_id, segmentation_type, segmentation_id}: each port
    once, each (type, id) once; `inherit` takes its id from the network."""
    if not isinstance(value, list):
        return f"Invalid data format for subports: '{v.shown(value)}' is not a list"
    seen_ports: set[str] = set()
    seen_ids: set[tuple[str, Any]] = set()
    for sub in value:
        if not isinstance(sub, dict):
            return f"Invalid data format for subport: '{v.shown(sub)}' is not a dict"
        if "port_id" not in sub:
            return "A valid port UUID must be specified"
        if not a.is_uuid(sub["port_id"]):
            return f"Invalid UUID for subport: '{v.shown(sub['port_id'])}'"
        if sub["port_id"] in seen_ports:
            return f"Non unique UUID for subport: '{sub['port_id']}'"
        seen_ports.add(sub["port_id"])
        unknown = set(sub) - {"port_id", "segmentation_type", "segmentation_id"}
        if unknown:
            return f"Unrecognized subport attribute(s) {', '.join(sorted(unknown))}"
        kind = sub.get("segmentation_type")
        if kind == INHERIT:
            continue
        seg_id = sub.get("segmentation_id")
        if (not kind or seg_id is None) and len(sub) > 1:   # {port_id} alone: removal
            return (f"Invalid subport details '{v.shown(sub)}': missing segmentation "
                    "information. Must specify both segmentation_id and segmentation_type")
        if seg_id is not None and (kind, seg_id) in seen_ids:
            return f"Segmentation ID '{seg_id}' for '{sub['port_id']}' is not unique"
        seen_ids.add((kind, seg_id))
    return None


def none_to_empty(value: Any) -> Any:
    return [] if value is None else value


TRUNK = Resource("trunk", "trunks", (
    Attr("id", column="id"),
    Attr("name", post=True, put=True, default="", validate=a.name_string(255), column="name"),
    Attr("description", post=True, put=True, default="", validate=a.string(255),
         column="description"),
    *a.owner_attrs(),
    Attr("admin_state_up", post=True, put=True, default=True, convert=a.to_boolean,
         column="admin_state_up"),
    Attr("port_id", post=True, validate=a.uuid_check, column="port_id"),
    # Derived from the ports' statuses when read (not stored): not a filter.
    Attr("status", filter=False, sort=False),
    Attr("sub_ports", post=True, default=[], convert=none_to_empty, validate=subports_check,
         filter=False, sort=False),
    *a.standard_attrs(),
), not_found="TrunkNotFound")
