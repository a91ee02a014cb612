"""Request authentication: turns headers into a policy Context.

noauth trusts Neutron's headers (X-Project-Id or X-Tenant-Id, X-Roles,
X-User-Id); a request without them is the admin of a default project, as
upstream's noauth pipeline. Keystone validation plugs in behind the same
interface.
"""
from __future__ import annotations

from typing import Mapping

from neutrino.api.policy import Context


class Authenticator:
    def context(self, headers: Mapping[str, str]) -> Context:
        raise NotImplementedError


class NoAuth(Authenticator):
    def __init__(self, default_project_id: str):
        self.default_project_id = default_project_id

    def context(self, headers: Mapping[str, str]) -> Context:
        project = headers.get("x-project-id") or headers.get("x-tenant-id")
        roles = headers.get("x-roles")
        user = headers.get("x-user-id") or ""
        if project is None and roles is None:
            return Context.make(self.default_project_id, user or "admin", ("admin",))
        return Context.make(project or "", user, (roles or "").split(","),
                            request_id=headers.get("x-openstack-request-id", ""))
