"""binding-extended: /v2.0/ports/{id}/bindings[/{host}[/activate]], a port's
bindings as upstream ML2 keeps them for live migration. The ACTIVE binding
is the port's own (binding:host_id and friends on the ports row); others
are INACTIVE rows in port_bindings, bound by the mechanism drivers like the
active one. Activating one swaps it with the active binding (the port is
then wired on the new host: its agents are told after commit). Admin (or
service) only, as upstream's defaults."""
from __future__ import annotations

import json

from sqlalchemy import delete, insert, select, update

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.faults import Conflict, NotFound
from neutrino.db import models
from neutrino.db import trunk_models as tm
from neutrino.plugins import listing
from neutrino.plugins.ml2.segments import segments_for

PB, P = tm.port_bindings, models.ports
ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"
VNIC_TYPES = ("normal", "direct", "macvtap", "baremetal", "direct-physical",
              "virtio-forwarder", "smart-nic", "remote-managed", "vdpa")
_ADMIN = "rule:admin_only or rule:service_api"
POLICY_RULES = {"get_port_binding": _ADMIN, "create_port_binding": _ADMIN,
                "delete_port_binding": _ADMIN, "activate": _ADMIN}


class PortBindingNotFound(NotFound):
    message = "Binding for port {port_id} for host {host} could not be found."


class PortBindingAlreadyActive(Conflict):
    message = "Binding for port {port_id} on host {host} is already active."


class PortBindingAlreadyExists(Conflict):
    message = "Binding for port {port_id} on host {host} already exists."


def _json(text):
    return json.loads(text) if text else {}


def _active(row) -> dict:
    return {"host": row["binding_host"], "vif_type": row["binding_vif_type"],
            "vif_details": _json(row["binding_vif_details"]),
            "vnic_type": row["binding_vnic_type"], "profile": _json(row["binding_profile"]),
            "status": ACTIVE, "project_id": row["project_id"]}


def _inactive(r, project_id: str) -> dict:
    return {"host": r["host"], "vif_type": r["vif_type"], "vif_details": _json(r["vif_details"]),
            "vnic_type": r["vnic_type"], "profile": _json(r["profile"]), "status": INACTIVE,
            "project_id": project_id}


class PortBindings:
    def __init__(self, core):
        self.core = core

    def _port(self, conn, ctx, port_id: str, action: str, lock: bool = False):
        stmt = select(P).where(P.c.id == port_id)
        if not ctx.is_admin:
            stmt = stmt.where(P.c.project_id == ctx.project_id)
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise faults.PortNotFound(port_id=port_id)
        self.core.policy.enforce(ctx, action, {"project_id": row["project_id"],
                                               "tenant_id": row["project_id"]})
        return row

    def _all(self, conn, row) -> list[dict]:
        out = [_active(row)] if row["binding_host"] else []
        out += [_inactive(r, row["project_id"]) for r in conn.execute(
            select(PB).where(PB.c.port_id == row["id"]).order_by(PB.c.host)).mappings()]
        return out

    def list(self, ctx, port_id: str, params: list[tuple[str, str]] = ()) -> dict:
        filters: dict[str, set[str]] = {}
        for key, value in params:
            if key in ("host", "vif_type", "vnic_type", "status"):
                filters.setdefault(key, set()).add(value)
        fields = [v for k, v in params if k == "fields"]

        def txn(conn):
            row = self._port(conn, ctx, port_id, "get_port_binding")
            items = [b for b in self._all(conn, row)
                     if all(b[k] in want for k, want in filters.items())]
            if fields:
                items = [{k: v for k, v in b.items() if k in fields} for b in items]
            return {"bindings": items}
        return self.core.db.read(txn)

    def show(self, ctx, port_id: str, host: str) -> dict:
        def txn(conn):
            row = self._port(conn, ctx, port_id, "get_port_binding")
            found = [b for b in self._all(conn, row) if b["host"] == host]
            if not found:
                raise PortBindingNotFound(port_id=port_id, host=host)
            return {"binding": found[0]}
        return self.core.db.read(txn)

    @staticmethod
    def _body(body) -> dict:
        item = body.get("binding") if isinstance(body, dict) else None
        if not isinstance(item, dict):
            raise faults.HTTPBadRequest("Unable to find 'binding' in request body")
        unknown = set(item) - {"host", "vnic_type", "profile", "project_id", "tenant_id"}
        if unknown:
            raise faults.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
        host = item.get("host")
        if not isinstance(host, str) or not host or len(host) > 255:
            raise faults.HTTPBadRequest("Invalid input for host. Reason: a host name is "
                                        "required.")
        vnic = item.get("vnic_type", "normal")
        reason = a.values(*VNIC_TYPES)(vnic)
        profile = item.get("profile") or {}
        reason = reason or a.dict_or_none(profile)
        if reason:
            raise faults.HTTPBadRequest(f"Invalid input for binding. Reason: {reason}.")
        return {"host": host, "vnic_type": vnic, "profile": profile}

    def _bind(self, conn, row, host: str, vnic: str):
        seg = segments_for(conn, [row["network_id"]]).get(row["network_id"])
        return self.core.mech.bind(conn, {"id": row["id"], "network_id": row["network_id"],
                                          "binding:vnic_type": vnic}, seg, host)

    def create(self, ctx, port_id: str, body) -> dict:
        want = self._body(body)
        hosts: list[str] = []

        def txn(conn):
            row = self._port(conn, ctx, port_id, "create_port_binding", lock=True)
            if want["host"] == row["binding_host"] or conn.execute(select(PB.c.host).where(
                    PB.c.port_id == port_id, PB.c.host == want["host"])).first():
                raise PortBindingAlreadyExists(port_id=port_id, host=want["host"])
            binding = self._bind(conn, row, want["host"], want["vnic_type"])
            if not row["binding_host"]:      # an unbound port: this binding is its active one
                conn.execute(update(P).where(P.c.id == port_id).values(
                    binding_host=want["host"], binding_vnic_type=want["vnic_type"],
                    binding_profile=json.dumps(want["profile"]), status="DOWN",
                    updated_at=listing.now(), revision_number=row["revision_number"] + 1,
                    **binding.columns()))
                hosts.append(want["host"])
                row = conn.execute(select(P).where(P.c.id == port_id)).mappings().first()
                return {"binding": _active(row)}, row
            conn.execute(insert(PB).values(port_id=port_id, host=want["host"],
                                           vnic_type=want["vnic_type"],
                                           profile=json.dumps(want["profile"]),
                                           vif_type=binding.vif_type,
                                           vif_details=json.dumps(binding.vif_details,
                                                                  sort_keys=True)))
            r = conn.execute(select(PB).where(PB.c.port_id == port_id,
                                              PB.c.host == want["host"])).mappings().first()
            return {"binding": _inactive(r, row["project_id"])}, row
        out, row = self.core.db.write(txn)
        self._notify(row, hosts)
        return out

    def activate(self, ctx, port_id: str, host: str) -> dict:
        def txn(conn):
            row = self._port(conn, ctx, port_id, "activate", lock=True)
            if host == row["binding_host"]:
                raise PortBindingAlreadyActive(port_id=port_id, host=host)
            new = conn.execute(select(PB).where(PB.c.port_id == port_id,
                                                PB.c.host == host)).mappings().first()
            if new is None:
                raise PortBindingNotFound(port_id=port_id, host=host)
            conn.execute(delete(PB).where(PB.c.port_id == port_id, PB.c.host == host))
            if row["binding_host"]:         # the active one steps down
                conn.execute(insert(PB).values(
                    port_id=port_id, host=row["binding_host"], vif_type=row["binding_vif_type"],
                    vif_details=row["binding_vif_details"], vnic_type=row["binding_vnic_type"],
                    profile=row["binding_profile"]))
            conn.execute(update(P).where(P.c.id == port_id).values(
                binding_host=host, binding_vif_type=new["vif_type"],
                binding_vif_details=new["vif_details"], binding_vnic_type=new["vnic_type"],
                binding_profile=new["profile"], status="DOWN", updated_at=listing.now(),
                revision_number=row["revision_number"] + 1))
            fresh = conn.execute(select(P).where(P.c.id == port_id)).mappings().first()
            return {"binding": _active(fresh)}, fresh, row["binding_host"]
        out, row, old = self.core.db.write(txn)
        self._notify(row, [h for h in (old, host) if h])
        return out

    def delete(self, ctx, port_id: str, host: str) -> None:
        def txn(conn):
            row = self._port(conn, ctx, port_id, "delete_port_binding", lock=True)
            if host == row["binding_host"]:   # the active binding: the port is unbound
                conn.execute(update(P).where(P.c.id == port_id).values(
                    binding_host="", binding_vif_type="unbound", binding_vif_details="{}",
                    status="DOWN", updated_at=listing.now(),
                    revision_number=row["revision_number"] + 1))
                return row, [host]
            gone = conn.execute(delete(PB).where(PB.c.port_id == port_id, PB.c.host == host))
            if not gone.rowcount:
                raise PortBindingNotFound(port_id=port_id, host=host)
            return row, []
        row, hosts = self.core.db.write(txn)
        self._notify(row, hosts)

    def _notify(self, row, hosts: list[str]) -> None:
        if hosts:
            self.core.notifier.resource_changed("port", row["id"], row["revision_number"] + 1,
                                                hosts=tuple(sorted(set(hosts))),
                                                network_id=row["network_id"])


def routes(api) -> list:
    from starlette.requests import Request
    from starlette.routing import Route
    ops = PortBindings(api.core)

    async def collection(request: Request):
        pid = request.path_params["id"]
        if request.method == "POST":
            return await api.call(request, ops.create, pid, needs_body=True, status=201)
        return await api.call(request, ops.list, pid, list(request.query_params.multi_items()))

    async def member(request: Request):
        pid, host = request.path_params["id"], request.path_params["host"]
        if request.method == "DELETE":
            return await api.call(request, ops.delete, pid, host, status=204)
        return await api.call(request, ops.show, pid, host)

    async def activate(request: Request):
        return await api.call(request, ops.activate, request.path_params["id"],
                              request.path_params["host"])

    return [Route("/v2.0/ports/{id}/bindings", collection, methods=["GET", "POST"]),
            Route("/v2.0/ports/{id}/bindings/{host}/activate", activate, methods=["PUT"]),
            Route("/v2.0/ports/{id}/bindings/{host}", member, methods=["GET", "DELETE"])]


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.api import openapi as oa
    obj = {"type": "object"}
    schemas["PortBinding"] = oa._object(
        {"host": {"type": "string"}, "vif_type": {"type": "string"}, "vif_details": obj,
         "vnic_type": {"type": "string", "enum": list(VNIC_TYPES)}, "profile": obj,
         "status": {"type": "string", "enum": [ACTIVE, INACTIVE]},
         "project_id": {"type": "string"}}, closed=False)
    one = oa._object({"binding": oa._ref("PortBinding")}, ("binding",))
    many = oa._object({"bindings": {"type": "array", "items": oa._ref("PortBinding")}},
                      ("bindings",))
    new = oa._object({"binding": oa._object(
        {"host": {"type": "string", "minLength": 1, "maxLength": 255},
         "vnic_type": {"type": "string", "enum": list(VNIC_TYPES)}, "profile": obj},
        ("host",))}, ("binding",))
    port, host = oa._path_param("id"), oa._path_param("host", {"type": "string"})
    tag = ["port_bindings"]
    paths["/v2.0/ports/{id}/bindings"] = {
        "parameters": [port],
        "get": {"operationId": "list_port_bindings", "tags": tag, "summary": "List a port's "
                "bindings", "responses": {"200": oa._ok("the bindings", many),
                                          **oa._errors(401, 403, 404)}},
        "post": {"operationId": "create_port_binding", "tags": tag,
                 "summary": "Bind a port to another host (inactive unless it is unbound)",
                 "requestBody": oa._json_body(new),
                 "responses": {"201": oa._ok("the binding", one),
                               **oa._errors(400, 401, 403, 404, 409, 413)}}}
    paths["/v2.0/ports/{id}/bindings/{host}"] = {
        "parameters": [port, host],
        "get": {"operationId": "show_port_binding", "tags": tag, "summary": "Show a binding",
                "responses": {"200": oa._ok("the binding", one),
                              **oa._errors(401, 403, 404)}},
        "delete": {"operationId": "delete_port_binding", "tags": tag,
                   "summary": "Delete a binding",
                   "responses": {"204": {"description": "deleted"},
                                 **oa._errors(401, 403, 404)}}}
    paths["/v2.0/ports/{id}/bindings/{host}/activate"] = {
        "parameters": [port, host],
        "put": {"operationId": "activate_port_binding", "tags": tag,
                "summary": "Make a binding the active one",
                "responses": {"200": oa._ok("the binding", one),
                              **oa._errors(401, 403, 404, 409)}}}
