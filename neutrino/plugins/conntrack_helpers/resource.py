"""The conntrack helper sub-resource of routers (l3-conntrack-helper), as
neutron-lib's l3_conntrack_helper definition."""
from __future__ import annotations

from neutrino import validators as v
from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.api.resources import Resource
from neutrino.plugins.fwaas.resources import PROTOCOL_NAMES, to_lower

# The kernel's conntrack helpers a router may attach, with the protocols
# each one tracks (upstream's [DEFAULT] l3_conntrack_helpers default set).
HELPERS: dict[str, tuple[str, ...]] = {
    "amanda": ("tcp",), "ftp": ("tcp",), "tftp": ("udp",), "netbios-ns": ("udp",),
    "irc": ("tcp",), "pptp": ("tcp",), "sane": ("tcp",), "sip": ("tcp", "udp"),
    "snmp": ("udp",), "RAS": ("udp",), "Q.931": ("tcp",),
}


def to_string(value):
    return value if isinstance(value, str) else str(value)


CONNTRACK_HELPER = Resource("conntrack_helper", "conntrack_helpers", (
    Attr("id", column="id"),
    Attr("protocol", post=True, put=True, convert=to_lower,
         validate=a.values(*PROTOCOL_NAMES), column="protocol"),
    Attr("port", post=True, put=True, convert=a.to_int,
         validate=lambda x: v.validate_range(x, 1, 65535), column="port"),
    Attr("helper", post=True, put=True, convert=to_string, validate=a.string(64),
         column="helper"),
    Attr("project_id", post=True, default=None, validate=a.project_id_check, visible=False,
         filter=False, sort=False),
), not_found="ConntrackHelperNotFound", tags=False, has_owner=False)


def view(row) -> dict:
    return {"id": row["id"], "protocol": row["protocol"], "port": row["port"],
            "helper": row["helper"]}
