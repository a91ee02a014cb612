"""The quotas API: GET/PUT/DELETE /v2.0/quotas/<project>, defaults, details."""
from __future__ import annotations

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.plugins.quotas import RESOURCES


PROJECT_ID_MAX = 255  # the project_id columns


def _check_project_id(project_id: str, stored: bool = True) -> None:
    """A project id the database cannot store (or, with a NUL, not even
    compare on PostgreSQL) is the client's error (400), not a 500."""
    if stored and len(project_id) > PROJECT_ID_MAX:
        raise faults.HTTPBadRequest(
            f"Invalid input for project_id. Reason: '{project_id[:32]}...' exceeds "
            f"maximum length of {PROJECT_ID_MAX}.")
    if "\x00" in project_id:
        raise faults.HTTPBadRequest("Invalid input for project_id. Reason: it contains "
                                    "a NUL character.")


class QuotaOps:
    def __init__(self, core):
        self.core = core

    def _authorize(self, ctx: Context, action: str, project_id: str) -> None:
        self.core.policy.enforce(ctx, action, {"project_id": project_id,
                                               "tenant_id": project_id})

    def list(self, ctx: Context):
        self._authorize(ctx, "update_quota", ctx.project_id)  # admin only

        def txn(conn):
            q = self.core.quotas
            return {"quotas": [{**q.limits(conn, pid), "project_id": pid, "tenant_id": pid}
                               for pid in q.projects_with_quotas(conn)]}
        return self.core.db.read(txn)

    def for_current(self, ctx: Context):
        return {"tenant": {"tenant_id": ctx.project_id}, "project": {"id": ctx.project_id}}

    def show(self, ctx: Context, project_id: str):
        self._authorize(ctx, "get_quota", project_id)
        _check_project_id(project_id, stored=False)
        return {"quota": self.core.db.read(lambda conn: self.core.quotas.limits(conn, project_id))}

    def defaults(self, ctx: Context, project_id: str):
        self._authorize(ctx, "get_quota", project_id)
        _check_project_id(project_id, stored=False)
        return {"quota": dict(self.core.quotas.defaults)}

    def details(self, ctx: Context, project_id: str):
        self._authorize(ctx, "get_quota", project_id)
        _check_project_id(project_id, stored=False)

        def txn(conn):
            q = self.core.quotas
            limits = q.limits(conn, project_id)
            return {"quota": {res: {"limit": limits[res], "used": q.used(conn, project_id, res),
                                    "reserved": 0} for res in RESOURCES}}
        return self.core.db.read(txn)

    def update(self, ctx: Context, project_id: str, body):
        self._authorize(ctx, "update_quota", project_id)
        _check_project_id(project_id)
        if not isinstance(body, dict) or not isinstance(body.get("quota"), dict):
            raise faults.HTTPBadRequest("Unable to find 'quota' in request body")
        values = {}
        force = str(body["quota"].get("force", False)).lower() in ("true", "1")
        if "check_limit" in body["quota"]:   # quota-check-limit: true checks even with force
            force = force and not a.to_boolean(body["quota"]["check_limit"])
        for key, value in body["quota"].items():
            if key in ("force", "check_limit"):  # quota-check-limit
                continue
            if key not in RESOURCES:
                raise faults.HTTPBadRequest(f"Unrecognized attribute(s) '{key}'")
            limit = a.to_int(value)
            if limit > 2 ** 31 - 1:  # the column is a 32-bit integer, as upstream's
                raise faults.HTTPBadRequest(
                    f"Invalid input for {key}. Reason: '{limit}' is too large - must be no "
                    f"larger than '{2 ** 31 - 1}'.")
            if limit < -1:
                raise faults.HTTPBadRequest(
                    f"Invalid input for {key}. Reason: '{limit}' is smaller than -1.")
            values[key] = limit

        def txn(conn):
            if not force:  # a limit below what is used needs force=true
                q = self.core.quotas
                under = [res for res, limit in values.items()
                         if limit >= 0 and q.used(conn, project_id, res) > limit]
                if under:
                    raise faults.BadRequest(
                        resource="quota",
                        msg=f"Quota limit is below the current usage of {', '.join(under)}; "
                            "set force=true to apply it anyway")
            self.core.quotas.set(conn, project_id, values)
            return {"quota": self.core.quotas.limits(conn, project_id)}
        return self.core.db.write(txn)

    def reset(self, ctx: Context, project_id: str):
        self._authorize(ctx, "delete_quota", project_id)
        _check_project_id(project_id, stored=False)
        self.core.db.write(lambda conn: self.core.quotas.reset(conn, project_id))
