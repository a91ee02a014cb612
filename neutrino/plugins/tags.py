"""The tag sub-resource: /v2.0/<collection>/<id>/tags[/<tag>]."""
from __future__ import annotations

from sqlalchemy import delete, insert, select

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.db import models
from neutrino.plugins.core import bump_revision, set_tags
from neutrino.db.models import metadata

T = models.tags


class TagOps:
    def __init__(self, core, controller):
        self.core = core
        self.ctl = controller
        self.table = metadata.tables[{"security-groups": "security_groups",
                                      "policies": "qos_policies"}.get(
            controller.r.collection, controller.r.collection.replace("-", "_"))]
        self.kind = controller.r.collection.replace("-", "_")

    def _tags(self, conn, rid):
        return sorted(r[0] for r in conn.execute(select(T.c.tag).where(T.c.resource_id == rid)))

    def get_all(self, ctx, rid):
        self.ctl.plugin.get(ctx, rid)
        return {"tags": self.core.db.read(lambda conn: self._tags(conn, rid))}

    def replace(self, ctx, rid, body):
        tags = body.get("tags") if isinstance(body, dict) else None
        reason = a.tag_list(tags)
        if reason:
            raise faults.HTTPBadRequest(f"Invalid input for tags. Reason: {reason}.")
        a.check_tag_count(self.ctl.r.singular, len(set(tags)))
        self.ctl.authorize_tags(ctx, rid)

        def txn(conn):
            set_tags(conn, self.kind, rid, tags)
            bump_revision(conn, self.table, rid)
            return {"tags": self._tags(conn, rid)}
        return self.core.db.write(txn)

    def delete_all(self, ctx, rid):
        self.ctl.authorize_tags(ctx, rid)

        def txn(conn):
            conn.execute(delete(T).where(T.c.resource_id == rid))
            bump_revision(conn, self.table, rid)
        self.core.db.write(txn)

    def check(self, ctx, rid, tag):
        self.ctl.plugin.get(ctx, rid)
        if tag not in self.core.db.read(lambda conn: self._tags(conn, rid)):
            raise faults.TagNotFound(tag=tag, resource=self.ctl.r.singular, resource_id=rid)

    def add(self, ctx, rid, tag):
        reason = a.tag_list([tag])
        if reason:
            raise faults.HTTPBadRequest(f"Invalid input for tags. Reason: {reason}.")
        self.ctl.authorize_tags(ctx, rid)

        def txn(conn):
            have = self._tags(conn, rid)
            if tag not in have:
                a.check_tag_count(self.ctl.r.singular, len(have) + 1)
                conn.execute(insert(T).values(resource_id=rid, tag=tag, resource_type=self.kind))
                bump_revision(conn, self.table, rid)
        self.core.db.write(txn)
        return None

    def delete(self, ctx, rid, tag):
        self.ctl.authorize_tags(ctx, rid)

        def txn(conn):
            if tag not in self._tags(conn, rid):
                raise faults.TagNotFound(tag=tag, resource=self.ctl.r.singular, resource_id=rid)
            conn.execute(delete(T).where(T.c.resource_id == rid, T.c.tag == tag))
            bump_revision(conn, self.table, rid)
        self.core.db.write(txn)
