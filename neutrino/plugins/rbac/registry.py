"""Which object types RBAC policies can grant, and the SQL every owner of
such a type uses to see what a project may see.

An owner (networks, security groups, address groups here; address scopes and
subnet pools in pools; QoS policies in qos) registers its type once at import:

    registry.register_object_type("qos_policy", qos_models.policies,
                                  in_use=policy_used_by)

then filters its lists and lookups with shared_clause(), answers `shared`
with shared_ids() (a view of the wildcard grant), turns shared=True/False
writes into set_shared(), and calls delete_object() in the transaction that
deletes an object. Everything here runs on the caller's connection: one
transaction per API call.

in_use(conn, object_id, target_project) -> bool says whether `target_project`
still uses the object (ports on a network, rules of a group...); the target
"*" asks "does any project other than the owner use it". A grant is refused
removal (409) while its target uses the object and no other grant still
covers that target. A callback with an `action` parameter is also told which
action the grant gives (networks: shared use and external use differ).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import and_, bindparam, delete, exists, insert, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.db.engine import RetryTransaction
from neutrino.db.rbac_models import rbac_policies as RBAC
from neutrino.plugins.listing import new_id

SHARED = "access_as_shared"
EXTERNAL = "access_as_external"
WILDCARD = "*"

InUse = Callable[[Connection, str, str], bool]


@dataclass(frozen=True)
class ObjectType:
    name: str
    table: object                   # the object's Table: id and project_id columns
    actions: tuple[str, ...]
    in_use: InUse | None
    # changed(conn, object_id): a policy of the object was added, changed or
    # removed through /v2.0/rbac-policies (refresh caches, bump revisions)
    changed: Callable[[Connection, str], None] | None = None
    # check_grant(conn, object_id, target_project, action): raise a
    # NeutronError to refuse a grant (upstream's BEFORE_CREATE validators)
    check_grant: Callable[[Connection, str, str, str], None] | None = None
    # changing a grant's target: does the new target count when the old one's
    # use is checked (networks, as upstream) or not (upstream's OVO-based
    # types validate the update as a delete of the old target)
    update_counts_new_target: bool = True


_TYPES: dict[str, ObjectType] = {}


def register_object_type(object_type: str, table, actions=(SHARED,),
                         in_use: InUse | None = None,
                         changed: Callable[[Connection, str], None] | None = None,
                         check_grant: Callable[[Connection, str, str, str], None] | None = None,
                         update_counts_new_target: bool = True) -> None:
    """Let RBAC policies grant `actions` on rows of `table` (idempotent:
    modules are imported again by tests)."""
    _TYPES[object_type] = ObjectType(object_type, table, tuple(actions), in_use, changed,
                                     check_grant, update_counts_new_target)


def object_types() -> dict[str, ObjectType]:
    return dict(_TYPES)


def get(object_type: str) -> ObjectType | None:
    return _TYPES.get(object_type)


def _targets(project_id):
    if isinstance(project_id, str) or project_id is None:
        return RBAC.c.target_project.in_([WILDCARD, project_id or WILDCARD])
    # a bindparam (prebuilt statements): the wildcard or the bound project
    return or_(RBAC.c.target_project == WILDCARD, RBAC.c.target_project == project_id)


def shared_clause(object_type: str, table, project_id, actions=(SHARED,)):
    """SQL clause on `table`: the row is granted to `project_id` (a string or
    a bindparam) by a policy with one of `actions`, directly or by "*"."""
    cond = [RBAC.c.object_type == object_type, RBAC.c.object_id == table.c.id,
            _targets(project_id)]
    cond.append(RBAC.c.action == actions[0] if len(actions) == 1
                else RBAC.c.action.in_(actions))
    return exists().where(and_(*cond))


def visible_clause(object_type: str, table, project_id, actions=(SHARED,)):
    """Own rows or rows granted by RBAC."""
    return or_(table.c.project_id == project_id,
               shared_clause(object_type, table, project_id, actions))


def is_shared_with(conn: Connection, object_type: str, object_id: str, project_id: str,
                   action: str = SHARED) -> bool:
    stmt = select(RBAC.c.id).where(
        RBAC.c.object_type == object_type, RBAC.c.object_id == object_id,
        RBAC.c.action == action, _targets(project_id)).limit(1)
    return conn.execute(stmt).first() is not None


_WILDCARDS = select(RBAC.c.object_id).where(
    RBAC.c.object_type == bindparam("type"), RBAC.c.action == bindparam("action"),
    RBAC.c.target_project == WILDCARD, RBAC.c.object_id.in_(bindparam("ids", expanding=True)))


def shared_ids(conn: Connection, object_type: str, ids, action: str = SHARED) -> set[str]:
    """Of `ids`, those granted to every project ("shared" as a view)."""
    ids = list(ids)
    if not ids:
        return set()
    out: set[str] = set()
    for i in range(0, len(ids), 500):          # bounded IN lists
        out.update(r[0] for r in conn.execute(
            _WILDCARDS, {"type": object_type, "action": action, "ids": ids[i:i + 500]}))
    return out


_GRANTED = select(RBAC.c.object_id).where(
    RBAC.c.object_type == bindparam("type"), RBAC.c.action == bindparam("action"),
    RBAC.c.target_project.in_(bindparam("targets", expanding=True)),
    RBAC.c.object_id.in_(bindparam("ids", expanding=True)))


def granted_ids(conn: Connection, object_type: str, ids, project_id: str,
                action: str = SHARED) -> set[str]:
    """Of `ids`, those granted to `project_id` (by name or by "*")."""
    ids = list(ids)
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        out.update(r[0] for r in conn.execute(
            _GRANTED, {"type": object_type, "action": action, "ids": ids[i:i + 500],
                       "targets": [WILDCARD, project_id]}))
    return out


def grant(conn: Connection, object_type: str, object_id: str, project_id: str,
          target: str, action: str = SHARED) -> str | None:
    """Insert a policy; None if the same grant already exists. A concurrent
    identical insert trips the unique key: the transaction runs again and
    then finds it (no savepoints: see neutrino.db.engine)."""
    found = conn.execute(select(RBAC.c.id).where(
        RBAC.c.object_type == object_type, RBAC.c.object_id == object_id,
        RBAC.c.action == action, RBAC.c.target_project == target)).first()
    if found is not None:
        return None
    pid = new_id()
    try:
        conn.execute(insert(RBAC).values(
            id=pid, project_id=project_id, object_type=object_type, object_id=object_id,
            action=action, target_project=target))
    except IntegrityError:
        raise RetryTransaction("rbac policy created concurrently") from None
    return pid


def still_covered(conn: Connection, object_type: str, object_id: str, action: str,
                  target: str, without: str) -> bool:
    """Whether another grant than `without` gives `target` the action."""
    targets = [WILDCARD] if target == WILDCARD else [WILDCARD, target]
    stmt = select(RBAC.c.id).where(
        RBAC.c.object_type == object_type, RBAC.c.object_id == object_id,
        RBAC.c.action == action, RBAC.c.target_project.in_(targets),
        RBAC.c.id != without).limit(1)
    return conn.execute(stmt).first() is not None


def check_removable(conn: Connection, object_type: str, object_id: str, action: str,
                    target: str, policy_id: str = "") -> bool:
    """True when the grant may go: no other grant covers the target and the
    target uses the object → False (the caller answers 409)."""
    if still_covered(conn, object_type, object_id, action, target, policy_id):
        return True
    ot = _TYPES.get(object_type)
    if ot is None or ot.in_use is None:
        return True
    if "action" in inspect.signature(ot.in_use).parameters:
        return not ot.in_use(conn, object_id, target, action=action)
    return not ot.in_use(conn, object_id, target)


def set_shared(conn: Connection, object_type: str, object_id: str, owner: str,
               shared: bool, action: str = SHARED) -> bool:
    """`shared` written as an attribute: add or remove the wildcard grant.
    Returns False (caller answers 409, e.g. InvalidSharedSetting) when the
    wildcard cannot go because other projects use the object."""
    if shared:
        grant(conn, object_type, object_id, owner, WILDCARD, action)
        return True
    row = conn.execute(select(RBAC.c.id).where(
        RBAC.c.object_type == object_type, RBAC.c.object_id == object_id,
        RBAC.c.action == action, RBAC.c.target_project == WILDCARD)).first()
    if row is None:
        return True
    if not check_removable(conn, object_type, object_id, action, WILDCARD, row[0]):
        return False
    conn.execute(delete(RBAC).where(RBAC.c.id == row[0]))
    return True


_DELETE_OBJECT = delete(RBAC).where(RBAC.c.object_type == bindparam("type"),
                                    RBAC.c.object_id == bindparam("id"))


def delete_object(conn: Connection, object_type: str, object_id: str) -> None:
    """Drop every policy of an object being deleted (same transaction;
    prebuilt: every network delete runs it)."""
    conn.execute(_DELETE_OBJECT, {"type": object_type, "id": object_id})
