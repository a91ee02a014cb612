"""Policy: Neutron's default rules in oslo.policy's rule language, with
overrides from a policy.yaml file.

Rules are compiled once into closures. A rule that never looks at the
target (most attribute rules: "role:admin") is cached per request, so
checking attribute visibility on a list of thousands of ports costs a dict
lookup per attribute, not a rule evaluation per port.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

import yaml

from neutrino.api import faults

LOG = logging.getLogger(__name__)

# Keystone's default implied roles: admin > manager > member > reader.
IMPLIED_ROLES = {"admin": ("manager", "member", "reader"), "manager": ("member", "reader"),
                 "member": ("reader",)}


@dataclass(frozen=True)
class Context:
    project_id: str
    user_id: str = ""
    roles: frozenset[str] = frozenset()
    request_id: str = ""
    auth_token: str = ""
    cache: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def make(cls, project_id: str, user_id: str = "", roles=(), **kw) -> "Context":
        expanded = set(r.strip().lower() for r in roles if r.strip())
        for role in list(expanded):
            expanded.update(IMPLIED_ROLES.get(role, ()))
        return cls(project_id or "", user_id, frozenset(expanded), **kw)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def creds(self) -> dict:
        return {"project_id": self.project_id, "tenant_id": self.project_id,
                "user_id": self.user_id, "roles": self.roles,
                "is_admin": self.is_admin}


def admin_context() -> Context:
    return Context.make("", "neutrino", ("admin",))


# --- the rule language ---------------------------------------------------

Check = Callable[[dict, dict, "Enforcer"], bool]


@dataclass
class Compiled:
    text: str
    check: Check
    uses_target: bool


def _atom(token: str) -> tuple[Check, bool]:
    if token == "@":
        return (lambda t, c, e: True), False
    if token == "!":
        return (lambda t, c, e: False), False
    kind, sep, match = token.partition(":")
    if not sep:
        raise ValueError(f"bad policy check {token!r}")
    if kind == "rule":
        # Whether it reads the target is settled once all rules are known.
        return (lambda t, c, e: e.check_rule(match, t, c)), ("rule", match)
    if kind == "role":
        role = match.lower()
        return (lambda t, c, e: role in c["roles"]), False
    if kind == "field":
        # field:networks:shared=True -> target attribute (or the parent
        # network's, for subnets and ports) equals the literal.
        resource, _, rest = match.partition(":")
        attr, _, want = rest.partition("=")
        singular = resource[:-1] if resource.endswith("s") else resource
        parent_key = f"{singular}:{attr}"
        # field:port:device_owner=~^network: -> a regular expression match.
        pattern = re.compile(want[1:]) if want.startswith("~") else None

        def field_check(t, c, e):
            value = t[parent_key] if parent_key in t else t.get(attr)
            if pattern is not None:
                return value is not None and pattern.match(str(value)) is not None
            return str(value) == want
        return field_check, True
    if kind.startswith(("'", '"')):  # 'literal':%(key)s
        literal = kind.strip("'\"")
        key = match[2:-2] if match.startswith("%(") else match
        return (lambda t, c, e: str(t.get(key)) == literal), True
    if match.startswith("%(") and match.endswith(")s"):
        key = match[2:-2]

        def target_check(t, c, e):
            if key not in t or kind not in c:
                return False
            return str(c[kind]) == str(t[key])
        return target_check, True
    return (lambda t, c, e: str(c.get(kind)) == match), False


def _merge(a, b):
    """Combine 'reads the target' markers: True, False, or the set of rule
    names whose answer decides it."""
    if a is True or b is True:
        return True
    refs = set()
    for x in (a, b):
        if isinstance(x, tuple):
            refs.add(x[1])
        elif isinstance(x, frozenset):
            refs |= x
    return frozenset(refs) if refs else False


def _tokenize(text: str) -> list[str]:
    """Whitespace-separated tokens with parentheses peeled off their ends
    (but not those of a %(name)s substitution), as oslo.policy does."""
    tokens: list[str] = []
    for chunk in text.split():
        while chunk.startswith("("):
            tokens.append("(")
            chunk = chunk[1:]
        closing = 0
        while chunk.endswith(")") and chunk.count("(") < chunk.count(")"):
            closing += 1
            chunk = chunk[:-1]
        if chunk:
            tokens.append(chunk)
        tokens.extend(")" * closing)
    return tokens


def compile_rule(text: str) -> Compiled:
    tokens = _tokenize(text or "")
    if not tokens:
        return Compiled(text, lambda t, c, e: True, False)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def parse_or():
        left, used = parse_and()
        parts, any_used = [left], used
        while peek() and peek().lower() == "or":
            take()
            right, used = parse_and()
            parts.append(right)
            any_used = _merge(any_used, used)
        if len(parts) == 1:
            return left, used
        return (lambda t, c, e: any(p(t, c, e) for p in parts)), any_used

    def parse_and():
        left, used = parse_not()
        parts, any_used = [left], used
        while peek() and peek().lower() == "and":
            take()
            right, used = parse_not()
            parts.append(right)
            any_used = _merge(any_used, used)
        if len(parts) == 1:
            return left, used
        return (lambda t, c, e: all(p(t, c, e) for p in parts)), any_used

    def parse_not():
        if peek() and peek().lower() == "not":
            take()
            inner, used = parse_not()
            return (lambda t, c, e: not inner(t, c, e)), used
        return parse_atom()

    def parse_atom():
        tok = take() if peek() else None
        if tok is None:
            raise ValueError(f"unexpected end of policy rule {text!r}")
        if tok == "(":
            inner = parse_or()
            if peek() != ")":
                raise ValueError(f"unbalanced parentheses in {text!r}")
            take()
            return inner
        return _atom(tok)

    check, used = parse_or()
    if pos != len(tokens):
        raise ValueError(f"trailing tokens in policy rule {text!r}")
    return Compiled(text, check, _merge(used, False))


# --- defaults (Neutron's, with the reader/member/admin personas) ---------

_OWNER = "project_id:%(project_id)s"
_NET_OWNER = "project_id:%(network:project_id)s"
ADMIN = "rule:admin_only"
MEMBER = f"rule:admin_only or (role:member and {_OWNER})"
READER = f"rule:admin_only or (role:reader and {_OWNER})"
NET_OWNER_MEMBER = f"rule:admin_only or (role:member and {_NET_OWNER})"

DEFAULT_RULES: dict[str, str] = {
    "context_is_admin": "role:admin",
    "admin_only": "rule:context_is_admin",
    "admin_or_owner": f"rule:context_is_admin or {_OWNER}",
    "admin_or_network_owner": f"rule:context_is_admin or {_NET_OWNER}",
    "shared": "field:networks:shared=True",
    "external": "field:networks:router:external=True",

    "create_network": MEMBER,
    "get_network": f"{READER} or rule:shared or rule:external",
    "update_network": MEMBER,
    "delete_network": MEMBER,
    "create_subnet": NET_OWNER_MEMBER,
    "get_subnet": f"{READER} or rule:shared or (role:reader and {_NET_OWNER})",
    "update_subnet": f"{MEMBER} or (role:member and {_NET_OWNER})",
    "delete_subnet": f"{MEMBER} or (role:member and {_NET_OWNER})",
    "create_port": MEMBER,
    "get_port": f"{READER} or (role:reader and {_NET_OWNER})",
    "update_port": f"{MEMBER} or (role:member and {_NET_OWNER})",
    "delete_port": f"{MEMBER} or (role:member and {_NET_OWNER})",
    "create_security_group": MEMBER,
    "get_security_group": READER,
    "update_security_group": MEMBER,
    "delete_security_group": MEMBER,
    "create_security_group_rule": MEMBER,
    "get_security_group_rule": READER,
    "delete_security_group_rule": MEMBER,
    "get_quota": READER,
    "update_quota": ADMIN,
    "delete_quota": ADMIN,
    "create_router": MEMBER,
    "get_router": READER,
    "update_router": MEMBER,
    "delete_router": MEMBER,
    "add_router_interface": MEMBER,
    "remove_router_interface": MEMBER,
    "create_router:external_gateway_info": MEMBER,
    "create_router:external_gateway_info:network_id": MEMBER,
    "update_router:external_gateway_info": MEMBER,
    "update_router:external_gateway_info:network_id": MEMBER,
    "create_router:external_gateway_info:enable_snat": ADMIN,
    "create_router:external_gateway_info:external_fixed_ips": ADMIN,
    "update_router:external_gateway_info:enable_snat": ADMIN,
    "update_router:external_gateway_info:external_fixed_ips": ADMIN,
    "get_l3-agents": ADMIN,
    "create_router:ha": ADMIN,          # l3-ha, as upstream
    "get_router:ha": ADMIN,
    "update_router:ha": ADMIN,
    "create_floatingip": MEMBER,
    "create_floatingip:floating_ip_address": f"{ADMIN} or (role:manager and {_OWNER})",
    # (create/update_subnet:segment_id and :service_types: upstream registers
    # them admin-only but never checks them: neutron-lib's attribute map does
    # not mark those attributes enforce_policy, so members set them)
    "get_floatingip": READER,
    "update_floatingip": MEMBER,
    "delete_floatingip": MEMBER,
    "get_agent": ADMIN,
    "update_agent": ADMIN,
    "delete_agent": ADMIN,
}
for _attr in ("shared", "router:external", "provider:network_type",
              "provider:physical_network", "provider:segmentation_id", "segments"):
    for _action in ("create_network", "update_network"):
        DEFAULT_RULES[f"{_action}:{_attr}"] = ADMIN
for _attr in ("provider:network_type", "provider:physical_network",
              "provider:segmentation_id", "segments"):
    DEFAULT_RULES[f"get_network:{_attr}"] = ADMIN
# Ports, as neutron/conf/policies/port.py (2024.2): agents trust ports whose
# device_owner starts with "network:" (no anti-spoofing, no security
# groups), so only the network's owner may make one; addresses likewise.
_ADMIN_OR_SERVICE = "rule:admin_only or rule:service_api"
_MANAGER = f"(role:manager and {_OWNER})"
_NET_OWNER_ONLY = f"(role:member and {_NET_OWNER})"
_PORT_NET_OWNER = f"{_ADMIN_OR_SERVICE} or {_MANAGER} or {_NET_OWNER_ONLY}"
DEFAULT_RULES.update({
    "service_api": "role:service",
    "network_device": "field:port:device_owner=~^network:",
    "create_port": f"{MEMBER} or rule:service_api",
    "update_port": f"{_ADMIN_OR_SERVICE} or (role:member and {_OWNER})",
    "create_port:device_owner": f"not rule:network_device or {_PORT_NET_OWNER}",
    "update_port:device_owner": f"not rule:network_device or {_PORT_NET_OWNER}",
    "create_port:mac_address": _PORT_NET_OWNER,
    "update_port:mac_address": f"{_ADMIN_OR_SERVICE} or {_MANAGER}",
    "create_port:fixed_ips": f"{_PORT_NET_OWNER} or rule:shared",
    "update_port:fixed_ips": _PORT_NET_OWNER,
    "create_port:binding:vnic_type": f"{MEMBER} or rule:service_api",
    "update_port:binding:vnic_type": f"{_ADMIN_OR_SERVICE} or (role:member and {_OWNER})",
})
for _action in ("create_port", "update_port"):
    DEFAULT_RULES[f"{_action}:fixed_ips:ip_address"] = _PORT_NET_OWNER
    DEFAULT_RULES[f"{_action}:fixed_ips:subnet_id"] = f"{_PORT_NET_OWNER} or rule:shared"
    DEFAULT_RULES[f"{_action}:port_security_enabled"] = _PORT_NET_OWNER
    for _attr in ("allowed_address_pairs", "allowed_address_pairs:mac_address",
                  "allowed_address_pairs:ip_address"):
        DEFAULT_RULES[f"{_action}:{_attr}"] = f"{NET_OWNER_MEMBER} or {_MANAGER}"
    DEFAULT_RULES[f"{_action}:binding:host_id"] = _ADMIN_OR_SERVICE
    DEFAULT_RULES[f"{_action}:binding:profile"] = "rule:service_api"
for _attr in ("binding:vif_type", "binding:vif_details", "binding:host_id", "binding:profile"):
    DEFAULT_RULES[f"get_port:{_attr}"] = _ADMIN_OR_SERVICE
from neutrino.plugins.fwaas.policy_rules import RULES as _FWAAS_RULES  # noqa: E402
DEFAULT_RULES.update(_FWAAS_RULES)

# The Octavia v2 API's defaults (neutrino/octavia/policy.py).
from neutrino.octavia.policy import RULES as _OCTAVIA_RULES  # noqa: E402
DEFAULT_RULES.update(_OCTAVIA_RULES)


class Enforcer:
    def __init__(self, overrides: Mapping[str, str] | None = None):
        from neutrino.plugins import features     # their defaults join upstream's
        DEFAULT_RULES.update(features.policy_rules())
        self.rules: dict[str, Compiled] = {}
        for name, text in {**DEFAULT_RULES, **(overrides or {})}.items():
            try:
                self.rules[name] = compile_rule(str(text))
            except ValueError as exc:
                raise ValueError(f"policy rule {name!r}: {exc}") from None
        self._resolve_target_use()

    @classmethod
    def from_file(cls, path: str | None) -> "Enforcer":
        if not path or not os.path.exists(path):
            return cls()
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise ValueError(f"policy file {path} must hold a mapping of rule names to rules")
        LOG.info("loaded %d policy overrides from %s", len(data), path)
        return cls({str(k): str(v) for k, v in data.items()})

        self._resolve_target_use()

    def _resolve_target_use(self) -> None:
        """Replace each rule's set of referenced rules by a plain bool."""
        resolving: set[str] = set()

        def uses(name: str) -> bool:
            rule = self.rules.get(name)
            if rule is None or name in resolving:
                return False
            if isinstance(rule.uses_target, frozenset):
                resolving.add(name)
                rule.uses_target = any(uses(ref) for ref in rule.uses_target)
                resolving.discard(name)
            return rule.uses_target

        for name in list(self.rules):
            uses(name)

    def has_rule(self, name: str) -> bool:
        return name in self.rules

    def check_rule(self, name: str, target: dict, creds: dict) -> bool:
        rule = self.rules.get(name)
        if rule is None:
            return False
        return rule.check(target, creds, self)

    def check(self, ctx: Context, name: str, target: dict) -> bool:
        rule = self.rules.get(name)
        if rule is None:
            return ctx.is_admin  # undefined actions: admin only
        if not rule.uses_target:
            key = ("policy", name)
            if key not in ctx.cache:
                ctx.cache[key] = rule.check(target, ctx.creds(), self)
            return ctx.cache[key]
        return rule.check(target, ctx.creds(), self)

    def enforce(self, ctx: Context, action: str, target: dict,
                attributes: tuple[str, ...] = ()) -> None:
        """Raise PolicyNotAuthorized unless `action` and the rule of every
        attribute in `attributes` (that has one) pass, worded as upstream."""
        names = [action] + [f"{action}:{a}" for a in attributes
                            if f"{action}:{a}" in self.rules]
        if all(self.check(ctx, name, target) for name in names):
            return
        raise faults.PolicyNotAuthorized(action=_match_text(action, attributes,
                                                            set(names[1:])))


def _match_text(action: str, attributes: tuple[str, ...], checked: set[str]) -> str:
    """The rule as neutron.policy._build_match_rule prints it: one AndCheck
    per attribute, ((rule:a and rule:a:x) and rule:a:y), and an attribute's
    sub-attributes (a list's items' keys) nested in its own:
    (rule:a and (rule:a:x and (rule:a:x:k1 and rule:a:x:k2)))."""
    subs: dict[str, list[str]] = {}
    bases: list[str] = []
    for attr in attributes:
        if f"{action}:{attr}" not in checked:
            continue
        parent = attr.rsplit(":", 1)[0]
        if ":" in attr and parent in subs:
            subs[parent].append(f"rule:{action}:{attr}")
        else:
            bases.append(attr)
            subs[attr] = []
    text = f"rule:{action}"
    for attr in bases:
        rule = f"rule:{action}:{attr}"
        if subs[attr]:
            rule = f"({rule} and ({' and '.join(subs[attr])}))"
        text = f"({text} and {rule})"
    return text
