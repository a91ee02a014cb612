"""neutron-lib's firewall_v2 exceptions (and neutron-fwaas's own), worded
and typed as upstream: the type is the class name."""
from __future__ import annotations

from neutrino.api.faults import Conflict, InUse, InvalidInput, NotFound


class _Invalid(InvalidInput):
    """An InvalidInput subclass with its own message (400)."""
    message = "{error_message}"


class FirewallGroupNotFound(NotFound):
    message = "Firewall group {firewall_id} could not be found."


class FirewallGroupInUse(InUse):
    message = "Firewall group {firewall_id} is still active."


class FirewallGroupInPendingState(Conflict):
    message = ("Operation cannot be performed since associated firewall group {firewall_id} "
               "is in {pending_state}.")


class FirewallGroupPortInvalid(Conflict):
    message = "Port {port_id} of firewall group is invalid."


class FirewallGroupPortInvalidProject(Conflict):
    message = ("Operation cannot be performed as port {port_id} is in an invalid project "
               "{project_id}.")


class FirewallGroupPortInUse(InUse):
    message = "Port(s) {port_ids} provided already associated with other firewall group(s)."


class FirewallPolicyNotFound(NotFound):
    message = "Firewall policy {firewall_policy_id} could not be found."


class FirewallPolicyInUse(InUse):
    message = "Firewall policy {firewall_policy_id} is being used."


class FirewallPolicyConflict(NotFound):
    message = ("Operation cannot be performed since firewall policy {firewall_policy_id} for "
               "your project could not be found. Please confirm if the firewall policy exists "
               "and is shared.")


class FirewallRuleSharingConflict(NotFound):
    message = ("Operation cannot be performed since firewall policy {firewall_policy_id} could "
               "not find the firewall rule {firewall_rule_id}. Please confirm if the firewall "
               "rule exists and is shared.")


class FirewallPolicySharingConflict(Conflict):
    message = ("Operation cannot be performed. Before sharing firewall policy "
               "{firewall_policy_id}, share associated firewall rule {firewall_rule_id}.")


class FirewallRuleNotFound(NotFound):
    message = "Firewall rule {firewall_rule_id} could not be found."


class FirewallRuleInUse(InUse):
    message = "Firewall rule {firewall_rule_id} is being used."


class FirewallRuleNotAssociatedWithPolicy(_Invalid):
    message = ("Firewall rule {firewall_rule_id} is not associated with firewall policy "
               "{firewall_policy_id}.")


class FirewallRuleInvalidICMPParameter(_Invalid):
    message = "{param} are not allowed when protocol is set to ICMP."


class FirewallRuleWithPortWithoutProtocolInvalid(_Invalid):
    message = "Source/destination port requires a protocol."


class FirewallRuleInvalidPortValue(_Invalid):
    message = "Invalid value for port {port}."


class FirewallRuleInfoMissing(_Invalid):
    message = "Missing rule info argument for insert/remove rule operation."


class FirewallIpAddressConflict(_Invalid):
    message = "Invalid input - IP addresses do not agree with IP Version."


class FirewallRuleConflict(Conflict):
    message = ("Operation cannot be performed since firewall rule {firewall_rule_id} is not "
               "shared and belongs to another project {project_id}.")


class FirewallRuleAlreadyAssociated(Conflict):
    message = ("Operation cannot be performed since firewall rule {firewall_rule_id} is "
               "already associated with firewall policy {firewall_policy_id}.")


class FirewallGroupCannotRemoveDefault(InUse):
    message = "Deleting default firewall group not allowed."


class FirewallDefaultParameterExists(InUse):
    message = ("Operation cannot be performed since '{name}' is a reserved name for "
               "{resource_type}.")


class FirewallDefaultObjectUpdateRestricted(FirewallDefaultParameterExists):
    message = ("Operation cannot be performed on default object '{resource_id}' of type "
               "{resource_type}.")
