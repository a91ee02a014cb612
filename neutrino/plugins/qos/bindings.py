"""qos_policy_id on ports, networks, floating IPs and router gateways (qos,
qos-port-network-policy's qos_network_policy_id, qos-fip, qos-gateway-ip),
as resource extensions written in the resource's own transaction.

A new network without a policy gets its project's default policy
(qos-default). Attaching needs a policy the caller can see (else 404);
detaching one of another project that is not shared needs an admin (403,
upstream's PolicyRemoveAuthorizationError). A port the Linux bridge agent
binds cannot get a policy with rules it does not enforce (409)."""
from __future__ import annotations

from sqlalchemy import bindparam, delete, insert, literal, select, union_all

from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.ml2.mech import VIF_BRIDGE
from neutrino.plugins.qos import common
from neutrino.plugins.qos import faults as qf

QP, QD = common.QP, common.QD


def _policy_attr() -> Attr:
    return Attr("qos_policy_id", post=True, put=True, default=None, validate=a.uuid_or_none)


def _bound(conn, table, key: str, ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in listing.chunks(ids):
        out.update(conn.execute(select(table.c[key], table.c.policy_id)
                                .where(table.c[key].in_(part))).all())
    return out


def _attachable(conn, ctx, policy_id: str):
    """The policy, if the caller may attach it (visible), else 404."""
    return common.policy_row(conn, ctx, policy_id)


def _may_detach(conn, ctx, policy_id: str | None) -> None:
    if not policy_id or ctx.is_admin:
        return
    row = conn.execute(select(QP.c.project_id, QP.c.shared)
                       .where(QP.c.id == policy_id)).first()
    if row is None or row.project_id == ctx.project_id or row.shared:
        return
    if common.visible_policy_ids(conn, ctx, [policy_id]):   # shared by RBAC
        return
    raise qf.PolicyRemoveAuthorizationError(policy_id=policy_id)


def _write(conn, table, key: str, object_id: str, policy_id: str | None) -> None:
    conn.execute(delete(table).where(table.c[key] == object_id))
    if policy_id:
        conn.execute(insert(table).values(**{key: object_id, "policy_id": policy_id}))


def _filters(table, key: str):
    def clauses(resource_table, filters: dict) -> list:
        wanted = [v for v in filters.get("qos_policy_id", ()) if v]
        bound = select(table.c[key]).where(table.c.policy_id.in_(wanted))
        out = resource_table.c.id.in_(bound)
        if "" in filters.get("qos_policy_id", ()) or None in filters.get("qos_policy_id", ()):
            out = out | resource_table.c.id.not_in(select(table.c[key]))
        return [out]
    return clauses


# --- ports --------------------------------------------------------------------------------

# The ports' own policies and their networks' in one prebuilt statement.
_PORT_AND_NET = union_all(
    select(literal(True).label("own"), common.PORT_B.c.port_id, common.PORT_B.c.policy_id)
    .where(common.PORT_B.c.port_id.in_(bindparam("ports", expanding=True))),
    select(literal(False), common.NET_B.c.network_id, common.NET_B.c.policy_id)
    .where(common.NET_B.c.network_id.in_(bindparam("nets", expanding=True))))
_NET_POLICY = select(common.NET_B.c.policy_id).where(
    common.NET_B.c.network_id == bindparam("net"))


def _port_views(conn, views: list[dict]) -> None:
    ids, nets = [v["id"] for v in views], sorted({v["network_id"] for v in views})
    own: dict[str, str] = {}
    by_net: dict[str, str] = {}
    if len(ids) <= listing.CHUNK and len(nets) <= listing.CHUNK:
        for is_own, key, policy in conn.execute(_PORT_AND_NET, {"ports": ids, "nets": nets}):
            (own if is_own else by_net)[key] = policy
    else:
        own = _bound(conn, common.PORT_B, "port_id", ids)
        by_net = _bound(conn, common.NET_B, "network_id", nets)
    for v in views:
        v["qos_policy_id"] = own.get(v["id"])
        v["qos_network_policy_id"] = by_net.get(v["network_id"])


def _check_port(conn, port_id: str, policy_id: str | None, bound: bool) -> None:
    if policy_id and bound:
        common.check_supported(conn, policy_id, [(port_id,)])


def _port_create(conn, ctx, body: dict, view: dict) -> None:
    pid = body.get("qos_policy_id")
    if pid:
        _attachable(conn, ctx, pid)
        _check_port(conn, view["id"], pid, bool(body.get("binding:host_id")))
        _write(conn, common.PORT_B, "port_id", view["id"], pid)
    # a new port's own policy is what was just written; its network's is read
    view["qos_policy_id"] = pid or None
    view["qos_network_policy_id"] = conn.execute(
        _NET_POLICY, {"net": view["network_id"]}).scalar()


def _port_update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    bound = (view.get("binding:vif_type") == VIF_BRIDGE or bool(body.get("binding:host_id")))
    if "qos_policy_id" not in body or body["qos_policy_id"] == current.get("qos_policy_id"):
        if "binding:host_id" in body and current.get("qos_policy_id"):
            _check_port(conn, view["id"], current["qos_policy_id"], bound)
        return False
    new = body["qos_policy_id"]
    _may_detach(conn, ctx, current.get("qos_policy_id"))
    if new:
        _attachable(conn, ctx, new)
        _check_port(conn, view["id"], new, bound)
    _write(conn, common.PORT_B, "port_id", view["id"], new)
    view["qos_policy_id"] = new
    return True


PORTS = ResourceExtension(
    "ports", "qos",
    attrs=(_policy_attr(), Attr("qos_network_policy_id", filter=False, sort=False)),
    views=_port_views, create=_port_create, update=_port_update,
    filters=_filters(common.PORT_B, "port_id"))


# --- networks -----------------------------------------------------------------------------

def _net_views(conn, views: list[dict]) -> None:
    own = _bound(conn, common.NET_B, "network_id", [v["id"] for v in views])
    for v in views:
        v["qos_policy_id"] = own.get(v["id"])


_DEFAULT_POLICY = select(QD.c.qos_policy_id).where(QD.c.project_id == bindparam("project"))


def _check_network_ports(conn, network_id: str, policy_id: str) -> None:
    """The bound ports without a policy of their own take the network's."""
    from neutrino.db import models
    p = models.ports
    ports = conn.execute(select(p.c.id).where(
        p.c.network_id == network_id, p.c.binding_vif_type == VIF_BRIDGE,
        ~p.c.device_owner.like("network:%"),
        p.c.id.not_in(select(common.PORT_B.c.port_id))).limit(1)).all()
    common.check_supported(conn, policy_id, ports)


def _net_create(conn, ctx, body: dict, view: dict) -> None:
    pid = body.get("qos_policy_id")
    if pid:
        _attachable(conn, ctx, pid)
    else:     # qos-default: the project's default policy, if any
        pid = conn.execute(_DEFAULT_POLICY, {"project": view["project_id"]}).scalar()
    if pid:
        _write(conn, common.NET_B, "network_id", view["id"], pid)
    view["qos_policy_id"] = pid


def _net_update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    if "qos_policy_id" not in body or body["qos_policy_id"] == current.get("qos_policy_id"):
        return False
    new = body["qos_policy_id"]
    _may_detach(conn, ctx, current.get("qos_policy_id"))
    if new:
        _attachable(conn, ctx, new)
        _check_network_ports(conn, current["id"], new)
    _write(conn, common.NET_B, "network_id", current["id"], new)
    view["qos_policy_id"] = new
    # the ports taking the network's policy show it (qos_network_policy_id)
    from neutrino.db import models
    from neutrino.plugins.core import bump_revision
    p = models.ports
    for (port_id,) in conn.execute(select(p.c.id).where(p.c.network_id == current["id"])):
        bump_revision(conn, p, port_id)
    return True


NETWORKS = ResourceExtension(
    "networks", "qos", attrs=(_policy_attr(),), views=_net_views, create=_net_create,
    update=_net_update, filters=_filters(common.NET_B, "network_id"))


# --- floating IPs (qos-fip) -----------------------------------------------------------------

def _fip_views(conn, views: list[dict]) -> None:
    own = _bound(conn, common.FIP_B, "fip_id", [v["id"] for v in views])
    for v in views:
        v["qos_policy_id"] = own.get(v["id"])


def _fip_create(conn, ctx, body: dict, view: dict) -> None:
    pid = body.get("qos_policy_id")
    if pid:
        _attachable(conn, ctx, pid)
        _write(conn, common.FIP_B, "fip_id", view["id"], pid)
    view["qos_policy_id"] = pid


def _fip_update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    if "qos_policy_id" not in body or body["qos_policy_id"] == current.get("qos_policy_id"):
        return False
    new = body["qos_policy_id"]
    _may_detach(conn, ctx, current.get("qos_policy_id"))
    if new:
        _attachable(conn, ctx, new)
    _write(conn, common.FIP_B, "fip_id", current["id"], new)
    view["qos_policy_id"] = new
    return True


FLOATINGIPS = ResourceExtension(
    "floatingips", "qos-fip", attrs=(_policy_attr(),), views=_fip_views, create=_fip_create,
    update=_fip_update, filters=_filters(common.FIP_B, "fip_id"))



# --- router gateways (qos-gateway-ip: external_gateway_info.qos_policy_id) ------------------

def _gw_views(conn, views: list[dict]) -> None:
    own = _bound(conn, common.GW_B, "router_id",
                 [v["id"] for v in views if v.get("external_gateway_info")])
    for v in views:
        if v.get("external_gateway_info"):
            v["external_gateway_info"]["qos_policy_id"] = own.get(v["id"])


def _gw_create(conn, ctx, body: dict, view: dict) -> None:
    pid = (body.get("external_gateway_info") or {}).get("qos_policy_id")
    if pid:
        _attachable(conn, ctx, pid)
        _write(conn, common.GW_B, "router_id", view["id"], pid)


def _gw_update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    """A cleared gateway takes its policy along; a gateway given without
    qos_policy_id keeps the current one, as upstream."""
    if "external_gateway_info" not in body:
        return False
    info = body["external_gateway_info"] or {}
    old = (current.get("external_gateway_info") or {}).get("qos_policy_id")
    new = info.get("qos_policy_id", old) if info else None
    if new == old:
        return False
    _may_detach(conn, ctx, old)
    if new:
        _attachable(conn, ctx, new)
    _write(conn, common.GW_B, "router_id", current["id"], new)
    return True


ROUTERS = ResourceExtension("routers", "qos-gateway-ip", views=_gw_views, create=_gw_create,
                            update=_gw_update)

RESOURCE_EXTENSIONS = [PORTS, NETWORKS, FLOATINGIPS, ROUTERS]
