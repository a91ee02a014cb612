"""Wiring into the HTTP application: the three collections under
/v2.0/fwaas/ on the generic Controller (bodies, policy, fields, filters,
sorting, pagination, tags), and the policy actions insert_rule/remove_rule."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from neutrino.api.controller import Controller
from neutrino.plugins.fwaas.groups import FirewallGroupPlugin
from neutrino.plugins.fwaas.policies import FirewallPolicyPlugin
from neutrino.plugins.fwaas.resources import FIREWALL_GROUP, FIREWALL_POLICY, FIREWALL_RULE
from neutrino.plugins.fwaas.rules import FirewallRulePlugin

PREFIX = "fwaas/"    # upstream's API_PREFIX: /v2.0/fwaas/<collection>


def install(api) -> list[Route]:
    """Add the FWaaS plugins and controllers to `api` (neutrino.api.app.Api),
    so that its generic resource and tag routes serve them; returns the
    routes of the policy actions."""
    core = api.core
    policies = FirewallPolicyPlugin(core)
    plugins = {FIREWALL_RULE: FirewallRulePlugin(core), FIREWALL_POLICY: policies,
               FIREWALL_GROUP: FirewallGroupPlugin(core, api.plugins["ports"])}
    d = core.cfg.DEFAULT
    for res, plugin in plugins.items():
        key = PREFIX + res.collection
        api.plugins[key] = plugin
        api.controllers[key] = Controller(res, plugin, core.policy, d.pagination_max_limit,
                                          d.max_filter_values, d.max_allowed_address_pair)

    def action(name: str, fn):
        def run(ctx, policy_id, body):
            def authorize(row) -> None:
                # found as the caller (else 404): may read, so 403 if not allowed
                core.policy.enforce(ctx, name, {"project_id": row["project_id"],
                                                "tenant_id": row["project_id"],
                                                "shared": row["shared"]})
            return fn(ctx, policy_id, body, authorize)

        async def endpoint(request: Request):
            return await api.call(request, run, request.path_params["id"], needs_body=True)
        return Route(f"/v2.0/{PREFIX}firewall_policies/{{id}}/{name}", endpoint, methods=["PUT"])

    return [action("insert_rule", policies.insert_rule),
            action("remove_rule", policies.remove_rule)]
