"""auto-allocated-topology (get-me-a-network): networks' is_default and
/v2.0/auto-allocated-topology/{project_id}."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from neutrino.plugins.auto_allocate import default_network
from neutrino.plugins.auto_allocate.topology import AutoAllocator

EXTENSIONS = [("auto-allocated-topology", "Auto Allocated Topology Services",
               "Auto Allocated Topology Services.")]

RESOURCE_EXTENSIONS = [default_network.NETWORKS]

_ADMIN = "rule:admin_only"
POLICY_RULES = {
    "get_auto_allocated_topology": "rule:admin_only or (role:reader and "
                                   "project_id:%(project_id)s)",
    "delete_auto_allocated_topology": "rule:admin_only or (role:member and "
                                      "project_id:%(project_id)s)",
    "create_network:is_default": _ADMIN,
    "update_network:is_default": _ADMIN,
}


def openapi(schemas, paths) -> None:
    from neutrino.plugins.auto_allocate.openapi_doc import extend
    extend(schemas, paths)


def install(api) -> list[Route]:
    allocator = AutoAllocator(api)

    async def endpoint(request: Request):
        pid = request.path_params["project_id"]
        if request.method == "DELETE":
            return await api.call(request, allocator.delete, pid, status=204)
        return await api.call(request, allocator.get, pid,
                              list(request.query_params.multi_items()))
    return [Route("/v2.0/auto-allocated-topology/{project_id}", endpoint,
                  methods=["GET", "DELETE"])]
