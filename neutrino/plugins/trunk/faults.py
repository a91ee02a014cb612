"""The trunk service's exceptions, typed and worded as upstream's
neutron.services.trunk.exceptions (the type is the class name)."""
from __future__ import annotations

from neutrino.api.faults import Conflict, InUse, NotFound


class TrunkNotFound(NotFound):
    message = "Trunk {trunk_id} could not be found."


class SubPortNotFound(NotFound):
    message = "SubPort on trunk {trunk_id} with parent port {port_id} could not be found."


class TrunkPortInUse(InUse):
    message = "Port {port_id} is in use by another trunk."


class DuplicateSubPort(InUse):
    message = ("segmentation_type {segmentation_type} and segmentation_id {segmentation_id} "
               "already in use on trunk {trunk_id}.")


class ParentPortInUse(InUse):
    message = "Port {port_id} is currently in use and is not eligible for use as a parent port."


class SubPortMtuGreaterThanTrunkPortMtu(Conflict):
    message = ("MTU {port_mtu} of subport {port_id} cannot be greater than MTU {trunk_mtu} of "
               "trunk {trunk_id}.")


class PortInUseAsTrunkParent(InUse):
    message = "Port {port_id} is currently a parent port for trunk {trunk_id}."


class PortInUseAsSubPort(InUse):
    message = "Port {port_id} is currently a subport for trunk {trunk_id}."


class TrunkDisabled(Conflict):
    message = "Trunk {trunk_id} is currently disabled."


class TrunkInErrorState(Conflict):
    message = ("Trunk {trunk_id} is in error state. Attempt to resolve the error condition "
               "before proceeding.")
