"""security-groups-default-rules: /v2.0/default-security-group-rules, the
templates of the rules every new security group gets (admin-managed).

A template is used in each project's `default` group (used_in_default_sg),
in every other new group (used_in_non_default_sg), or both; remote_group_id
"PARENT" stands for the new group itself. The table starts with upstream's
four legacy rules (migration 0010): egress anywhere in every group, ingress
from members only in the default group.
"""
from __future__ import annotations

import ipaddress

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.engine import Connection

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.api.resources import RULE_MATCH_ATTRS, Resource
from neutrino.db.rbac_models import default_security_group_rules as DR
from neutrino.plugins import listing
from neutrino.plugins.core import Core

PARENT = "PARENT"


class DefaultSecurityGroupRuleNotFound(faults.NotFound):
    message = "Default Security Group rule {id} does not exist"


class DefaultSecurityGroupRuleExists(faults.InUse):
    message = "Default security group rule already exists. Rule id is {rule_id}."


def _remote_group(value):
    if value is None or value == PARENT:
        return None
    return a.uuid_check(value)


DEFAULT_SG_RULE = Resource("default_security_group_rule", "default-security-group-rules", (
    Attr("id", column="id"),
    Attr("description", post=True, default="", validate=a.string(255), column="description"),
    Attr("remote_group_id", post=True, default=None, validate=_remote_group,
         column="remote_group_id"),
    *RULE_MATCH_ATTRS,
    Attr("used_in_default_sg", post=True, default=False, convert=a.to_boolean,
         column="used_in_default_sg"),
    Attr("used_in_non_default_sg", post=True, default=True, convert=a.to_boolean,
         column="used_in_non_default_sg"),
), not_found="DefaultSecurityGroupRuleNotFound", tags=False, has_owner=False)

_KEYS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
         "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "description",
         "used_in_default_sg", "used_in_non_default_sg")
_SAME = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
         "remote_ip_prefix", "remote_group_id", "remote_address_group_id")


def view(r) -> dict:
    return {"id": r["id"], **{k: r[k] for k in _KEYS}}


def template_rules(conn: Connection, default_group: bool) -> list[dict]:
    """The templates a new group gets: {field: value} with "PARENT" kept."""
    col = DR.c.used_in_default_sg if default_group else DR.c.used_in_non_default_sg
    rows = conn.execute(select(DR).where(col == True).order_by(DR.c.id)).mappings()  # noqa: E712
    out = []
    for r in rows:
        rule = {k: r[k] for k in _SAME}
        rule["description"] = r["description"]
        prefix = r["remote_ip_prefix"]
        rule["normalized_cidr"] = (str(ipaddress.ip_network(prefix, strict=False))
                                   if prefix else None)
        out.append(rule)
    return out


class DefaultRulePlugin:
    def __init__(self, core: Core, validate_rule):
        self.core = core
        self.validate_rule = validate_rule      # the security group rules' checks

    def _row(self, conn, rule_id: str):
        row = conn.execute(select(DR).where(DR.c.id == rule_id)).mappings().first()
        if row is None:
            raise DefaultSecurityGroupRuleNotFound(id=rule_id)
        return row

    def get(self, ctx: Context, rule_id: str) -> dict:
        return self.core.db.read(lambda conn: view(self._row(conn, rule_id)))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(DEFAULT_SG_RULE, DR, query.filters)
        return self.core.db.read(lambda conn: [
            view(r) for r in listing.run_list(conn, DEFAULT_SG_RULE, DR, query, where)])

    def create(self, ctx: Context, body: dict) -> dict:
        fields = self.validate_rule(body)
        values = {k: body.get(k) for k in _KEYS}
        values.update({k: fields[k] for k in ("protocol", "port_range_min", "port_range_max",
                                              "ethertype", "remote_ip_prefix")})
        values["description"] = body.get("description") or ""

        kinds = [DR.c[k] == True for k in ("used_in_default_sg",  # noqa: E712
                                           "used_in_non_default_sg") if values[k]]

        def txn(conn):
            # the same rule may exist once per kind of group
            same = conn.execute(select(DR.c.id).where(
                *[(DR.c[k].is_(None) if values[k] is None else DR.c[k] == values[k])
                  for k in _SAME], or_(*kinds)).limit(1)).first() if kinds else None
            if same is not None:
                raise DefaultSecurityGroupRuleExists(rule_id=same[0])
            rid = listing.new_id()
            conn.execute(insert(DR).values(id=rid, **values))
            return view(self._row(conn, rid))
        return self.core.db.write(txn)

    def update(self, ctx: Context, rule_id: str, body: dict) -> dict:
        raise faults.HTTPBadRequest("Cannot update read-only attribute")

    def delete(self, ctx: Context, rule_id: str) -> None:
        def txn(conn):
            self._row(conn, rule_id)
            conn.execute(delete(DR).where(DR.c.id == rule_id))
        self.core.db.write(txn)
