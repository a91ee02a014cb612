"""The policy rule language (oslo.policy's): and/or/not, parentheses, rule:,
role:, %(target)s substitutions, field:, literals, @ and !; the Enforcer's
defaults, overrides, caching and upstream-worded denials."""
from __future__ import annotations

import pytest

from neutrino.api import faults
from neutrino.api.policy import DEFAULT_RULES, Context, Enforcer, compile_rule

PROJECT = "p" * 32
OTHER = "o" * 32


def creds(roles=("member",), project=PROJECT, **extra):
    ctx = Context.make(project, "u1", roles)
    return {**ctx.creds(), **extra}


def run(text, target=None, c=None, rules=None):
    enforcer = Enforcer(rules or {})
    return compile_rule(text).check(target or {}, c or creds(), enforcer)


@pytest.mark.parametrize("text,expected", [
    ("@", True), ("!", False), ("", True),
    ("role:member", True), ("role:MEMBER", True), ("role:admin", False),
    ("role:reader", True),  # implied by member
    ("role:member and role:admin", False), ("role:member or role:admin", True),
    ("not role:admin", True), ("not role:member", False), ("not not role:member", True),
    ("role:admin or role:member and role:reader", True),
    ("(role:admin or role:member) and role:reader", True),
    ("role:admin or (role:member and not role:reader)", False),
    ("(role:admin or role:member) and not (role:reader)", False),
    ("((role:member))", True),
    ("role:admin or role:x or role:member", True),
    ("role:member and role:reader and not role:x", True),
    ("not role:admin and role:member", True),   # not binds tighter than and
    ("role:member or role:admin and role:x", True),  # and binds tighter than or
    ("(role:member or role:admin) and role:x", False),
])
def test_boolean_structure(text, expected):
    assert run(text) is expected


def test_keywords_are_case_insensitive():
    assert run("role:x OR role:member") is True
    assert run("role:member AND NOT role:x") is True


@pytest.mark.parametrize("bad", ["role:a and", "(role:a", "role:a)", "role:a role:b",
                                 "justaword", "and role:a", "role:a or or role:b"])
def test_syntax_errors_raise(bad):
    with pytest.raises(ValueError):
        compile_rule(bad)


def test_target_substitution():
    rule = "project_id:%(project_id)s"
    assert run(rule, {"project_id": PROJECT}) is True
    assert run(rule, {"project_id": OTHER}) is False
    assert run(rule, {}) is False  # missing key: no match
    assert run("tenant_id:%(tenant_id)s", {"tenant_id": PROJECT}) is True
    assert run("project_id:%(network:project_id)s", {"network:project_id": PROJECT}) is True
    assert run("user_id:%(user_id)s", {"user_id": "u1"}) is True
    # parentheses around a substitution are not grouping.
    assert run("(project_id:%(project_id)s)", {"project_id": PROJECT}) is True
    assert run("(role:x or project_id:%(project_id)s)", {"project_id": PROJECT}) is True


def test_generic_and_literal_checks():
    assert run("is_admin:True", c=creds(("admin",))) is True
    assert run("is_admin:True") is False
    assert run("'ACTIVE':%(status)s", {"status": "ACTIVE"}) is True
    assert run("'ACTIVE':%(status)s", {"status": "DOWN"}) is False


def test_rule_references():
    rules = {"a": "role:member", "b": "rule:a and not role:admin", "loop": "rule:loop"}
    assert run("rule:a", rules=rules) is True
    assert run("rule:b", rules=rules) is True
    assert run("rule:b", c=creds(("admin",)), rules=rules) is False
    assert run("rule:undefined", rules=rules) is False
    assert run("rule:undefined or rule:a", rules=rules) is True


def test_field_checks():
    assert run("field:networks:shared=True", {"shared": True}) is True
    assert run("field:networks:shared=True", {"shared": False}) is False
    # For subnets/ports the parent network's attribute is in the target.
    assert run("field:networks:shared=True", {"network:shared": True, "shared": False}) is True
    assert run("field:networks:router:external=True", {"router:external": True}) is True
    assert run("field:networks:router:external=True",
               {"network:router:external": False}) is False


def test_default_rules_personas():
    e = Enforcer()
    own = {"project_id": PROJECT, "tenant_id": PROJECT}
    other = {"project_id": OTHER, "tenant_id": OTHER}
    member = Context.make(PROJECT, "u", ("member",))
    reader = Context.make(PROJECT, "u", ("reader",))
    admin = Context.make(OTHER, "a", ("admin",))
    assert e.check(member, "create_network", own)
    assert not e.check(member, "create_network", other)
    assert not e.check(reader, "create_network", own)
    assert e.check(reader, "get_network", own)
    assert not e.check(reader, "get_network", other)
    assert e.check(reader, "get_network", {**other, "shared": True})
    assert e.check(reader, "get_network", {**other, "router:external": True})
    assert e.check(admin, "create_network", own)
    assert not e.check(member, "create_network:shared", own)
    assert e.check(admin, "create_network:provider:network_type", own)
    # Ports on a member's network: the network owner may see and delete
    # them, not update them (upstream 2024.2 update_port).
    port = {"project_id": OTHER, "network:project_id": PROJECT}
    assert not e.check(member, "update_port", port)
    assert e.check(member, "delete_port", port)
    assert e.check(member, "get_port", port)
    # device_owner network:* only for the network's owner.
    assert e.check(member, "create_port:device_owner",
                   {"device_owner": "network:dhcp", "network:project_id": PROJECT})
    assert not e.check(member, "create_port:device_owner",
                       {"device_owner": "network:dhcp", "network:project_id": OTHER})
    assert e.check(member, "create_port:device_owner",
                   {"device_owner": "compute:nova", "network:project_id": OTHER})
    # Undefined actions are admin-only.
    assert not e.check(member, "frobnicate", own)
    assert e.check(admin, "frobnicate", own)


def test_override_replaces_default_only_for_that_rule():
    e = Enforcer({"create_network:shared": "role:member"})
    member = Context.make(PROJECT, "u", ("member",))
    assert e.check(member, "create_network:shared", {})
    assert not e.check(member, "create_network:router:external", {})
    assert e.rules["create_network:shared"].text == "role:member"
    assert e.rules["create_network"].text == DEFAULT_RULES["create_network"]


def test_override_syntax_error_names_rule():
    with pytest.raises(ValueError, match="create_network"):
        Enforcer({"create_network": "role:member and"})


def test_target_use_analysis():
    e = Enforcer({"x": "role:admin", "y": "rule:x or role:member",
                  "z": "rule:y and project_id:%(project_id)s", "w": "rule:z or @"})
    assert e.rules["x"].uses_target is False
    assert e.rules["y"].uses_target is False
    assert e.rules["z"].uses_target is True
    assert e.rules["w"].uses_target is True
    assert e.rules["get_network:provider:network_type"].uses_target is False
    assert e.rules["get_network"].uses_target is True


def test_target_independent_rules_are_cached_per_request():
    e = Enforcer({"x": "role:admin"})
    ctx = Context.make(PROJECT, "u", ("admin",))
    assert e.check(ctx, "x", {})
    assert ctx.cache[("policy", "x")] is True
    # A target-dependent rule is evaluated each time.
    assert e.check(ctx, "get_network", {"project_id": OTHER}) is True
    assert ("policy", "get_network") not in ctx.cache


def test_enforce_messages_as_upstream():
    e = Enforcer()
    member = Context.make(PROJECT, "u", ("member",))
    own = {"project_id": PROJECT}
    with pytest.raises(faults.PolicyNotAuthorized) as exc:
        e.enforce(member, "create_network", {"project_id": OTHER})
    assert exc.value.text == "rule:create_network is disallowed by policy"
    with pytest.raises(faults.PolicyNotAuthorized) as exc:
        e.enforce(member, "create_network", own, ("shared",))
    assert exc.value.text == ("(rule:create_network and rule:create_network:shared) is "
                              "disallowed by policy")
    with pytest.raises(faults.PolicyNotAuthorized) as exc:
        e.enforce(member, "create_network", own,
                  ("provider:network_type", "provider:segmentation_id"))
    assert exc.value.text == (
        "((rule:create_network and rule:create_network:provider:network_type) and "
        "rule:create_network:provider:segmentation_id) is disallowed by policy")
    assert exc.value.status == 403
    # Attributes without a rule are not checked; allowed ones pass silently.
    e.enforce(member, "create_network", own, ("name", "mtu"))


def test_context_roles():
    ctx = Context.make(PROJECT, "u", (" Admin ", ""))
    assert ctx.roles == frozenset({"admin", "manager", "member", "reader"})
    assert ctx.is_admin
    assert Context.make(PROJECT, "u", ("reader",)).roles == frozenset({"reader"})
    assert not Context.make(PROJECT, "u", ("member",)).is_admin
