"""The L3 extensions' part of a router's wire form (get_routers):

  "port_forwardings": [{"id", "floatingip_id", "status" (the floating IP's),
                        "floating_ip_address", "protocol",
                        "external_port_start", "external_port_end",
                        "internal_ip_address", "internal_port_start",
                        "internal_port_end"}]
  "conntrack_helpers": [{"protocol", "port", "helper"}]
  "metering_labels": see metering_labels()
"""
from __future__ import annotations

from sqlalchemy import select

from neutrino.db import l3x_models as lm
from neutrino.db import models
from neutrino.plugins import listing


def port_forwardings(conn, router_ids: list[str]) -> dict[str, list[dict]]:
    PF, FIP = lm.portforwardings, models.floatingips
    out: dict[str, list[dict]] = {}
    for part in listing.chunks(router_ids):
        for r in conn.execute(select(PF, FIP.c.floating_ip_address, FIP.c.status)
                              .join(FIP, FIP.c.id == PF.c.floatingip_id)
                              .where(PF.c.router_id.in_(part)).order_by(PF.c.id)).mappings():
            out.setdefault(r["router_id"], []).append(
                {k: r[k] for k in ("id", "floatingip_id", "status", "floating_ip_address",
                                   "protocol",
                                   "external_port_start", "external_port_end",
                                   "internal_ip_address", "internal_port_start",
                                   "internal_port_end")})
    return out


def conntrack_helpers(conn, router_ids: list[str]) -> dict[str, list[dict]]:
    """"conntrack_helpers": [{"protocol", "port", "helper"}] per router."""
    CTH = lm.conntrack_helpers
    out: dict[str, list[dict]] = {}
    for part in listing.chunks(router_ids):
        for r in conn.execute(select(CTH).where(CTH.c.router_id.in_(part))
                              .order_by(CTH.c.id)).mappings():
            out.setdefault(r["router_id"], []).append(
                {"protocol": r["protocol"], "port": r["port"], "helper": r["helper"]})
    return out


def metering_labels(conn, router_projects: dict[str, str]) -> dict[str, list[dict]]:
    """"metering_labels": [{"id", "project_id", "rules": [{"direction",
    "excluded", "remote_ip_prefix", "source_ip_prefix",
    "destination_ip_prefix"}]}] per router: its project's labels and the
    shared ones (only labels with rules: the others count nothing)."""
    L, LR = lm.metering_labels, lm.metering_label_rules
    projects = sorted(set(router_projects.values()))
    if not projects:
        return {}
    labels: dict[str, dict] = {}
    for part in listing.chunks(projects):
        for r in conn.execute(select(L.c.id, L.c.project_id, L.c.shared, LR)
                              .join(LR, LR.c.metering_label_id == L.c.id)
                              .where(L.c.shared | L.c.project_id.in_(part))
                              .order_by(L.c.id, LR.c.id)).mappings():
            label = labels.setdefault(r["metering_label_id"], {
                "id": r["metering_label_id"], "project_id": r["project_id"],
                "shared": r["shared"], "rules": []})
            rule = {k: r[k] for k in ("direction", "excluded", "remote_ip_prefix",
                                      "source_ip_prefix", "destination_ip_prefix")}
            if rule not in label["rules"]:
                label["rules"].append(rule)
    out: dict[str, list[dict]] = {}
    for rid, project in router_projects.items():
        mine = [{k: v for k, v in lab.items() if k != "shared"} for lab in labels.values()
                if lab["shared"] or lab["project_id"] == project]
        if mine:
            out[rid] = mine
    return out
