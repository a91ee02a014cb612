"""Neutron's error vocabulary: each exception carries the upstream type name,
message and HTTP status, and renders as {"NeutronError": {type, message, detail}}."""
from __future__ import annotations


class NeutronError(Exception):
    status = 500
    message = "An unknown exception occurred."

    def __init__(self, message: str | None = None, **kwargs):
        self.kwargs = kwargs
        text = message if message is not None else self.message.format(**kwargs)
        super().__init__(text)
        self.text = text

    @property
    def type(self) -> str:
        return type(self).__name__

    def body(self) -> dict:
        return {"NeutronError": {"type": self.type, "message": self.text, "detail": ""}}


class BadRequest(NeutronError):
    status = 400
    message = "Bad {resource} request: {msg}."


class HTTPBadRequest(NeutronError):
    status = 400


class InvalidInput(NeutronError):
    status = 400
    message = "Invalid input for operation: {error_message}."


def invalid_input(text: str) -> InvalidInput:
    return InvalidInput(error_message=text)


class NotFound(NeutronError):
    status = 404


class HTTPNotFound(NotFound):
    message = "The resource could not be found."


class NetworkNotFound(NotFound):
    message = "Network {net_id} could not be found."


class SubnetNotFound(NotFound):
    message = "Subnet {subnet_id} could not be found."


class PortNotFound(NotFound):
    message = "Port {port_id} could not be found."


class SecurityGroupNotFound(NotFound):
    message = "Security group {id} does not exist"


class SecurityGroupRuleNotFound(NotFound):
    message = "Security group rule {id} does not exist"


class AgentNotFound(NotFound):
    message = "Agent {id} could not be found."


class ExtensionNotFound(NotFound):
    message = "Extension with alias {alias} does not exist"


class TagNotFound(NotFound):
    message = "Tag {tag} could not be found for {resource} {resource_id}."


class PolicyNotAuthorized(NeutronError):
    status = 403
    message = "{action} is disallowed by policy"


class HTTPForbidden(NeutronError):
    status = 403


class Conflict(NeutronError):
    status = 409


class InUse(Conflict):
    pass


class NetworkInUse(InUse):
    message = ("Unable to complete operation on network {net_id}. There are one or more "
               "ports still in use on the network{ids}.")


class SubnetInUse(InUse):
    message = ("Unable to complete operation on subnet {subnet_id}: One or more ports have "
               "an IP allocation from this subnet.")


class IpAddressAlreadyAllocated(Conflict):
    message = "IP address {ip} already allocated in subnet {subnet_id}"


class IpAddressGenerationFailure(Conflict):
    message = "No more IP addresses available on network {net_id}."


class MacAddressInUse(InUse):
    message = ("Unable to complete operation for network {net_id}. "
               "The mac address {mac} is in use.")


class MacAddressGenerationFailure(Conflict):
    status = 503
    message = "Unable to generate unique mac on network {net_id}."


class VlanIdInUse(InUse):
    message = ("Unable to create the network. The VLAN {vlan_id} on physical network "
               "{physical_network} is in use.")


class FlatNetworkInUse(InUse):
    message = ("Unable to create the flat network. Physical network {physical_network} "
               "is in use.")


class TunnelIdInUse(InUse):
    message = "Unable to create the network. The tunnel ID {tunnel_id} is in use."


class NoNetworkAvailable(NeutronError):
    status = 503
    message = "Unable to create the network. No tenant network is available for allocation."


class OverQuota(Conflict):
    message = "Quota exceeded for resources: {overs}."


class OutOfBoundsAllocationPool(NeutronError):
    status = 400
    message = "The allocation pool {pool} spans beyond the subnet cidr {subnet_cidr}."


class OverlappingAllocationPools(Conflict):
    message = "Found overlapping allocation pools: {pool_1} {pool_2} for subnet {subnet_cidr}."


class GatewayConflictWithAllocationPools(Conflict):
    message = "Gateway ip {ip_address} conflicts with allocation pool {pool}"


class GatewayIpInUse(InUse):
    message = "Current gateway ip {ip_address} already in use by port {port_id}. Unable to update."


class InvalidAllocationPool(NeutronError):
    status = 400
    message = "The allocation pool {pool} is not valid."


class DNSNameServersExhausted(NeutronError):
    status = 400
    message = ("Unable to complete operation for {subnet_id}. The number of DNS nameservers "
               "exceeds the limit {quota}.")


class HostRoutesExhausted(NeutronError):
    status = 400
    message = ("Unable to complete operation for {subnet_id}. The number of host routes "
               "exceeds the limit {quota}.")


class InvalidIpForNetwork(NeutronError):
    status = 400
    message = "IP address {ip_address} is not a valid IP for any of the subnets on the specified network."


class InvalidIpForSubnet(NeutronError):
    status = 400
    message = "IP address {ip_address} is not a valid IP for the specified subnet."


class InvalidSharedSetting(Conflict):
    message = "Unable to reconfigure sharing settings for network {network}. Multiple tenants are using it."


class PortSecurityAndIPRequiredForSecurityGroups(NeutronError):
    status = 400
    message = "Port security must be enabled and port must have an IP address in order to use security groups."


class PortSecurityPortHasSecurityGroup(InUse):
    message = "Port has security group associated. Cannot disable port security or IP address until security group is removed"


class AddressPairAndPortSecurityRequired(Conflict):
    message = "Port Security must be enabled in order to have allowed address pairs on a port."


class SecurityGroupInUse(InUse):
    message = "Security Group {id} in use."


class SecurityGroupCannotRemoveDefault(InUse):
    message = "Insufficient rights for removing default security group."


class SecurityGroupRuleExists(InUse):
    message = "Security group rule already exists. Rule id is {rule_id}."


class AgentDeleteError(Conflict):
    message = "{msg}"


class DatabaseBusy(NeutronError):
    status = 503
    message = "The database is busy; retry the request."


class L3PortInUse(InUse):
    message = ("Port {port_id} cannot be deleted directly via the port API: has device owner "
               "{device_owner}.")


class RouterNotFound(NotFound):
    message = "Router {router_id} could not be found"


class FloatingIPNotFound(NotFound):
    message = "Floating IP {floatingip_id} could not be found"


class RouterInUse(InUse):
    message = "Router {router_id} {reason}"


class RouterInterfaceNotFound(NotFound):
    message = "Router {router_id} does not have an interface with id {port_id}"


class RouterInterfaceNotFoundForSubnet(NotFound):
    message = "Router {router_id} has no interface on subnet {subnet_id}"


class RouterInterfaceInUseByFloatingIP(InUse):
    message = ("Router interface for subnet {subnet_id} on router {router_id} cannot be deleted, "
               "as it is required by one or more floating IPs.")


class PortInUse(InUse):
    message = ("Unable to complete operation on port {port_id} for network {net_id}. "
               "Port already has an attached device {device_id}.")


class ExternalGatewayForFloatingIPNotFound(NotFound):
    message = ("External network {external_network_id} is not reachable from subnet "
               "{subnet_id}.  Therefore, cannot associate Port {port_id} with a Floating IP.")


class FloatingIPPortAlreadyAssociated(InUse):
    message = ("Cannot associate floating IP {floating_ip_address} ({fip_id}) with port "
               "{port_id} using fixed IP {fixed_ip}, as that fixed IP already has a floating IP "
               "on external network {net_id}.")


class InvalidRoutes(NeutronError):
    status = 400
    message = "Invalid format for routes: {routes}, {reason}"


class RoutesExhausted(NeutronError):
    status = 400
    message = ("Unable to complete operation for {router_id}. The number of routes exceeds the "
               "maximum {quota}.")


class RouterInterfaceInUseByRoute(InUse):
    message = ("Router interface for subnet {subnet_id} on router {router_id} cannot be deleted, "
               "as it is required by one or more routes.")


class SecurityGroupRuleInvalidProtocol(NeutronError):
    status = 400
    message = ("Security group rule protocol {protocol} not supported. Only protocol values "
               "{values} and integer representations [0 to 255] are supported.")


class SecurityGroupCannotUpdateDefault(InUse):
    message = "Updating default security group not allowed."


class RevisionNumberConstraintFailed(NeutronError):
    status = 412
    message = "Constrained to {expected}, but current revision is {current}"


class SecurityGroupDefaultAlreadyExists(InUse):
    message = "Default security group already exists."


# --- attribute validation (neutron-lib's converters and validators) ---------------

class InvalidCIDR(BadRequest):
    message = "Invalid CIDR {input} given as IP prefix."


class SecurityGroupRuleInvalidEtherType(NeutronError):
    status = 400
    message = ("Security group rule for ethertype '{ethertype}' not supported. "
               "Allowed values are {values}.")


class SecurityGroupInvalidPortValue(NeutronError):
    status = 400
    message = "Invalid value for port {port}"


class AllowedAddressPairsMissingIP(NeutronError):
    status = 400
    message = "AllowedAddressPair must contain ip_address"


class DuplicateAddressPairInRequest(NeutronError):
    status = 400
    message = ("Request contains duplicate address pair: mac_address {mac_address} "
               "ip_address {ip_address}.")


class AllowedAddressPairExhausted(BadRequest):
    message = "The number of allowed address pair exceeds the maximum {quota}."


class InvalidSubnetServiceType(NeutronError):
    status = 400
    message = "Subnet service type {service_type} does not correspond to a valid device owner."


class InvalidInputSubnetServiceType(NeutronError):
    status = 400
    message = "Subnet service type {service_type} is not a string."
