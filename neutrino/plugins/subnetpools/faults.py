"""neutron-lib's subnet pool and address scope exceptions, typed and worded
as upstream (the type is the class name)."""
from __future__ import annotations

from neutrino.api.faults import BadRequest, Conflict, InUse, NotFound, OverQuota


class SubnetPoolNotFound(NotFound):
    message = "Subnet pool {subnetpool_id} could not be found."


class AddressScopeNotFound(NotFound):
    message = "Address scope {address_scope_id} could not be found"


class AddressScopeInUse(InUse):
    message = ("Unable to complete operation on address scope {address_scope_id}. There are "
               "one or more subnet pools in use on the address scope")


class AddressScopeUpdateError(BadRequest):
    message = "Unable to update address scope {address_scope_id} : {reason}"


class NetworkAddressScopeAffinityError(BadRequest):
    message = ("Subnets of the same address family hosted on the same network must all "
               "participate in the same address scope.")


class EmptySubnetPoolPrefixList(BadRequest):
    message = "Empty subnet pool prefix list."


class PrefixVersionMismatch(BadRequest):
    message = "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."


class UnsupportedMinSubnetPoolPrefix(BadRequest):
    message = "Prefix '{prefix}' not supported in IPv{version} pool."


class IllegalSubnetPoolPrefixBounds(BadRequest):
    message = ("Illegal prefix bounds: {prefix_type}={prefixlen}, "
               "{base_prefix_type}={base_prefixlen}.")


class IllegalSubnetPoolPrefixUpdate(BadRequest):
    message = "Illegal update to prefixes: {msg}."


class SubnetAllocationError(Conflict):
    # upstream's is a bare NeutronException (HTTP 500); 409 here (docs/api.md)
    message = "Failed to allocate subnet: {reason}."


class AddressScopePrefixConflict(Conflict):
    message = ("Failed to associate address scope: subnetpools within an address scope must "
               "have unique prefixes.")


class IllegalSubnetPoolAssociationToAddressScope(BadRequest):
    message = ("Illegal subnetpool association: subnetpool {subnetpool_id} cannot be "
               "associated with address scope {address_scope_id}.")


class IllegalSubnetPoolIpVersionAssociationToAddressScope(BadRequest):
    message = ("Illegal subnetpool association: subnetpool {subnetpool_id} cannot associate "
               "with address scope {address_scope_id} because subnetpool ip_version is not "
               "{ip_version}.")


class IllegalSubnetPoolUpdate(BadRequest):
    message = "Illegal subnetpool update : {reason}."


class MinPrefixSubnetAllocationError(BadRequest):
    message = ("Unable to allocate subnet with prefix length {prefixlen}, minimum allowed "
               "prefix is {min_prefixlen}.")


class MaxPrefixSubnetAllocationError(BadRequest):
    message = ("Unable to allocate subnet with prefix length {prefixlen}, maximum allowed "
               "prefix is {max_prefixlen}.")


class SubnetPoolDeleteError(BadRequest):
    message = "Unable to delete subnet pool: {reason}."


class SubnetPoolQuotaExceeded(OverQuota):
    message = "Per-tenant subnet pool prefix quota exceeded."


class NetworkSubnetPoolAffinityError(BadRequest):
    message = "Subnets hosted on the same network must be allocated from the same subnet pool."
