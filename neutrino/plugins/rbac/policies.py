"""/v2.0/rbac-policies: grants of an object (network, security group, QoS
policy, address scope, subnet pool, address group) to one project or to all
("*"), as upstream's rbac-policies extension.

The owner of an object (or an admin) grants it; a grant whose target still
uses the object cannot go (409 RbacPolicyInUse) unless another grant keeps
the target covered. Policies are listed to the project that made them.
"""
from __future__ import annotations

from sqlalchemy import delete, select, update

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.api.resources import Resource
from neutrino.db.rbac_models import rbac_policies as RBAC
from neutrino.plugins import listing
from neutrino.plugins.core import Core, check_owner
from neutrino.plugins.rbac import registry


class RbacPolicyNotFound(faults.NotFound):
    message = "RBAC policy of type {object_type} with ID {id} not found"


class RbacPolicyInUse(faults.InUse):
    message = ("RBAC policy on object {object_id} cannot be removed because other objects "
               "depend on it.\nDetails: {details}")


class DuplicateRbacPolicy(faults.Conflict):
    message = "An RBAC policy already exists with those values."


class InvalidActionForType(faults.NeutronError):
    status = 400
    message = ("Invalid action '{action}' for object type '{object_type}'. Valid actions: "
               "{valid_actions}")


# What a missing or invisible object is called, per type (404 as upstream's lookups)
_NOT_FOUND = {"network": lambda i: faults.NetworkNotFound(net_id=i),
              "security_group": lambda i: faults.SecurityGroupNotFound(id=i)}
_NAMES = {"network": "networks", "qos_policy": "QoS policies",
          "security_group": "security groups", "address_scope": "address scopes",
          "subnetpool": "subnet pools", "address_group": "address groups"}


def _object_type_check(value):
    known = sorted(registry.object_types())
    if value not in known:
        return f"{value!r} is not in {known}"
    return None


def _action_check(value):
    actions = sorted({x for t in registry.object_types().values() for x in t.actions})
    if value not in actions:
        return f"{value!r} is not in {actions}"
    return None


RBAC_POLICY = Resource("rbac_policy", "rbac-policies", (
    Attr("id", column="id"),
    Attr("object_type", post=True, validate=_object_type_check, column="object_type"),
    Attr("object_id", post=True, validate=a.uuid_check, column="object_id"),
    Attr("target_tenant", post=True, put=True, validate=a.string(255),
         column="target_project"),
    *a.owner_attrs(),
    Attr("action", post=True, validate=_action_check, column="action"),
), not_found="RbacPolicyNotFound", tags=False)


def view(r) -> dict:
    return {"id": r["id"], "project_id": r["project_id"], "tenant_id": r["project_id"],
            "object_type": r["object_type"], "object_id": r["object_id"],
            "action": r["action"], "target_tenant": r["target_project"]}


class RbacPolicyPlugin:
    def __init__(self, core: Core):
        self.core = core

    def _row(self, conn, ctx: Context, policy_id: str, lock: bool = False):
        stmt = select(RBAC).where(RBAC.c.id == policy_id)
        if not ctx.is_admin:
            stmt = stmt.where(RBAC.c.project_id == ctx.project_id)
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise RbacPolicyNotFound(object_type="rbac_policy", id=policy_id)
        return row

    def get(self, ctx: Context, policy_id: str) -> dict:
        return self.core.db.read(lambda conn: view(self._row(conn, ctx, policy_id)))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(RBAC_POLICY, RBAC, query.filters)
        if not ctx.is_admin:
            where.append(RBAC.c.project_id == ctx.project_id)
        return self.core.db.read(lambda conn: [
            view(r) for r in listing.run_list(conn, RBAC_POLICY, RBAC, query, where)])

    @staticmethod
    def _check_object(conn, ctx: Context, ot: registry.ObjectType, object_id: str) -> None:
        """The object exists and the caller owns it (admins: any)."""
        t = ot.table
        row = conn.execute(select(t.c.project_id).where(t.c.id == object_id)).first()
        visible = row is not None and (
            ctx.is_admin or row[0] == ctx.project_id
            or registry.is_shared_with(conn, ot.name, object_id, ctx.project_id)
            or any(registry.is_shared_with(conn, ot.name, object_id, ctx.project_id, act)
                   for act in ot.actions))
        if not visible:
            nf = _NOT_FOUND.get(ot.name)
            raise nf(object_id) if nf else faults.HTTPNotFound(
                f"{ot.name} {object_id} could not be found.")
        if not ctx.is_admin and row[0] != ctx.project_id:
            raise faults.invalid_input(
                f"Only admins can manipulate policies on {_NAMES.get(ot.name, 'objects')} "
                "they do not own")

    def create(self, ctx: Context, body: dict) -> dict:
        owner = check_owner(ctx, body)
        ot = registry.get(body["object_type"])
        if body["action"] not in ot.actions:
            raise InvalidActionForType(action=body["action"], object_type=ot.name,
                                       valid_actions=list(ot.actions))

        def txn(conn):
            self._check_object(conn, ctx, ot, body["object_id"])
            if ot.check_grant is not None:
                ot.check_grant(conn, body["object_id"], body["target_tenant"], body["action"])
            self.core.quotas.check(conn, owner, "rbac_policy")
            pid = registry.grant(conn, ot.name, body["object_id"], owner,
                                 body["target_tenant"], body["action"])
            if pid is None:
                raise DuplicateRbacPolicy()
            if ot.changed is not None:
                ot.changed(conn, body["object_id"])
            return view(self._row(conn, ctx, pid))
        return self.core.db.write(txn)

    def _check_removable(self, conn, row) -> None:
        if not registry.check_removable(conn, row["object_type"], row["object_id"],
                                        row["action"], row["target_project"], row["id"]):
            raise RbacPolicyInUse(object_id=row["object_id"],
                                  details=f"the project {row['target_project']} uses it")

    def update(self, ctx: Context, policy_id: str, body: dict) -> dict:
        def txn(conn):
            row = self._row(conn, ctx, policy_id, lock=True)
            target = body.get("target_tenant", row["target_project"])
            if target != row["target_project"]:
                ot = registry.get(row["object_type"])
                if ot is not None:
                    self._check_object(conn, ctx, ot, row["object_id"])
                counts_new = ot is None or ot.update_counts_new_target
                if not counts_new:
                    self._check_removable(conn, row)
                if ot is not None and ot.check_grant is not None:
                    ot.check_grant(conn, row["object_id"], target, row["action"])
                dup = conn.execute(select(RBAC.c.id).where(
                    RBAC.c.object_type == row["object_type"],
                    RBAC.c.object_id == row["object_id"], RBAC.c.action == row["action"],
                    RBAC.c.target_project == target)).first()
                if dup is not None:
                    raise DuplicateRbacPolicy()
                conn.execute(update(RBAC).where(RBAC.c.id == policy_id)
                             .values(target_project=target))
                if counts_new:
                    # the old target loses this grant; the new one already
                    # counts (a wildcard narrowed to the one project using it)
                    self._check_removable(conn, row)
                if ot is not None and ot.changed is not None:
                    ot.changed(conn, row["object_id"])
            return view(self._row(conn, ctx, policy_id))
        return self.core.db.write(txn)

    def delete(self, ctx: Context, policy_id: str) -> None:
        def txn(conn):
            row = self._row(conn, ctx, policy_id, lock=True)
            self._check_removable(conn, row)
            conn.execute(delete(RBAC).where(RBAC.c.id == policy_id))
            ot = registry.get(row["object_type"])
            if ot is not None and ot.changed is not None:
                ot.changed(conn, row["object_id"])
        self.core.db.write(txn)
