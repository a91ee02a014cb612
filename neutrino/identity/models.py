"""Tables of the embedded identity, in neutrino's own database and metadata
(neutrino/db/models.py imports this module so that Alembic sees them).

Keystone's model, cut to what the embedded identity serves: domains,
projects, users (password hashes only), global roles with implied roles,
role assignments of users on projects or domains, and revocation events.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, ForeignKey, Integer,
                        String, Table, Text, UniqueConstraint)

from neutrino.db.models import metadata

ID = String(64)
NAME = String(255)

domains = Table(
    "identity_domains", metadata,
    Column("id", ID, primary_key=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
)

projects = Table(
    "identity_projects", metadata,
    Column("id", ID, primary_key=True),
    Column("domain_id", ID, ForeignKey("identity_domains.id"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("domain_id", "name"),
)

users = Table(
    "identity_users", metadata,
    Column("id", ID, primary_key=True),
    Column("domain_id", ID, ForeignKey("identity_domains.id"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("password_hash", Text),
    Column("email", String(255), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("default_project_id", ID),
    Column("created_at", DateTime, nullable=False),
    Column("password_changed_at", DateTime),
    UniqueConstraint("domain_id", "name"),
)

roles = Table(
    "identity_roles", metadata,
    Column("id", ID, primary_key=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
)

implied_roles = Table(
    "identity_implied_roles", metadata,
    Column("prior_role_id", ID, ForeignKey("identity_roles.id", ondelete="CASCADE"),
           primary_key=True),
    Column("implied_role_id", ID, ForeignKey("identity_roles.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)

# target_type: "project" or "domain"; target_id is the project's or domain's id.
assignments = Table(
    "identity_assignments", metadata,
    Column("user_id", ID, ForeignKey("identity_users.id", ondelete="CASCADE"),
           primary_key=True),
    Column("target_type", String(16), primary_key=True),
    Column("target_id", ID, primary_key=True, index=True),
    Column("role_id", ID, ForeignKey("identity_roles.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)

# A token is revoked when an event matches it: same audit id (one token), or
# same user (and project, when set) for tokens issued at or before
# issued_before_us (microseconds since the epoch). Rows older than the
# longest token lifetime are purged.
revocations = Table(
    "identity_revocations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("audit_id", String(64), index=True),
    Column("user_id", ID),
    Column("project_id", ID),
    Column("issued_before_us", BigInteger, nullable=False),
    Column("revoked_at", DateTime, nullable=False, index=True),
)

# Failed password authentications, as Keystone's failed_auth_count and
# failed_auth_at: one row per user ("user:<id>") and per source address
# ("source:<ip>"). A key with `failures` at the limit and its last failure
# less than the lockout duration ago is locked; an older row counts from 0.
auth_failures = Table(
    "identity_auth_failures", metadata,
    Column("key", String(255), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_us", BigInteger, nullable=False),
)
