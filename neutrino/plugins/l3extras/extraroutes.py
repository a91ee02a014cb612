"""extraroute-atomic: PUT /v2.0/routers/{id}/add_extraroutes and
/remove_extraroutes with {"router": {"routes": [...]}}: add (set union) or
remove (set difference) routes in one transaction with the router locked,
so concurrent callers do not lose each other's routes as a read-modify-write
of `routes` would. Answers the whole router."""
from __future__ import annotations

import ipaddress

from neutrino.api import attributes as a
from neutrino.api import faults


def _routes_of(body) -> list[dict]:
    if not isinstance(body, dict) or not isinstance(body.get("router"), dict):
        raise faults.HTTPBadRequest("Unable to find 'router' in request body")
    router = body["router"]
    unknown = [k for k in router if k != "routes"]
    if unknown:
        raise faults.HTTPBadRequest("Unrecognized attribute(s) '%s'" % ", ".join(unknown))
    if "routes" not in router:
        raise faults.HTTPBadRequest(
            "Failed to parse request. Required attribute 'routes' not specified")
    routes = router["routes"]
    reason = a.hostroutes(routes)
    if reason:
        raise faults.HTTPBadRequest(f"Invalid input for routes. Reason: {reason}.")
    return [_canonical(r) for r in routes]


def _canonical(route: dict) -> dict:
    return {"destination": str(ipaddress.ip_network(route["destination"], strict=False)),
            "nexthop": str(ipaddress.ip_address(route["nexthop"]))}


def change(routers, policy, ctx, router_id: str, body, add: bool) -> dict:
    wanted = _routes_of(body)
    original = routers.get(ctx, router_id)
    policy.enforce(ctx, "add_extraroutes" if add else "remove_extraroutes", original)

    def apply(current: list[dict]) -> list[dict]:
        current = [_canonical(r) for r in current]
        if add:
            return current + [r for i, r in enumerate(wanted)
                              if r not in current and r not in wanted[:i]]
        return [r for r in current if r not in wanted]
    return {"router": routers.update(ctx, router_id, {"routes": apply})}
