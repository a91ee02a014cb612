"""The Octavia v2 routes, served at /v2/lbaas and /v2.0/lbaas (Octavia
answers both) at the server's root and under /load-balancer (the
`load-balancer` catalog endpoint, whose root answers Octavia's versions
document)."""
from __future__ import annotations

import logging
from typing import Any, Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from neutrino.api import faults as nfaults
from neutrino.db.engine import DatabaseUnavailable, StatementTimeout
from neutrino.octavia import faults, listing
from neutrino.octavia.healthmonitors import HealthMonitors
from neutrino.octavia.l7 import L7Policies, L7Rules
from neutrino.octavia.listeners import Listeners
from neutrino.octavia.loadbalancers import LoadBalancers
from neutrino.octavia.members import Members
from neutrino.octavia.pools import Pools
from neutrino.octavia.quotas import Quotas
from neutrino.octavia.service import PROVIDER, PROVIDER_DESCRIPTION, Service

LOG = logging.getLogger(__name__)
PREFIXES = ("/v2/lbaas", "/v2.0/lbaas", "/load-balancer/v2/lbaas", "/load-balancer/v2.0/lbaas")
CATALOG_PATH = "/load-balancer"
MAX_MINOR = 25      # the v2.N claimed (see docs/api.md)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _fault(exc: faults.OctaviaFault) -> Response:
    return _json(exc.body(), exc.status)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


class OctaviaApi:
    def __init__(self, core, auth):
        self.auth = auth
        self.svc = Service(core)
        self.quotas = Quotas(self.svc)
        q = self.quotas
        self.lbs = LoadBalancers(self.svc, q)
        self.listeners = Listeners(self.svc, q)
        self.pools = Pools(self.svc, q)
        self.members = Members(self.svc, q)
        self.hms = HealthMonitors(self.svc, q)
        self.l7policies = L7Policies(self.svc, q)
        self.l7rules = L7Rules(self.svc, q)

    async def call(self, request: Request, fn: Callable[..., Any], *args, status: int = 200,
                   body: bool = False) -> Response:
        try:
            ctx = await self.auth.authenticate(request)
            if body:
                raw = await request.body()
                try:
                    data = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    raise faults.BadRequest("Invalid JSON in the request body.") from None
                if not isinstance(data, dict):
                    raise faults.BadRequest("The request body must be a JSON object.")
                if "\x00" in raw.decode("utf-8", "replace"):
                    raise faults.BadRequest("NUL characters are not allowed.")
                args = args + (data,)
            result = await run_in_threadpool(fn, ctx, *args)
        except faults.OctaviaFault as exc:
            return _fault(exc)
        except nfaults.NeutronError as exc:   # authentication (401) and the like
            if exc.status >= 500:
                LOG.error("%s %s: %s", request.method, request.url.path, exc)
            resp = _json(faults.OctaviaFault(exc.text).body(), exc.status)
            resp.headers.update(getattr(exc, "headers", None) or {})
            return resp
        except (DatabaseUnavailable, StatementTimeout) as exc:
            LOG.error("%s %s: %s", request.method, request.url.path, exc)
            fault = faults.OctaviaFault("The database is not available; nothing was changed. "
                                        "Retry later.")
            return _json(fault.body(), 503)
        except Exception:   # never a traceback to the client
            LOG.exception("%s %s failed", request.method, request.url.path)
            return _fault(faults.OctaviaFault("Internal server error."))
        if status in (202, 204) and result is None:
            return Response(status_code=status)
        return _json(result, status)

    # --- generic shapes ---------------------------------------------------------------
    def _collection(self, plugin, key: str, collection: str, *keys: str):
        async def ep(request: Request):
            ids = [request.path_params[k] for k in keys]
            if request.method == "GET":
                params = list(request.query_params.multi_items())
                url = str(request.base_url).rstrip("/") + request.url.path
                return await self.call(request, lambda ctx, *a: listing.paginate(
                    plugin.list(ctx, *a), params, collection, url), *ids)
            return await self.call(request, lambda ctx, *a: {key: plugin.create(ctx, *a)},
                                   *ids, status=201, body=True)
        return ep

    def _member(self, plugin, key: str, *keys: str):
        async def ep(request: Request):
            ids = [request.path_params[k] for k in keys]
            if request.method == "GET":
                fields = [f for k, v in request.query_params.multi_items() if k == "fields"
                          for f in v.split(",") if f]

                def show(ctx, *a):
                    obj = plugin.get(ctx, *a)
                    return {key: {k: obj[k] for k in fields if k in obj} if fields else obj}
                return await self.call(request, show, *ids)
            if request.method == "PUT":
                return await self.call(request, lambda ctx, *a: {key: plugin.update(ctx, *a)},
                                       *ids, body=True)
            if key == "loadbalancer":
                cascade = _truthy(request.query_params.get("cascade"))
                return await self.call(request, lambda ctx, i: plugin.delete(ctx, i, cascade),
                                       *ids, status=204)
            return await self.call(request, plugin.delete, *ids, status=204)
        return ep

    def routes(self) -> list[Route]:
        out: list[Route] = [Route(CATALOG_PATH, self.versions, methods=["GET"]),
                            Route(CATALOG_PATH + "/", self.versions, methods=["GET"])]
        for base in PREFIXES:
            out += self._routes(base)
        return out

    def _routes(self, base: str) -> list[Route]:
        rw, one = ["GET", "POST"], ["GET", "PUT", "DELETE"]

        def pair(path, plugin, key, collection, *parents):
            return [Route(base + path, self._collection(plugin, key, collection, *parents),
                          methods=rw),
                    Route(base + path + "/{id}", self._member(plugin, key, *parents, "id"),
                          methods=one)]
        lbs = self.lbs

        async def status_ep(request):
            return await self.call(request, lbs.status, request.path_params["id"])

        async def stats_ep(request):
            return await self.call(request, lbs.stats, request.path_params["id"])

        async def failover_ep(request):
            return await self.call(request, lbs.failover, request.path_params["id"],
                                   status=202)

        async def listener_stats_ep(request):
            return await self.call(request, self.listeners.stats, request.path_params["id"])

        async def batch_ep(request):
            additive = _truthy(request.query_params.get("additive_only"))
            return await self.call(request, lambda ctx, pid, data: self.members.batch(
                ctx, pid, data, additive), request.path_params["pool_id"], status=202,
                body=True)

        return [
            *pair("/loadbalancers", lbs, "loadbalancer", "loadbalancers"),
            Route(base + "/loadbalancers/{id}/status", status_ep, methods=["GET"]),
            Route(base + "/loadbalancers/{id}/statuses", status_ep, methods=["GET"]),
            Route(base + "/loadbalancers/{id}/stats", stats_ep, methods=["GET"]),
            Route(base + "/loadbalancers/{id}/failover", failover_ep, methods=["PUT"]),
            *pair("/listeners", self.listeners, "listener", "listeners"),
            Route(base + "/listeners/{id}/stats", listener_stats_ep, methods=["GET"]),
            *pair("/pools", self.pools, "pool", "pools"),
            Route(base + "/pools/{pool_id}/members", batch_ep, methods=["PUT"]),
            *pair("/pools/{pool_id}/members", self.members, "member", "members", "pool_id"),
            *pair("/healthmonitors", self.hms, "healthmonitor", "healthmonitors"),
            *pair("/l7policies", self.l7policies, "l7policy", "l7policies"),
            *pair("/l7policies/{policy_id}/rules", self.l7rules, "rule", "rules",
                  "policy_id"),
            Route(base + "/providers", self.providers, methods=["GET"]),
            Route(base + "/providers/{provider}/flavor_capabilities", self.capabilities,
                  methods=["GET"]),
            Route(base + "/providers/{provider}/availability_zone_capabilities",
                  self.capabilities, methods=["GET"]),
            Route(base + "/flavors", self.flavors, methods=["GET"]),
            Route(base + "/flavors/{id}", self.flavor, methods=["GET"]),
            Route(base + "/availabilityzones", self.zones, methods=["GET"]),
            Route(base + "/quotas", self.quota_list, methods=["GET"]),
            Route(base + "/quotas/{project_id}/default", self.quota_default, methods=["GET"]),
            Route(base + "/quotas/{project_id}", self.quota_one, methods=one),
        ]

    # --- small read-only endpoints -------------------------------------------------------
    async def versions(self, request: Request) -> Response:
        url = str(request.base_url).rstrip("/") + CATALOG_PATH + "/"
        versions = [{"id": f"v2.{n}", "status": "CURRENT" if n == MAX_MINOR else "SUPPORTED",
                     "updated": "2021-10-02T00:00:00Z" if n == MAX_MINOR
                     else "2016-12-11T00:00:00Z",
                     "links": [{"href": url + "v2", "rel": "self"}]}
                    for n in range(MAX_MINOR + 1)]
        return _json({"versions": versions})

    async def providers(self, request: Request) -> Response:
        fields = [f for k, v in request.query_params.multi_items() if k == "fields"
                  for f in v.split(",") if f]

        def run(ctx):
            self.svc.authorize(ctx, "provider", "get_all", ctx.project_id)
            item = {"name": PROVIDER, "description": PROVIDER_DESCRIPTION}
            if fields:
                item = {k: v for k, v in item.items() if k in fields}
            return {"providers": [item]}
        return await self.call(request, run)

    async def capabilities(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        kind = "availability_zone_capabilities" if "availability" in request.url.path \
            else "flavor_capabilities"

        def run(ctx):
            action = "provider-availability-zone" if kind.startswith("availability") \
                else "provider-flavor"
            self.svc.authorize(ctx, action, "get_all", ctx.project_id)
            if provider != PROVIDER:
                raise faults.ProviderNotEnabled(prov=provider)
            return {kind: []}
        return await self.call(request, run)

    async def flavors(self, request: Request) -> Response:
        def run(ctx):
            self.svc.authorize(ctx, "flavor", "get_all", ctx.project_id)
            return {"flavors": [], "flavors_links": []}
        return await self.call(request, run)

    async def flavor(self, request: Request) -> Response:
        def run(ctx, flavor_id):
            self.svc.authorize(ctx, "flavor", "get_one", ctx.project_id)
            raise faults.NotFound(resource="Flavor", id=flavor_id)
        return await self.call(request, run, request.path_params["id"])

    async def zones(self, request: Request) -> Response:
        def run(ctx):
            self.svc.authorize(ctx, "availability-zone", "get_all", ctx.project_id)
            return {"availability_zones": [], "availability_zones_links": []}
        return await self.call(request, run)

    # --- quotas ---------------------------------------------------------------------------
    async def quota_list(self, request: Request) -> Response:
        params = list(request.query_params.multi_items())
        return await self.call(request, lambda ctx: self.quotas.list(ctx, params))

    async def quota_default(self, request: Request) -> Response:
        return await self.call(request, self.quotas.get_defaults,
                               request.path_params["project_id"])

    async def quota_one(self, request: Request) -> Response:
        pid = request.path_params["project_id"]
        if request.method == "GET":
            return await self.call(request, self.quotas.get, pid)
        if request.method == "PUT":
            return await self.call(request, self.quotas.update, pid, status=202, body=True)
        return await self.call(request, self.quotas.reset, pid, status=202)


def routes(core, auth) -> list[Route]:
    return OctaviaApi(core, auth).routes()
