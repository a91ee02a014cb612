"""Domains, projects, users, roles, role assignments and revocation events of
the embedded identity: one method, one transaction (db.read / db.write).

Names or ids are accepted wherever a project, user, role or domain is
named, as the `openstack` CLI does. Changes that take rights away (user
disabled or deleted, password changed, role unassigned, project disabled or
deleted) record a revocation event, so tokens issued before them stop
working, as in Keystone.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.db.engine import Database
from neutrino.identity import models as m
from neutrino.identity.passwords import hash_password
from neutrino.identity.throttle import user_key
from neutrino.identity.tokens import now_us

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"


class IdentityError(Exception):
    """A management or lookup error; `status` is the HTTP status it maps to."""
    status = 400


class NotFound(IdentityError):
    status = 404


class Conflict(IdentityError):
    status = 409


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def expand_roles(conn: Connection, role_ids: set[str]) -> set[str]:
    """role ids plus every role they imply, transitively."""
    implied: dict[str, list[str]] = {}
    for prior, imp in conn.execute(select(m.implied_roles.c.prior_role_id,
                                          m.implied_roles.c.implied_role_id)):
        implied.setdefault(prior, []).append(imp)
    out, todo = set(role_ids), list(role_ids)
    while todo:
        for imp in implied.get(todo.pop(), ()):
            if imp not in out:
                out.add(imp)
                todo.append(imp)
    return out


@dataclass(frozen=True)
class Scope:
    kind: str            # "project" or "domain"
    id: str


class IdentityStore:
    def __init__(self, db: Database):
        self.db = db

    # --- lookups (inside a transaction) ------------------------------------
    @staticmethod
    def _domain(conn: Connection, ref: str | dict | None) -> dict:
        """A domain by id or name (or {"id":..} / {"name":..}); default: Default."""
        d = m.domains
        if ref is None or ref == "":
            ref = DEFAULT_DOMAIN_ID
        if isinstance(ref, dict):
            if ref.get("id"):
                row = conn.execute(select(d).where(d.c.id == ref["id"])).mappings().first()
            elif ref.get("name"):
                row = conn.execute(select(d).where(d.c.name == ref["name"])).mappings().first()
            else:
                raise IdentityError("a domain needs an id or a name")
            if row is None:
                raise NotFound(f"Could not find domain: {ref.get('id') or ref.get('name')}.")
            return dict(row)
        row = conn.execute(select(d).where(or_(d.c.id == ref, d.c.name == ref))).mappings().first()
        if row is None:
            raise NotFound(f"Could not find domain: {ref}.")
        return dict(row)

    @classmethod
    def _named(cls, conn: Connection, table, kind: str, ref: str | dict,
               domain: str | dict | None = None) -> dict:
        """A project or user by id, or by name within a domain."""
        if isinstance(ref, dict):
            if ref.get("id"):
                row = conn.execute(select(table).where(table.c.id == ref["id"])).mappings().first()
                if row is None:
                    raise NotFound(f"Could not find {kind}: {ref['id']}.")
                return dict(row)
            name = ref.get("name")
            if not name:
                raise IdentityError(f"a {kind} needs an id or a name")
            dom = cls._domain(conn, ref.get("domain") or domain)
            row = conn.execute(select(table).where(table.c.name == name,
                                                   table.c.domain_id == dom["id"])
                               ).mappings().first()
            if row is None:
                raise NotFound(f"Could not find {kind}: {name}.")
            return dict(row)
        row = conn.execute(select(table).where(table.c.id == ref)).mappings().first()
        if row is None:
            dom = cls._domain(conn, domain)
            row = conn.execute(select(table).where(table.c.name == ref,
                                                   table.c.domain_id == dom["id"])
                               ).mappings().first()
        if row is None:
            raise NotFound(f"Could not find {kind}: {ref}.")
        return dict(row)

    @staticmethod
    def _role(conn: Connection, ref: str) -> dict:
        r = m.roles
        row = conn.execute(select(r).where(or_(r.c.id == ref, r.c.name == ref))).mappings().first()
        if row is None:
            raise NotFound(f"Could not find role: {ref}.")
        return dict(row)

    @staticmethod
    def role_names(conn: Connection, user_id: str, scope: Scope) -> list[str]:
        """Names of the user's roles on the scope, implied roles included."""
        a = m.assignments
        direct = set(conn.execute(select(a.c.role_id).where(
            a.c.user_id == user_id, a.c.target_type == scope.kind,
            a.c.target_id == scope.id)).scalars())
        if not direct:
            return []
        ids = expand_roles(conn, direct)
        rows = conn.execute(select(m.roles.c.id, m.roles.c.name).where(m.roles.c.id.in_(ids)))
        return sorted(name for _, name in rows)

    def roles_of(self, user_id: str, scope: Scope) -> list[dict]:
        def fn(conn):
            names = self.role_names(conn, user_id, scope)
            if not names:
                return []
            rows = conn.execute(select(m.roles).where(m.roles.c.name.in_(names))).mappings()
            return [{"id": r["id"], "name": r["name"]} for r in rows]
        return self.db.read(fn)

    def find(self, kind: str, ref: str | dict, domain: str | dict | None = None) -> dict:
        table = {"project": m.projects, "user": m.users}.get(kind)

        def fn(conn):
            if kind == "domain":
                return self._domain(conn, ref)
            if kind == "role":
                return self._role(conn, ref)
            return self._named(conn, table, kind, ref, domain)
        return self.db.read(fn)

    def get(self, kind: str, ident: str) -> dict | None:
        """By id only; None when absent."""
        table = {"project": m.projects, "user": m.users, "domain": m.domains,
                 "role": m.roles}[kind]
        return self.db.read(lambda conn: (lambda row: dict(row) if row else None)(
            conn.execute(select(table).where(table.c.id == ident)).mappings().first()))

    def list(self, kind: str, **filters: Any) -> list[dict]:
        table = {"project": m.projects, "user": m.users, "domain": m.domains,
                 "role": m.roles}[kind]
        stmt = select(table)
        for key, value in filters.items():
            if value is not None and key in table.c:
                stmt = stmt.where(table.c[key] == value)
        stmt = stmt.order_by(table.c.name)
        return self.db.read(lambda conn: [dict(r) for r in conn.execute(stmt).mappings()])

    def projects_of_user(self, user_id: str) -> list[dict]:
        a, p = m.assignments, m.projects
        stmt = select(p).where(p.c.id.in_(select(a.c.target_id).where(
            a.c.user_id == user_id, a.c.target_type == "project"))).order_by(p.c.name)
        return self.db.read(lambda conn: [dict(r) for r in conn.execute(stmt).mappings()])

    def assignments(self, user: str | None = None, project: str | None = None,
                    domain: str | None = None) -> list[dict]:
        a = m.assignments

        def fn(conn):
            stmt = select(a.c.user_id, a.c.target_type, a.c.target_id, a.c.role_id,
                          m.users.c.name.label("user_name"), m.roles.c.name.label("role_name")
                          ).join(m.users, m.users.c.id == a.c.user_id
                                 ).join(m.roles, m.roles.c.id == a.c.role_id)
            if user:
                stmt = stmt.where(a.c.user_id == self._named(conn, m.users, "user", user)["id"])
            if project:
                pid = self._named(conn, m.projects, "project", project)["id"]
                stmt = stmt.where(a.c.target_type == "project", a.c.target_id == pid)
            if domain:
                stmt = stmt.where(a.c.target_type == "domain",
                                  a.c.target_id == self._domain(conn, domain)["id"])
            return [dict(r) for r in conn.execute(stmt).mappings()]
        return self.db.read(fn)

    # --- management ------------------------------------------------------------
    def _insert(self, fn):
        try:
            return self.db.write(fn)
        except IntegrityError:
            raise Conflict("Conflict occurred attempting to store: the name is taken.") from None

    def ensure_domain(self, domain_id: str, name: str) -> dict:
        def fn(conn):
            d = m.domains
            row = conn.execute(select(d).where(d.c.id == domain_id)).mappings().first()
            if row is None:
                conn.execute(insert(d).values(id=domain_id, name=name, description="",
                                              enabled=True))
                row = conn.execute(select(d).where(d.c.id == domain_id)).mappings().first()
            return dict(row)
        return self._insert(fn)

    def create_project(self, name: str, domain: str | None = None, description: str = "",
                       project_id: str | None = None, enabled: bool = True) -> dict:
        def fn(conn):
            dom = self._domain(conn, domain)
            pid = project_id or new_id()
            conn.execute(insert(m.projects).values(
                id=pid, domain_id=dom["id"], name=name, description=description,
                enabled=enabled, created_at=utcnow()))
            return dict(conn.execute(select(m.projects).where(m.projects.c.id == pid)
                                     ).mappings().one())
        return self._insert(fn)

    def set_project_enabled(self, ref: str, enabled: bool, domain: str | None = None) -> None:
        def fn(conn):
            row = self._named(conn, m.projects, "project", ref, domain)
            conn.execute(update(m.projects).where(m.projects.c.id == row["id"]).values(
                enabled=enabled))
            if not enabled:
                self._revoke(conn, project_id=row["id"])
        self.db.write(fn)

    def delete_project(self, ref: str, domain: str | None = None) -> None:
        def fn(conn):
            row = self._named(conn, m.projects, "project", ref, domain)
            a = m.assignments
            conn.execute(delete(a).where(a.c.target_type == "project",
                                         a.c.target_id == row["id"]))
            conn.execute(delete(m.projects).where(m.projects.c.id == row["id"]))
            self._revoke(conn, project_id=row["id"])
        self.db.write(fn)

    def create_user(self, name: str, password: str | None, domain: str | None = None,
                    default_project: str | None = None, email: str = "",
                    description: str = "", enabled: bool = True,
                    password_hash: str | None = None) -> dict:
        hashed = password_hash or (hash_password(password) if password else None)

        def fn(conn):
            dom = self._domain(conn, domain)
            default_pid = None
            if default_project:
                default_pid = self._named(conn, m.projects, "project", default_project,
                                          dom["id"])["id"]
            uid = new_id()
            conn.execute(insert(m.users).values(
                id=uid, domain_id=dom["id"], name=name, password_hash=hashed, email=email,
                description=description, enabled=enabled, default_project_id=default_pid,
                created_at=utcnow(), password_changed_at=utcnow() if hashed else None))
            return dict(conn.execute(select(m.users).where(m.users.c.id == uid)).mappings().one())
        return self._insert(fn)

    def set_password(self, ref: str, password: str, domain: str | None = None) -> None:
        hashed = hash_password(password)

        def fn(conn):
            row = self._named(conn, m.users, "user", ref, domain)
            conn.execute(update(m.users).where(m.users.c.id == row["id"]).values(
                password_hash=hashed, password_changed_at=utcnow()))
            self._revoke(conn, user_id=row["id"])
            self._unlock(conn, row["id"])
        self.db.write(fn)

    def set_user_enabled(self, ref: str, enabled: bool, domain: str | None = None) -> None:
        def fn(conn):
            row = self._named(conn, m.users, "user", ref, domain)
            conn.execute(update(m.users).where(m.users.c.id == row["id"]).values(
                enabled=enabled))
            if not enabled:
                self._revoke(conn, user_id=row["id"])
            else:
                self._unlock(conn, row["id"])
        self.db.write(fn)

    @staticmethod
    def _unlock(conn: Connection, user_id: str) -> None:
        """An admin's new password or re-enabling ends a lockout (as Keystone)."""
        conn.execute(delete(m.auth_failures).where(m.auth_failures.c.key == user_key(user_id)))

    def delete_user(self, ref: str, domain: str | None = None) -> None:
        def fn(conn):
            row = self._named(conn, m.users, "user", ref, domain)
            conn.execute(delete(m.assignments).where(m.assignments.c.user_id == row["id"]))
            conn.execute(delete(m.users).where(m.users.c.id == row["id"]))
            self._revoke(conn, user_id=row["id"])
        self.db.write(fn)

    def create_role(self, name: str, description: str = "") -> dict:
        def fn(conn):
            rid = new_id()
            conn.execute(insert(m.roles).values(id=rid, name=name, description=description))
            return {"id": rid, "name": name, "description": description}
        return self._insert(fn)

    def ensure_role(self, name: str) -> dict:
        def fn(conn):
            row = conn.execute(select(m.roles).where(m.roles.c.name == name)).mappings().first()
            if row is not None:
                return dict(row)
            rid = new_id()
            conn.execute(insert(m.roles).values(id=rid, name=name, description=""))
            return {"id": rid, "name": name, "description": ""}
        return self._insert(fn)

    def delete_role(self, ref: str) -> None:
        def fn(conn):
            role = self._role(conn, ref)
            users = set(conn.execute(select(m.assignments.c.user_id).where(
                m.assignments.c.role_id == role["id"])).scalars())
            ir = m.implied_roles
            conn.execute(delete(ir).where(or_(ir.c.prior_role_id == role["id"],
                                              ir.c.implied_role_id == role["id"])))
            conn.execute(delete(m.assignments).where(m.assignments.c.role_id == role["id"]))
            conn.execute(delete(m.roles).where(m.roles.c.id == role["id"]))
            for uid in users:
                self._revoke(conn, user_id=uid)
        self.db.write(fn)

    def imply_role(self, prior: str, implied: str) -> None:
        def fn(conn):
            p, i = self._role(conn, prior), self._role(conn, implied)
            if p["id"] in expand_roles(conn, {i["id"]}):
                raise IdentityError(f"Role {implied} already implies {prior}: no cycles.")
            ir = m.implied_roles
            exists = conn.execute(select(ir).where(ir.c.prior_role_id == p["id"],
                                                   ir.c.implied_role_id == i["id"])).first()
            if exists is None:
                conn.execute(insert(ir).values(prior_role_id=p["id"], implied_role_id=i["id"]))
        self._insert(fn)

    def implied_roles(self) -> list[tuple[str, str]]:
        ir, r1, r2 = m.implied_roles, m.roles.alias("p"), m.roles.alias("i")
        stmt = select(r1.c.name, r2.c.name).select_from(ir).join(
            r1, r1.c.id == ir.c.prior_role_id).join(r2, r2.c.id == ir.c.implied_role_id)
        return self.db.read(lambda conn: sorted(tuple(r) for r in conn.execute(stmt)))

    def _target(self, conn, project, domain, user_domain=None) -> Scope:
        if bool(project) == bool(domain):
            raise IdentityError("give either a project or a domain")
        if project:
            return Scope("project", self._named(conn, m.projects, "project", project,
                                                user_domain)["id"])
        return Scope("domain", self._domain(conn, domain)["id"])

    def _assignment(self, conn, user: str, role: str, project: str | None,
                    domain: str | None, user_domain: str | None) -> dict[str, str]:
        """The assignments row of (user, role, project or domain), by names
        or ids; NotFound names the first that does not exist."""
        uid = self._named(conn, m.users, "user", user, user_domain)["id"]
        target = self._target(conn, project, domain, user_domain)
        rid = self._role(conn, role)["id"]
        return {"user_id": uid, "target_type": target.kind, "target_id": target.id,
                "role_id": rid}

    def assign(self, user: str, role: str, project: str | None = None,
               domain: str | None = None, user_domain: str | None = None) -> None:
        def fn(conn):
            row = self._assignment(conn, user, role, project, domain, user_domain)
            a = m.assignments
            exists = conn.execute(select(a).where(
                *(a.c[k] == v for k, v in row.items()))).first()
            if exists is None:
                conn.execute(insert(a).values(**row))
        self._insert(fn)

    def unassign(self, user: str, role: str, project: str | None = None,
                 domain: str | None = None, user_domain: str | None = None) -> None:
        def fn(conn):
            row = self._assignment(conn, user, role, project, domain, user_domain)
            a = m.assignments
            gone = conn.execute(delete(a).where(
                *(a.c[k] == v for k, v in row.items()))).rowcount
            if not gone:
                raise NotFound("Could not find role assignment.")
            self._revoke(conn, user_id=row["user_id"], project_id=(
                row["target_id"] if row["target_type"] == "project" else None))
        self.db.write(fn)

    # --- revocation events -------------------------------------------------------
    @staticmethod
    def _revoke(conn: Connection, audit_id: str | None = None, user_id: str | None = None,
                project_id: str | None = None) -> None:
        conn.execute(insert(m.revocations).values(
            audit_id=audit_id, user_id=user_id, project_id=project_id,
            issued_before_us=now_us(), revoked_at=utcnow()))

    def revoke(self, audit_id: str | None = None, user_id: str | None = None,
               project_id: str | None = None) -> None:
        self.db.write(lambda conn: self._revoke(conn, audit_id, user_id, project_id))

    def revocations_since(self, last_id: int) -> list[dict]:
        r = m.revocations
        stmt = select(r).where(r.c.id > last_id).order_by(r.c.id)
        return self.db.read(lambda conn: [dict(x) for x in conn.execute(stmt).mappings()])

    def purge_revocations(self, older_than_seconds: int) -> int:
        cutoff = utcnow() - dt.timedelta(seconds=older_than_seconds)
        r = m.revocations
        return self.db.write(lambda conn: conn.execute(
            delete(r).where(r.c.revoked_at < cutoff)).rowcount)
