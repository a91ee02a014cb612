"""Firewall rules: upstream's protocol/port and address-family checks, the
in-use guard, and `audited` reset on the policies holding a changed rule."""
from __future__ import annotations

import ipaddress

from sqlalchemy import delete, insert, select, update

from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision, check_owner, set_tags
from neutrino.plugins.fwaas import common, state
from neutrino.plugins.fwaas import faults as ff
from neutrino.plugins.fwaas.resources import FIREWALL_RULE
from neutrino.plugins.races import retry_if_parent_vanished

FR, FP, FPR = common.FR, common.FP, common.FPR
_FIELDS = ("name", "description", "shared", "protocol", "ip_version", "source_ip_address",
           "destination_ip_address", "action", "enabled")


def split_range(text: str | None) -> tuple[int | None, int | None]:
    """get_min_max_ports_from_range: "N" -> (N, N), "N:M" -> (N, M)."""
    if not text:
        return None, None
    lo, _, hi = text.partition(":")
    hi = hi or lo
    if int(lo) > int(hi):
        raise ff.FirewallRuleInvalidPortValue(port=f"{lo}:{hi}")
    return int(lo), int(hi)


def check_rule(rule: dict) -> None:
    """validate_fwr_protocol_parameters and validate_fwr_src_dst_ip_version,
    on the rule as it would be stored."""
    protocol = rule.get("protocol")
    ports = rule.get("source_port") or rule.get("destination_port")
    if protocol and protocol not in ("tcp", "udp") and ports:
        raise ff.FirewallRuleInvalidICMPParameter(param="Source, destination port")
    if not protocol and ports:
        raise ff.FirewallRuleWithPortWithoutProtocolInvalid()
    for key in ("source_ip_address", "destination_ip_address"):
        if rule.get(key) and ipaddress.ip_interface(rule[key]).version != rule["ip_version"]:
            raise ff.FirewallIpAddressConflict()


def rule_view(r, policies: list[str] | None, tags: list[str]) -> dict:
    return {"id": r["id"], "name": r["name"], "description": r["description"],
            "tenant_id": r["project_id"], "project_id": r["project_id"],
            "firewall_policy_id": policies or None, "shared": r["shared"],
            "protocol": r["protocol"], "ip_version": r["ip_version"],
            "source_ip_address": r["source_ip_address"],
            "destination_ip_address": r["destination_ip_address"],
            "source_port": state.port_range(r["source_port_range_min"],
                                            r["source_port_range_max"]),
            "destination_port": state.port_range(r["destination_port_range_min"],
                                                 r["destination_port_range_max"]),
            "action": r["action"], "enabled": r["enabled"], "tags": tags,
            "created_at": listing.iso(r["created_at"]),
            "updated_at": listing.iso(r["updated_at"]),
            "revision_number": r["revision_number"]}


def _columns(body: dict) -> dict:
    out = {k: body[k] for k in _FIELDS if k in body}
    for key in ("source", "destination"):
        if f"{key}_port" in body:
            lo, hi = split_range(body[f"{key}_port"])
            out[f"{key}_port_range_min"], out[f"{key}_port_range_max"] = lo, hi
    return out


class FirewallRulePlugin:
    def __init__(self, core: Core):
        self.core = core

    def _views(self, conn, rows) -> list[dict]:
        ids = [r["id"] for r in rows]
        policies: dict[str, list[str]] = {}
        for part in listing.chunks(ids):
            for rid, pid in conn.execute(select(FPR.c.firewall_rule_id, FPR.c.firewall_policy_id)
                                         .where(FPR.c.firewall_rule_id.in_(part))):
                policies.setdefault(rid, []).append(pid)
        tags = listing.tags_for(conn, ids)
        return [rule_view(r, sorted(policies.get(r["id"], [])), tags.get(r["id"], []))
                for r in rows]

    def get(self, ctx: Context, rule_id: str) -> dict:
        return self.core.db.read(
            lambda conn: self._views(conn, [common.rule_row(conn, ctx, rule_id)])[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        common.ensure_default_for_list(self.core, ctx, query)
        where = listing.column_clauses(FIREWALL_RULE, FR, query.filters)
        where += listing.tag_clauses(FR, query.tags)
        scoped = common.scope(FR, ctx)
        if scoped is not None:
            where.append(scoped)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, FIREWALL_RULE, FR, query, where)))

    def validate(self, body: dict) -> None:
        check_rule(body)
        for key in ("source_port", "destination_port"):
            split_range(body.get(key))

    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)
        self.validate(body)

        def txn(conn):
            self.core.quotas.check(conn, owner, "firewall_rule")
            rid = listing.new_id()
            ts = listing.now()
            values = {"source_port_range_min": None, "source_port_range_max": None,
                      "destination_port_range_min": None, "destination_port_range_max": None,
                      **_columns(body)}
            conn.execute(insert(FR).values(id=rid, project_id=owner, created_at=ts,
                                           updated_at=ts, revision_number=0, **values))
            if body.get("tags"):
                set_tags(conn, "firewall_rules", rid, body["tags"])
            return self._views(conn, [common.rule_row(conn, ctx, rid)])[0]
        return self.core.db.write(txn)

    def update(self, ctx: Context, rule_id: str, body: dict) -> dict:
        def txn(conn):
            row = common.rule_row(conn, ctx, rule_id, lock=True)
            # upstream's _ensure_update_firewall_rule: no group using it pending
            for pid in common.policies_with_rule(conn, rule_id, row["project_id"]):
                common.policy_groups_not_pending(conn, pid, row["project_id"])
            merged = {**rule_view(row, None, []), **body}
            check_rule(merged)
            values = _columns(body)
            if values:
                conn.execute(update(FR).where(FR.c.id == rule_id).values(**values))
            bump_revision(conn, FR, rule_id)
            policies = common.policies_with_rule(conn, rule_id)
            if policies:   # any change of a rule un-audits its policies
                conn.execute(update(FP).where(FP.c.id.in_(policies)).values(audited=False))
                for pid in policies:
                    bump_revision(conn, FP, pid)
            groups = [g.id for g in common.groups_with_policies(conn, policies)]
            routers = state.groups_routers(conn, groups)
            state.refresh_status(conn, groups)
            return self._views(conn, [common.rule_row(conn, ctx, rule_id)])[0], routers
        view, routers = self.core.db.write(txn)
        state.notify_routers(self.core, routers)
        return view

    def delete(self, ctx: Context, rule_id: str) -> None:
        def txn(conn):
            common.rule_row(conn, ctx, rule_id, lock=True)
            if common.policies_with_rule(conn, rule_id):
                raise ff.FirewallRuleInUse(firewall_rule_id=rule_id)
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == rule_id))
            conn.execute(delete(FR).where(FR.c.id == rule_id))
        self.core.db.write(retry_if_parent_vanished(txn))
