"""/v2/lbaas/pools."""
from __future__ import annotations

import re

from sqlalchemy import insert, select, update

from neutrino.db import lbaas_models as m
from neutrino.octavia import faults, store
from neutrino.octavia.listeners import check_pool_protocol
from neutrino.octavia.schema import PROJECT, Field, common, parse
from neutrino.octavia.service import PROVIDER, Service

PT = m.pools
PROTOCOLS = ("HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP", "UDP", "SCTP")
SUPPORTED = ("HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP")
ALGORITHMS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT")
PERSISTENCE = ("SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE")
_BAD_COOKIE = re.compile(r'[\x00-\x20\x22\x28-\x29\x2c\x2f\x3a-\x40\x5b-\x5d\x7b\x7d\x7f]+')
_TLS = (Field("tls_enabled", "bool", False), Field("tls_container_ref", "str"),
        Field("ca_tls_container_ref", "str"), Field("crl_container_ref", "str"),
        Field("tls_ciphers", "str"), Field("tls_versions", "list"),
        Field("alpn_protocols", "list"))
FIELDS = (*common(), PROJECT,
          Field("listener_id", "uuid", put=False), Field("loadbalancer_id", "uuid", put=False),
          Field("protocol", "enum", mandatory=True, choices=PROTOCOLS, put=False),
          Field("lb_algorithm", "enum", mandatory=True, choices=ALGORITHMS),
          Field("session_persistence", "object"), *_TLS)


def check_persistence(sp: dict | None) -> dict | None:
    """Octavia's validate.check_session_persistence, normalized."""
    if sp is None:
        return None
    unknown = set(sp) - {"type", "cookie_name", "persistence_timeout",
                         "persistence_granularity"}
    if unknown or sp.get("type") not in PERSISTENCE:
        raise faults.InvalidInput(field="session_persistence/type", value=sp.get("type"),
                                  reason="Value should be one of: " + ", ".join(PERSISTENCE))
    cookie = sp.get("cookie_name")
    if cookie:
        if sp["type"] != "APP_COOKIE":
            raise faults.Validation(detail='Field "cookie_name" can only be specified with '
                                           'session persistence of type "APP_COOKIE".')
        if not isinstance(cookie, str) or _BAD_COOKIE.search(cookie) or len(cookie) > 255:
            raise faults.Validation(detail='Supplied "cookie_name" is invalid.')
    if sp["type"] == "APP_COOKIE" and not cookie:
        raise faults.Validation(detail='Field "cookie_name" must be specified when using the '
                                       '"APP_COOKIE" session persistence type.')
    return {"type": sp["type"], "cookie_name": cookie or None,
            "persistence_timeout": sp.get("persistence_timeout"),
            "persistence_granularity": sp.get("persistence_granularity")}


def view(row: dict, listeners: list[str], members: list[str], hm: str | None) -> dict:
    out = store.base_view(row)
    out.update({k: row[k] for k in ("name", "description", "protocol", "lb_algorithm")})
    out.update({"session_persistence": store.loads(row["session_persistence"]),
                "loadbalancers": [{"id": row["loadbalancer_id"]}],
                "listeners": [{"id": i} for i in listeners],
                "members": [{"id": i} for i in members], "healthmonitor_id": hm,
                "tls_enabled": False, "tls_container_ref": None, "ca_tls_container_ref": None,
                "crl_container_ref": None, "tls_ciphers": None, "tls_versions": None,
                "alpn_protocols": None})
    return out


def views(conn, rows: list[dict]) -> list[dict]:
    ids = [r["id"] for r in rows]
    lis: dict[str, list[str]] = {i: [] for i in ids}
    mems: dict[str, list[str]] = {i: [] for i in ids}
    hms: dict[str, str] = {}
    if ids:
        lt, pol, mt, ht = m.listeners, m.l7policies, m.members, m.healthmonitors
        for lid, pid in conn.execute(select(lt.c.id, lt.c.default_pool_id)
                                     .where(lt.c.default_pool_id.in_(ids))):
            lis[pid].append(lid)
        for lid, pid in conn.execute(select(pol.c.listener_id, pol.c.redirect_pool_id)
                                     .where(pol.c.redirect_pool_id.in_(ids))):
            if lid not in lis[pid]:
                lis[pid].append(lid)
        for mid, pid in conn.execute(select(mt.c.id, mt.c.pool_id).where(mt.c.pool_id.in_(ids))
                                     .order_by(mt.c.created_at, mt.c.id)):
            mems[pid].append(mid)
        for hid, pid in conn.execute(select(ht.c.id, ht.c.pool_id).where(ht.c.pool_id.in_(ids))):
            hms[pid] = hid
    return [view(r, lis[r["id"]], mems[r["id"]], hms.get(r["id"])) for r in rows]


def _check_supported(data: dict) -> None:
    if data.get("protocol") and data["protocol"] not in SUPPORTED:
        raise faults.DisabledOption(option="protocol", value=data["protocol"])
    if data.get("lb_algorithm") == "SOURCE_IP_PORT":
        raise faults.ProviderUnsupportedOption(
            prov=PROVIDER, user_msg="SOURCE_IP_PORT is not a supported lb_algorithm.")
    for f in _TLS:
        if data.get(f.name) not in (None, [], False):
            raise faults.Validation(detail=f"{f.name}: TLS is not supported by this "
                                           "deployment's provider.")


class Pools:
    def __init__(self, svc: Service, quotas):
        self.svc = svc
        self.quotas = quotas

    def list(self, ctx) -> list[dict]:
        scope = self.svc.list_scope(ctx, "pool")

        def txn(conn):
            stmt = select(PT)
            if scope is not None:
                stmt = stmt.where(PT.c.project_id == scope)
            return views(conn, [dict(r) for r in conn.execute(stmt).mappings()])
        return self.svc.read(txn)

    def get(self, ctx, obj_id: str) -> dict:
        self.svc.fetch(ctx, store.POOL, obj_id)
        return self.svc.read(lambda conn: views(conn, [store.get_row(conn, store.POOL,
                                                                     obj_id)])[0])

    def create(self, ctx, body: dict) -> dict:
        data = parse("pool", body, FIELDS, create=True)
        if not data.get("listener_id") and not data.get("loadbalancer_id"):
            raise faults.Validation(detail="Must provide at least one of: loadbalancer_id, "
                                           "listener_id")

        def owner(conn):
            if data.get("listener_id"):      # a missing parent is 404, as Octavia
                lis = store.get_row(conn, store.LISTENER, data["listener_id"])
                if data.get("loadbalancer_id") and \
                        data["loadbalancer_id"] != lis["loadbalancer_id"]:
                    raise faults.Validation(detail="Listener and load balancer must be on "
                                                   "the same load balancer.")
                return lis["loadbalancer_id"], lis
            store.get_row(conn, store.LOADBALANCER, data["loadbalancer_id"])
            return data["loadbalancer_id"], None
        lb_id, listener = self.svc.read(owner)
        project = self.svc.read(lambda conn: store.get_row(conn, store.LOADBALANCER,
                                                           lb_id))["project_id"]
        self.svc.authorize(ctx, "pool", "post", project)    # before the provider's checks
        _check_supported(data)
        data["session_persistence"] = check_persistence(data.get("session_persistence"))
        if listener is not None:
            check_pool_protocol(listener["protocol"], data["protocol"])
        obj_id = store.new_id()

        def txn(conn):
            lb = store.lock_lb(conn, lb_id)
            store.check_mutable(lb)
            self.quotas.check(conn, lb["project_id"], "pool")
            parents = []
            if listener is not None:
                current = store.get_row(conn, store.LISTENER, listener["id"])
                if current["default_pool_id"]:
                    raise faults.DuplicatePool()
                parents.append((store.LISTENER, listener["id"]))
            conn.execute(insert(PT).values(
                id=obj_id, loadbalancer_id=lb_id, **store.common_values(lb["project_id"], data),
                protocol=data["protocol"], lb_algorithm=data["lb_algorithm"],
                session_persistence=store.dumps(data["session_persistence"])
                if data["session_persistence"] else None))
            if listener is not None:
                lt = m.listeners
                conn.execute(update(lt).where(lt.c.id == listener["id"]).values(
                    default_pool_id=obj_id))
            store.begin_change(conn, lb, *parents)
            return views(conn, [store.get_row(conn, store.POOL, obj_id)])[0]
        result = self.svc.write(txn)
        self.svc.notify(lb_id)
        return result

    def update(self, ctx, obj_id: str, body: dict) -> dict:
        data = parse("pool", body, FIELDS, create=False)
        row = self.svc.fetch(ctx, store.POOL, obj_id, "put")     # authorized first
        _check_supported(data)
        if "session_persistence" in data:
            data["session_persistence"] = check_persistence(data["session_persistence"])

        def txn(conn):
            lb = store.lock_lb(conn, row["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.POOL, store.get_row(conn, store.POOL, obj_id))
            values = store.update_values(data, ("name", "description", "admin_state_up",
                                                "tags", "lb_algorithm"))
            if "session_persistence" in data:
                sp = data["session_persistence"]
                values["session_persistence"] = store.dumps(sp) if sp else None
            conn.execute(update(PT).where(PT.c.id == obj_id).values(**values))
            store.begin_change(conn, lb)
            return views(conn, [store.get_row(conn, store.POOL, obj_id)])[0]
        result = self.svc.write(txn)
        self.svc.notify(row["loadbalancer_id"])
        return result

    def delete(self, ctx, obj_id: str) -> None:
        row = self.svc.fetch(ctx, store.POOL, obj_id, "delete")

        def txn(conn):
            lb = store.lock_lb(conn, row["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.POOL, store.get_row(conn, store.POOL, obj_id))
            pol = m.l7policies
            used = conn.execute(select(pol.c.id).where(
                pol.c.redirect_pool_id == obj_id,
                pol.c.provisioning_status != store.PENDING_DELETE)).first()
            if used:
                raise faults.PoolInUseByL7Policy(id=obj_id, l7policy_id=used[0])
            ts = store.now()
            for table in (m.members, m.healthmonitors):
                conn.execute(update(table).where(table.c.pool_id == obj_id).values(
                    provisioning_status=store.PENDING_DELETE, updated_at=ts))
            conn.execute(update(PT).where(PT.c.id == obj_id).values(
                provisioning_status=store.PENDING_DELETE, updated_at=ts))
            lt = m.listeners
            conn.execute(update(lt).where(lt.c.default_pool_id == obj_id).values(
                default_pool_id=None, updated_at=ts))
            store.begin_change(conn, lb)
        self.svc.write(txn)
        self.svc.notify(row["loadbalancer_id"])


