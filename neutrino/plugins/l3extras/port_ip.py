"""l3-port-ip-change-not-allowed: the fixed IPs of a router's interface or
gateway port cannot be changed through the port API (the router would keep
routes, NAT rules and floating IPs made for the old address). Remove the
interface and add it again instead."""
from __future__ import annotations

from neutrino.api import faults
from neutrino.plugins.extend import ResourceExtension

ROUTER_OWNERS = ("network:router_interface", "network:router_gateway",
                 "network:router_interface_distributed", "network:ha_router_replicated_interface",
                 "network:router_centralized_snat")


def _addresses(fixed_ips) -> set:
    return {(f.get("subnet_id"), f.get("ip_address")) for f in fixed_ips or ()}


def _update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    if "fixed_ips" not in body or current.get("device_owner") not in ROUTER_OWNERS:
        return False
    if _addresses(view.get("fixed_ips")) != _addresses(current.get("fixed_ips")):
        raise faults.BadRequest(
            resource="port",
            msg=f"The fixed IPs of port {current['id']} cannot be changed: it is a router port "
                f"({current['device_owner']}). Remove the router interface and add it again")
    return False


PORT_EXTENSION = ResourceExtension("ports", "l3-port-ip-change-not-allowed", update=_update)
