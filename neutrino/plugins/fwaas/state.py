"""What the L3 agents enforce for each firewall group (the wire form of
CONTRACTS.md "FWaaS wire contract", with its version) and the group's
status, derived from that version and the agents' reports.

Status, as upstream: INACTIVE without ports or without any policy; once the
group has something to enforce, PENDING_CREATE (never applied yet) or
PENDING_UPDATE until the L3 agent of every router holding one of its ports
reported the current version applied; then ACTIVE, or DOWN when the group
is admin down; ERROR as soon as one of those agents reports an error for the
current version. A report for an older version is ignored, and reports are
forgotten as soon as the group's version changes; versions never repeat.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from sqlalchemy import delete, select, update

from neutrino.db import fwaas_models as fm
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.l3 import scheduling

FG, FGP, FP, FPR, FR, REP = (fm.firewall_groups, fm.firewall_group_ports, fm.firewall_policies,
                             fm.firewall_policy_rules, fm.firewall_rules,
                             fm.firewall_group_reports)

ACTIVE, INACTIVE, DOWN, ERROR = "ACTIVE", "INACTIVE", "DOWN", "ERROR"
PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE = "PENDING_CREATE", "PENDING_UPDATE", \
    "PENDING_DELETE"
PENDING = (PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE)


def port_range(lo: int | None, hi: int | None) -> str | None:
    """The API and wire form of a stored port range: "N" or "N:M"."""
    if lo is None:
        return None
    return str(lo) if lo == hi else f"{lo}:{hi}"


def rule_wire(r) -> dict:
    return {"id": r.id, "enabled": bool(r.enabled), "protocol": r.protocol,
            "ip_version": r.ip_version, "source_ip_address": r.source_ip_address,
            "destination_ip_address": r.destination_ip_address,
            "source_port": port_range(r.source_port_range_min, r.source_port_range_max),
            "destination_port": port_range(r.destination_port_range_min,
                                           r.destination_port_range_max),
            "action": r.action}


def policy_rules(conn, policy_ids: Iterable[str]) -> dict[str, list[dict]]:
    """Each policy's rules in order (disabled ones included), one query."""
    out: dict[str, list[dict]] = {}
    ids = sorted(set(p for p in policy_ids if p))
    for part in listing.chunks(ids):
        for r in conn.execute(select(FPR.c.firewall_policy_id, FR)
                              .join(FR, FR.c.id == FPR.c.firewall_rule_id)
                              .where(FPR.c.firewall_policy_id.in_(part))
                              .order_by(FPR.c.firewall_policy_id, FPR.c.position)):
            out.setdefault(r.firewall_policy_id, []).append(rule_wire(r))
    for pid in ids:
        out.setdefault(pid, [])
    return out


def group_ports(conn, group_ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {g: [] for g in group_ids}
    for part in listing.chunks(sorted(out)):
        for port_id, gid in conn.execute(select(FGP.c.port_id, FGP.c.firewall_group_id)
                                         .where(FGP.c.firewall_group_id.in_(part))):
            out[gid].append(port_id)
    for ports in out.values():
        ports.sort()
    return out


def config_hash(admin_up: bool, ports: list[str], ingress, egress) -> str:
    """What the agents enforce for a group, hashed."""
    text = json.dumps({"admin_state_up": bool(admin_up), "ports": sorted(ports),
                       "ingress": ingress, "egress": egress}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def version_of(config: str, generation: int) -> str:
    """The wire version: the configuration's hash and its generation, which
    refresh_status bumps whenever the hash changes (so a group changed back
    to an earlier configuration gets a new version, that the agents must
    apply and report again)."""
    return f"{generation}-{config}"


def group_wires(conn, group_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{group_id: {"wire": <contract dict>, "ports": [...], "has_policy": bool,
    "row": <group row>}} for the groups that exist."""
    ids = sorted(set(group_ids))
    rows = []
    for part in listing.chunks(ids):
        rows += conn.execute(select(FG).where(FG.c.id.in_(part))).all()
    if not rows:
        return {}
    ports = group_ports(conn, [r.id for r in rows])
    rules = policy_rules(conn, [p for r in rows for p in (r.ingress_firewall_policy_id,
                                                         r.egress_firewall_policy_id)])
    out = {}
    for r in rows:
        ingress = rules[r.ingress_firewall_policy_id] if r.ingress_firewall_policy_id else None
        egress = rules[r.egress_firewall_policy_id] if r.egress_firewall_policy_id else None
        config = config_hash(r.admin_state_up, ports[r.id], ingress, egress)
        wire = {"id": r.id, "admin_state_up": bool(r.admin_state_up),
                "version": version_of(config, r.config_generation),
                "ingress": ingress, "egress": egress}
        out[r.id] = {"wire": wire, "ports": ports[r.id], "row": r, "config": config,
                     "has_policy": bool(r.ingress_firewall_policy_id
                                        or r.egress_firewall_policy_id)}
    return out


def wires_for_ports(conn, port_ids: list[str]) -> dict[str, dict]:
    """{port_id: wire} for those of `port_ids` that are in a group with at
    least one policy: a group without any is INACTIVE and enforces nothing,
    as upstream's agent driver sends nothing for it when it is created."""
    assoc: dict[str, str] = {}
    for part in listing.chunks(port_ids):
        for port_id, gid in conn.execute(select(FGP.c.port_id, FGP.c.firewall_group_id)
                                         .where(FGP.c.port_id.in_(part))):
            assoc[port_id] = gid
    if not assoc:
        return {}
    wires = group_wires(conn, assoc.values())
    return {pid: wires[gid]["wire"] for pid, gid in assoc.items()
            if gid in wires and wires[gid]["has_policy"]}


def routers_of_ports(conn, port_ids: Iterable[str]) -> dict[str, str]:
    """{port_id: router_id} for router ports."""
    rp = models.router_ports
    out = {}
    for part in listing.chunks(sorted(set(port_ids))):
        for port_id, router_id in conn.execute(select(rp.c.port_id, rp.c.router_id)
                                               .where(rp.c.port_id.in_(part))):
            out[port_id] = router_id
    return out


def router_hosts(conn, router_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """{router_id: hosts of its L3 agents} for the scheduled ones (an HA
    router has several: every instance enforces, and reports, the groups)."""
    rb, a = scheduling.RB, models.agents
    out: dict[str, set[str]] = {}
    for part in listing.chunks(sorted(set(router_ids))):
        for rid, host in conn.execute(select(rb.c.router_id, a.c.host)
                                      .join(a, a.c.id == rb.c.agent_id)
                                      .where(rb.c.router_id.in_(part))):
            out.setdefault(rid, set()).add(host)
    return {rid: tuple(sorted(hosts)) for rid, hosts in out.items()}


def groups_routers(conn, group_ids: Iterable[str]) -> set[str]:
    """The routers holding a port of any of these groups."""
    ports = [p for plist in group_ports(conn, group_ids).values() for p in plist]
    return set(routers_of_ports(conn, ports).values())


def compute_status(has_ports: bool, has_policy: bool, admin_up: bool, version: str,
                   hosts: set[str], reports: dict[str, tuple[str, str]],
                   previous: str) -> str:
    """The pure status rule (module docstring). `reports`: {host: (version,
    status)}; `hosts`: the L3 agent hosts of the routers of the group's ports;
    `previous`: the stored status (PENDING_CREATE for a new group)."""
    if not has_ports or not has_policy:
        return INACTIVE
    current = {h: st for h, (ver, st) in reports.items() if ver == version and h in hosts}
    if any(st == ERROR for st in current.values()):
        return ERROR
    if hosts and all(h in current for h in hosts):
        return ACTIVE if admin_up else DOWN
    return PENDING_CREATE if previous == PENDING_CREATE else PENDING_UPDATE


def refresh_status(conn, group_ids: Iterable[str], new: Iterable[str] = (),
                   changed: bool = True) -> dict[str, str]:
    """Recompute and store the status of these groups (`new`: created in
    this transaction); returns {group_id: status}. A status change is not a
    revision of the group (as upstream's status updates). `changed`: called
    after an API change, which starts a new generation when the
    configuration differs (not from a report: the version the agent was
    given must stay the current one)."""
    info = group_wires(conn, group_ids)
    if not info:
        return {}
    new = set(new)
    for gid, g in info.items():
        if g["config"] != g["row"].config_hash:
            # a new configuration: a new generation, hence a new version
            generation = g["row"].config_generation + (1 if changed else 0)
            conn.execute(update(FG).where(FG.c.id == gid).values(
                config_hash=g["config"], config_generation=generation))
            g["wire"]["version"] = version_of(g["config"], generation)
        # reports of other versions can never count again
        conn.execute(delete(REP).where(REP.c.firewall_group_id == gid,
                                       REP.c.version != g["wire"]["version"]))
    all_ports = [p for g in info.values() for p in g["ports"]]
    port_router = routers_of_ports(conn, all_ports)
    hosts_of_router = router_hosts(conn, port_router.values())
    reports: dict[str, dict[str, tuple[str, str]]] = {}
    for part in listing.chunks(sorted(info)):
        for r in conn.execute(select(REP.c.firewall_group_id, REP.c.host, REP.c.version,
                                     REP.c.status).where(REP.c.firewall_group_id.in_(part))):
            reports.setdefault(r.firewall_group_id, {})[r.host] = (r.version, r.status)
    out = {}
    for gid, g in info.items():
        hosts = {h for p in g["ports"] if p in port_router
                 for h in hosts_of_router.get(port_router[p], ())}
        # a port whose router has no agent yet: nobody can confirm it
        if any(p not in port_router or port_router[p] not in hosts_of_router
               for p in g["ports"]):
            hosts.add("")
        previous = PENDING_CREATE if gid in new else g["row"].status
        status = compute_status(bool(g["ports"]), g["has_policy"], g["row"].admin_state_up,
                                g["wire"]["version"], hosts, reports.get(gid, {}), previous)
        if status != g["row"].status:
            conn.execute(update(FG).where(FG.c.id == gid).values(status=status))
        out[gid] = status
    return out


def error_reasons(conn, group_ids: list[str]) -> dict[str, str]:
    """{group_id: "host: reason; ..."} from the ERROR reports of groups whose
    status is ERROR (an ERROR status rests on reports of its version)."""
    out: dict[str, list[str]] = {}
    for part in listing.chunks(group_ids):
        for gid, host, reason in conn.execute(
                select(REP.c.firewall_group_id, REP.c.host, REP.c.reason)
                .where(REP.c.firewall_group_id.in_(part), REP.c.status == ERROR)
                .order_by(REP.c.host)):
            out.setdefault(gid, []).append(f"{host}: {reason or 'unknown error'}")
    return {gid: "; ".join(parts) for gid, parts in out.items()}


def notify_routers(core, router_ids: Iterable[str]) -> None:
    """After commit: each router's L3 agent re-fetches it."""
    ids = sorted(set(r for r in router_ids if r))
    if not ids:
        return
    hosts = core.db.read(lambda conn: router_hosts(conn, ids))
    for rid in ids:
        core.notifier.resource_changed("router", rid, -1, hosts=hosts.get(rid, ()))
