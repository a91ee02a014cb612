"""Feature: floating IP port forwarding (floating-ip-port-forwarding,
-description, -detail, -port-ranges, expose-port-forwarding-in-fip).

/v2.0/floatingips/{floatingip_id}/port_forwardings[/{id}] on the generic
Controller (bound per request to the floating IP); the L3 agent realises
them as DNAT rules in the router's namespace (neutrino.agent.l3.model).
"""
from __future__ import annotations

from starlette.routing import Route

from neutrino.api import subcollections
from neutrino.plugins.portforwarding.hooks import FLOATINGIP_EXTENSION, PORT_EXTENSION
from neutrino.plugins.portforwarding.plugin import PortForwardingPlugin
from neutrino.plugins.portforwarding.resource import PORT_FORWARDING

EXTENSIONS = [
    ("floating-ip-port-forwarding", "Floating IP Port Forwarding",
     "Allows a floating IP to forward protocol ports to internal addresses"),
    ("floating-ip-port-forwarding-description", "Floating IP Port Forwarding new attribute "
     "description", "Add a description field to Port Forwarding rules"),
    ("floating-ip-port-forwarding-detail", "Floating IP Port Forwarding Detail",
     "Add id and internal_port_id to the port forwardings of a floating IP's view"),
    ("floating-ip-port-forwarding-port-ranges", "Floating IP Port Forwarding support port "
     "ranges", "Add the internal_port_range and external_port_range attributes to port "
     "forwardings"),
    ("expose-port-forwarding-in-fip", "Expose port forwarding in floating IP",
     "Expose the port forwardings of a floating IP in its view"),
]

RESOURCE_EXTENSIONS = [FLOATINGIP_EXTENSION, PORT_EXTENSION]
CORE: dict = {}     # the server's Core (set by install): hooks notify through it

_PARENT_OWNER = "project_id:%(ext_parent_owner)s"
POLICY_RULES = {
    "get_floatingip_port_forwarding":
        f"rule:admin_only or (role:reader and {_PARENT_OWNER})",
    **{f"{action}_floatingip_port_forwarding":
       f"rule:admin_only or (role:member and {_PARENT_OWNER})"
       for action in ("create", "update", "delete")},
    # the generic Controller checks <action>_port_forwarding: upstream's names decide
    **{f"{action}_port_forwarding": f"rule:{action}_floatingip_port_forwarding"
       for action in ("get", "create", "update", "delete")},
}


def install(api) -> list[Route]:
    core = api.core
    CORE["core"] = core
    ports = api.plugins["ports"]
    return subcollections.routes(api, "/v2.0/floatingips/{fip}/port_forwardings", "fip",
                                 PORT_FORWARDING,
                                 lambda fip_id: PortForwardingPlugin(core, ports, fip_id))


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.plugins import l3x_openapi
    l3x_openapi.sub_collection(schemas, paths, PORT_FORWARDING, "floatingips", "fip")
