"""A keystone lab's users (`neutrino lab up --auth keystone`): the seed's
`admin` and `demo` projects and users on the embedded identity, their
passwords and their openrc files (the seed's admin-openrc.sh / demo-openrc.sh).

    admin  project admin, role admin   (the identity's bootstrap admin)
    demo   project demo,  role member  (a tenant: sees its own and shared/external networks)

Passwords are random per lab, kept in lab.json (0600) and printed by
`lab up` and `lab openrc`.
"""
from __future__ import annotations

import secrets
import shlex

from neutrino.identity.store import Conflict, IdentityStore, NotFound

# user -> (project, role)
LAB_USERS = {"admin": ("admin", "admin"), "demo": ("demo", "member")}


def new_passwords() -> dict[str, str]:
    return {user: secrets.token_urlsafe(12) for user in LAB_USERS}


def ensure_demo(store: IdentityStore, password: str) -> None:
    """The demo project and user (member of it); idempotent, as the
    identity's own bootstrap of admin is (a restarted runtime changes nothing)."""
    project, role = LAB_USERS["demo"]
    try:
        store.find("project", project)
    except NotFound:
        try:
            store.create_project(project, description="The seed's demo tenant")
        except Conflict:
            pass
    try:
        store.find("user", "demo")
    except NotFound:
        try:
            store.create_user("demo", password, default_project=project)
        except Conflict:
            return
        store.assign("demo", role, project=project)


def openrc_lines(auth_url: str, user: str, password: str) -> list[str]:
    """The seed's <user>-openrc.sh for this lab, plus the unsets that stop a
    noauth environment (OS_AUTH_TYPE=none, OS_ENDPOINT) from winning."""
    if user not in LAB_USERS:
        raise KeyError(f"no lab user {user!r} (users: {', '.join(LAB_USERS)})")
    q = shlex.quote
    return [f"# {user}-openrc.sh of the neutrino lab: source it, then `openstack network list`",
            "unset OS_AUTH_TYPE OS_ENDPOINT OS_ENDPOINT_OVERRIDE OS_TOKEN OS_CLOUD "
            "OS_PROJECT_ID OS_TENANT_ID OS_TENANT_NAME OS_USER_ID OS_SYSTEM_SCOPE",
            f"export OS_USERNAME={q(user)}",
            f"export OS_PASSWORD={q(password)}",
            f"export OS_PROJECT_NAME={q(LAB_USERS[user][0])}",
            "export OS_USER_DOMAIN_NAME=Default",
            "export OS_PROJECT_DOMAIN_NAME=Default",
            f"export OS_AUTH_URL={q(auth_url)}",
            "export OS_IDENTITY_API_VERSION=3",
            "export OS_IMAGE_API_VERSION=2",
            "export OS_REGION_NAME=RegionOne",
            "export OS_INTERFACE=public"]
