"""The dashboard's routes under /dashboard/, and `install`, which build_app
calls: nothing is mounted, teed or published when [dashboard] enabled is
false."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from neutrino.api import faults
from neutrino.dashboard.events import EventHub, TeeNotifier, WriteEvents
from neutrino.dashboard.inspect import Inspector

LOG = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
# The page loads nothing from elsewhere: scripts, styles and fonts are ours.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
KEEPALIVE = 15.0   # seconds between SSE comments, so proxies keep the stream open
# A stream ends after this long and the page reconnects at once: an endless
# response would hold up the server's graceful shutdown (uvicorn waits for
# every response to finish).
STREAM_LIFETIME = 20.0


def _json(body, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class _Headers:
    """A request as the authenticator sees it, for calls made without one."""

    def __init__(self, request: Request):
        self.headers = request.headers
        self.base_url = request.base_url


class Dashboard:
    def __init__(self, app, core, auth):
        self.app, self.core, self.auth = app, core, auth
        opts = core.cfg.dashboard
        notifier = core.notifier
        transport = getattr(notifier, "transport", None)
        prefix = getattr(notifier, "prefix", None) or core.cfg.DEFAULT.control_exchange
        if transport is None:    # no bus: the server's own workers, over Unix sockets
            from neutrino.dashboard.events import SocketFanout
            self.hub = EventHub(SocketFanout(str(core.cfg.DEFAULT.state_path)), prefix)
        else:
            self.hub = EventHub(transport, prefix)
        core.notifier = TeeNotifier(notifier, self.hub)
        self.inspector = Inspector(transport, prefix, float(opts.inspect_timeout))
        self.bus = transport is not None
        self.lab = None
        if opts.lab_dir:
            from neutrino.dashboard.lab import LabActions
            self.lab = LabActions(opts.lab_dir)

    @property
    def api(self):
        return self.app.state.api

    async def call(self, request: Request, fn, *args, status: int = 200,
                   needs_body: bool = False) -> Response:
        """The API's own plumbing: authentication, faults as Neutron errors."""
        return await self.api.call(request, fn, *args, status=status, needs_body=needs_body)

    # --- pages ---------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        resp = FileResponse(STATIC / "index.html", media_type="text/html")
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["Cache-Control"] = "no-cache"
        return resp

    async def redirect(self, request: Request) -> Response:
        return RedirectResponse(url=str(request.url.path) + "/", status_code=301)

    async def config(self, request: Request) -> Response:
        cfg = self.core.cfg
        return _json({"auth_strategy": cfg.DEFAULT.auth_strategy,
                      "default_project_id": cfg.DEFAULT.default_project_id,
                      "lab": self.lab is not None,
                      "live": "bus" if self.bus else "workers"})

    async def whoami(self, request: Request) -> Response:
        def who(ctx):
            return {"project_id": ctx.project_id, "user_id": ctx.user_id,
                    "roles": sorted(ctx.roles), "is_admin": ctx.is_admin}
        return await self.call(request, who)

    # --- login (keystone) -----------------------------------------------------------------
    def _identity_v3(self, request: Request) -> str:
        ka = self.core.cfg.keystone_authtoken
        url = ka.www_authenticate_uri or ka.auth_uri or ka.auth_url
        if not url and getattr(self.auth, "identity_url", None) is not None:
            url = self.auth.identity_url(str(request.base_url))
        url = (url or str(request.base_url).rstrip("/") + "/identity").rstrip("/")
        return url if url.endswith("/v3") else url + "/v3"

    async def login(self, request: Request) -> Response:
        """Password authentication at the embedded identity or the real
        Keystone, on the browser's behalf (a Keystone elsewhere would need
        CORS); the token goes back to the page, which sends it as
        X-Auth-Token to the API like any client."""
        import httpx
        try:
            body = orjson.loads(await request.body() or b"null")
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or not body.get("username") or not body.get("password"):
            return _json(faults.HTTPBadRequest("User name and password are required.").body(),
                         400)
        domain = body.get("domain") or "Default"
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": body["username"], "domain": {"name": domain},
            "password": body["password"]}}}}
        if body.get("project"):
            auth["scope"] = {"project": {"name": body["project"], "domain": {"name": domain}}}
        url = self._identity_v3(request) + "/auth/tokens"
        ka = self.core.cfg.keystone_authtoken
        embedded = getattr(self.auth, "identity_url", None) is not None and not (
            ka.www_authenticate_uri or ka.auth_uri or ka.auth_url)
        try:
            if embedded:
                # this very application, in process, as the browser's address:
                # the identity's per-address throttle sees the real client
                peer = (request.client.host, request.client.port) if request.client \
                    else ("127.0.0.1", 0)
                transport = httpx.ASGITransport(app=self.app, client=peer)
                async with httpx.AsyncClient(transport=transport, base_url=str(
                        request.base_url), timeout=15) as client:
                    resp = await client.post(url, json={"auth": auth})
            else:
                async with httpx.AsyncClient(timeout=15) as client:
                    resp = await client.post(url, json={"auth": auth})
        except httpx.HTTPError as exc:
            return _json(faults.NeutronError(f"The identity service at {url} is "
                                             f"unreachable: {exc}").body(), 503)
        if resp.status_code != 201:
            try:
                msg = resp.json()["error"]["message"]
            except Exception:  # noqa: BLE001
                msg = resp.text[:200]
            return _json({"NeutronError": {"type": "HTTPUnauthorized", "message": msg,
                                           "detail": ""}}, resp.status_code)
        token = resp.json()["token"]
        project = token.get("project") or {}
        return _json({"token": resp.headers.get("x-subject-token"),
                      "expires_at": token.get("expires_at"),
                      "user": (token.get("user") or {}).get("name"),
                      "project_id": project.get("id"), "project_name": project.get("name"),
                      "roles": [r["name"] for r in token.get("roles", [])]})

    # --- live events ------------------------------------------------------------------------
    async def events(self, request: Request) -> Response:
        try:
            await self.auth.authenticate(request)
        except faults.NeutronError as exc:
            return _json(exc.body(), exc.status)
        client = self.hub.add()
        _loop, queue = client

        async def stream():
            loop = asyncio.get_running_loop()
            end = loop.time() + STREAM_LIFETIME
            try:
                yield b"retry: 1000\n: connected\n\n"
                while (left := end - loop.time()) > 0:
                    try:
                        event = await asyncio.wait_for(queue.get(), min(KEEPALIVE, left))
                    except asyncio.TimeoutError:
                        yield b": keepalive\n\n"
                        continue
                    yield b"event: changed\ndata: " + orjson.dumps(event) + b"\n\n"
                yield b": reconnect\n\n"
            finally:
                self.hub.remove(client)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    # --- under the hood ------------------------------------------------------------------
    def _inspect(self, ctx, kind: str, rid: str) -> dict:
        if not ctx.is_admin:    # host-level data: admin only, as `neutrino show` on a host
            raise faults.PolicyNotAuthorized(action=f"inspect_{kind}")
        ctls = self.api.controllers
        if kind == "network":
            net = ctls["networks"].show(ctx, rid, [])["network"]
            ports = ctls["ports"].list(ctx, [("network_id", rid)], "")["ports"]
            agents = ctls["agents"].list(ctx, [("agent_type", "Linux bridge agent")], "")
            hosts = sorted({a["host"] for a in agents["agents"] if a.get("alive", True)})
            req = {"kind": "network", "network_id": rid,
                   "ports": [{"id": p["id"], "status": p["status"],
                              "device_owner": p["device_owner"]} for p in ports]}
            what = {"network": {k: net.get(k) for k in (
                "id", "name", "status", "provider:network_type", "provider:segmentation_id",
                "provider:physical_network", "mtu")}}
        elif kind == "port":
            port = ctls["ports"].show(ctx, rid, [])["port"]
            host = port.get("binding:host_id") or ""
            hosts = [host] if host else []
            req = {"kind": "port", "network_id": port["network_id"],
                   "port": {k: port.get(k) for k in ("id", "status", "device_owner",
                                                     "mac_address")}}
            what = {"port": {k: port.get(k) for k in (
                "id", "name", "network_id", "mac_address", "fixed_ips", "status",
                "device_owner", "binding:host_id", "binding:vif_type")},
                "tap": "tap" + port["id"][:11], "bridge": "brq" + port["network_id"][:11]}
        elif kind == "router":
            router = ctls["routers"].show(ctx, rid, [])["router"]
            agents = self.api.plugins["routers"].l3_agents(ctx, rid)["agents"]
            hosts = sorted({a["host"] for a in agents})
            req = {"kind": "router", "router_id": rid}
            what = {"router": {k: router.get(k) for k in (
                "id", "name", "status", "external_gateway_info", "routes")}}
        else:
            raise faults.HTTPNotFound()
        what["hosts"] = self.inspector.ask(hosts, req)
        return what

    async def inspect(self, request: Request) -> Response:
        kind, rid = request.path_params["kind"], request.path_params["id"]
        return await self.call(request, self._inspect, kind, rid)

    # --- lab ---------------------------------------------------------------------------------
    def _lab(self):
        if self.lab is None:
            raise faults.HTTPNotFound("This server is not a lab's: no instances to manage.")
        return self.lab

    async def instances(self, request: Request) -> Response:
        if request.method == "GET":
            return await self.call(request, lambda ctx: self._lab().list(ctx))
        return await self.call(request, lambda ctx, body: self._lab().create(ctx, body),
                               status=201, needs_body=True)

    async def instance(self, request: Request) -> Response:
        name = request.path_params["name"]
        return await self.call(request, lambda ctx: self._lab().delete(ctx, name), status=204)

    async def ping(self, request: Request) -> Response:
        return await self.call(request, lambda ctx, body: self._lab().ping(ctx, body),
                               needs_body=True)

    def routes(self) -> list:
        b = "/dashboard"
        return [Route(b, self.redirect, methods=["GET"]),
                Route(b + "/", self.index, methods=["GET"]),
                Mount(b + "/static", app=StaticFiles(directory=STATIC), name="dashboard-static"),
                Route(b + "/api/config", self.config, methods=["GET"]),
                Route(b + "/api/whoami", self.whoami, methods=["GET"]),
                Route(b + "/api/login", self.login, methods=["POST"]),
                Route(b + "/api/events", self.events, methods=["GET"]),
                Route(b + "/api/inspect/{kind}/{id}", self.inspect, methods=["GET"]),
                Route(b + "/api/lab/instances", self.instances, methods=["GET", "POST"]),
                Route(b + "/api/lab/instances/{name}", self.instance, methods=["DELETE"]),
                Route(b + "/api/lab/ping", self.ping, methods=["POST"])]


def install(app, core, auth) -> Dashboard | None:
    """Mount the dashboard on the API's application (build_app)."""
    opts = getattr(core.cfg, "dashboard", None)
    if opts is None or not opts.enabled:
        return None
    dash = Dashboard(app, core, auth)
    app.router.routes.extend(dash.routes())
    app.add_middleware(WriteEvents, hub=dash.hub)
    app.state.dashboard = dash
    return dash

