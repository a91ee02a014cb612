"""Security groups and rules (API side): the per-project default group,
Neutron's rule validation and duplicate detection."""
from __future__ import annotations

import ipaddress

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.api.resources import SECURITY_GROUP, SECURITY_GROUP_RULE
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.core import Core, bump_revision, check_owner, set_tags
from neutrino.plugins.races import retry_if_parent_vanished
from neutrino.plugins.rbac import registry as rbac_registry

PROTOCOLS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "icmpv6": 58,
    "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113,
    "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136"}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}
IPV6_ONLY_PROTOCOLS = {"icmpv6", "ipv6-icmp", "ipv6-encap", "ipv6-frag", "ipv6-nonxt",
                       "ipv6-opts", "ipv6-route", "41", "43", "44", "58", "59", "60"}

SG, RULE = models.security_groups, models.security_group_rules
SG_TYPE = "security_group"       # its RBAC object type (rbac-security-groups)


def _group_in_use(conn: Connection, group_id: str, target: str) -> bool:
    """A port of `target` ("*": of another project than the owner) is in
    the group: its grant cannot go."""
    owner = conn.execute(select(SG.c.project_id).where(SG.c.id == group_id)).scalar()
    if owner is None or owner == target:
        return False
    p, psg = models.ports, models.port_security_groups
    who = p.c.project_id != owner if target == "*" else p.c.project_id == target
    return conn.execute(select(p.c.id).join(psg, psg.c.port_id == p.c.id).where(
        psg.c.security_group_id == group_id, who).limit(1)).first() is not None


rbac_registry.register_object_type(SG_TYPE, SG, in_use=_group_in_use)
_DEFAULT_OF = select(SG.c.id).where(SG.c.default_for == bindparam("project"))


def _rule_values(project_id, group_id, direction, ethertype, remote_group=None, **kw):
    ts = listing.now()
    return {"id": listing.new_id(), "project_id": project_id, "security_group_id": group_id,
            "direction": direction, "ethertype": ethertype, "remote_group_id": remote_group,
            "protocol": kw.get("protocol"), "port_range_min": kw.get("port_range_min"),
            "port_range_max": kw.get("port_range_max"),
            "remote_ip_prefix": kw.get("remote_ip_prefix"),
            "normalized_cidr": kw.get("normalized_cidr"),
            "remote_address_group_id": kw.get("remote_address_group_id"),
            "description": kw.get("description", ""),
            "created_at": ts, "updated_at": ts, "revision_number": 0}


def ensure_default_group(conn: Connection, project_id: str) -> str:
    """The project's `default` group, created with Neutron's default rules on
    first need. The unique default_for key makes concurrent creation safe."""
    row = conn.execute(_DEFAULT_OF, {"project": project_id}).first()
    if row:
        return row[0]
    group_id = listing.new_id()
    ts = listing.now()
    try:
        conn.execute(insert(SG).values(
            id=group_id, project_id=project_id, name="default",
            description="Default security group", stateful=True, default_for=project_id,
            created_at=ts, updated_at=ts, revision_number=0))
    except IntegrityError:
        raise RetryTransaction("default security group created concurrently") from None
    rules = template_values(conn, project_id, group_id, default_group=True)
    if rules:
        conn.execute(RULE.insert(), rules)
    return group_id


def template_values(conn: Connection, project_id: str, group_id: str,
                    default_group: bool) -> list[dict]:
    """The rules a new group gets from /v2.0/default-security-group-rules."""
    from neutrino.plugins.secgroup_defaults import PARENT, template_rules
    out = []
    for t in template_rules(conn, default_group):
        remote = group_id if t.pop("remote_group_id") == PARENT else None
        t.pop("description")        # the template's, not the rule's
        out.append(_rule_values(project_id, group_id, t.pop("direction"), t.pop("ethertype"),
                                remote, **t))
    return out


def check_groups_usable(conn: Connection, ctx: Context, owner: str, groups: list[str]) -> None:
    if not groups:
        return
    # No lock here (port creates are the hot path): a group delete racing
    # this port either waits for the port's group rows (their foreign key
    # holds the group) and then finds the port using it (409), or deletes
    # first and the port's insert fails its foreign key and is run again,
    # finding no group (404): see races.retry_if_parent_vanished.
    stmt = select(SG.c.id, SG.c.project_id, SG.c.stateful).where(SG.c.id.in_(groups))
    found = {r[0]: (r[1], r[2]) for r in conn.execute(stmt)}
    for gid in groups:
        if gid not in found or (not ctx.is_admin and found[gid][0] != owner
                                and not rbac_registry.is_shared_with(conn, SG_TYPE, gid, owner)):
            raise faults.SecurityGroupNotFound(id=gid)
    if len({stateful for _, stateful in found.values()}) > 1:
        raise faults.Conflict("Cannot apply both stateful and stateless security groups on the "
                              "same port at the same time.")


def normalize_protocol(value):
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("any", ""):
        return None
    if text in PROTOCOLS:
        return text
    try:
        num = int(text)
    except ValueError:
        num = -1
    if not 0 <= num <= 255:
        raise faults.SecurityGroupRuleInvalidProtocol(
            protocol=value, values=sorted(PROTOCOLS))
    return str(num)


class SecurityGroupPlugin:
    def __init__(self, core: Core):
        self.core = core

    # --- views ---------------------------------------------------------------
    @staticmethod
    def _rule_view(r, default_ids=frozenset()) -> dict:
        return {"id": r["id"], "tenant_id": r["project_id"], "project_id": r["project_id"],
                "security_group_id": r["security_group_id"], "ethertype": r["ethertype"],
                "direction": r["direction"], "protocol": r["protocol"],
                "port_range_min": r["port_range_min"], "port_range_max": r["port_range_max"],
                "remote_ip_prefix": r["remote_ip_prefix"],
                "remote_group_id": r["remote_group_id"],
                "remote_address_group_id": r["remote_address_group_id"],
                "normalized_cidr": r["normalized_cidr"], "description": r["description"],
                "belongs_to_default_sg": r["security_group_id"] in default_ids,
                "created_at": listing.iso(r["created_at"]),
                "updated_at": listing.iso(r["updated_at"]),
                "revision_number": r["revision_number"]}

    def _views(self, conn, rows, ctx: Context | None = None) -> list[dict]:
        ids = [r["id"] for r in rows]
        # `shared`: granted to the caller's project (or to all) by RBAC
        shared = (rbac_registry.granted_ids(conn, SG_TYPE, ids, ctx.project_id)
                  if ctx is not None and ctx.project_id
                  else rbac_registry.shared_ids(conn, SG_TYPE, ids))
        rules: dict[str, list] = {}
        defaults = {r["id"] for r in rows if r["default_for"]}
        for part in listing.chunks(ids):
            for r in conn.execute(select(RULE).where(RULE.c.security_group_id.in_(part))
                                  .order_by(RULE.c.created_at, RULE.c.id)).mappings():
                rules.setdefault(r["security_group_id"], []).append(self._rule_view(r, defaults))
        tags = listing.tags_for(conn, ids)
        return [{"id": r["id"], "name": r["name"], "description": r["description"],
                 "tenant_id": r["project_id"], "project_id": r["project_id"],
                 "security_group_rules": rules.get(r["id"], []), "stateful": r["stateful"],
                 "shared": r["id"] in shared, "tags": tags.get(r["id"], []),
                 "created_at": listing.iso(r["created_at"]),
                 "updated_at": listing.iso(r["updated_at"]),
                 "revision_number": r["revision_number"]} for r in rows]

    def _row(self, conn, ctx, group_id, lock: bool = False, shared: bool = False):
        """The group if the caller owns it (`shared`: or may read it through
        an RBAC grant)."""
        stmt = select(SG).where(SG.c.id == group_id)
        if not ctx.is_admin:
            stmt = stmt.where(rbac_registry.visible_clause(SG_TYPE, SG, ctx.project_id)
                              if shared else SG.c.project_id == ctx.project_id)
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise faults.SecurityGroupNotFound(id=group_id)
        return row

    # --- groups ----------------------------------------------------------------
    def get(self, ctx: Context, group_id: str) -> dict:
        return self.core.db.read(lambda conn: self._views(
            conn, [self._row(conn, ctx, group_id, shared=True)], ctx)[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        project = ctx.project_id
        if ctx.is_admin:    # as upstream: the listed project's default group exists
            named = set(query.filters.get("project_id") or query.filters.get("tenant_id") or ())
            if len(named) == 1:
                project = named.pop()
        if project:
            self.core.db.write(lambda conn: ensure_default_group(conn, project))
        where = listing.column_clauses(SECURITY_GROUP, SG, query.filters)
        where += listing.tag_clauses(SG, query.tags)
        if not ctx.is_admin:
            where.append(rbac_registry.visible_clause(SG_TYPE, SG, ctx.project_id))
        if "shared" in query.filters:        # security-groups-shared-filtering
            granted = rbac_registry.shared_clause(SG_TYPE, SG, ctx.project_id or "*")
            wanted = {bool(a.to_boolean(v)) for v in query.filters["shared"]}
            if len(wanted) == 1:
                where.append(granted if wanted.pop() else ~granted)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, SECURITY_GROUP, SG, query, where), ctx))

    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)
        if body["name"] == "default":
            raise faults.SecurityGroupDefaultAlreadyExists()

        def txn(conn):
            # As upstream: the quota is checked before the project's default
            # group is made (with its first group), which it does not count.
            fresh = conn.execute(_DEFAULT_OF, {"project": owner}).first() is None
            self.core.quotas.check(conn, owner, "security_group", exempt=int(fresh))
            ensure_default_group(conn, owner)
            gid = listing.new_id()
            rules = template_values(conn, owner, gid, default_group=False)
            if rules:
                self.core.quotas.check(conn, owner, "security_group_rule", delta=len(rules))
            ts = listing.now()
            conn.execute(insert(SG).values(
                id=gid, project_id=owner, name=body["name"], description=body["description"],
                stateful=body["stateful"], created_at=ts, updated_at=ts, revision_number=0))
            if rules:
                conn.execute(RULE.insert(), rules)
            if body.get("tags"):
                set_tags(conn, "security_groups", gid, body["tags"])
            return self._views(conn, [self._row(conn, ctx, gid)], ctx)[0]
        return self.core.db.write(txn)

    def update(self, ctx: Context, group_id: str, body: dict) -> dict:
        def txn(conn):
            row = self._row(conn, ctx, group_id)
            values = {k: body[k] for k in ("name", "description", "stateful") if k in body}
            if row["default_for"] and values.get("name", "default") != "default":
                raise faults.SecurityGroupCannotUpdateDefault()
            if not row["default_for"] and values.get("name") == "default":
                raise faults.SecurityGroupDefaultAlreadyExists()
            if "stateful" in values and values["stateful"] != row["stateful"]:
                psg = models.port_security_groups
                if conn.execute(select(psg.c.port_id).where(psg.c.security_group_id == group_id)
                                .limit(1)).first():
                    raise faults.SecurityGroupInUse(id=group_id)
            if values:
                conn.execute(update(SG).where(SG.c.id == group_id).values(**values))
            bump_revision(conn, SG, group_id)
            return self._views(conn, [self._row(conn, ctx, group_id)], ctx)[0]
        view = self.core.db.write(txn)
        self.core.notifier.resource_changed("security_group", group_id, view["revision_number"])
        return view

    def delete(self, ctx: Context, group_id: str) -> None:
        psg = models.port_security_groups

        def txn(conn):
            row = self._row(conn, ctx, group_id, lock=True)
            if row["default_for"] and not ctx.is_admin:
                raise faults.SecurityGroupCannotRemoveDefault()
            if conn.execute(select(psg.c.port_id).where(psg.c.security_group_id == group_id)
                            .limit(1)).first():
                raise faults.SecurityGroupInUse(id=group_id)
            # other groups whose rules named it as remote lose those rules
            referrers = sorted({g for (g,) in conn.execute(
                select(RULE.c.security_group_id).where(
                    RULE.c.remote_group_id == group_id, RULE.c.security_group_id != group_id))})
            conn.execute(delete(RULE).where(RULE.c.remote_group_id == group_id))
            conn.execute(delete(models.tags).where(models.tags.c.resource_id == group_id))
            rbac_registry.delete_object(conn, SG_TYPE, group_id)
            conn.execute(delete(SG).where(SG.c.id == group_id))
            return referrers
        referrers = self.core.db.write(txn)
        self.core.notifier.resource_changed("security_group", group_id, -1, deleted=True)
        for gid in referrers:      # their ports' hosts drop the rules that named it
            self.core.notifier.resource_changed("security_group", gid, -1)

    # --- rules -------------------------------------------------------------------
    def get_rule(self, ctx: Context, rule_id: str) -> dict:
        def txn(conn):
            stmt = select(RULE).where(RULE.c.id == rule_id)
            if not ctx.is_admin:
                stmt = stmt.where(RULE.c.project_id == ctx.project_id)
            row = conn.execute(stmt).mappings().first()
            if row is None:
                raise faults.SecurityGroupRuleNotFound(id=rule_id)
            defaults = {r[0] for r in conn.execute(select(SG.c.id).where(
                SG.c.id == row["security_group_id"], SG.c.default_for.is_not(None)))}
            return self._rule_view(row, defaults)
        return self.core.db.read(txn)

    def list_rules(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(SECURITY_GROUP_RULE, RULE, query.filters)
        if not ctx.is_admin:
            where.append(RULE.c.project_id == ctx.project_id)
        if "belongs_to_default_sg" in query.filters:
            wanted = {bool(a.to_boolean(v)) for v in query.filters["belongs_to_default_sg"]}
            if len(wanted) == 1:
                in_default = RULE.c.security_group_id.in_(
                    select(SG.c.id).where(SG.c.default_for.is_not(None)))
                where.append(in_default if wanted.pop() else ~in_default)

        def txn(conn):
            rows = listing.run_list(conn, SECURITY_GROUP_RULE, RULE, query, where)
            defaults = {r[0] for r in conn.execute(select(SG.c.id).where(
                SG.c.default_for.is_not(None)))}
            return [self._rule_view(r, defaults) for r in rows]
        return self.core.db.read(txn)

    def validate_rule(self, body: dict) -> dict:
        protocol = normalize_protocol(body.get("protocol"))
        lo, hi = body.get("port_range_min"), body.get("port_range_max")
        ethertype = body.get("ethertype") or "IPv4"
        if protocol in IPV6_ONLY_PROTOCOLS and ethertype == "IPv4":
            raise faults.HTTPBadRequest(
                f"Security group rule for ethertype '{ethertype}' not supported. "
                f"Allowed values are ['IPv6'].")
        if protocol is None and (lo is not None or hi is not None):
            raise faults.HTTPBadRequest("Must also specify protocol if port range is given.")
        if protocol in PORT_PROTOCOLS:
            if (lo is None) != (hi is None):
                raise faults.HTTPBadRequest(
                    "For TCP/UDP protocols, port_range_min must be <= port_range_max")
            if lo is not None:
                for value in (lo, hi):
                    if not 1 <= value <= 65535:
                        raise faults.HTTPBadRequest(
                            f"Invalid value for port {value}.")
                if lo > hi:
                    raise faults.HTTPBadRequest(
                        "For TCP/UDP protocols, port_range_min must be <= port_range_max")
        elif protocol in ICMP_PROTOCOLS:
            for name, value in (("type", lo), ("code", hi)):
                if value is not None and not 0 <= value <= 255:
                    raise faults.HTTPBadRequest(
                        f"Invalid value for ICMP {name} (port-range-"
                        f"{'min' if name == 'type' else 'max'}): {value}. It must be 0 to 255.")
            if lo is None and hi is not None:
                raise faults.HTTPBadRequest(
                    f"ICMP code (port-range-max) {hi} is provided but ICMP type "
                    "(port-range-min) is missing.")
        elif protocol is not None and (lo is not None or hi is not None):
            raise faults.HTTPBadRequest(
                f"Port range not allowed for protocol {protocol}")
        prefix = body.get("remote_ip_prefix")
        normalized = None
        if sum(1 for k in ("remote_ip_prefix", "remote_group_id", "remote_address_group_id")
               if body.get(k) is not None) > 1:
            raise faults.HTTPBadRequest("Only remote_ip_prefix or remote_group_id or "
                                        "remote_address_group_id may be provided.")
        if prefix is not None:
            try:
                net = ipaddress.ip_network(prefix, strict=False)
            except (ValueError, TypeError):
                raise faults.HTTPBadRequest(
                    f"Invalid input for remote_ip_prefix. Reason: '{prefix}' is not a valid "
                    "IP subnet.") from None
            if f"IPv{net.version}" != ethertype:
                raise faults.HTTPBadRequest(
                    f"Conflicting value ethertype {ethertype} for CIDR {prefix}")
            normalized = str(net)
        return {"protocol": protocol, "port_range_min": lo, "port_range_max": hi,
                "ethertype": ethertype, "remote_ip_prefix": prefix,
                "normalized_cidr": normalized}

    def create_rule(self, ctx: Context, body: dict) -> dict:
        return self.create_rules(ctx, [body])[0]

    def create_rules(self, ctx: Context, bodies: list[dict]) -> list[dict]:
        """One rule or a bulk POST's: all in one transaction, so a rule
        refused by the write (a duplicate, of a stored rule or of one
        before it in the POST; the quota) leaves no trace, not even a
        revision bump of its group."""
        checked = []
        for body in bodies:
            check_owner(ctx, body)
            checked.append((body, self.validate_rule(body)))

        def txn(conn):
            return [self._insert_rule(conn, ctx, body, fields) for body, fields in checked]
        views = self.core.db.write(retry_if_parent_vanished(txn))
        for group_id in dict.fromkeys(v["security_group_id"] for v in views):
            self.core.notifier.resource_changed("security_group", group_id, -1)
        return views

    def _insert_rule(self, conn, ctx: Context, body: dict, fields: dict) -> dict:
        group = self._row(conn, ctx, body["security_group_id"])
        remote = body.get("remote_group_id")
        if remote:
            # Upstream looks the remote group up as the rule's project
            # (an admin: anywhere): another project's group is as absent
            # as a random id, so this is no existence oracle.
            self._row(conn, ctx if ctx.is_admin else Context.make(
                group["project_id"], roles=("member",)), remote)
        address_group = body.get("remote_address_group_id")
        if address_group:
            # visible to the rule's project: its own or shared with it
            from neutrino.plugins.rbac.address_groups import visible_row
            visible_row(conn, ctx, address_group,
                        project="" if ctx.is_admin else group["project_id"])
        self.core.quotas.check(conn, group["project_id"], "security_group_rule")
        values = _rule_values(group["project_id"], group["id"], body["direction"],
                              fields["ethertype"], remote,
                              remote_address_group_id=address_group,
                              description=body.get("description") or "",
                              **{k: v for k, v in fields.items() if k != "ethertype"})
        self._check_duplicate(conn, values)
        conn.execute(insert(RULE).values(**values))
        bump_revision(conn, SG, group["id"])
        row = conn.execute(select(RULE).where(RULE.c.id == values["id"])).mappings().one()
        return self._rule_view(row, {group["id"]} if group["default_for"] else set())

    def _check_duplicate(self, conn, v):
        keys = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                "remote_group_id", "normalized_cidr", "remote_address_group_id")
        for row in conn.execute(select(RULE).where(
                RULE.c.security_group_id == v["security_group_id"])).mappings():
            if all(row[k] == v[k] for k in keys):
                raise faults.SecurityGroupRuleExists(rule_id=row["id"])

    def delete_rule(self, ctx: Context, rule_id: str) -> None:
        def txn(conn):
            stmt = select(RULE).where(RULE.c.id == rule_id)
            if not ctx.is_admin:
                stmt = stmt.where(RULE.c.project_id == ctx.project_id)
            row = conn.execute(stmt).mappings().first()
            if row is None:
                raise faults.SecurityGroupRuleNotFound(id=rule_id)
            conn.execute(delete(RULE).where(RULE.c.id == rule_id))
            bump_revision(conn, SG, row["security_group_id"])
            return row["security_group_id"]
        group_id = self.core.db.write(txn)
        self.core.notifier.resource_changed("security_group", group_id, -1)
