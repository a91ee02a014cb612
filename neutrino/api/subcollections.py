"""Collections under a parent resource (/v2.0/<parents>/{parent}/<children>,
e.g. a floating IP's port forwardings, a router's conntrack helpers): the
generic Controller, bound per request to a plugin made for that parent."""
from __future__ import annotations

from typing import Any, Callable

from starlette.requests import Request
from starlette.routing import Route

from neutrino.api.controller import Controller


def routes(api, base: str, parent_param: str, resource,
           make_plugin: Callable[[str], Any]) -> list[Route]:
    """`base`: the collection's path with `{parent_param}` in it;
    `make_plugin(parent id)`: the plugin serving that parent's children."""
    core = api.core
    d = core.cfg.DEFAULT

    def controller(request: Request) -> Controller:
        return Controller(resource, make_plugin(request.path_params[parent_param]),
                          core.policy, d.pagination_max_limit, d.max_filter_values,
                          d.max_allowed_address_pair)

    async def collection_ep(request: Request):
        ctl = controller(request)
        if request.method == "GET":
            params = list(request.query_params.multi_items())
            url = str(request.base_url).rstrip("/") + request.url.path
            return await api.call(request, ctl.list, params, url)
        return await api.call(request, ctl.create, status=201, needs_body=True)

    async def member_ep(request: Request):
        ctl = controller(request)
        child_id = request.path_params["id"]
        if request.method == "GET":
            params = list(request.query_params.multi_items())
            return await api.call(request, ctl.show, child_id, params)
        if request.method == "PUT":
            return await api.call(request, lambda ctx, i, body: ctl.update(ctx, i, body),
                                  child_id, needs_body=True)
        return await api.call(request, ctl.delete, child_id, status=204)

    return [Route(base, collection_ep, methods=["GET", "POST"]),
            Route(base + "/{id}", member_ep, methods=["GET", "PUT", "DELETE"])]
