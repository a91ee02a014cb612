"""Octavia's error vocabulary (octavia/common/exceptions.py): every error
is {"faultcode": "Client"|"Server", "faultstring": text, "debuginfo": null}
with the status of the exception class."""
from __future__ import annotations


class OctaviaFault(Exception):
    status = 500
    template = "An unknown exception occurred."

    def __init__(self, text: str | None = None, **kwargs):
        self.text = text if text is not None else self.template % kwargs
        super().__init__(self.text)

    def body(self) -> dict:
        return {"faultcode": "Client" if self.status < 500 else "Server",
                "faultstring": self.text, "debuginfo": None}


class BadRequest(OctaviaFault):
    status = 400
    template = "%(text)s"


class InvalidInput(BadRequest):
    """WSME's answer to a value of the wrong type, range or choice."""
    template = "Invalid input for field/attribute %(field)s. Value: '%(value)s'. %(reason)s"


class UnknownAttribute(BadRequest):
    template = "Unknown attribute for argument %(arg)s: %(names)s"

    def __init__(self, arg: str, names: str):
        plural = "s" if "," in names else ""
        super().__init__(f"Unknown attribute{plural} for argument {arg}: {names}")


class Validation(BadRequest):
    template = "Validation failure: %(detail)s"


class VIPValidation(BadRequest):
    template = "Validation failure: VIP must contain one of: %(objects)s."


class InvalidOption(BadRequest):
    template = "%(value)s is not a valid option for %(option)s"


class DisabledOption(BadRequest):
    template = "The selected %(option)s is not allowed in this deployment: %(value)s"


class L7RuleValidation(BadRequest):
    template = "Error parsing L7Rule: %(error)s"


class InvalidL7PolicyArgs(BadRequest):
    template = "Invalid L7 Policy arguments: %(msg)s"


class InvalidSubresource(BadRequest):
    template = "%(resource)s %(id)s not found."


class ListenerNoChildren(BadRequest):
    template = "Protocol %(protocol)s listeners cannot have child objects."


class ProviderNotEnabled(BadRequest):
    template = "Provider '%(prov)s' is not enabled."


class InvalidSortKey(BadRequest):
    template = "Supplied sort key '%(key)s' is not valid."


class InvalidSortDirection(BadRequest):
    template = "Supplied sort direction '%(key)s' is not valid."


class InvalidMarker(BadRequest):
    template = "Supplied pagination marker '%(key)s' is not valid."


class InvalidLimit(BadRequest):
    template = "Supplied pagination limit '%(key)s' is not valid."


class Forbidden(OctaviaFault):
    status = 403
    template = "Policy does not allow this request to be performed."


class QuotaExceeded(OctaviaFault):
    status = 403
    template = "Quota has been met for resources: %(resource)s"


class NotFound(OctaviaFault):
    status = 404
    template = "%(resource)s %(id)s not found."


class Conflict(OctaviaFault):
    status = 409
    template = "%(text)s"


class Immutable(Conflict):
    template = "%(resource)s %(id)s is immutable and cannot be updated."


class LBPendingState(Conflict):
    template = "Invalid state %(state)s of loadbalancer resource %(id)s"


class DuplicateListener(Conflict):
    template = ("Another Listener on this Load Balancer is already using protocol "
                "%(protocol)s and protocol_port %(port)d")


class DuplicateMember(Conflict):
    template = "Another member on this pool is already using ip %(ip_address)s on " \
               "protocol_port %(port)d"


class DuplicateHealthMonitor(Conflict):
    template = "This pool already has a health monitor"


class DuplicatePool(Conflict):
    template = "This listener already has a default pool"


class PoolInUseByL7Policy(Conflict):
    template = "Pool %(id)s is in use by L7 policy %(l7policy_id)s"


class IDAlreadyExists(Conflict):
    template = "Already an entity with that specified id."


class ProviderUnsupportedOption(OctaviaFault):
    """Valid input the provider cannot serve: Octavia's documented 501,
    which clients (octavia-tempest-plugin) read as "not supported here".
    A client error all the same: faultcode Client."""
    status = 501
    template = "Provider '%(prov)s' does not support a requested option: %(user_msg)s"

    def body(self) -> dict:
        return {"faultcode": "Client", "faultstring": self.text, "debuginfo": None}


class MethodNotAllowed(OctaviaFault):
    status = 405
    template = "The method %(method)s is not allowed for this resource."
