"""neutron-lib's segment, multi-provider and network segment range
exceptions, worded and typed as upstream (the type is the class name)."""
from __future__ import annotations

from neutrino.api.faults import BadRequest, Conflict, InUse, NotFound


class SegmentNotFound(NotFound):
    message = "Segment {segment_id} could not be found."


class SegmentInUse(InUse):
    message = "Segment '{segment_id}' cannot be deleted: {reason}."


class NetworkIdsDontMatch(BadRequest):
    message = ("The subnet's network id, '{subnet_network}', doesn't match the network_id "
               "of segment '{segment_id}'")


class SubnetsNotAllAssociatedWithSegments(BadRequest):
    message = ("All subnets on network '{network_id}' must either all be associated with "
               "segments or all not associated with any segment.")


class SubnetSegmentAssociationChangeNotAllowed(BadRequest):
    message = ("A subnet that is already associated with a segment cannot have its segment "
               "association changed.")


class NoUpdateSubnetWhenMultipleSegmentsOnNetwork(BadRequest):
    message = ("The network '{network_id}' has multiple segments, it is only possible to "
               "associate an existing subnet with a segment on networks with a single "
               "segment.")


class FixedIpsSubnetsNotOnSameSegment(BadRequest):
    message = "Cannot allocate addresses from different segments."


class HostNotConnectedToAnySegment(Conflict):
    message = ("Host {host} is not connected to any segments on routed provider network "
               "'{network_id}'.  It should be connected to one.")


class HostConnectedToMultipleSegments(Conflict):
    message = ("Host {host} is connected to multiple segments on routed provider network "
               "'{network_id}'.  It should be connected to one.")


class NetworkSegmentRangeNotFound(NotFound):
    message = "Network Segment Range {range_id} could not be found."


class NetworkSegmentRangeReferencedByProject(InUse):
    message = ("Network Segment Range {range_id} is referenced by one or more tenant "
               "networks.")


class NetworkSegmentRangeDefaultReadOnly(BadRequest):
    message = "Network Segment Range {range_id} is a default segment range which could not be updated or deleted."


class NetworkSegmentRangeOverlaps(Conflict):
    message = "Network segment range overlaps with range(s) with id {range_id}"


class NetworkSegmentRangeNetTypeNotSupported(BadRequest):
    message = "Network type {type} does not support network segment ranges."


class NetworkVlanRangeError(BadRequest):
    message = "Invalid network VLAN range: '{vlan_range}' - '{error}'."


class NetworkTunnelRangeError(BadRequest):
    message = "Invalid network tunnel range: '{tunnel_range}' - {error}."


def range_error(network_type: str, lo: int, hi: int, error: str):
    if network_type == "vlan":
        return NetworkVlanRangeError(vlan_range=f"{lo}:{hi}", error=error)
    return NetworkTunnelRangeError(tunnel_range=f"{lo}:{hi}", error=error)


class HostNotCompatibleWithFixedIps(Conflict):
    message = ("Host {host} is not connected to a segment where the existing fixed_ips on "
               "port {port_id} will function given the routed network topology.")
