"""Wiring into the HTTP application: /v2.0/qos/policies on the generic
Controller (with tags), each rule type under its policy and by id alone
(qos-rules-alias), and the rule types."""
from __future__ import annotations

import copy
import dataclasses

from starlette.requests import Request
from starlette.routing import Route

from neutrino.api.controller import Controller
from neutrino.api.resources import Resource
from neutrino.plugins.qos.policies import QosPolicyPlugin
from neutrino.plugins.qos.resources import ALIASED, POLICY, RULE_TYPES, RuleType
from neutrino.plugins.qos.rule_types import RuleTypes
from neutrino.plugins.qos.rules import RulePlugin

PREFIX = "qos/"
TAGS_BASE = "/v2.0/policies"


def alias_resource(rtype: RuleType) -> Resource:
    """qos-rules-alias: the rule's attributes, updatable, under its own name."""
    attrs = tuple(a if a.name == "id" else dataclasses.replace(a, post=False)
                  for a in rtype.resource.base_attrs)
    return Resource(f"alias_{rtype.singular}", f"alias_{rtype.collection}", attrs,
                    not_found="QosRuleNotFound", tags=False, has_owner=False)


def install(api) -> list[Route]:
    core = api.core
    d = core.cfg.DEFAULT

    def controller(res: Resource, plugin) -> Controller:
        return Controller(res, plugin, core.policy, d.pagination_max_limit,
                          d.max_filter_values, d.max_allowed_address_pair)

    key = PREFIX + POLICY.collection
    api.plugins[key] = QosPolicyPlugin(core)
    api.controllers[key] = controller(POLICY, api.plugins[key])
    routes: list[Route] = []
    for rtype in RULE_TYPES.values():
        routes += _rule_routes(api, controller(rtype.resource, None), rtype)
    for rtype in ALIASED:
        routes += _alias_routes(api, controller(alias_resource(rtype),
                                                RulePlugin(core, rtype, None)))
    types = RuleTypes(core)

    async def types_ep(request: Request):
        return await api.call(request, types.list, list(request.query_params.multi_items()))

    async def type_ep(request: Request):
        return await api.call(request, types.show, request.path_params["rule_type"])
    routes += [Route("/v2.0/qos/rule-types", types_ep, methods=["GET"]),
               Route("/v2.0/qos/rule-types/{rule_type}", type_ep, methods=["GET"])]
    # the tag extension names its parents without their API prefix:
    # upstream's tags of a QoS policy are at /v2.0/policies/{id}/tags
    routes += api.tag_routes(api.controllers[key], TAGS_BASE)
    return routes


def _rule_routes(api, base: Controller, rtype: RuleType) -> list[Route]:
    """The controller is copied per request with a plugin bound to the
    policy of the URL."""
    path = f"/v2.0/qos/policies/{{policy_id}}/{rtype.collection}"

    def bound(request: Request) -> Controller:
        ctl = copy.copy(base)
        ctl.plugin = RulePlugin(api.core, rtype, request.path_params["policy_id"])
        return ctl

    async def collection_ep(request: Request):
        ctl = bound(request)
        if request.method == "GET":
            url = str(request.base_url).rstrip("/") + request.url.path
            return await api.call(request, ctl.list, list(request.query_params.multi_items()),
                                  url)
        return await api.call(request, ctl.create, status=201, needs_body=True)

    return [Route(path, collection_ep, methods=["GET", "POST"]),
            Route(path + "/{id}", _member_ep(api, bound), methods=["GET", "PUT", "DELETE"])]


def _alias_routes(api, ctl: Controller) -> list[Route]:
    return [Route(f"/v2.0/qos/{ctl.r.collection}/{{id}}", _member_ep(api, lambda _r: ctl),
                  methods=["GET", "PUT", "DELETE"])]


def _member_ep(api, controller_of):
    async def member_ep(request: Request):
        ctl = controller_of(request)
        rid = request.path_params["id"]
        if request.method == "GET":
            return await api.call(request, ctl.show, rid,
                                  list(request.query_params.multi_items()))
        if request.method == "PUT":
            if_match = request.headers.get("if-match")
            return await api.call(request,
                                  lambda ctx, rid_, body: ctl.update(ctx, rid_, body, if_match),
                                  rid, needs_body=True)
        return await api.call(request, ctl.delete, rid, status=204)
    return member_ep
