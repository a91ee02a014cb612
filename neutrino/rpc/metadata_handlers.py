"""The server's side of the metadata agent protocol (upstream's
MetadataRpcCallback): one call.

    get_ports(filters) -> {"ports": [...]}   the ports matching every filter
        given: device_id, device_owner, network_id, mac_address (lists of
        values) and fixed_ips {"ip_address": [...]}; each port with id,
        network_id, device_id, device_owner, mac_address, project_id
        (tenant_id too) and fixed_ips. No filter at all: no ports (the agent
        always names a router or networks).
"""
from __future__ import annotations

from sqlalchemy import select

from neutrino.db import models
from neutrino.plugins import listing

METADATA_METHODS = ("get_ports",)
LIST_FILTERS = ("device_id", "device_owner", "network_id", "mac_address")


def get_ports(conn, filters: dict) -> dict:
    p, ipa = models.ports, models.ip_allocations
    where = []
    for name in LIST_FILTERS:
        values = filters.get(name)
        if values is not None:
            where.append(getattr(p.c, name).in_(list(values)[:1000]))
    addresses = (filters.get("fixed_ips") or {}).get("ip_address")
    if addresses is not None:
        where.append(p.c.id.in_(select(ipa.c.port_id).where(
            ipa.c.ip_address.in_(list(addresses)[:1000]))))
    if not where:
        return {"ports": []}
    rows = conn.execute(select(p.c.id, p.c.network_id, p.c.device_id, p.c.device_owner,
                               p.c.mac_address, p.c.project_id).where(*where)).all()
    ips: dict[str, list[dict]] = {}
    for part in listing.chunks([r.id for r in rows]):
        for r in conn.execute(select(ipa.c.port_id, ipa.c.subnet_id, ipa.c.ip_address)
                              .where(ipa.c.port_id.in_(part))):
            ips.setdefault(r.port_id, []).append({"subnet_id": r.subnet_id,
                                                  "ip_address": r.ip_address})
    return {"ports": [{"id": r.id, "network_id": r.network_id, "device_id": r.device_id,
                       "device_owner": r.device_owner, "mac_address": r.mac_address,
                       "project_id": r.project_id, "tenant_id": r.project_id,
                       "fixed_ips": ips.get(r.id, [])} for r in rows]}
