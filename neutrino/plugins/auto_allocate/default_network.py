"""networks' is_default (auto-allocated-topology): the one external network
that get-me-a-network connects routers to. Only an external network keeps
it (as upstream's externalnetworks.is_default); a second default is
refused (DefaultExternalNetworkExists) and the unique `singleton` column
keeps it so under races."""
from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.api.faults import Conflict
from neutrino.db import seg_models as sm
from neutrino.plugins.extend import ResourceExtension

D = sm.default_external_networks


class DefaultExternalNetworkExists(Conflict):
    message = "A default external network already exists: {net_id}."


def default_external_network(conn) -> str | None:
    return conn.execute(select(D.c.network_id)).scalar()


def _views(conn, views: list[dict]) -> None:
    ids = [v["id"] for v in views]
    defaults = {r[0] for r in conn.execute(select(D.c.network_id).where(D.c.network_id.in_(ids)))}
    for view in views:
        view["is_default"] = view["id"] in defaults


def _set(conn, network_id: str, external: bool, is_default: bool) -> bool:
    current = default_external_network(conn)
    if not is_default or not external:
        if current == network_id:
            conn.execute(delete(D).where(D.c.network_id == network_id))
            return True
        return False
    if current == network_id:
        return False
    if current is not None:
        raise DefaultExternalNetworkExists(net_id=current)
    try:
        with conn.begin_nested():
            conn.execute(insert(D).values(network_id=network_id, singleton=1))
    except IntegrityError:
        raise DefaultExternalNetworkExists(net_id=default_external_network(conn)) from None
    return True


def _create(conn, ctx, body: dict, view: dict) -> None:
    view["is_default"] = False
    if body.get("is_default"):
        _set(conn, view["id"], bool(body.get("router:external")), True)
        view["is_default"] = bool(body.get("router:external"))


def _update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    external = body.get("router:external", current.get("router:external"))
    is_default = body.get("is_default", current.get("is_default"))
    if "is_default" not in body and "router:external" not in body:
        return False
    changed = _set(conn, current["id"], bool(external), bool(is_default))
    view["is_default"] = bool(external and is_default)
    return changed


def _filters(table, filters: dict) -> list:
    values = {a.to_boolean(v) for v in filters.get("is_default") or []}
    if values == {True}:
        return [table.c.id.in_(select(D.c.network_id))]
    if values == {False}:
        return [table.c.id.notin_(select(D.c.network_id))]
    return []


NETWORKS = ResourceExtension(
    "networks", "auto-allocated-topology",
    attrs=(Attr("is_default", post=True, put=True, default=False, convert=a.to_boolean,
                policy=True, sort=False),),
    views=_views, create=_create, update=_update, filters=_filters)
