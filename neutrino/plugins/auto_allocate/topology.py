"""GET/DELETE /v2.0/auto-allocated-topology/{project_id} (get-me-a-network,
as upstream's auto_allocate service): the project's network, with a subnet
from each default subnet pool, routed by a router whose gateway is on the
default external network; created on the first GET, the same one after.
?fields=dry-run only checks that it could be built. The parts are made
through the core plugins (each its own transaction, as upstream); a failure
removes what was made."""
from __future__ import annotations

import logging

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.faults import Conflict
from neutrino.api.policy import Context
from neutrino.db import seg_models as sm
from neutrino.plugins.auto_allocate.default_network import default_external_network

LOG = logging.getLogger(__name__)
T = sm.auto_allocated_topologies
NETWORK_NAME, ROUTER_NAME = "auto_allocated_network", "auto_allocated_router"


class AutoAllocationFailure(Conflict):
    message = "Deployment error: {reason}."


def _default_pools(conn) -> list[dict]:
    from neutrino.db import pools_models as pm
    sp = pm.subnetpools
    return [dict(r) for r in conn.execute(
        select(sp.c.id, sp.c.ip_version).where(sp.c.is_default).order_by(sp.c.ip_version)
    ).mappings()]


def _answer(network_id: str, project_id: str) -> dict:
    return {"auto_allocated_topology": {"id": network_id, "tenant_id": project_id,
                                        "project_id": project_id}}


def _project(ctx: Context, project_id: str) -> str:
    # as upstream: clients without a project id in hand send "None", meaning
    # the caller's own project
    return ctx.project_id if project_id == "None" else project_id


class AutoAllocator:
    def __init__(self, api):
        self.api = api
        self.core = api.core

    def _plugin(self, name):
        return self.api.plugins[name]

    def _prepared(self, collection: str, item: dict) -> dict:
        return self.api.controllers[collection].prepare_create(item)

    def _requirements(self, conn) -> tuple[str, list[dict]]:
        ext = default_external_network(conn)
        if ext is None:
            raise AutoAllocationFailure(reason="No default router:external network")
        pools = _default_pools(conn)
        if not pools:
            raise AutoAllocationFailure(reason="No default subnetpools defined")
        return ext, pools

    def get(self, ctx: Context, project_id: str, params: list[tuple[str, str]]) -> dict:
        project_id = _project(ctx, project_id)
        self.core.policy.enforce(ctx, "get_auto_allocated_topology",
                                 {"project_id": project_id, "tenant_id": project_id})
        fields = [v for k, v in params if k == "fields"]
        if "dry-run" in fields:
            self.core.db.read(self._requirements)
            return _answer("dry-run=pass", project_id)
        if fields:
            raise faults.BadRequest(resource="auto_allocate", msg="Unrecognized field")
        found = self.core.db.read(lambda conn: conn.execute(
            select(T.c.network_id).where(T.c.project_id == project_id)).scalar())
        if found:
            return _answer(found, project_id)
        ext, pools = self.core.db.read(self._requirements)
        return _answer(self._build(ctx, project_id, ext, pools), project_id)

    def _build(self, ctx: Context, project_id: str, ext: str, pools: list[dict]) -> str:
        # made in the project's name, with the admin rights the gateway needs
        actx = Context.make(project_id, ctx.user_id, ("admin",))
        made: dict = {"subnets": []}
        try:
            net = self._plugin("networks").create(actx, self._prepared("networks", {
                "name": NETWORK_NAME, "admin_state_up": True, "project_id": project_id}))
            made["network"] = net["id"]
            for pool in pools:
                sub = self._plugin("subnets").create(actx, self._prepared("subnets", {
                    "name": f"auto_allocated_subnet_v{pool['ip_version']}",
                    "network_id": net["id"], "ip_version": pool["ip_version"],
                    "subnetpool_id": pool["id"], "project_id": project_id}))
                made["subnets"].append(sub["id"])
        except faults.NeutronError as exc:
            LOG.warning("auto-allocation for %s: network: %s", project_id, exc)
            self._cleanup(actx, made)
            raise AutoAllocationFailure(
                reason="Unable to provide tenant private network") from None
        try:
            router = self._plugin("routers").create(actx, self._prepared("routers", {
                "name": ROUTER_NAME, "admin_state_up": True, "project_id": project_id,
                "external_gateway_info": {"network_id": ext}}))
            made["router"] = router["id"]
            for sub_id in made["subnets"]:
                self._plugin("routers").add_interface(actx, router["id"], {"subnet_id": sub_id})
                made.setdefault("interfaces", []).append(sub_id)
        except faults.NeutronError as exc:
            LOG.warning("auto-allocation for %s: router: %s", project_id, exc)
            self._cleanup(actx, made)
            raise AutoAllocationFailure(
                reason="Unable to provide external connectivity") from None
        try:
            self.core.db.write(lambda conn: conn.execute(insert(T).values(
                project_id=project_id, network_id=made["network"], router_id=made["router"])))
        except IntegrityError:
            # another request of the project made one first: keep that one
            self._cleanup(actx, made)
            return self.core.db.read(lambda conn: conn.execute(
                select(T.c.network_id).where(T.c.project_id == project_id)).scalar())
        return made["network"]

    def _cleanup(self, actx: Context, made: dict) -> None:
        routers = self._plugin("routers")
        for sub_id in made.get("interfaces", []):
            self._quietly(routers.remove_interface, actx, made["router"], {"subnet_id": sub_id})
        if made.get("router"):
            self._quietly(routers.delete, actx, made["router"])
        if made.get("network"):
            self._quietly(self._plugin("networks").delete, actx, made["network"])

    @staticmethod
    def _quietly(fn, *args) -> None:
        try:
            fn(*args)
        except faults.NotFound:
            pass

    def delete(self, ctx: Context, project_id: str) -> None:
        project_id = _project(ctx, project_id)
        self.core.policy.enforce(ctx, "delete_auto_allocated_topology",
                                 {"project_id": project_id, "tenant_id": project_id})
        row = self.core.db.read(lambda conn: conn.execute(
            select(T).where(T.c.project_id == project_id)).mappings().first())
        if row is None:
            return
        actx = Context.make(project_id, ctx.user_id, ("admin",))
        subnets = self.core.db.read(lambda conn: [r[0] for r in conn.execute(
            select(self._subnets().c.id).where(self._subnets().c.network_id == row["network_id"]))])
        made = {"network": row["network_id"], "router": row["router_id"],
                "interfaces": subnets if row["router_id"] else []}
        self._cleanup(actx, made)

    @staticmethod
    def _subnets():
        from neutrino.db import models
        return models.subnets
