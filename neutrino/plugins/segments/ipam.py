"""Which of a network's subnets a port may get addresses from:
subnet-service-types (a subnet with service types serves only those device
owners; DHCP ports any subnet with DHCP enabled) and routed provider
networks (subnets on segments: a bound port gets addresses from the
subnets of the segment mapped on its host; an unbound port none yet, its
allocation deferred until it is bound), as upstream's IPAM backend."""
from __future__ import annotations

from sqlalchemy import literal, null, select, union_all

from neutrino.api.faults import BadRequest
from neutrino.db import seg_models as sm
from neutrino.plugins.ml2.segments import all_segments_for, host_segments
from neutrino.plugins.segments import faults as sf

SS, SST = sm.subnet_segments, sm.subnet_service_types
DHCP = "network:dhcp"


class IpAddressGenerationFailureNoMatchingSubnet(BadRequest):
    message = ("No valid service subnet for the given device owner, network {network_id}, "
               "service type {service_type}.")


def _facts(conn, ids: list[str]):
    """({subnet: service types}, {subnet: segment}) in one round trip."""
    stmt = union_all(
        select(SST.c.subnet_id, SST.c.service_type, null().label("segment_id"))
        .where(SST.c.subnet_id.in_(ids)),
        select(SS.c.subnet_id, literal(None).label("service_type"), SS.c.segment_id)
        .where(SS.c.subnet_id.in_(ids)))
    types: dict[str, set[str]] = {}
    segment: dict[str, str] = {}
    for sid, stype, seg in conn.execute(stmt):
        if stype is not None:
            types.setdefault(sid, set()).add(stype)
        if seg is not None:
            segment[sid] = seg
    return types, segment


def usable_subnets(conn, network_id: str, subnets: list[dict], device_owner: str,
                   host: str | None, fixed_ips) -> list[dict]:
    if not subnets or all(s.get("narrowed") is False for s in subnets):
        return subnets           # read with the subnets: no service types, no segments
    types, segment = _facts(conn, [s["id"] for s in subnets])
    if not types and not segment:
        return subnets           # the usual network: no query more than this one
    out = subnets
    if types:
        out = [s for s in out if s["id"] not in types or device_owner in types[s["id"]]
               or (device_owner == DHCP and s.get("enable_dhcp"))]
        if not out:
            raise IpAddressGenerationFailureNoMatchingSubnet(network_id=network_id,
                                                             service_type=device_owner)
    if not segment:
        return out
    if host:
        segs = all_segments_for(conn, [network_id]).get(network_id, [])
        mapped = {s["id"] for s in host_segments(conn, segs, host)}
        on_host = {segment[s["id"]] for s in out} & mapped
        if not on_host:
            raise sf.HostNotConnectedToAnySegment(host=host, network_id=network_id)
        if len(on_host) > 1:
            raise sf.HostConnectedToMultipleSegments(host=host, network_id=network_id)
        return [s for s in out if segment.get(s["id"]) in on_host]
    if fixed_ips is None:
        return []               # deferred: addresses once the port is bound
    named = {f.get("subnet_id") for f in fixed_ips if f.get("subnet_id")}
    if len({segment.get(sid) for sid in named}) > 1:
        raise sf.FixedIpsSubnetsNotOnSameSegment()
    return out


def is_routed(conn, network_id: str) -> bool:
    from neutrino.db import models
    s = models.subnets
    return conn.execute(select(SS.c.subnet_id).join(s, s.c.id == SS.c.subnet_id)
                        .where(s.c.network_id == network_id).limit(1)).first() is not None


def host_subnets(conn, network_id: str, subnet_ids: list[str], host: str) -> list[str]:
    """Of `subnet_ids` (a network's), those a port bound to `host` may have
    addresses in: all of them on a network without segments, else those of
    the segments mapped on the host (a DHCP port serves its host's segment)."""
    if not subnet_ids:
        return subnet_ids
    segment = dict(conn.execute(select(SS.c.subnet_id, SS.c.segment_id)
                                .where(SS.c.subnet_id.in_(subnet_ids))).all())
    if not segment:
        return subnet_ids
    segs = all_segments_for(conn, [network_id]).get(network_id, [])
    mapped = {s["id"] for s in host_segments(conn, segs, host)}
    return [sid for sid in subnet_ids if segment.get(sid) in mapped]


def check_host_fits(conn, network_id: str, port_id: str, fixed_ips: list[dict],
                    host: str) -> None:
    """A port with addresses on a routed network may move only to a host
    mapping their segment (409 HostNotCompatibleWithFixedIps, as upstream)."""
    ids = [f["subnet_id"] for f in fixed_ips]
    if host_subnets(conn, network_id, ids, host) != ids:
        raise sf.HostNotCompatibleWithFixedIps(host=host, port_id=port_id)
