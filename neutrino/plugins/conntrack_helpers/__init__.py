"""Feature: router conntrack helpers (l3-conntrack-helper,
expose-l3-conntrack-helper): /v2.0/routers/{router_id}/conntrack_helpers on
the generic Controller (bound per request to the router); `conntrack_helpers`
in every router view; the L3 agent attaches them with CT --helper rules in
the router namespace's raw table (neutrino.agent.l3.conntrack_helpers)."""
from __future__ import annotations

from sqlalchemy import select
from starlette.routing import Route

from neutrino.api.attributes import Attr
from neutrino.api import subcollections
from neutrino.db import l3x_models as lm
from neutrino.plugins import listing
from neutrino.plugins.conntrack_helpers.plugin import ConntrackHelperPlugin
from neutrino.plugins.conntrack_helpers.resource import CONNTRACK_HELPER
from neutrino.plugins.extend import ResourceExtension

EXTENSIONS = [
    ("l3-conntrack-helper", "L3 Conntrack Helper",
     "Allow adding CT target rules for conntrack helper"),
    ("expose-l3-conntrack-helper", "Expose CT target rules for conntrack helper",
     "Expose allow adding CT target rules for conntrack helper"),
]

CTH = lm.conntrack_helpers


def _router_views(conn, views: list[dict]) -> None:
    found: dict[str, list] = {}
    for part in listing.chunks([v["id"] for v in views]):
        for r in conn.execute(select(CTH).where(CTH.c.router_id.in_(part))
                              .order_by(CTH.c.id)).mappings():
            found.setdefault(r["router_id"], []).append(
                {"protocol": r["protocol"], "port": r["port"], "helper": r["helper"]})
    for v in views:
        v["conntrack_helpers"] = found.get(v["id"], [])


RESOURCE_EXTENSIONS = [ResourceExtension(
    "routers", "expose-l3-conntrack-helper",
    attrs=(Attr("conntrack_helpers", filter=False, sort=False),), views=_router_views)]

_PARENT_OWNER = "project_id:%(ext_parent_owner)s"
POLICY_RULES = {
    "get_router_conntrack_helper": f"rule:admin_only or (role:reader and {_PARENT_OWNER})",
    **{f"{action}_router_conntrack_helper":
       f"rule:admin_only or (role:member and {_PARENT_OWNER})"
       for action in ("create", "update", "delete")},
    # the generic Controller checks <action>_conntrack_helper: upstream's names decide
    **{f"{action}_conntrack_helper": f"rule:{action}_router_conntrack_helper"
       for action in ("get", "create", "update", "delete")},
}


def install(api) -> list[Route]:
    core = api.core
    return subcollections.routes(api, "/v2.0/routers/{router}/conntrack_helpers", "router",
                                 CONNTRACK_HELPER,
                                 lambda router_id: ConntrackHelperPlugin(core, router_id))


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.plugins import l3x_openapi
    l3x_openapi.sub_collection(schemas, paths, CONNTRACK_HELPER, "routers", "router")
