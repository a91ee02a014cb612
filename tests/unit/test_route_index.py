"""The API's route index answers exactly as Starlette's walk of every route
would: for a path made from each route's own pattern (and for paths no
route has), the same route, or a fallback to the walk."""
from __future__ import annotations

import re

import pytest
from starlette.routing import Match, Route, Router
from starlette.testclient import TestClient

from neutrino.api.routing import IndexedRouter, literal_key, path_key


def first_full(routes, scope):
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def sample_path(route) -> str:
    return re.sub(r"\{[^}]+\}", "x1", route.path)


def test_every_route_of_the_api_resolves_as_starlettes_walk(api_app):
    router = api_app.router
    assert isinstance(router, IndexedRouter)
    checked = 0
    for route in router.routes:
        if not isinstance(route, Route):
            continue
        for method in sorted(route.methods or {"GET"}):
            path = sample_path(route)
            scope = {"type": "http", "method": method, "path": path, "root_path": ""}
            expected = first_full(router.routes, scope)
            got = first_full(router._candidates(path_key(path)), scope)
            assert got is expected, (method, path)
            checked += 1
    assert checked > 200          # the whole API, not a handful


def test_open_routes_are_tried_in_registration_order():
    async def ok(request):
        from starlette.responses import PlainTextResponse
        return PlainTextResponse(request.scope["route"].path)
    routes = [Route("/{version}/ports", ok), Route("/v2.0/ports", ok),
              Route("/v2.0/{anything}", ok), Route("/v2.0/nets", ok)]
    router = IndexedRouter(routes=routes)
    client = TestClient(router)
    assert client.get("/v2.0/ports").text == "/{version}/ports"     # first registered wins
    assert client.get("/v2.0/nets").text == "/v2.0/{anything}"
    assert client.get("/v9/ports").text == "/{version}/ports"
    assert client.post("/v2.0/nets").status_code == 405               # Starlette's own answer
    assert client.get("/nowhere/at/all").status_code == 404
    plain = TestClient(Router(routes=routes))
    for path in ("/v2.0/ports", "/v2.0/nets", "/v9/ports"):
        assert client.get(path).text == plain.get(path).text


def test_a_route_added_after_the_first_request_is_found():
    async def ok(request):
        from starlette.responses import PlainTextResponse
        return PlainTextResponse("ok")
    router = IndexedRouter(routes=[Route("/a/b", ok)])
    client = TestClient(router)
    assert client.get("/a/b").status_code == 200
    router.routes.append(Route("/c/d", ok))
    assert client.get("/c/d").status_code == 200


def test_keys():
    assert path_key("/v2.0/ports/abc") == ("v2.0", "ports")
    assert path_key("/") == ("",)
    assert literal_key(Route("/v2.0/ports/{id}", lambda r: None)) == ("v2.0", "ports")
    assert literal_key(Route("/v2.0/{c}", lambda r: None)) is None


@pytest.fixture
def api_app(tmp_path):
    from neutrino.api.app import build_app
    from neutrino.service import build_auth, build_core, load_server_config
    cfg = load_server_config([], {"DEFAULT": {"state_path": str(tmp_path),
                                              "auth_strategy": "noauth"}})
    core = build_core(cfg)       # no bus: nothing to close
    yield build_app(core, build_auth(cfg, core.db))
