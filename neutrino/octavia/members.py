"""/v2/lbaas/pools/{pool_id}/members, and the batch update (PUT on the
collection: the members listed replace the pool's)."""
from __future__ import annotations

from sqlalchemy import insert, select, update

from neutrino.db import lbaas_models as m
from neutrino.db import models
from neutrino.octavia import faults, store
from neutrino.octavia.schema import PROJECT, Field, parse, parse_object
from neutrino.octavia.service import Service

MT = m.members
RESERVED = ("169.254.169.254",)
FIELDS = (Field("name", "str", "", max_length=255), Field("admin_state_up", "bool", True),
          Field("tags", "tags", []), PROJECT,
          Field("address", "ip", mandatory=True, put=False),
          Field("protocol_port", "int", mandatory=True, lo=1, hi=65535, put=False),
          Field("weight", "int", 1, lo=0, hi=256), Field("backup", "bool", False),
          Field("subnet_id", "uuid", put=False), Field("monitor_port", "int", lo=1, hi=65535),
          Field("monitor_address", "ip"), Field("request_sriov", "bool", False, put=False),
          Field("vnic_type", "str", put=False))
COLUMNS = ("name", "admin_state_up", "tags", "weight", "backup", "monitor_port",
           "monitor_address")


def view(row: dict) -> dict:
    out = store.base_view(row)
    out.update({k: row[k] for k in ("name", "address", "protocol_port", "weight", "backup",
                                    "subnet_id", "monitor_address", "monitor_port")})
    out["vnic_type"] = "normal"
    return out


def _check(conn, ctx, data: dict) -> None:
    if data.get("request_sriov"):
        raise faults.BadRequest("The load balancer flavor does not allow SR-IOV member "
                                "ports.")
    if data.get("address") in RESERVED:
        raise faults.InvalidOption(value=data["address"], option="member address")
    if data.get("subnet_id"):
        s, n = models.subnets, models.networks
        row = conn.execute(select(s.c.project_id, n.c.shared, n.c.project_id.label("np"))
                           .join(n, n.c.id == s.c.network_id)
                           .where(s.c.id == data["subnet_id"])).first()
        if row is None or not (ctx.is_admin or row.shared or ctx.project_id in (
                row.project_id, row.np)):
            raise faults.InvalidSubresource(resource="Subnet", id=data["subnet_id"])


def _values(pool: dict, data: dict, operating: str) -> dict:
    return dict(loadbalancer_id=pool["loadbalancer_id"], pool_id=pool["id"],
                **store.common_values(pool["project_id"], data, operating),
                address=data["address"], protocol_port=data["protocol_port"],
                weight=data["weight"], backup=data["backup"], subnet_id=data.get("subnet_id"),
                monitor_address=data.get("monitor_address"),
                monitor_port=data.get("monitor_port"))


def _operating(conn, pool_id: str) -> str:
    ht = m.healthmonitors
    has_hm = conn.execute(select(ht.c.id).where(ht.c.pool_id == pool_id)).first()
    return store.OFFLINE if has_hm else store.NO_MONITOR


class Members:
    def __init__(self, svc: Service, quotas):
        self.svc = svc
        self.quotas = quotas

    def _pool(self, ctx, pool_id: str, action: str) -> dict:
        return self.svc.fetch(ctx, store.POOL, pool_id, action) if action else \
            self.svc.read(lambda conn: store.get_row(conn, store.POOL, pool_id))

    def _member(self, conn, pool_id: str, obj_id: str) -> dict:
        row = store.get_row(conn, store.MEMBER, obj_id)
        if row["pool_id"] != pool_id:
            raise faults.NotFound(resource="Member", id=obj_id)
        return row

    def list(self, ctx, pool_id: str) -> list[dict]:
        pool = self.svc.read(lambda conn: store.get_row(conn, store.POOL, pool_id))
        self.svc.authorize(ctx, "member", "get_all", pool["project_id"])
        return self.svc.read(lambda conn: [view(dict(r)) for r in conn.execute(
            select(MT).where(MT.c.pool_id == pool_id)).mappings()])

    def get(self, ctx, pool_id: str, obj_id: str) -> dict:
        pool = self.svc.read(lambda conn: store.get_row(conn, store.POOL, pool_id))
        row = self.svc.read(lambda conn: self._member(conn, pool_id, obj_id))
        self.svc.authorize(ctx, "member", "get_one", pool["project_id"])
        return view(row)

    def create(self, ctx, pool_id: str, body: dict) -> dict:
        data = parse("member", body, FIELDS, create=True)
        pool = self.svc.read(lambda conn: store.get_row(conn, store.POOL, pool_id))
        self.svc.authorize(ctx, "member", "post", pool["project_id"])
        obj_id = store.new_id()

        def txn(conn):
            _check(conn, ctx, data)
            lb = store.lock_lb(conn, pool["loadbalancer_id"])
            store.check_mutable(lb)
            current = store.get_row(conn, store.POOL, pool_id)
            if current["provisioning_status"] == store.PENDING_DELETE:
                raise faults.Immutable(resource="Pool", id=pool_id)
            self.quotas.check(conn, lb["project_id"], "member")
            self._unique(conn, pool_id, data)
            conn.execute(insert(MT).values(id=obj_id, **_values(current, data,
                                                                 _operating(conn, pool_id))))
            store.begin_change(conn, lb, (store.POOL, pool_id), *_listeners_of(conn, pool_id))
            return view(store.get_row(conn, store.MEMBER, obj_id))
        result = self.svc.write(txn)
        self.svc.notify(pool["loadbalancer_id"])
        return result

    @staticmethod
    def _unique(conn, pool_id: str, data: dict) -> None:
        if conn.execute(select(MT.c.id).where(
                MT.c.pool_id == pool_id, MT.c.address == data["address"],
                MT.c.protocol_port == data["protocol_port"])).first():
            raise faults.DuplicateMember(ip_address=data["address"],
                                         port=data["protocol_port"])

    def update(self, ctx, pool_id: str, obj_id: str, body: dict) -> dict:
        data = parse("member", body, FIELDS, create=False)
        pool = self.svc.read(lambda conn: store.get_row(conn, store.POOL, pool_id))
        self.svc.read(lambda conn: self._member(conn, pool_id, obj_id))
        self.svc.authorize(ctx, "member", "put", pool["project_id"])

        def txn(conn):
            lb = store.lock_lb(conn, pool["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.MEMBER, self._member(conn, pool_id, obj_id))
            values = store.update_values(data, COLUMNS)
            if "weight" in data and data["weight"] is None:
                values["weight"] = 1
            if "backup" in data and data["backup"] is None:
                values["backup"] = False
            conn.execute(update(MT).where(MT.c.id == obj_id).values(**values))
            store.begin_change(conn, lb, (store.POOL, pool_id), *_listeners_of(conn, pool_id))
            return view(store.get_row(conn, store.MEMBER, obj_id))
        result = self.svc.write(txn)
        self.svc.notify(pool["loadbalancer_id"])
        return result

    def delete(self, ctx, pool_id: str, obj_id: str) -> None:
        pool = self.svc.read(lambda conn: store.get_row(conn, store.POOL, pool_id))
        self.svc.read(lambda conn: self._member(conn, pool_id, obj_id))
        self.svc.authorize(ctx, "member", "delete", pool["project_id"])

        def txn(conn):
            lb = store.lock_lb(conn, pool["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.MEMBER, self._member(conn, pool_id, obj_id))
            conn.execute(update(MT).where(MT.c.id == obj_id).values(
                provisioning_status=store.PENDING_DELETE, updated_at=store.now()))
            store.begin_change(conn, lb, (store.POOL, pool_id), *_listeners_of(conn, pool_id))
        self.svc.write(txn)
        self.svc.notify(pool["loadbalancer_id"])

    def batch(self, ctx, pool_id: str, body: dict, additive_only: bool = False) -> None:
        """PUT /pools/{id}/members: members matched by (address,
        protocol_port) are updated, new ones created, the others deleted
        (kept with additive_only). 202, no body, as Octavia."""
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            raise faults.InvalidInput(field="members", value=body,
                                      reason="Mandatory field missing.")
        wanted = [parse_object("member", item if isinstance(item, dict) else {}, FIELDS, True)
                  for item in body["members"]]
        pool = self.svc.read(lambda conn: store.get_row(conn, store.POOL, pool_id))
        self.svc.authorize(ctx, "member", "put", pool["project_id"])
        keys = [(w["address"], w["protocol_port"]) for w in wanted]
        if len(set(keys)) != len(keys):
            raise faults.Validation(detail="Member must be updated only once in the same "
                                           "request.")

        def txn(conn):
            for w in wanted:
                _check(conn, ctx, w)
            lb = store.lock_lb(conn, pool["loadbalancer_id"])
            store.check_mutable(lb)
            existing = {(r["address"], r["protocol_port"]): dict(r) for r in conn.execute(
                select(MT).where(MT.c.pool_id == pool_id)).mappings()}
            new = [w for w in wanted if (w["address"], w["protocol_port"]) not in existing]
            if new:
                self.quotas.check(conn, lb["project_id"], "member", delta=len(new))
            operating = _operating(conn, pool_id)
            ts = store.now()
            for w in wanted:
                key = (w["address"], w["protocol_port"])
                if key in existing:
                    values = store.update_values(w, COLUMNS)
                    conn.execute(update(MT).where(MT.c.id == existing[key]["id"])
                                 .values(**values))
                else:
                    conn.execute(insert(MT).values(id=store.new_id(),
                                                   **_values(pool, w, operating)))
            if not additive_only:
                for key, row in existing.items():
                    if key not in keys:
                        conn.execute(update(MT).where(MT.c.id == row["id"]).values(
                            provisioning_status=store.PENDING_DELETE, updated_at=ts))
            store.begin_change(conn, lb, (store.POOL, pool_id), *_listeners_of(conn, pool_id))
        self.svc.write(txn)
        self.svc.notify(pool["loadbalancer_id"])


def _listeners_of(conn, pool_id: str) -> list[tuple]:
    lt = m.listeners
    return [(store.LISTENER, r[0]) for r in conn.execute(
        select(lt.c.id).where(lt.c.default_pool_id == pool_id))]
