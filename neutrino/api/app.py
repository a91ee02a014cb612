"""The HTTP application: routing, authentication, envelopes and faults.

Handlers are thin: they read the body, build the request context and hand
over to a Controller (or a small special-purpose handler) in a worker
thread, because the plugins do blocking database I/O.
"""
from __future__ import annotations

import logging
import os
import uuid
from typing import Any, Callable

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from neutrino.api import faults, openapi
from neutrino.api.auth import Authenticator
from neutrino.api.controller import Controller
from neutrino.api.extensions import by_alias, extensions
from neutrino.api.policy import Context
from neutrino.api.resources import (AGENT, FLOATINGIP, NETWORK, PORT, ROUTER,
                                    SECURITY_GROUP, SECURITY_GROUP_RULE, SUBNET, Resource)
from neutrino.api.routing import index_routes
from neutrino.api.limits import BodySizeLimit
from neutrino.db.engine import DatabaseUnavailable, StatementTimeout
from neutrino.octavia.routes import routes as octavia_routes
from neutrino.plugins.agents import AgentPlugin
from neutrino.plugins.core import Core
from neutrino.plugins.l3.floatingips import FloatingIPPlugin
from neutrino.plugins.l3.routers import RouterPlugin
from neutrino.plugins.networks import NetworkPlugin
from neutrino.plugins.ports import PortPlugin
from neutrino.plugins.quotas import RESOURCES as QUOTA_RESOURCES
from neutrino.plugins.secgroups import SecurityGroupPlugin
from neutrino.plugins.subnets import SubnetPlugin
from neutrino.validators import nul_path, shown

LOG = logging.getLogger(__name__)
JSON = "application/json"


def reject_nul(request: Request, body: Any) -> None:
    """A NUL character anywhere in the path, query or body is a 400: no
    database text column can hold one (PostgreSQL refuses it)."""
    where = next((k for k, v in request.path_params.items()
                  if isinstance(v, str) and "\x00" in v), None)
    if where is None:
        where = next((k for k, v in request.query_params.multi_items()
                      if "\x00" in k or "\x00" in v), None)
    if where is None:
        where = nul_path(body)
    if where is not None:
        raise faults.HTTPBadRequest(f"Invalid input for {shown(where)}. Reason: "
                                    "NUL characters are not allowed.")


def json_response(body: Any, status: int = 200) -> Response:
    try:
        data = orjson.dumps(body)
    except TypeError:      # integers past 64 bits (IPv6 address counts): the slow encoder
        import json
        data = json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status_code=status, media_type=JSON)


def fault_response(exc: faults.NeutronError) -> Response:
    resp = json_response(exc.body(), exc.status)
    headers = getattr(exc, "headers", None)  # WWW-Authenticate of a 401
    if headers:
        resp.headers.update(headers)
    return resp


class QueryTimeout(faults.NeutronError):
    """503: the database cancelled a statement after [database]
    statement_timeout. Not 400: the request may be fine and the time spent
    waiting for a lock held by others; not 500: nothing is broken."""
    status = 503
    message = ("The request took longer than {seconds} s in the database and was "
               "cancelled; nothing was changed. Narrow the query or retry later.")


class _RulePlugin:
    """Adapts the rule methods of SecurityGroupPlugin to the Controller."""

    def __init__(self, sg: SecurityGroupPlugin):
        self.get, self.list = sg.get_rule, sg.list_rules
        self.create, self.delete = sg.create_rule, sg.delete_rule
        self.create_bulk = sg.create_rules      # one transaction

    def update(self, ctx, rule_id, body):
        raise faults.HTTPBadRequest("Cannot update read-only attribute")


class Api:
    """Everything the routes need, built once per worker process."""

    def __init__(self, core: Core, auth: Authenticator):
        self.core = core
        self.auth = auth
        max_limit = core.cfg.DEFAULT.pagination_max_limit
        self.plugins = {
            "networks": NetworkPlugin(core), "subnets": SubnetPlugin(core),
            "ports": PortPlugin(core), "security-groups": SecurityGroupPlugin(core),
            "agents": AgentPlugin(core),
        }
        self.plugins["security-group-rules"] = _RulePlugin(self.plugins["security-groups"])
        self.plugins["routers"] = RouterPlugin(core, self.plugins["ports"])
        self.plugins["floatingips"] = FloatingIPPlugin(core, self.plugins["ports"])
        self.controllers: dict[str, Controller] = {}
        for res in (NETWORK, SUBNET, PORT, SECURITY_GROUP, SECURITY_GROUP_RULE, AGENT, ROUTER,
                    FLOATINGIP):
            self.controllers[res.collection] = Controller(
                res, self.plugins[res.collection], core.policy, max_limit,
                core.cfg.DEFAULT.max_filter_values, core.cfg.DEFAULT.max_allowed_address_pair)

    # --- plumbing ------------------------------------------------------------
    async def call(self, request: Request, fn: Callable[..., Any], *args,
                   status: int = 200, needs_body: bool = False) -> Response:
        try:
            ctx = await self.auth.authenticate(request)
            body = None
            if needs_body:
                raw = await request.body()
                try:
                    body = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    raise faults.HTTPBadRequest("Body contains invalid data") from None
                if body is None:
                    raise faults.HTTPBadRequest("Body contains invalid data")
                args = args + (body,)
            reject_nul(request, body)
            result = await run_in_threadpool(fn, ctx, *args)
        except faults.NeutronError as exc:
            if exc.status >= 500:
                LOG.error("%s %s: %s", request.method, request.url.path, exc)
            return fault_response(exc)  # (a 401 carries its WWW-Authenticate header)
        except DatabaseUnavailable as exc:
            LOG.error("%s %s: %s", request.method, request.url.path, exc)
            return fault_response(faults.DatabaseBusy())
        except StatementTimeout as exc:
            LOG.warning("%s %s: %s", request.method, request.url.path, exc)
            return fault_response(QueryTimeout(seconds=f"{exc.seconds:g}"))
        except Exception:  # never a traceback to the client
            LOG.exception("%s %s failed", request.method, request.url.path)
            return fault_response(faults.NeutronError(
                "Request Failed: internal server error while processing your request."))
        if status == 204:
            return Response(status_code=204)
        return json_response(result, status)

    # --- generic resources -----------------------------------------------------
    def resource_routes(self, collection: str) -> list[Route]:
        ctl = self.controllers[collection]
        base = f"/v2.0/{collection}"

        async def collection_ep(request: Request):
            if request.method == "GET":
                params = list(request.query_params.multi_items())
                url = str(request.base_url).rstrip("/") + request.url.path
                return await self.call(request, ctl.list, params, url)
            return await self.call(request, ctl.create, status=201, needs_body=True)

        async def member_ep(request: Request):
            rid = request.path_params["id"]
            if request.method == "GET":
                params = list(request.query_params.multi_items())
                return await self.call(request, ctl.show, rid, params)
            if request.method == "PUT":
                if_match = request.headers.get("if-match")
                return await self.call(
                    request, lambda ctx, rid_, body: ctl.update(ctx, rid_, body, if_match),
                    rid, needs_body=True)
            return await self.call(request, ctl.delete, rid, status=204)

        methods = ["GET"] if collection == "agents" else ["GET", "POST"]
        member_methods = ["GET", "PUT", "DELETE"]
        routes = [Route(base, collection_ep, methods=methods),
                  Route(base + "/{id}", member_ep, methods=member_methods)]
        if ctl.r.tags:
            routes += self.tag_routes(ctl, base)
        return routes

    def tag_routes(self, ctl: Controller, base: str) -> list[Route]:
        from neutrino.plugins.tags import TagOps
        ops = TagOps(self.core, ctl)

        async def tags_ep(request: Request):
            rid = request.path_params["id"]
            if request.method == "GET":
                return await self.call(request, ops.get_all, rid)
            if request.method == "PUT":
                return await self.call(request, ops.replace, rid, needs_body=True)
            return await self.call(request, ops.delete_all, rid, status=204)

        async def tag_ep(request: Request):
            rid, tag = request.path_params["id"], request.path_params["tag"]
            if request.method == "GET":
                return await self.call(request, ops.check, rid, tag, status=204)
            if request.method == "PUT":
                return await self.call(request, ops.add, rid, tag, status=201)
            return await self.call(request, ops.delete, rid, tag, status=204)

        return [Route(base + "/{id}/tags", tags_ep, methods=["GET", "PUT", "DELETE"]),
                Route(base + "/{id}/tags/{tag}", tag_ep, methods=["GET", "PUT", "DELETE"])]

    # --- router actions --------------------------------------------------------------
    def router_routes(self) -> list[Route]:
        routers = self.plugins["routers"]
        ctl = self.controllers["routers"]

        def authorized(action, fn):
            def run(ctx, router_id, body=None):
                original = routers.get(ctx, router_id)
                self.core.policy.enforce(ctx, action, original)
                return fn(ctx, router_id, body) if body is not None else fn(ctx, router_id)
            return run

        add = authorized("add_router_interface", routers.add_interface)
        remove = authorized("remove_router_interface", routers.remove_interface)

        async def add_ep(request):
            return await self.call(request, add, request.path_params["id"], needs_body=True)

        async def remove_ep(request):
            return await self.call(request, remove, request.path_params["id"], needs_body=True)

        def agents_of(ctx, router_id):
            self.core.policy.enforce(ctx, "get_l3-agents", {"project_id": ctx.project_id})
            return routers.l3_agents(ctx, router_id)

        async def l3_agents_ep(request):
            return await self.call(request, agents_of, request.path_params["id"])

        del ctl
        base = "/v2.0/routers/{id}"
        return [Route(base + "/add_router_interface", add_ep, methods=["PUT"]),
                Route(base + "/remove_router_interface", remove_ep, methods=["PUT"]),
                Route(base + "/l3-agents", l3_agents_ep, methods=["GET"])]

    # --- agent scheduler extensions -----------------------------------------------------
    def scheduler_routes(self) -> list[Route]:
        from neutrino.plugins.l3.scheduler_api import SchedulerOps
        ops = SchedulerOps(self.core, self.plugins)

        def ep(fn, status=200, body=False, *keys):
            async def handler(request):
                args = [request.path_params[k] for k in keys]
                return await self.call(request, fn, *args, status=status, needs_body=body)
            return handler

        return [
            Route("/v2.0/agents/{id}/dhcp-networks", ep(ops.agent_networks, 200, False, "id"),
                  methods=["GET"]),
            Route("/v2.0/agents/{id}/dhcp-networks", ep(ops.add_network, 201, True, "id"),
                  methods=["POST"]),
            Route("/v2.0/agents/{id}/dhcp-networks/{nid}",
                  ep(ops.remove_network, 204, False, "id", "nid"), methods=["DELETE"]),
            Route("/v2.0/networks/{id}/dhcp-agents", ep(ops.network_agents, 200, False, "id"),
                  methods=["GET"]),
            Route("/v2.0/agents/{id}/l3-routers", ep(ops.agent_routers, 200, False, "id"),
                  methods=["GET"]),
            Route("/v2.0/agents/{id}/l3-routers", ep(ops.add_router, 201, True, "id"),
                  methods=["POST"]),
            Route("/v2.0/agents/{id}/l3-routers/{rid}",
                  ep(ops.remove_router, 204, False, "id", "rid"), methods=["DELETE"]),
        ]

    # --- quotas --------------------------------------------------------------------
    def quota_routes(self) -> list[Route]:
        from neutrino.plugins.quotas_api import QuotaOps
        ops = QuotaOps(self.core)

        async def list_ep(request):
            return await self.call(request, ops.list)

        async def tenant_ep(request):
            return await self.call(request, ops.for_current)

        async def member_ep(request):
            pid = request.path_params["project_id"]
            if request.method == "GET":
                return await self.call(request, ops.show, pid)
            if request.method == "PUT":
                return await self.call(request, ops.update, pid, needs_body=True)
            return await self.call(request, ops.reset, pid, status=204)

        async def default_ep(request):
            return await self.call(request, ops.defaults, request.path_params["project_id"])

        async def details_ep(request):
            return await self.call(request, ops.details, request.path_params["project_id"])

        return [Route("/v2.0/quotas", list_ep, methods=["GET"]),
                Route("/v2.0/quotas/tenant", tenant_ep, methods=["GET"]),
                Route("/v2.0/quotas/project", tenant_ep, methods=["GET"]),
                Route("/v2.0/quotas/{project_id}/default", default_ep, methods=["GET"]),
                Route("/v2.0/quotas/{project_id}/details.json", details_ep, methods=["GET"]),
                Route("/v2.0/quotas/{project_id}/details", details_ep, methods=["GET"]),
                Route("/v2.0/quotas/{project_id}", member_ep, methods=["GET", "PUT", "DELETE"])]

    # --- discovery ----------------------------------------------------------------------
    def discovery_routes(self) -> list[Route]:
        async def versions(request: Request):
            url = str(request.base_url).rstrip("/")
            return json_response({"versions": [{"id": "v2.0", "status": "CURRENT",
                                                "links": [{"rel": "self", "href": url + "/v2.0/"}]}]})

        async def v2(request: Request):
            url = str(request.base_url).rstrip("/") + "/v2.0"
            resources = []
            for collection in ("networks", "subnets", "ports", "security-groups",
                               "security-group-rules", "agents", "routers", "floatingips",
                               "quotas"):
                name = collection.replace("-", "_")
                singular = name[:-1] if name != "quotas" else "quota"
                resources.append({"name": singular, "collection": name, "links": [
                    {"rel": "self", "href": f"{url}/{collection}"}]})
            return json_response({"resources": resources})

        async def ext_list(request: Request):
            return json_response({"extensions": extensions()})

        async def ext_show(request: Request):
            alias = request.path_params["alias"]
            ext = by_alias().get(alias)
            if ext is None:
                return fault_response(faults.ExtensionNotFound(alias=alias))
            return json_response({"extension": ext})

        def authed(handler):
            # /v2.0 is behind authtoken upstream (only "/" is not).
            async def wrapped(request: Request):
                try:
                    await self.auth.authenticate(request)
                except faults.NeutronError as exc:
                    return fault_response(exc)
                return await handler(request)
            return wrapped

        v2, ext_list, ext_show = authed(v2), authed(ext_list), authed(ext_show)
        return [Route("/", versions, methods=["GET"]),
                Route("/v2.0", v2, methods=["GET"]), Route("/v2.0/", v2, methods=["GET"]),
                Route("/v2.0/extensions", ext_list, methods=["GET"]),
                Route("/v2.0/extensions/{alias}", ext_show, methods=["GET"])]


async def _not_found(request: Request, exc):
    return fault_response(faults.HTTPNotFound())


async def _method_not_allowed(request: Request, exc):
    err = faults.NeutronError(f"The method {request.method} is not allowed for this resource.")
    err.status = 405
    return fault_response(err)


def build_app(core: Core, auth: Authenticator, extra_routes: list[Route] = ()) -> Starlette:
    api = Api(core, auth)
    routes = (api.discovery_routes() + api.quota_routes() + api.router_routes()
              + api.scheduler_routes() + [openapi.route(auth)])
    from neutrino.plugins.fwaas.routes import install as install_fwaas
    routes += install_fwaas(api)    # FWaaS v2: its controllers, then its actions
    from neutrino.plugins import features
    routes += features.install(api)  # the catalogue's collections and actions
    for collection in api.controllers:
        routes += api.resource_routes(collection)
    routes += list(extra_routes) + list(auth.routes)  # the embedded identity, if any
    routes += octavia_routes(core, auth)  # the Octavia v2 API (/v2/lbaas, /load-balancer)
    limit = core.cfg.oslo_middleware.max_request_body_size
    app = Starlette(routes=routes, exception_handlers={404: _not_found,
                                                       405: _method_not_allowed},
                    middleware=[Middleware(BodySizeLimit, max_bytes=limit)])
    app.state.api = api
    from neutrino.dashboard.routes import install as install_dashboard
    install_dashboard(app, core, auth)   # /dashboard/ ([dashboard] enabled)
    index_routes(app)
    return app


def create_app_from_env() -> Starlette:
    """uvicorn worker entry point: config files from NEUTRINO_CONFIG_FILES."""
    from neutrino.cli.common import setup_logging
    from neutrino.service import build_server_core
    files = [f for f in os.environ.get("NEUTRINO_CONFIG_FILES", "").split(os.pathsep) if f]
    core, auth = build_server_core(files)
    # uvicorn's worker processes are spawned: the parent's logging set-up is
    # not inherited, so each worker configures its own.
    setup_logging(core.cfg.DEFAULT.debug, core.cfg.DEFAULT.log_file)
    return build_app(core, auth)


def request_id() -> str:
    return "req-" + str(uuid.uuid4())
