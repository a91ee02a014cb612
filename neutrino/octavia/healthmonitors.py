"""/v2/lbaas/healthmonitors (one per pool)."""
from __future__ import annotations

import re

from sqlalchemy import insert, select, update

from neutrino.db import lbaas_models as m
from neutrino.octavia import faults, store
from neutrino.octavia.schema import PROJECT, Field, parse
from neutrino.octavia.service import Service

HT = m.healthmonitors
TYPES = ("HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO", "UDP-CONNECT", "SCTP")
SUPPORTED = ("HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO")
HTTP_TYPES = ("HTTP", "HTTPS")
METHODS = ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")
_CODES = re.compile(r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$")
_URL_PATH = re.compile(r"^/[^\s]*$")
FIELDS = (Field("name", "str", "", max_length=255), Field("admin_state_up", "bool", True),
          Field("tags", "tags", []), PROJECT,
          Field("pool_id", "uuid", mandatory=True, put=False),
          Field("type", "enum", mandatory=True, choices=TYPES, put=False),
          Field("delay", "int", mandatory=True, lo=0),
          Field("timeout", "int", mandatory=True, lo=0),
          Field("max_retries", "int", mandatory=True, lo=1, hi=10),
          Field("max_retries_down", "int", 3, lo=1, hi=10),
          Field("http_method", "enum", choices=METHODS), Field("url_path", "str"),
          Field("expected_codes", "str"), Field("http_version", "str"),
          Field("domain_name", "str", max_length=255))
COLUMNS = ("name", "admin_state_up", "tags", "delay", "timeout", "max_retries",
           "max_retries_down", "http_method", "url_path", "expected_codes", "http_version",
           "domain_name")


def view(row: dict) -> dict:
    out = store.base_view(row)
    out.update({k: row[k] for k in ("name", "type", "delay", "timeout", "max_retries",
                                    "max_retries_down", "http_method", "url_path",
                                    "expected_codes", "domain_name")})
    out["http_version"] = float(row["http_version"]) if row["http_version"] else None
    out["pools"] = [{"id": row["pool_id"]}]
    return out


def _normalize(hm_type: str, data: dict, create: bool) -> dict:
    if "http_version" in data and data["http_version"] is not None:
        if str(data["http_version"]) not in ("1.0", "1.1"):
            raise faults.InvalidInput(field="http_version", value=data["http_version"],
                                      reason="Value should be one of: 1.0, 1.1")
        data["http_version"] = str(data["http_version"])
    if hm_type in HTTP_TYPES:
        defaults = {"http_method": "GET", "url_path": "/", "expected_codes": "200"}
        for key, value in defaults.items():
            if (create and data.get(key) is None) or (key in data and data[key] is None):
                data[key] = value
        if data.get("url_path") is not None and not _URL_PATH.match(data["url_path"]):
            raise faults.BadRequest(f"Not a valid URLPath: {data['url_path']}")
        if data.get("expected_codes") is not None and \
                not _CODES.match(data["expected_codes"]):
            raise faults.InvalidInput(field="expected_codes", value=data["expected_codes"],
                                      reason="Value should match the pattern "
                                             r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$")
    else:
        for key in ("http_method", "url_path", "expected_codes", "http_version",
                    "domain_name"):
            if data.get(key) is not None:
                raise faults.InvalidOption(value=data[key], option=key)
    if data.get("domain_name") and not data.get("http_version") and create:
        raise faults.Validation(detail="'http_version' must be specified when "
                                       "'domain_name' is provided.")
    return data


class HealthMonitors:
    def __init__(self, svc: Service, quotas):
        self.svc = svc
        self.quotas = quotas

    def list(self, ctx) -> list[dict]:
        scope = self.svc.list_scope(ctx, "healthmonitor")

        def txn(conn):
            stmt = select(HT)
            if scope is not None:
                stmt = stmt.where(HT.c.project_id == scope)
            return [view(dict(r)) for r in conn.execute(stmt).mappings()]
        return self.svc.read(txn)

    def get(self, ctx, obj_id: str) -> dict:
        return view(self.svc.fetch(ctx, store.HEALTHMONITOR, obj_id))

    def create(self, ctx, body: dict) -> dict:
        data = parse("healthmonitor", body, FIELDS, create=True)
        pool = self.svc.read(lambda conn: store.get_row(conn, store.POOL, data["pool_id"]))
        self.svc.authorize(ctx, "healthmonitor", "post", pool["project_id"])
        if data["type"] not in SUPPORTED:
            raise faults.DisabledOption(option="type", value=data["type"])
        data = _normalize(data["type"], data, create=True)
        obj_id = store.new_id()

        def txn(conn):
            lb = store.lock_lb(conn, pool["loadbalancer_id"])
            store.check_mutable(lb)
            if store.get_row(conn, store.POOL, pool["id"])["provisioning_status"] == \
                    store.PENDING_DELETE:
                raise faults.Immutable(resource="Pool", id=pool["id"])
            self.quotas.check(conn, lb["project_id"], "health_monitor")
            if conn.execute(select(HT.c.id).where(HT.c.pool_id == pool["id"])).first():
                raise faults.DuplicateHealthMonitor()
            conn.execute(insert(HT).values(
                id=obj_id, loadbalancer_id=lb["id"], pool_id=pool["id"],
                **store.common_values(lb["project_id"], data), type=data["type"],
                **{k: data.get(k) for k in COLUMNS[3:]}))
            store.begin_change(conn, lb, (store.POOL, pool["id"]))
            return view(store.get_row(conn, store.HEALTHMONITOR, obj_id))
        result = self.svc.write(txn)
        self.svc.notify(pool["loadbalancer_id"])
        return result

    def update(self, ctx, obj_id: str, body: dict) -> dict:
        data = parse("healthmonitor", body, FIELDS, create=False)
        row = self.svc.fetch(ctx, store.HEALTHMONITOR, obj_id, "put")
        for key in ("delay", "timeout", "max_retries"):
            if key in data and data[key] is None:
                raise faults.InvalidOption(value="None", option=key)
        if "max_retries_down" in data and data["max_retries_down"] is None:
            data["max_retries_down"] = 3
        data = _normalize(row["type"], data, create=False)

        def txn(conn):
            lb = store.lock_lb(conn, row["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.HEALTHMONITOR,
                                       store.get_row(conn, store.HEALTHMONITOR, obj_id))
            conn.execute(update(HT).where(HT.c.id == obj_id).values(
                **store.update_values(data, COLUMNS)))
            store.begin_change(conn, lb, (store.POOL, row["pool_id"]))
            return view(store.get_row(conn, store.HEALTHMONITOR, obj_id))
        result = self.svc.write(txn)
        self.svc.notify(row["loadbalancer_id"])
        return result

    def delete(self, ctx, obj_id: str) -> None:
        row = self.svc.fetch(ctx, store.HEALTHMONITOR, obj_id, "delete")

        def txn(conn):
            lb = store.lock_lb(conn, row["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.HEALTHMONITOR,
                                       store.get_row(conn, store.HEALTHMONITOR, obj_id))
            conn.execute(update(HT).where(HT.c.id == obj_id).values(
                provisioning_status=store.PENDING_DELETE, updated_at=store.now()))
            store.begin_change(conn, lb, (store.POOL, row["pool_id"]))
        self.svc.write(txn)
        self.svc.notify(row["loadbalancer_id"])
