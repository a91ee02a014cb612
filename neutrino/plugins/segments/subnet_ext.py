"""Subnets' segment_id (segment, subnet-segmentid-writable) and
service_types (subnet-service-types), with upstream's association rules:
a network's subnets are all on segments or none is; an existing subnet may
be put on a segment only while it is its network's only subnet and the
network has one segment, and never moved off or to another one."""
from __future__ import annotations

from sqlalchemy import bindparam, delete, func, insert, select

from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.db import models
from neutrino.db import seg_models as sm
from neutrino.plugins.core import bump_revision
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.segments import faults as sf

SS, SST = sm.subnet_segments, sm.subnet_service_types


_SEGMENT_OF = select(SS.c.segment_id).where(SS.c.subnet_id == bindparam("id"))


def _segment_of_network(conn, segment_id: str, network_id: str) -> None:
    s = models.segments
    net = conn.execute(select(s.c.network_id).where(s.c.id == segment_id)).scalar()
    if net is None:
        raise sf.SegmentNotFound(segment_id=segment_id)
    if net != network_id:
        raise sf.NetworkIdsDontMatch(subnet_network=network_id, segment_id=segment_id)


# A network's subnets, and how many of them are on segments (every create).
_ON_SEGMENTS = select(func.count(models.subnets.c.id), func.count(SS.c.subnet_id)).select_from(
    models.subnets.outerjoin(SS, SS.c.subnet_id == models.subnets.c.id)).where(
    models.subnets.c.network_id == bindparam("net"))


def _check_all_or_none(conn, network_id: str) -> None:
    total, on_segments = conn.execute(_ON_SEGMENTS, {"net": network_id}).one()
    if on_segments and on_segments != total:
        raise sf.SubnetsNotAllAssociatedWithSegments(network_id=network_id)


def _write_types(conn, subnet_id: str, types: list[str], fresh: bool = False) -> None:
    """`fresh`: a new subnet, with no rows to replace."""
    if not fresh:
        conn.execute(delete(SST).where(SST.c.subnet_id == subnet_id))
    unique = sorted(set(types))
    if unique:
        conn.execute(insert(SST), [{"subnet_id": subnet_id, "service_type": t} for t in unique])


def _views(conn, views: list[dict]) -> None:
    ids = [v["id"] for v in views]
    segs = dict(conn.execute(select(SS.c.subnet_id, SS.c.segment_id)
                             .where(SS.c.subnet_id.in_(ids))).all())
    types: dict[str, list[str]] = {}
    for sid, t in conn.execute(select(SST.c.subnet_id, SST.c.service_type)
                               .where(SST.c.subnet_id.in_(ids))
                               .order_by(SST.c.service_type)):
        types.setdefault(sid, []).append(t)
    for view in views:
        view["segment_id"] = segs.get(view["id"])
        view["service_types"] = types.get(view["id"], [])


def _peers(conn, network_id: str) -> list[dict]:
    """The network's subnets that are on segments."""
    s = models.subnets
    return [dict(r) for r in conn.execute(
        select(s.c.id, s.c.cidr, s.c.ip_version, s.c.gateway_ip, SS.c.segment_id)
        .join(SS, SS.c.subnet_id == s.c.id).where(s.c.network_id == network_id)).mappings()]


def _add_peer_routes(conn, view: dict, segment_id: str) -> None:
    """segments-peer-subnet-host-routes: a new subnet on a segment and the
    subnets of the network's other segments (same IP version) get host routes
    to each other through their own gateways."""
    hr = models.host_routes
    have = {(r[0], r[1], r[2]) for r in conn.execute(
        select(hr.c.subnet_id, hr.c.destination, hr.c.nexthop)
        .where(hr.c.subnet_id.in_([p["id"] for p in _peers(conn, view["network_id"])])))}
    for peer in _peers(conn, view["network_id"]):
        if (peer["id"] == view["id"] or peer["segment_id"] == segment_id
                or peer["ip_version"] != view["ip_version"]):
            continue
        if view.get("gateway_ip") and (view["id"], peer["cidr"], view["gateway_ip"]) not in have:
            conn.execute(insert(hr), {"subnet_id": view["id"], "destination": peer["cidr"],
                                      "nexthop": view["gateway_ip"]})
            view["host_routes"] = [*view.get("host_routes", []), {
                "destination": peer["cidr"], "nexthop": view["gateway_ip"]}]
        if peer["gateway_ip"] and (peer["id"], view["cidr"], peer["gateway_ip"]) not in have:
            conn.execute(insert(hr), {"subnet_id": peer["id"], "destination": view["cidr"],
                                      "nexthop": peer["gateway_ip"]})
            bump_revision(conn, models.subnets, peer["id"])


def _deleting(conn, ctx, view: dict) -> None:
    """The peers' routes to a deleted routed subnet go with it. `view` may
    be the core's alone (a delete reads no other feature's rows)."""
    segment_id = view["segment_id"] if "segment_id" in view else conn.execute(
        _SEGMENT_OF, {"id": view["id"]}).scalar()
    if segment_id is None:
        return
    hr = models.host_routes
    for peer in _peers(conn, view["network_id"]):
        if peer["id"] == view["id"] or not peer["gateway_ip"]:
            continue
        gone = conn.execute(delete(hr).where(hr.c.subnet_id == peer["id"],
                                             hr.c.destination == view["cidr"],
                                             hr.c.nexthop == peer["gateway_ip"])).rowcount
        if gone:
            bump_revision(conn, models.subnets, peer["id"])


def _create(conn, ctx, body: dict, view: dict) -> None:
    segment_id = body.get("segment_id")
    if segment_id is not None:
        _segment_of_network(conn, segment_id, view["network_id"])
        conn.execute(insert(SS), {"subnet_id": view["id"], "segment_id": segment_id})
        _add_peer_routes(conn, view, segment_id)
    _check_all_or_none(conn, view["network_id"])
    _write_types(conn, view["id"], body.get("service_types") or [], fresh=True)
    view["segment_id"] = segment_id
    view["service_types"] = sorted(set(body.get("service_types") or []))


def _update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    changed = False
    network_id = current["network_id"]
    if "segment_id" in body and body["segment_id"] != current.get("segment_id"):
        if current.get("segment_id") is not None:
            raise sf.SubnetSegmentAssociationChangeNotAllowed()
        s = models.subnets
        if conn.execute(select(func.count(s.c.id)).where(s.c.network_id == network_id)
                        ).scalar() > 1:
            raise sf.SubnetsNotAllAssociatedWithSegments(network_id=network_id)
        seg = models.segments
        if conn.execute(select(func.count(seg.c.id)).where(seg.c.network_id == network_id)
                        ).scalar() > 1:
            raise sf.NoUpdateSubnetWhenMultipleSegmentsOnNetwork(network_id=network_id)
        _segment_of_network(conn, body["segment_id"], network_id)
        conn.execute(insert(SS), {"subnet_id": current["id"], "segment_id": body["segment_id"]})
        view["segment_id"] = body["segment_id"]
        changed = True
    if "service_types" in body and sorted(set(body["service_types"] or [])) != sorted(
            current.get("service_types") or []):
        _write_types(conn, current["id"], body["service_types"] or [])
        view["service_types"] = sorted(set(body["service_types"] or []))
        changed = True
    return changed


def _filters(table, filters: dict) -> list:
    out = []
    values = [v for v in filters.get("segment_id") or [] if v not in (None, "", "None", "null")]
    if "segment_id" in filters:
        if values:
            out.append(table.c.id.in_(select(SS.c.subnet_id).where(SS.c.segment_id.in_(values))))
        else:   # segment_id=None: the subnets on no segment
            out.append(table.c.id.notin_(select(SS.c.subnet_id)))
    return out


SUBNETS = ResourceExtension(
    "subnets", "segment",
    attrs=(Attr("segment_id", post=True, put=True, default=None, policy=True, sort=False,
                validate=a.uuid_or_none),
           Attr("service_types", post=True, put=True, default=[], filter=False, sort=False,
                convert=a.service_types)),
    views=_views, create=_create, update=_update, delete=_deleting, filters=_filters)


def _external_filter(table, filters: dict) -> list:
    values = {a.to_boolean(v) for v in filters.get("router:external") or []}
    if not values or values == {True, False}:
        return []
    n = models.networks
    return [table.c.network_id.in_(select(n.c.id).where(n.c.external.is_(values.pop())))]


# subnet-external-network: the core shows router:external; this makes it a filter
SUBNET_EXTERNAL = ResourceExtension(
    "subnets", "subnet-external-network",
    attrs=(Attr("router:external", filter=True, sort=False, convert=a.to_boolean),),
    filters=_external_filter)
