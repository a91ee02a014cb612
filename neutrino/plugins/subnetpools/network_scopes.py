"""Networks' ipv4_address_scope / ipv6_address_scope (address-scope): the
address scope of the subnet pools their subnets of each family come from
(one per family and network: the allocation affinity rules see to it)."""
from __future__ import annotations

from sqlalchemy import select

from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.subnetpools import common

S, SP = models.subnets, common.SP


def network_views(conn, views: list[dict]) -> None:
    found: dict[tuple[str, int], str] = {}
    ids = [v["id"] for v in views]
    for part in listing.chunks(ids):
        stmt = select(S.c.network_id, S.c.ip_version, SP.c.address_scope_id).join(
            SP, SP.c.id == S.c.subnetpool_id).where(
            S.c.network_id.in_(part), SP.c.address_scope_id.is_not(None))
        for nid, version, scope in conn.execute(stmt):
            found[(nid, version)] = scope
    for v in views:
        v["ipv4_address_scope"] = found.get((v["id"], 4))
        v["ipv6_address_scope"] = found.get((v["id"], 6))


def _created(conn, ctx, body: dict, view: dict) -> None:
    """A new network has no subnets, so no scopes: nothing to read."""
    view["ipv4_address_scope"] = view["ipv6_address_scope"] = None


NETWORKS = ResourceExtension("networks", "address-scope", views=network_views,
                             create=_created)
