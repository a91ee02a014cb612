"""The port forwarding sub-resource of floating IPs: neutron-lib's
floating_ip_port_forwarding definition with its description
(floating-ip-port-forwarding-description) and port range
(floating-ip-port-forwarding-port-ranges) attributes."""
from __future__ import annotations

from typing import Any

from neutrino import validators as v
from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.api.resources import Resource

PROTOCOLS = ("tcp", "udp")
PORT_MIN, PORT_MAX = 1, 65535


def port_number(value: Any) -> str | None:
    """type:port_range-style bound: 1..65535 (None: not given)."""
    if value is None:
        return None
    return v.validate_range(value, PORT_MIN, PORT_MAX)


def parse_range(value: Any) -> tuple[int, int]:
    """"N" or "N:M" (N <= M, both 1..65535) -> (N, M); InvalidInput otherwise,
    so that a bad range is a 400 worded as a converter's."""
    if isinstance(value, bool):
        raise faults.invalid_input(f"Invalid port range {value}")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise faults.invalid_input(f"Invalid port range {v.shown(value)}")
    parts = value.split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if not 1 <= len(nums) <= 2 or any(not PORT_MIN <= n <= PORT_MAX for n in nums) or (
            nums[0] > nums[-1]):
        raise faults.invalid_input(f"Invalid port range {v.shown(value)}: it must be a port "
                                   f"number or two separated by a colon, "
                                   f"{PORT_MIN}..{PORT_MAX}, the first not above the second")
    return nums[0], nums[-1]


def to_range_or_none(value: Any) -> str | None:
    if value is None:
        return None
    lo, hi = parse_range(value)
    return f"{lo}:{hi}"


PORT_FORWARDING = Resource("port_forwarding", "port_forwardings", (
    Attr("id", column="id"),
    Attr("external_port", post=True, put=True, default=None, convert=a.to_int_or_none,
         validate=port_number, column="external_port_start"),
    Attr("internal_port", post=True, put=True, default=None, convert=a.to_int_or_none,
         validate=port_number, column="internal_port_start"),
    Attr("internal_ip_address", post=True, put=True, default=None, validate=a.ip_or_none,
         column="internal_ip_address"),
    Attr("internal_port_id", post=True, put=True, validate=a.uuid_check,
         column="internal_port_id"),
    Attr("protocol", post=True, put=True, validate=a.values(*PROTOCOLS), column="protocol"),
    Attr("description", post=True, put=True, default="", validate=a.string(255),
         column="description"),
    Attr("internal_port_range", post=True, put=True, default=None, convert=to_range_or_none,
         filter=False, sort=False),
    Attr("external_port_range", post=True, put=True, default=None, convert=to_range_or_none,
         filter=False, sort=False),
), not_found="PortForwardingNotFound", tags=False, has_owner=False)


def view(row) -> dict:
    """The API view: a single port as internal_port/external_port, a range
    as internal_port_range/external_port_range (the form it was made in)."""
    out = {"id": row["id"], "internal_port_id": row["internal_port_id"],
           "internal_ip_address": row["internal_ip_address"], "protocol": row["protocol"],
           "description": row["description"]}
    out.update(ports_view(row))
    return out


def ports_view(row) -> dict:
    istart, iend = row["internal_port_start"], row["internal_port_end"]
    estart, eend = row["external_port_start"], row["external_port_end"]
    if istart == iend and estart == eend:
        return {"internal_port": istart, "external_port": estart}
    return {"internal_port_range": f"{istart}:{iend}", "external_port_range": f"{estart}:{eend}"}
