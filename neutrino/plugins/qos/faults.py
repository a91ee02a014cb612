"""neutron-lib's QoS exceptions, worded and typed as upstream: the type is
the class name."""
from __future__ import annotations

from neutrino.api.faults import Conflict, InUse, NeutronError, NotFound


class QosPolicyNotFound(NotFound):
    message = "QoS policy {policy_id} could not be found."


class QosRuleNotFound(NotFound):
    message = "QoS rule {rule_id} for policy {policy_id} could not be found."


class QosPolicyInUse(InUse):
    message = "QoS Policy {policy_id} is used by {object_type} {object_id}."


class QoSRulesConflict(Conflict):
    message = ("Rule {new_rule_type} conflicts with rule {rule_id} which already exists in "
               "QoS Policy {policy_id}.")


class QoSPolicyDefaultAlreadyExists(Conflict):
    message = "A default QoS policy exists for project {project_id}."


class QosRuleNotSupported(Conflict):
    message = "Rule {rule_type} is not supported by port {port_id}"


class QosRuleNotSupportedByNetwork(Conflict):
    message = "Rule {rule_type} is not supported by network {network_id}"


class PolicyRemoveAuthorizationError(NeutronError):
    status = 403
    message = "Failed to remove provided policy {policy_id} because you are not authorized."


class QosRuleTypeNotFound(NotFound):
    message = "QoS rule type {rule_type} could not be found."


class QoSRuleParameterConflict(Conflict):
    message = ("Unable to add the rule with value {rule_value} to the policy {policy_id} as "
               "the existing rule of type {existing_rule} restricts the bandwidth to "
               "{existing_value}.")
