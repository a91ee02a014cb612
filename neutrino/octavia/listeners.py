"""/v2/lbaas/listeners."""
from __future__ import annotations

import ipaddress

from sqlalchemy import insert, select, update

from neutrino.db import lbaas_models as m
from neutrino.octavia import faults, store, vip
from neutrino.octavia.schema import PROJECT, Field, common, parse
from neutrino.octavia.service import Service

LT = m.listeners
PROTOCOLS = ("HTTP", "HTTPS", "TCP", "TERMINATED_HTTPS", "UDP", "SCTP", "PROMETHEUS")
SUPPORTED = ("HTTP", "HTTPS", "TCP")
# Which pool protocols a listener protocol may send to (Octavia's map).
POOL_PROTOCOLS = {"TCP": ("HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP"),
                  "HTTP": ("HTTP", "PROXY", "PROXYV2"),
                  "HTTPS": ("HTTPS", "PROXY", "PROXYV2", "TCP"),
                  "TERMINATED_HTTPS": ("HTTP", "PROXY", "PROXYV2"),
                  "UDP": ("UDP",), "SCTP": ("SCTP",), "PROMETHEUS": ()}
HEADERS = ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto")
MAX_TIMEOUT = 24 * 60 * 60 * 1000
_TIMEOUTS = {"timeout_client_data": 50000, "timeout_member_connect": 5000,
             "timeout_member_data": 50000, "timeout_tcp_inspect": 0}
_TLS = (Field("default_tls_container_ref", "str", max_length=255),
        Field("sni_container_refs", "list"),
        Field("client_ca_tls_container_ref", "str", max_length=255),
        Field("client_authentication", "enum", choices=("NONE", "OPTIONAL", "MANDATORY")),
        Field("client_crl_container_ref", "str", max_length=255),
        Field("tls_ciphers", "str", max_length=2048), Field("tls_versions", "list"),
        Field("alpn_protocols", "list"), Field("hsts_max_age", "int", lo=0),
        Field("hsts_include_subdomains", "bool"), Field("hsts_preload", "bool"))
FIELDS = (*common(), PROJECT,
          Field("protocol", "enum", mandatory=True, choices=PROTOCOLS, put=False),
          Field("protocol_port", "int", mandatory=True, lo=1, hi=65535, put=False),
          Field("connection_limit", "int", -1, lo=-1),
          Field("default_pool_id", "uuid"), Field("insert_headers", "dict"),
          Field("loadbalancer_id", "uuid", mandatory=True, put=False),
          *[Field(k, "int", v, lo=0, hi=MAX_TIMEOUT) for k, v in _TIMEOUTS.items()],
          Field("allowed_cidrs", "list-cidr"), *_TLS)
COLUMNS = ("name", "description", "admin_state_up", "tags", "connection_limit",
           "default_pool_id", *_TIMEOUTS)


def view(row: dict, policies: list[str]) -> dict:
    out = store.base_view(row)
    cidrs = store.loads(row["allowed_cidrs"], [])
    out.update({k: row[k] for k in ("name", "description", "protocol", "protocol_port",
                                    "connection_limit", "default_pool_id", *_TIMEOUTS)})
    out.update({"default_tls_container_ref": None, "sni_container_refs": [],
                "l7policies": [{"id": i} for i in policies],
                "insert_headers": store.loads(row["insert_headers"], {}),
                "loadbalancers": [{"id": row["loadbalancer_id"]}],
                "client_ca_tls_container_ref": None, "client_authentication": "NONE",
                "client_crl_container_ref": None, "allowed_cidrs": cidrs or None,
                "tls_ciphers": None, "tls_versions": None, "alpn_protocols": None,
                "hsts_max_age": None, "hsts_include_subdomains": False,
                "hsts_preload": False})
    return out


def views(conn, rows: list[dict]) -> list[dict]:
    pt = m.l7policies
    ids = [r["id"] for r in rows]
    pols: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for pid, lid in conn.execute(select(pt.c.id, pt.c.listener_id)
                                     .where(pt.c.listener_id.in_(ids))
                                     .order_by(pt.c.position)):
            pols[lid].append(pid)
    return [view(r, pols[r["id"]]) for r in rows]


def port_family(protocol: str) -> str:
    return protocol if protocol in ("UDP", "SCTP") else "TCP"


def check_pool_protocol(listener_protocol: str, pool_protocol: str) -> None:
    if pool_protocol not in POOL_PROTOCOLS.get(listener_protocol, ()):
        raise faults.Validation(detail=f"The pool protocol '{pool_protocol}' is invalid "
                                       f"while the listener protocol is "
                                       f"'{listener_protocol}'.")


def _check_tls(data: dict) -> None:
    for f in _TLS:
        if data.get(f.name) not in (None, [], False, "NONE"):
            raise faults.Validation(detail=f"{f.name}: TLS is not supported by this "
                                           "deployment's provider.")


def _check_headers(protocol: str, headers: dict | None) -> None:
    if not headers:
        return
    if protocol not in ("HTTP", "TERMINATED_HTTPS"):
        raise faults.Validation(detail=f"The following headers are not supported for "
                                       f"{protocol} listeners: {', '.join(headers)}")
    for key, value in headers.items():
        if key not in HEADERS:
            raise faults.InvalidOption(value=key, option="insert_headers")
        if value.lower() not in ("true", "false"):
            raise faults.InvalidOption(value=value, option=f"insert_headers:{key}")


def _check_cidrs(lb: dict, cidrs: list | None) -> None:
    if not cidrs:
        return
    version = ipaddress.ip_address(lb["vip_address"]).version if lb["vip_address"] else 4
    for cidr in cidrs:
        if ipaddress.ip_network(cidr).version != version:
            raise faults.Validation(detail=f"CIDR {cidr} IP version incompatible with all "
                                           f"VIPs ['{lb['vip_address']}'] IP version.")


def check_default_pool(conn, lb_id: str, protocol: str, pool_id: str | None) -> None:
    if not pool_id:
        return
    pt = m.pools
    row = conn.execute(select(pt.c.protocol, pt.c.loadbalancer_id, pt.c.provisioning_status)
                       .where(pt.c.id == pool_id)).first()
    if row is None or row.loadbalancer_id != lb_id or \
            row.provisioning_status == store.PENDING_DELETE:
        raise faults.NotFound(resource="Pool", id=pool_id)
    check_pool_protocol(protocol, row.protocol)


class Listeners:
    def __init__(self, svc: Service, quotas):
        self.svc = svc
        self.quotas = quotas

    def list(self, ctx) -> list[dict]:
        scope = self.svc.list_scope(ctx, "listener")

        def txn(conn):
            stmt = select(LT)
            if scope is not None:
                stmt = stmt.where(LT.c.project_id == scope)
            return views(conn, [dict(r) for r in conn.execute(stmt).mappings()])
        return self.svc.read(txn)

    def get(self, ctx, obj_id: str) -> dict:
        self.svc.fetch(ctx, store.LISTENER, obj_id)
        return self.svc.read(lambda conn: views(conn, [store.get_row(
            conn, store.LISTENER, obj_id)])[0])

    def stats(self, ctx, obj_id: str) -> dict:
        row = self.svc.fetch(ctx, store.LISTENER, obj_id, "get_stats")
        return {"stats": {k: int(row[k]) for k in ("bytes_in", "bytes_out",
                                                    "active_connections",
                                                    "total_connections", "request_errors")}}

    def create(self, ctx, body: dict) -> dict:
        data = parse("listener", body, FIELDS, create=True)
        lb_row = self.svc.read(lambda conn: _lb_or_400(conn, data["loadbalancer_id"]))
        self.svc.authorize(ctx, "listener", "post", lb_row["project_id"])
        if data.get("project_id") and data["project_id"] != lb_row["project_id"]:
            raise faults.Validation(detail="Listener project_id must match the load "
                                           "balancer's project_id.")
        protocol = data["protocol"]
        if protocol == "TERMINATED_HTTPS" and not data.get("default_tls_container_ref") \
                and not data.get("sni_container_refs"):
            raise faults.Validation(detail="An SNI or default certificate container "
                                           "reference must be provided for "
                                           "TERMINATED_HTTPS listeners.")
        if protocol not in SUPPORTED:
            raise faults.DisabledOption(option="protocol", value=protocol)
        _check_tls(data)
        _check_headers(protocol, data.get("insert_headers"))
        obj_id = store.new_id()

        def txn(conn):
            lb = store.lock_lb(conn, data["loadbalancer_id"])
            store.check_mutable(lb)
            _check_cidrs(lb, data.get("allowed_cidrs"))
            self.quotas.check(conn, lb["project_id"], "listener")
            family = port_family(protocol)
            for other in conn.execute(select(LT.c.protocol).where(
                    LT.c.loadbalancer_id == lb["id"],
                    LT.c.protocol_port == data["protocol_port"])):
                if port_family(other.protocol) == family:
                    raise faults.DuplicateListener(protocol=protocol,
                                                   port=data["protocol_port"])
            check_default_pool(conn, lb["id"], protocol, data.get("default_pool_id"))
            conn.execute(insert(LT).values(
                id=obj_id, loadbalancer_id=lb["id"], **store.common_values(lb["project_id"], data),
                protocol=protocol, protocol_port=data["protocol_port"],
                connection_limit=data["connection_limit"],
                default_pool_id=data.get("default_pool_id"),
                insert_headers=store.dumps(data.get("insert_headers") or {}),
                allowed_cidrs=store.dumps(data.get("allowed_cidrs") or []),
                **{k: data[k] for k in _TIMEOUTS}))
            store.begin_change(conn, lb)
            sg = vip.sync_group(conn, lb)
            return views(conn, [store.get_row(conn, store.LISTENER, obj_id)])[0], sg
        result, sg = self.svc.write(txn)
        self.svc.notify(result["loadbalancers"][0]["id"], sg)
        return result

    def update(self, ctx, obj_id: str, body: dict) -> dict:
        data = parse("listener", body, FIELDS, create=False)
        row = self.svc.fetch(ctx, store.LISTENER, obj_id, "put")
        _check_tls(data)
        if "insert_headers" in data:
            _check_headers(row["protocol"], data["insert_headers"])

        def txn(conn):
            lb = store.lock_lb(conn, row["loadbalancer_id"])
            store.check_mutable(lb)
            current = store.get_row(conn, store.LISTENER, obj_id)
            store.check_object_mutable(store.LISTENER, current)
            if "allowed_cidrs" in data:
                _check_cidrs(lb, data["allowed_cidrs"])
            if "default_pool_id" in data:
                check_default_pool(conn, lb["id"], row["protocol"], data["default_pool_id"])
            values = store.update_values(data, COLUMNS)
            for key in _TIMEOUTS:
                if key in data and data[key] is None:
                    values[key] = _TIMEOUTS[key]
            if "connection_limit" in data and data["connection_limit"] is None:
                values["connection_limit"] = -1
            if "insert_headers" in data:
                values["insert_headers"] = store.dumps(data["insert_headers"] or {})
            if "allowed_cidrs" in data:
                values["allowed_cidrs"] = store.dumps(data["allowed_cidrs"] or [])
            conn.execute(update(LT).where(LT.c.id == obj_id).values(**values))
            store.begin_change(conn, lb)
            sg = vip.sync_group(conn, lb)
            return views(conn, [store.get_row(conn, store.LISTENER, obj_id)])[0], sg
        result, sg = self.svc.write(txn)
        self.svc.notify(row["loadbalancer_id"], sg)
        return result

    def delete(self, ctx, obj_id: str) -> None:
        row = self.svc.fetch(ctx, store.LISTENER, obj_id, "delete")

        def txn(conn):
            lb = store.lock_lb(conn, row["loadbalancer_id"])
            store.check_mutable(lb)
            current = store.get_row(conn, store.LISTENER, obj_id)
            store.check_object_mutable(store.LISTENER, current)
            ts = store.now()
            pol = m.l7policies
            pol_ids = select(pol.c.id).where(pol.c.listener_id == obj_id)
            conn.execute(update(m.l7rules).where(m.l7rules.c.l7policy_id.in_(pol_ids)).values(
                provisioning_status=store.PENDING_DELETE, updated_at=ts))
            conn.execute(update(pol).where(pol.c.listener_id == obj_id).values(
                provisioning_status=store.PENDING_DELETE, updated_at=ts))
            conn.execute(update(LT).where(LT.c.id == obj_id).values(
                provisioning_status=store.PENDING_DELETE, updated_at=ts))
            store.begin_change(conn, lb)
            return vip.sync_group(conn, lb)
        sg = self.svc.write(txn)
        self.svc.notify(row["loadbalancer_id"], sg)


def _lb_or_400(conn, lb_id: str) -> dict:
    return store.get_row(conn, store.LOADBALANCER, lb_id)     # 404, as Octavia

