"""QoS policies as an RBAC object type ("qos_policy", access_as_shared):
a policy is visible and attachable by the projects it is granted to;
`shared` is the view of the wildcard grant (cached in qos_policies.shared);
a grant cannot go while its target's networks, ports, floating IPs or
router gateways use the policy (409)."""
from __future__ import annotations

from sqlalchemy import exists, select, update

from neutrino.db import models
from neutrino.plugins.core import bump_revision
from neutrino.plugins.qos import common
from neutrino.plugins.rbac import registry
from neutrino.plugins.rbac.registry import RBAC

QP = common.QP
# (binding table, its key column, the bound table)
USERS = ((common.NET_B, "network_id", models.networks), (common.PORT_B, "port_id", models.ports),
         (common.FIP_B, "fip_id", models.floatingips), (common.GW_B, "router_id", models.routers))


def policy_users(conn, policy_id: str, target: str, owner: str) -> str | None:
    """A "<kind> <id>" of `target` using the policy; "*": any project
    without a grant of its own — the owner's objects too, as upstream's
    QoS (a policy its owner attached to a network stays shared)."""
    granted = select(RBAC.c.target_project).where(
        RBAC.c.object_type == common.OBJECT_TYPE, RBAC.c.object_id == policy_id,
        RBAC.c.action == registry.SHARED)
    for binding, key, table in USERS:
        cond = (table.c.project_id.not_in(granted) if target == registry.WILDCARD
                else table.c.project_id == target)
        used = conn.execute(select(table.c.id).join(binding, binding.c[key] == table.c.id)
                            .where(binding.c.policy_id == policy_id, cond).limit(1)).first()
        if used:
            return f"{table.name[:-1]} {used[0]}"
    return None


def policy_in_use(conn, policy_id: str, target: str) -> bool:
    owner = conn.execute(select(QP.c.project_id).where(QP.c.id == policy_id)).scalar()
    if owner is None or target == owner:     # (the owner never needs a grant)
        return False
    return policy_users(conn, policy_id, target, owner) is not None


def policy_changed(conn, policy_id: str) -> None:
    """A grant came or went through /v2.0/rbac-policies: refresh the cache."""
    wildcard = conn.execute(select(exists().where(
        RBAC.c.object_type == common.OBJECT_TYPE, RBAC.c.object_id == policy_id,
        RBAC.c.action == registry.SHARED, RBAC.c.target_project == registry.WILDCARD))).scalar()
    conn.execute(update(QP).where(QP.c.id == policy_id).values(shared=bool(wildcard)))
    bump_revision(conn, QP, policy_id)


# update_counts_new_target=False: narrowing a grant is checked as removing
# the old target first, as upstream's object RBAC (a wildcard cannot become a
# grant to the one project using the policy)
registry.register_object_type(common.OBJECT_TYPE, QP, (registry.SHARED,),
                              in_use=policy_in_use, changed=policy_changed,
                              update_counts_new_target=False)
