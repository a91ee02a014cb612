"""Route lookup by the path's first two segments.

Starlette's Router tries every route's regular expression in order until
one matches. The API has some 270 routes (every collection, its members,
tags and actions, Octavia's, the dashboard's), so a DELETE of a port tried
~60 of them first: 90 µs of the ~2 ms of CPU the whole request costs, and
more for collections registered later. IndexedRouter tries only the routes
that can match: those whose literal first two segments are the path's, and
those with a parameter there, in their registration order. Whatever it
does not match fully (405, 404, slash redirects) goes to Starlette's own
walk, so those answers are Starlette's."""
from __future__ import annotations

from starlette.routing import Match, Route, Router, get_route_path

KEY_SEGMENTS = 2


def path_key(path: str) -> tuple[str, ...]:
    """The first segments of a path: "/v2.0/ports/x" -> ("v2.0", "ports")."""
    return tuple(path.split("/")[1:1 + KEY_SEGMENTS])


def literal_key(route) -> tuple[str, ...] | None:
    """The key every path this route matches has, or None when a parameter
    (or a route that is not a plain Route: a Mount) makes it open."""
    if type(route) is not Route:
        return None
    key = path_key(route.path)
    if any("{" in segment for segment in key):
        return None
    return key


class IndexedRouter(Router):
    _index: dict[tuple[str, ...], list] | None = None
    _open: list = []
    _indexed = -1

    def _candidates(self, key: tuple[str, ...]) -> list:
        if self._indexed != len(self.routes):       # routes added since (the dashboard's)
            index: dict[tuple[str, ...], list[tuple[int, object]]] = {}
            open_: list[tuple[int, object]] = []
            for n, route in enumerate(self.routes):
                k = literal_key(route)
                (open_ if k is None else index.setdefault(k, [])).append((n, route))
            self._index = {k: [r for _, r in sorted(v + open_, key=lambda x: x[0])]
                           for k, v in index.items()}
            self._open = [r for _, r in open_]
            self._indexed = len(self.routes)
        return self._index.get(key, self._open)

    async def app(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            for route in self._candidates(path_key(get_route_path(scope))):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


def index_routes(app) -> None:
    """Give a Starlette app the indexed router (same routes, same options)."""
    app.router = IndexedRouter(routes=app.router.routes,
                               redirect_slashes=app.router.redirect_slashes)
