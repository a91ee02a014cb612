"""What a port's device_owner and device_id may claim. Agents trust ports
whose owner starts with "network:" (no anti-spoofing, no security groups),
and a router interface port names its router by device_id."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.db import models

ROUTER_INTERFACE_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                           "network:ha_router_replicated_interface")


class UnsupportedPortDeviceOwner(faults.Conflict):
    message = ("Operation {op} is not supported for device_owner {device_owner} on port "
               "{port_id}.")


class DeviceIDNotOwnedByTenant(faults.Conflict):
    message = ("The following device_id {device_id} is not owned by your tenant or matches "
               "another tenants router.")


def check_router_device_id(conn: Connection, ctx: Context, device_owner: str,
                           device_id: str, project_id: str) -> None:
    """Upstream's _enforce_device_owner_not_router_intf_or_device_id: a
    non-admin's router interface port may not name another project's router."""
    if ctx.is_admin or device_owner not in ROUTER_INTERFACE_OWNERS or not device_id:
        return
    r = models.routers
    owner = conn.execute(select(r.c.project_id).where(r.c.id == device_id)).scalar()
    if owner is not None and owner != project_id:
        raise DeviceIDNotOwnedByTenant(device_id=device_id)
