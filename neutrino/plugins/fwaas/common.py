"""What the three FWaaS plugins share: visibility (own or shared, as
upstream's model query), lookups, pending-state guards, the project's
default firewall group and the after-commit notifications."""
from __future__ import annotations

from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError

from neutrino.api.policy import Context
from neutrino.db import fwaas_models as fm
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.fwaas import faults as ff
from neutrino.plugins.fwaas import state

FG, FGP, FP, FPR, FR = (fm.firewall_groups, fm.firewall_group_ports, fm.firewall_policies,
                        fm.firewall_policy_rules, fm.firewall_rules)

DEFAULT_FWG = "default"
DEFAULT_FWP_INGRESS = "default ingress"
DEFAULT_FWP_EGRESS = "default egress"


def scope(table, ctx: Context):
    """None for admins; else the caller's own rows and the shared ones."""
    if ctx.is_admin:
        return None
    return or_(table.c.project_id == ctx.project_id, table.c.shared)


def find(conn, table, ctx: Context, rid: str, not_found, lock: bool = False):
    stmt = select(table).where(table.c.id == rid)
    where = scope(table, ctx)
    if where is not None:
        stmt = stmt.where(where)
    if lock and conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise not_found(rid)
    return row


def rule_row(conn, ctx, rid, lock=False):
    return find(conn, FR, ctx, rid, lambda i: ff.FirewallRuleNotFound(firewall_rule_id=i), lock)


def policy_row(conn, ctx, pid, lock=False):
    return find(conn, FP, ctx, pid,
                lambda i: ff.FirewallPolicyNotFound(firewall_policy_id=i), lock)


def group_row(conn, ctx, gid, lock=False):
    return find(conn, FG, ctx, gid, lambda i: ff.FirewallGroupNotFound(firewall_id=i), lock)


def policies_with_rule(conn, rule_id: str, project_id: str | None = None) -> list[str]:
    stmt = select(FPR.c.firewall_policy_id).where(FPR.c.firewall_rule_id == rule_id)
    if project_id is not None:
        stmt = stmt.join(FP, FP.c.id == FPR.c.firewall_policy_id).where(
            FP.c.project_id == project_id)
    return sorted(r[0] for r in conn.execute(stmt))


def groups_with_policies(conn, policy_ids: list[str], project_id: str | None = None):
    if not policy_ids:
        return []
    stmt = select(FG.c.id, FG.c.status, FG.c.project_id).where(or_(
        FG.c.ingress_firewall_policy_id.in_(policy_ids),
        FG.c.egress_firewall_policy_id.in_(policy_ids)))
    if project_id is not None:
        stmt = stmt.where(FG.c.project_id == project_id)
    return conn.execute(stmt).all()


def ensure_not_pending(conn, group_ids: list[str]) -> None:
    """FirewallGroupInPendingState (409), as upstream's _ensure_update_*."""
    for gid in group_ids:
        status = view_status(conn, gid)
        if status in state.PENDING:
            raise ff.FirewallGroupInPendingState(firewall_id=gid, pending_state=status)


def view_status(conn, gid: str) -> str | None:
    row = conn.execute(select(FG.c.status).where(FG.c.id == gid)).first()
    if row is None:
        return None
    has_port = conn.execute(select(FGP.c.port_id).where(FGP.c.firewall_group_id == gid)
                            .limit(1)).first()
    return row[0] if has_port else state.INACTIVE


def policy_groups_not_pending(conn, policy_id: str, project_id: str) -> None:
    ensure_not_pending(conn, [g.id for g in groups_with_policies(conn, [policy_id],
                                                                  project_id)])


# --- the project's default firewall group --------------------------------------------

def ensure_default_group(conn, project_id: str, rules_cfg) -> str | None:
    """The project's `default` group (by default ingress: deny all, egress:
    allow all; no ports), created with its two policies and four rules
    ([default_fwg_rules]) on first need, as upstream does on any FWaaS list
    and on group creation. Not counted against the quotas' check (upstream
    writes them below its quota layer)."""
    from neutrino.plugins.fwaas.opts import default_rules
    from neutrino.plugins.fwaas.rules import split_range
    if not project_id:
        return None
    row = conn.execute(select(FG.c.id).where(FG.c.default_for == project_id)).first()
    if row:
        return row[0]
    ts = listing.now()
    std = {"created_at": ts, "updated_at": ts, "revision_number": 0}
    rule_ids = {}
    for rule in default_rules(rules_cfg):
        key = rule.pop("key")
        rule_ids[key] = listing.new_id()
        for side in ("source", "destination"):
            lo, hi = split_range(rule.pop(f"{side}_port"))
            rule[f"{side}_port_range_min"], rule[f"{side}_port_range_max"] = lo, hi
        conn.execute(insert(FR).values(id=rule_ids[key], project_id=project_id, **rule,
                                       **std))
    policies = {}
    for key, name, desc, rules in (("in", DEFAULT_FWP_INGRESS, "Ingress firewall policy",
                                    ("in4", "in6")),
                                   ("eg", DEFAULT_FWP_EGRESS, "Egress firewall policy",
                                    ("eg4", "eg6"))):
        policies[key] = listing.new_id()
        conn.execute(insert(FP).values(id=policies[key], project_id=project_id, name=name,
                                       description=desc, audited=False, shared=False, **std))
        conn.execute(insert(FPR), [{"firewall_policy_id": policies[key],
                                    "firewall_rule_id": rule_ids[r], "position": i}
                                   for i, r in enumerate(rules, start=1)])
    gid = listing.new_id()
    try:
        conn.execute(insert(FG).values(
            id=gid, project_id=project_id, name=DEFAULT_FWG,
            description="Default firewall group", admin_state_up=True,
            status=state.INACTIVE, shared=False, ingress_firewall_policy_id=policies["in"],
            egress_firewall_policy_id=policies["eg"], default_for=project_id, **std))
    except IntegrityError:
        raise RetryTransaction("default firewall group created concurrently") from None
    return gid


def ensure_default_for_list(core, ctx: Context, query) -> None:
    """Upstream creates the default group of the project a list is filtered
    on, else the caller's."""
    wanted = query.filters.get("project_id") or query.filters.get("tenant_id")
    project = wanted[0] if wanted else ctx.project_id
    if not project or not isinstance(project, str) or len(project) > 255:
        return
    if core.db.read(lambda conn: conn.execute(
            select(FG.c.id).where(FG.c.default_for == project)).first()):
        return
    core.db.write(lambda conn: ensure_default_group(conn, project,
                                                    core.cfg.default_fwg_rules))
