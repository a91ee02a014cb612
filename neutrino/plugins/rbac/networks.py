"""Networks as an RBAC object type: access_as_shared (use it: ports,
subnets) and access_as_external (attach routers, floating IPs).

The networks.shared and networks.external columns stay as caches of the
grants (`shared`: a wildcard access_as_shared exists; `router:external`: any
access_as_external exists), so the hot paths keep their plain column tests;
core.network_scope/get_network_row add the grants naming a project.
Writing `shared` or `router:external` on a network adds or removes the
wildcard grants in the same transaction.
"""
from __future__ import annotations

from sqlalchemy import delete, exists, select, update

from neutrino.db import models
from neutrino.db.rbac_models import rbac_policies as RBAC
from neutrino.plugins.core import bump_revision
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.rbac import registry

N, P, S = models.networks, models.ports, models.subnets
# Ports a project may keep on a network it no longer sees: the DHCP port
# is the service's, not the project's.
_SERVICE_OWNERS = ("network:dhcp",)


def _users(conn, network_id: str, action: str) -> set[str]:
    """Projects using the network: with ports or subnets on it (shared use),
    or with routers whose gateway is on it or floating IPs from it
    (external use)."""
    if action == registry.EXTERNAL:
        r, f = models.routers, models.floatingips
        users = {p for (p,) in conn.execute(select(r.c.project_id).join(
            P, P.c.id == r.c.gw_port_id).where(P.c.network_id == network_id))}
        users |= {p for (p,) in conn.execute(select(f.c.project_id).where(
            f.c.floating_network_id == network_id))}
        return users
    users = {p for (p,) in conn.execute(select(P.c.project_id).where(
        P.c.network_id == network_id, P.c.device_owner.notin_(_SERVICE_OWNERS)))}
    users |= {p for (p,) in conn.execute(select(S.c.project_id).where(
        S.c.network_id == network_id))}
    return users


def network_in_use(conn, network_id: str, target: str, action: str = registry.SHARED) -> bool:
    """Whether `target` still uses the network the way `action` allows;
    "*": a project other than the owner without a grant of its own, or the
    default external network (get-me-a-network needs its wildcard)."""
    owner = conn.execute(select(N.c.project_id).where(N.c.id == network_id)).scalar()
    if owner is None or target == owner:
        return False
    users = _users(conn, network_id, action) - {owner, ""}
    if target != registry.WILDCARD:
        return target in users
    if action == registry.EXTERNAL and _is_default_external(conn, network_id):
        return True
    own = {t for (t,) in conn.execute(select(RBAC.c.target_project).where(
        RBAC.c.object_type == "network", RBAC.c.object_id == network_id,
        RBAC.c.action == action, RBAC.c.target_project != registry.WILDCARD))}
    return bool(users - own)


def _is_default_external(conn, network_id: str) -> bool:
    try:
        from neutrino.db.seg_models import default_external_networks as D
    except ImportError:         # auto-allocated-topology not served
        return False
    return conn.execute(select(D.c.network_id).where(
        D.c.network_id == network_id)).first() is not None


def network_changed(conn, network_id: str) -> None:
    """Refresh the cache columns from the grants and bump the revision."""
    def has(action, wildcard_only):
        cond = [RBAC.c.object_type == "network", RBAC.c.object_id == network_id,
                RBAC.c.action == action]
        if wildcard_only:
            cond.append(RBAC.c.target_project == registry.WILDCARD)
        return conn.execute(select(exists().where(*cond))).scalar()
    conn.execute(update(N).where(N.c.id == network_id).values(
        shared=bool(has(registry.SHARED, True)), external=bool(has(registry.EXTERNAL, False))))
    bump_revision(conn, N, network_id)


registry.register_object_type("network", N, (registry.SHARED, registry.EXTERNAL),
                              in_use=network_in_use, changed=network_changed)


def _drop(conn, network_id: str, action: str, wildcard_only: bool) -> None:
    cond = [RBAC.c.object_type == "network", RBAC.c.object_id == network_id,
            RBAC.c.action == action]
    if wildcard_only:
        cond.append(RBAC.c.target_project == registry.WILDCARD)
    conn.execute(delete(RBAC).where(*cond))


def _create(conn, ctx, body: dict, view: dict) -> None:
    if body.get("shared"):
        registry.grant(conn, "network", view["id"], view["project_id"], registry.WILDCARD)
    if body.get("router:external"):
        registry.grant(conn, "network", view["id"], view["project_id"], registry.WILDCARD,
                       registry.EXTERNAL)


def _update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    # networks.py refused unsharing a network others use (InvalidSharedSetting)
    nid, owner = current["id"], current["project_id"]
    if body.get("shared") is True:
        registry.grant(conn, "network", nid, owner, registry.WILDCARD)
    elif body.get("shared") is False:
        _drop(conn, nid, registry.SHARED, wildcard_only=True)
    if body.get("router:external") is True:
        registry.grant(conn, "network", nid, owner, registry.WILDCARD, registry.EXTERNAL)
    elif body.get("router:external") is False:
        _drop(conn, nid, registry.EXTERNAL, wildcard_only=False)
    return False


def _delete(conn, ctx, view: dict) -> None:
    registry.delete_object(conn, "network", view["id"])


NETWORK_GRANTS = ResourceExtension("networks", "rbac-policies", create=_create,
                                   update=_update, delete=_delete)
