"""What the QoS plugins share: visibility of policies (own, shared, or
shared with the caller by RBAC), lookups, rule views, the ports a policy
reaches (directly or through their network) and the agent notifications."""
from __future__ import annotations

from sqlalchemy import or_, select, union

from neutrino.api.policy import Context
from neutrino.db import models
from neutrino.db import qos_models as qm
from neutrino.plugins import listing
from neutrino.plugins.ml2.mech import VIF_BRIDGE
from neutrino.plugins.qos import faults as qf
from neutrino.plugins.qos.resources import RULE_TYPES

QP, QR, QD = qm.qos_policies, qm.qos_rules, qm.qos_default_policies
PORT_B, NET_B = qm.qos_port_policy_bindings, qm.qos_network_policy_bindings
FIP_B, GW_B = qm.qos_fip_policy_bindings, qm.qos_router_gw_policy_bindings
OBJECT_TYPE = "qos_policy"


def _rbac_clause(project_id: str):
    """Policies granted to `project_id` (or to every project) by RBAC."""
    from neutrino.plugins.rbac import registry
    return registry.shared_clause(OBJECT_TYPE, QP, project_id)


def scope(ctx: Context):
    """None for admins; else own, shared and RBAC-shared policies."""
    if ctx.is_admin:
        return None
    return or_(QP.c.project_id == ctx.project_id, QP.c.shared,
               _rbac_clause(ctx.project_id))


def policy_row(conn, ctx: Context | None, policy_id: str, lock: bool = False):
    """The policy as `ctx` may see it (ctx None: unscoped), else 404."""
    stmt = select(QP).where(QP.c.id == policy_id)
    where = scope(ctx) if ctx is not None else None
    if where is not None:
        stmt = stmt.where(where)
    if lock and conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise qf.QosPolicyNotFound(policy_id=policy_id)
    return row


def visible_policy_ids(conn, ctx: Context, ids: list[str]) -> set[str]:
    stmt = select(QP.c.id).where(QP.c.id.in_(ids))
    where = scope(ctx)
    if where is not None:
        stmt = stmt.where(where)
    return {r[0] for r in conn.execute(stmt)}


def shared_for(conn, ctx: Context | None, rows) -> dict[str, bool]:
    """`shared` as the caller sees it, as upstream: the wildcard grant, or
    a grant to the caller's project."""
    from neutrino.plugins.rbac import registry
    out = {r["id"]: bool(r["shared"]) for r in rows}
    pending = [i for i, s in out.items() if not s]
    if ctx is not None and ctx.project_id and pending:
        for pid in registry.granted_ids(conn, OBJECT_TYPE, pending, ctx.project_id):
            out[pid] = True
    return out


def rule_view(r, with_policy: bool = False) -> dict:
    rtype = RULE_TYPES[r["type"]]
    view = {"id": r["id"]}
    for name in rtype.fields:
        view[name] = r[name]
    if rtype.directions:
        view["direction"] = r["direction"]
    if with_policy:
        view["qos_policy_id"] = r["qos_policy_id"]
        view["type"] = r["type"]
    return view


def rules_of(conn, policy_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for part in listing.chunks(policy_ids):
        for r in conn.execute(select(QR).where(QR.c.qos_policy_id.in_(part))
                              .order_by(QR.c.qos_policy_id, QR.c.type, QR.c.id)).mappings():
            out.setdefault(r["qos_policy_id"], []).append(rule_view(r, with_policy=True))
    return out


def rule_types_of(conn, policy_id: str) -> set[str]:
    return {r[0] for r in conn.execute(select(QR.c.type).where(QR.c.qos_policy_id == policy_id))}


# --- the ports a policy reaches -----------------------------------------------------------

def affected_ports(conn, policy_ids: list[str], bound_only: bool = False):
    """(port id, network id, host, revision) of the ports whose effective
    policy is one of `policy_ids`: their own, or their network's when they
    have none (the port's overrides the network's)."""
    p = models.ports
    direct = select(PORT_B.c.port_id).where(PORT_B.c.policy_id.in_(policy_ids))
    via_net = (select(p.c.id).join(NET_B, NET_B.c.network_id == p.c.network_id)
               .where(NET_B.c.policy_id.in_(policy_ids),
                      p.c.id.not_in(select(PORT_B.c.port_id)),
                      # upstream: network policies apply to compute ports only
                      ~p.c.device_owner.like("network:%")))
    stmt = select(p.c.id, p.c.network_id, p.c.binding_host, p.c.revision_number).where(
        p.c.id.in_(union(direct, via_net)))
    if bound_only:
        stmt = stmt.where(p.c.binding_vif_type == VIF_BRIDGE)
    return conn.execute(stmt).all()


def check_supported(conn, policy_id: str, ports) -> None:
    """Upstream's validate_policy_for_port with the Linux bridge driver: a
    port bound by it cannot hold a rule type the driver does not enforce."""
    from neutrino.plugins.qos.resources import LINUXBRIDGE_SUPPORTED
    unsupported = sorted(rule_types_of(conn, policy_id) - set(LINUXBRIDGE_SUPPORTED))
    if not unsupported:
        return
    for port in ports:
        raise qf.QosRuleNotSupported(rule_type=unsupported[0], port_id=port[0])


def notify_ports(core, ports) -> None:
    """Tell the hosts of these ports that their QoS changed."""
    for pid, _net, host, rev in ports:
        if host:
            core.notifier.resource_changed("port", pid, rev, hosts=(host,))


def affected_routers(conn, policy_ids: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(router id, its L3 agents' hosts) of the routers whose floating IPs
    or gateway hold one of `policy_ids` (qos-fip, qos-gateway-ip)."""
    from neutrino.plugins.l3 import scheduling
    fip = models.floatingips
    ids = {r[0] for r in conn.execute(select(fip.c.router_id).join(
        FIP_B, FIP_B.c.fip_id == fip.c.id).where(FIP_B.c.policy_id.in_(policy_ids),
                                                 fip.c.router_id.is_not(None)))}
    ids |= {r[0] for r in conn.execute(select(GW_B.c.router_id)
                                       .where(GW_B.c.policy_id.in_(policy_ids)))}
    return [(rid, tuple(sorted(scheduling.router_hosts(conn, rid)))) for rid in sorted(ids)]


def notify_routers(core, routers) -> None:
    for rid, hosts in routers:
        core.notifier.resource_changed("router", rid, -1, hosts=hosts)
