"""Flavors, service profiles and their bindings (flavors), and routers'
flavor_id (l3-flavors). Admins manage both; everyone may read flavors (to
pick one for a router), only admins profiles. A flavor in use by a router,
a profile bound to a flavor, cannot be deleted (409)."""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.api.query import Query
from neutrino.db import l3x_models as lm
from neutrino.plugins import listing
from neutrino.plugins.flavors.resource import DRIVERS, FLAVOR, L3, SERVICE_PROFILE

F, SP, B, RX = (lm.flavors, lm.service_profiles, lm.flavor_profile_bindings,
                lm.router_extra_attributes)


class FlavorNotFound(faults.NotFound):
    message = "Flavor {flavor_id} could not be found."


class FlavorInUse(faults.InUse):
    message = "Flavor {flavor_id} is used by some service instance."


class ServiceProfileNotFound(faults.NotFound):
    message = "Service Profile {sp_id} could not be found."


class ServiceProfileInUse(faults.InUse):
    message = "Service Profile {sp_id} is used by some service instance."


class ServiceProfileDriverNotFound(faults.NotFound):
    message = "Service Profile driver {driver} could not be found."


class ServiceProfileEmpty(faults.NeutronError):
    status = 400
    message = "Service Profile needs either a driver or metainfo."


class FlavorServiceProfileBindingExists(faults.Conflict):
    message = "Service Profile {sp_id} is already associated with flavor {fl_id}."


class FlavorServiceProfileBindingNotFound(faults.NotFound):
    message = "Service Profile {sp_id} is not associated with flavor {fl_id}."


class InvalidFlavorServiceType(faults.NeutronError):
    status = 400
    message = "Invalid service type {service_type}."


class FlavorDisabled(faults.NeutronError):
    status = 400
    message = "Flavor is not enabled."


def _flavor_view(r, profiles) -> dict:
    return {"id": r["id"], "name": r["name"], "description": r["description"],
            "service_type": r["service_type"], "enabled": r["enabled"],
            "service_profiles": list(profiles)}


def _profile_view(r) -> dict:
    return {"id": r["id"], "description": r["description"], "driver": r["driver"],
            "metainfo": r["metainfo"], "enabled": r["enabled"]}


def _anyone(ctx: Context, item: dict) -> dict:
    # Flavors and profiles belong to nobody: rules are checked for the caller's project.
    return {"project_id": ctx.project_id, "tenant_id": ctx.project_id}


class FlavorPlugin:
    def __init__(self, core):
        self.core = core
        self.target_of = _anyone
        self.policy_target = _anyone

    def _row(self, conn, flavor_id: str):
        row = conn.execute(select(F).where(F.c.id == flavor_id)).mappings().first()
        if row is None:
            raise FlavorNotFound(flavor_id=flavor_id)
        return row

    def _views(self, conn, rows) -> list[dict]:
        bound: dict[str, list] = {}
        for part in listing.chunks([r["id"] for r in rows]):
            for fid, spid in conn.execute(select(B.c.flavor_id, B.c.service_profile_id)
                                          .where(B.c.flavor_id.in_(part))
                                          .order_by(B.c.service_profile_id)):
                bound.setdefault(fid, []).append(spid)
        return [_flavor_view(r, bound.get(r["id"], [])) for r in rows]

    def get(self, ctx: Context, flavor_id: str) -> dict:
        return self.core.db.read(lambda conn: self._views(conn, [self._row(conn, flavor_id)])[0])

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(FLAVOR, F, query.filters)
        return self.core.db.read(lambda conn: self._views(
            conn, listing.run_list(conn, FLAVOR, F, query, where)))

    def _bind_all(self, conn, flavor_id: str, profiles) -> None:
        for spid in dict.fromkeys(profiles or ()):
            if conn.execute(select(SP.c.id).where(SP.c.id == spid)).first() is None:
                raise ServiceProfileNotFound(sp_id=spid)
            conn.execute(insert(B).values(flavor_id=flavor_id, service_profile_id=spid))

    def create(self, ctx: Context, body: dict) -> dict:
        row = {"id": listing.new_id(), "name": body.get("name") or "",
               "description": body.get("description") or "",
               "service_type": body["service_type"], "enabled": body.get("enabled", True)}

        def txn(conn):
            conn.execute(insert(F).values(**row))
            self._bind_all(conn, row["id"], body.get("service_profiles"))
            return self._views(conn, [row])[0]
        return self.core.db.write(txn)

    def update(self, ctx: Context, flavor_id: str, body: dict) -> dict:
        def txn(conn):
            self._row(conn, flavor_id)
            values = {k: (body[k] if body[k] is not None else "") for k in
                      ("name", "description", "enabled") if k in body}
            if values:
                conn.execute(update(F).where(F.c.id == flavor_id).values(**values))
            if "service_profiles" in body:
                conn.execute(delete(B).where(B.c.flavor_id == flavor_id))
                self._bind_all(conn, flavor_id, body["service_profiles"])
            return self._views(conn, [self._row(conn, flavor_id)])[0]
        return self.core.db.write(txn)

    def delete(self, ctx: Context, flavor_id: str) -> None:
        def txn(conn):
            self._row(conn, flavor_id)
            if conn.execute(select(RX.c.router_id).where(RX.c.flavor_id == flavor_id)
                            .limit(1)).first():
                raise FlavorInUse(flavor_id=flavor_id)
            conn.execute(delete(F).where(F.c.id == flavor_id))   # bindings cascade
        self.core.db.write(txn)

    # --- /v2.0/flavors/{id}/service_profiles ---------------------------------------
    def bind(self, ctx: Context, flavor_id: str, body) -> dict:
        item = body.get("service_profile") if isinstance(body, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise faults.HTTPBadRequest("Unable to find 'service_profile' in request body")
        spid = item["id"]

        def txn(conn):
            self._row(conn, flavor_id)
            if conn.execute(select(SP.c.id).where(SP.c.id == spid)).first() is None:
                raise ServiceProfileNotFound(sp_id=spid)
            if conn.execute(select(B.c.flavor_id).where(
                    B.c.flavor_id == flavor_id, B.c.service_profile_id == spid)).first():
                raise FlavorServiceProfileBindingExists(sp_id=spid, fl_id=flavor_id)
            conn.execute(insert(B).values(flavor_id=flavor_id, service_profile_id=spid))
        self.core.db.write(txn)
        return {"service_profile": {"id": spid}}

    def bindings(self, ctx: Context, flavor_id: str) -> dict:
        view = self.get(ctx, flavor_id)
        return {"service_profiles": [{"id": i} for i in view["service_profiles"]]}

    def unbind(self, ctx: Context, flavor_id: str, spid: str) -> None:
        def txn(conn):
            self._row(conn, flavor_id)
            gone = conn.execute(delete(B).where(B.c.flavor_id == flavor_id,
                                                B.c.service_profile_id == spid)).rowcount
            if not gone:
                raise FlavorServiceProfileBindingNotFound(sp_id=spid, fl_id=flavor_id)
        self.core.db.write(txn)


class ServiceProfilePlugin:
    def __init__(self, core):
        self.core = core
        self.target_of = _anyone
        self.policy_target = _anyone

    def _row(self, conn, spid: str):
        row = conn.execute(select(SP).where(SP.c.id == spid)).mappings().first()
        if row is None:
            raise ServiceProfileNotFound(sp_id=spid)
        return row

    @staticmethod
    def _check(driver: str, metainfo) -> None:
        if not driver and not metainfo:
            raise ServiceProfileEmpty()
        if driver and driver not in DRIVERS:
            raise ServiceProfileDriverNotFound(driver=driver)

    def get(self, ctx: Context, spid: str) -> dict:
        return self.core.db.read(lambda conn: _profile_view(self._row(conn, spid)))

    def list(self, ctx: Context, query: Query) -> list[dict]:
        where = listing.column_clauses(SERVICE_PROFILE, SP, query.filters)
        return self.core.db.read(lambda conn: [_profile_view(r) for r in listing.run_list(
            conn, SERVICE_PROFILE, SP, query, where)])

    def create(self, ctx: Context, body: dict) -> dict:
        metainfo = body.get("metainfo")
        metainfo = "" if metainfo is None else metainfo if isinstance(metainfo, str) else str(
            metainfo)
        self._check(body.get("driver") or "", metainfo)
        row = {"id": listing.new_id(), "description": body.get("description") or "",
               "driver": body.get("driver") or "", "metainfo": metainfo,
               "enabled": body.get("enabled", True)}
        self.core.db.write(lambda conn: conn.execute(insert(SP).values(**row)))
        return _profile_view(row)

    def update(self, ctx: Context, spid: str, body: dict) -> dict:
        def txn(conn):
            current = dict(self._row(conn, spid))
            values = {k: (body[k] if body[k] is not None else "") for k in
                      ("description", "driver", "metainfo", "enabled") if k in body}
            if "metainfo" in values and not isinstance(values["metainfo"], str):
                values["metainfo"] = str(values["metainfo"])
            new = {**current, **values}
            self._check(new["driver"], new["metainfo"])
            if values:
                conn.execute(update(SP).where(SP.c.id == spid).values(**values))
            return _profile_view(new)
        return self.core.db.write(txn)

    def delete(self, ctx: Context, spid: str) -> None:
        def txn(conn):
            self._row(conn, spid)
            if conn.execute(select(B.c.flavor_id).where(B.c.service_profile_id == spid)
                            .limit(1)).first():
                raise ServiceProfileInUse(sp_id=spid)
            conn.execute(delete(SP).where(SP.c.id == spid))
        self.core.db.write(txn)


def check_router_flavor(conn, flavor_id: str) -> None:
    """l3-flavors: a router's flavor exists, is for routers and enabled."""
    row = conn.execute(select(F).where(F.c.id == flavor_id)).mappings().first()
    if row is None:
        raise FlavorNotFound(flavor_id=flavor_id)
    if row["service_type"] != L3:
        raise InvalidFlavorServiceType(service_type=row["service_type"])
    if not row["enabled"]:
        raise FlavorDisabled()
