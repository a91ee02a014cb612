"""This feature's part of GET /openapi.json: the schemas of its attributes
(by name, in openapi.TYPES, read when the core resources' schemas are
built) and GET /v2.0/availability_zones. (Not named openapi.py: importing
such a submodule would rebind the package's `openapi` function.)"""
from __future__ import annotations

from typing import Any

_DNS = {"type": "string", "maxLength": 255}
_OPT = {"type": "object", "additionalProperties": False, "required": ["opt_name", "opt_value"],
        "properties": {"opt_name": {"type": "string", "minLength": 1, "maxLength": 64},
                       "opt_value": {"type": "string", "nullable": True, "maxLength": 255},
                       "ip_version": {"type": "integer", "enum": [4, 6]}}}


def attribute_types() -> None:
    from neutrino.api import openapi as oa
    oa.TYPES.update({
        "dns_name": _DNS, "dns_domain": _DNS,
        "dns_assignment": oa._array(oa._object({"ip_address": oa.IP,
                                                "hostname": {"type": "string"},
                                                "fqdn": {"type": "string"}})),
        "dns_publish_fixed_ip": {"type": "boolean"},
        "extra_dhcp_opts": {"type": "array", "nullable": True, "items": _OPT},
        "ha": {"type": "boolean"},
    })


def extend(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    from neutrino.api import openapi as oa
    zone = oa._object({"name": {"type": "string"},
                       "resource": {"type": "string", "enum": ["network", "router"]},
                       "state": {"type": "string", "enum": ["available", "unavailable"]}},
                      closed=False)
    schemas["AvailabilityZone"] = zone
    many = oa._object({"availability_zones": oa._array(oa._ref("AvailabilityZone"))},
                      ("availability_zones",), closed=False)
    params = [oa._query("fields", {"type": "string", "enum": ["name", "resource", "state"]},
                        array=True)]
    params += [oa._query(k, {"type": "string"}, array=True)
               for k in ("name", "resource", "state")]
    paths["/v2.0/availability_zones"] = {"get": {
        "operationId": "list_availability_zones", "tags": ["availability_zones"],
        "summary": "List the availability zones of the DHCP and L3 agents",
        "parameters": params,
        "responses": {"200": oa._ok("the zones", many), **oa._errors(400, 401)}}}
