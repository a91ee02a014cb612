"""The generic v2.0 resource controller: request bodies in, envelopes out.

It owns what every resource shares — body parsing, attribute conversion and
validation, policy (per action and per attribute), fields, pagination links —
and leaves the resource's semantics to its plugin.
"""
from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlencode

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.policy import DEFAULT_RULES, Context, Enforcer
from neutrino.api.query import Query, parse
from neutrino.api.resources import Resource

_SUBATTRS = {"fixed_ips": ("ip_address", "subnet_id"),
             "allowed_address_pairs": ("ip_address", "mac_address"),
             # l3's dict spec order, ext-gw-mode's enable_snat appended
             "external_gateway_info": ("network_id", "external_fixed_ips", "enable_snat")}


def _check_revision(if_match: str | None, original: dict) -> None:
    """revision-if-match: `If-Match: revision_number=N` makes the update
    conditional on the resource still being at revision N."""
    if not if_match or not if_match.startswith("revision_number="):
        return
    try:
        wanted = int(if_match.split("=", 1)[1])
    except ValueError:
        raise faults.HTTPBadRequest(f"Invalid If-Match header: {if_match}") from None
    current = original.get("revision_number")
    if current is not None and wanted != current:
        raise faults.RevisionNumberConstraintFailed(expected=wanted, current=current)


def _convert(attr: a.Attr, value: Any) -> Any:
    if attr.convert is not None:
        value = attr.convert(value)
    if attr.validate is not None:
        reason = attr.validate(value)
        if reason:
            raise faults.HTTPBadRequest(f"Invalid input for {attr.name}. Reason: {reason}.")
    return value


def _check_owner(ctx: Context, item: dict) -> None:
    """neutron-lib's populate_project_info/_validate_privileges: runs while
    the request body is prepared, before any policy check."""
    project, tenant = item.get("project_id"), item.get("tenant_id")
    if project and tenant and project != tenant:
        raise faults.HTTPBadRequest("'project_id' and 'tenant_id' do not match")
    owner = project or tenant
    if owner and owner != ctx.project_id and not ctx.is_admin:
        raise faults.HTTPBadRequest(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
            "in request requires admin privileges")


class Controller:
    def __init__(self, resource: Resource, plugin: Any, policy: Enforcer,
                 max_limit: int = -1, max_filter_values: int = -1,
                 max_address_pairs: int = -1):
        """`max_limit`: pagination_max_limit; `max_filter_values`: values one
        list filter may have; `max_address_pairs`: max_allowed_address_pair
        (-1: no cap for each)."""
        self.r = resource
        self.plugin = plugin
        self.policy = policy
        self.max_limit = max_limit
        self.max_filter_values = max_filter_values
        self.max_address_pairs = max_address_pairs
        # Attribute rules for reading, resolved once.
        self.hidden_rules = [(x.name, f"get_{resource.singular}:{x.name}")
                             for x in resource.attrs
                             if policy.has_rule(f"get_{resource.singular}:{x.name}")]
        action = f"get_{resource.singular}"
        overridden = policy.rules.get(action)
        # The plugins' SQL scoping implements the default get rules; evaluate
        # the rule per item only when an operator changed it.
        self.check_each = (overridden is not None and DEFAULT_RULES.get(action) != overridden.text)
        # Resources without an owner (agents) have no SQL scoping at all.
        self.check_each = self.check_each or not resource.has_owner

    # --- bodies --------------------------------------------------------------
    def _items(self, body: Any) -> tuple[list[dict], bool]:
        if not isinstance(body, dict):
            raise faults.HTTPBadRequest("Body contains invalid data")
        if self.r.singular in body:
            item = body[self.r.singular]
            if not isinstance(item, dict):
                raise faults.HTTPBadRequest("Body contains invalid data")
            return [item], False
        if self.r.collection.replace("-", "_") in body or self.r.collection in body:
            items = body.get(self.r.collection.replace("-", "_"), body.get(self.r.collection))
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise faults.HTTPBadRequest("Body contains invalid data")
            # Bulk items may come bare or wrapped in the singular key, as upstream.
            items = [i[self.r.singular] if list(i) == [self.r.singular]
                     and isinstance(i[self.r.singular], dict) else i for i in items]
            return items, True
        raise faults.HTTPBadRequest(f"Unable to find '{self.r.singular}' in request body")

    def _unknown(self, item: dict) -> None:
        unknown = [k for k in item if self.r.attr(k) is None and k != "tags"]
        if unknown:
            raise faults.HTTPBadRequest(
                "Unrecognized attribute(s) '%s'" % ", ".join(unknown))
        pairs = item.get("allowed_address_pairs")
        if (self.max_address_pairs >= 0 and isinstance(pairs, list)
                and len(pairs) > self.max_address_pairs):
            raise faults.AllowedAddressPairExhausted(quota=self.max_address_pairs)

    def prepare_create(self, item: dict) -> dict:
        self._unknown(item)
        out: dict[str, Any] = {}
        for key, value in item.items():
            if key == "tags":
                reason = a.tag_list(value)
                if reason:
                    raise faults.HTTPBadRequest(f"Invalid input for tags. Reason: {reason}.")
                a.check_tag_count(self.r.singular, len(set(value)))
                out["tags"] = value
                continue
            attr = self.r.attr(key)
            if not attr.post:
                raise faults.HTTPBadRequest(f"Attribute '{key}' not allowed in POST")
            out[key] = _convert(attr, value)
        for attr in self.r.attrs:
            if not attr.post or attr.name in out:
                continue
            if attr.required:
                raise faults.HTTPBadRequest(
                    f"Failed to parse request. Required attribute '{attr.name}' not specified")
            if attr.default is not a.UNSET:
                out[attr.name] = copy.copy(attr.default)
        return out

    def prepare_update(self, item: dict) -> dict:
        self._unknown(item)
        out = {}
        for key, value in item.items():
            attr = self.r.attr(key)
            if key == "tags" or not attr.put:
                raise faults.HTTPBadRequest(f"Cannot update read-only attribute {key}")
            out[key] = _convert(attr, value)
        return out

    def _is_default(self, key: str, value: Any) -> bool:
        attr = self.r.attr(key)
        return (attr is not None and attr.default is not a.MISSING
                and attr.default is not a.UNSET and value == attr.default)

    def _policy_attrs(self, action: str, given: dict) -> tuple[str, ...]:
        names = []
        for key, value in given.items():
            if key in _SUBATTRS and isinstance(value, list):
                # neutron.policy._build_list_of_subattrs_rule: every key of every item.
                names += [f"{key}:{sub}" for v in value if isinstance(v, dict)
                          for sub in v if sub in _SUBATTRS[key]]
            elif key in _SUBATTRS and isinstance(value, dict):
                # _build_subattr_match_rule: the spec's keys present in the value.
                names += [f"{key}:{sub}" for sub in _SUBATTRS[key] if sub in value]
            names.append(key)
        # Upstream checks attributes in the order of the attribute map.
        order = {attr.name: i for i, attr in enumerate(self.r.attrs)}
        names.sort(key=lambda n: (order.get(n.split(":")[0] if n.split(":")[0] in _SUBATTRS
                                            else n, len(order)), n.count(":")))
        return tuple(n for n in names if self.policy.has_rule(f"{action}:{n}"))

    # --- reading ---------------------------------------------------------------
    def _visible(self, ctx: Context, item: dict, target: dict | None = None) -> bool:
        # The SQL scoping matches the default rules for readers and up; a
        # caller without any of the default roles is checked item by item.
        if not self.check_each and "reader" in ctx.roles:
            return True
        if target is None:
            target = dict(item)
            if hasattr(self.plugin, "target_of"):
                target.update(self.plugin.target_of(ctx, item))
        return self.policy.check(ctx, f"get_{self.r.singular}", target)

    def _drops(self, ctx: Context) -> list[str] | None:
        """Attributes this caller may not read, when that does not depend on
        the item (the usual case); None means check item by item."""
        drops = []
        for name, rule in self.hidden_rules:
            if self.policy.rules[rule].uses_target:
                return None
            if not self.policy.check(ctx, rule, {}):
                drops.append(name)
        return drops

    def _shape(self, ctx: Context, item: dict, fields: list[str],
               drops: list[str] | None = None) -> dict:
        """A new dict: plugin views may be shared (cached) and stay untouched."""
        if drops is None:
            drops = [name for name, rule in self.hidden_rules
                     if name in item and not self.policy.check(ctx, rule, item)]
        if not drops and not fields:
            return item
        return {k: v for k, v in item.items()
                if k not in drops and (not fields or k in fields)}

    def list(self, ctx: Context, params: list[tuple[str, str]], url: str) -> dict:
        query = parse(self.r, params, self.max_limit, self.max_filter_values)
        self._drop_hidden_keys(ctx, query)
        items = self.plugin.list(ctx, query)
        drops = self._drops(ctx)
        out = [self._shape(ctx, i, query.fields, drops) for i in items if self._visible(ctx, i)]
        body = {self.r.collection.replace("-", "_"): out}
        if query.limit:
            links = self._links(query, items, params, url)
            if links:
                body[self.r.collection.replace("-", "_") + "_links"] = links
        return body

    def _drop_hidden_keys(self, ctx: Context, query: Query) -> None:
        """Filtering or sorting on an attribute the caller may not read
        (provider:segmentation_id, binding:host_id) would tell which items
        hold which value: such filters and sort keys are dropped, as if not
        given (a deviation: upstream applies them, and tempest's
        test_list_network_filter_provider_attributes sends them as a member,
        so they must not be refused)."""
        hidden = {name for name, rule in self.hidden_rules
                  if not self.policy.check(ctx, rule, {})}
        if not hidden:
            return
        for key in hidden & set(query.filters):
            del query.filters[key]
        query.sorts = [(key, asc) for key, asc in query.sorts if key not in hidden]

    def _links(self, query: Query, items: list[dict], params, url) -> list[dict]:
        """next/previous as upstream: onwards while a page came back full,
        back whenever the request came with a marker."""
        base = [(k, v) for k, v in params if k not in ("marker", "page_reverse")]
        links = []
        if items and len(items) >= query.limit:
            marker = items[0]["id"] if query.page_reverse else items[-1]["id"]
            qs = base + [("marker", marker)] + ([("page_reverse", "True")]
                                                if query.page_reverse else [])
            links.append({"rel": "previous" if query.page_reverse else "next",
                          "href": f"{url}?{urlencode(qs)}"})
        if query.marker:
            # Past the end there is no item to start from: the way back is the
            # last page of the collection, as upstream (no marker).
            marker = [("marker", items[-1]["id"] if query.page_reverse else items[0]["id"])
                      ] if items else []
            qs = base + marker + ([] if query.page_reverse else [("page_reverse", "True")])
            links.append({"rel": "next" if query.page_reverse else "previous",
                          "href": f"{url}?{urlencode(qs)}"})
        return links

    def show(self, ctx: Context, resource_id: str, params: list[tuple[str, str]]) -> dict:
        fields = [v for k, v in params if k == "fields"]
        item = self.plugin.get(ctx, resource_id)
        if not self._visible(ctx, item):
            # Found, but the get rule says no: upstream pretends it does not exist.
            raise faults.HTTPNotFound()
        return {self.r.singular: self._shape(ctx, item, fields)}

    def _nf_kwargs(self, resource_id: str) -> dict:
        key = {"NetworkNotFound": "net_id", "SubnetNotFound": "subnet_id",
               "PortNotFound": "port_id"}.get(self.r.not_found, "id")
        return {key: resource_id}

    # --- writing -----------------------------------------------------------------
    def create(self, ctx: Context, body: Any) -> dict:
        items, bulk = self._items(body)
        prepared = [self.prepare_create(i) for i in items]
        action = f"create_{self.r.singular}"
        inline = not bulk and getattr(self.plugin, "authorizes_inline", False)
        for raw, item in zip(items, prepared):
            if self.r.has_owner:
                _check_owner(ctx, item)  # 400 before policy (403), as upstream
            owner = item.get("project_id") or item.get("tenant_id") or ctx.project_id
            target = {**item, "project_id": owner, "tenant_id": owner}
            # On create, an attribute given with its default value is not
            # "explicitly set" (neutron.policy._is_attribute_explicitly_set).
            given = {k: v for k, v in raw.items() if not self._is_default(k, item.get(k))}
            attrs = self._policy_attrs(action, given)
            if inline:
                # The plugin calls this inside its transaction, with the
                # parent network it reads anyway: no transaction of its own.
                def authorize(extra: dict, target=target, attrs=attrs) -> None:
                    self.policy.enforce(ctx, action, {**target, **extra}, attrs)
                return {self.r.singular: self._shape(
                    ctx, self.plugin.create(ctx, prepared[0], authorize=authorize), [])}
            if hasattr(self.plugin, "policy_target"):
                target.update(self.plugin.policy_target(ctx, item))
            self.policy.enforce(ctx, action, target, attrs)
        create_bulk = getattr(self.plugin, "create_bulk", None) if bulk else None
        if create_bulk is not None:
            # every item's own checks, then one transaction: an invalid item
            # leaves no trace, not even on its siblings' parents
            shaped = [self._shape(ctx, c, []) for c in create_bulk(ctx, prepared)]
            return {self.r.collection.replace("-", "_"): shaped}
        created = []
        try:
            for item in prepared:
                created.append(self.plugin.create(ctx, item))
        except Exception:
            for done in created:  # bulk is all or nothing
                try:
                    self.plugin.delete(ctx, done["id"])
                except faults.NeutronError:
                    pass
            raise
        shaped = [self._shape(ctx, c, []) for c in created]
        if bulk:
            return {self.r.collection.replace("-", "_"): shaped}
        return {self.r.singular: shaped[0]}

    def update(self, ctx: Context, resource_id: str, body: Any,
               if_match: str | None = None) -> dict:
        if not isinstance(body, dict) or self.r.singular not in body or not isinstance(
                body[self.r.singular], dict):
            if isinstance(body, dict) and self.r.singular not in body:
                raise faults.HTTPBadRequest(
                    f"Unable to find '{self.r.singular}' in request body")
            raise faults.HTTPBadRequest("Body contains invalid data")
        raw = body[self.r.singular]
        changes = self.prepare_update(raw)
        action = f"update_{self.r.singular}"
        if getattr(self.plugin, "authorizes_inline", False):
            def authorize(original: dict, extra: dict) -> None:
                # Called by the plugin inside its transaction, once it has
                # read the item and its network (`extra`): one transaction.
                _check_revision(if_match, original)
                self._enforce(ctx, action, {**original, **changes, **extra},
                              self._policy_attrs(action, raw), original,
                              {**original, **extra})
            updated = self.plugin.update(ctx, resource_id, changes, authorize=authorize)
            return {self.r.singular: self._shape(ctx, updated, [])}
        original = self.plugin.get(ctx, resource_id)
        _check_revision(if_match, original)
        action = f"update_{self.r.singular}"
        target = {**original, **changes}
        if hasattr(self.plugin, "target_of"):
            target.update(self.plugin.target_of(ctx, original))
        self._enforce(ctx, action, target, self._policy_attrs(action, raw), original)
        updated = self.plugin.update(ctx, resource_id, changes)
        return {self.r.singular: self._shape(ctx, updated, [])}

    def delete(self, ctx: Context, resource_id: str) -> None:
        if getattr(self.plugin, "authorizes_inline", False):
            action = f"delete_{self.r.singular}"

            def authorize(original: dict, extra: dict) -> None:
                target = {**original, **extra}
                self._enforce(ctx, action, target, (), original, target)
            self.plugin.delete(ctx, resource_id, authorize=authorize)
            return
        original = self.plugin.get(ctx, resource_id)
        target = dict(original)
        if hasattr(self.plugin, "target_of"):
            target.update(self.plugin.target_of(ctx, original))
        self._enforce(ctx, f"delete_{self.r.singular}", target, (), original)
        self.plugin.delete(ctx, resource_id)

    def authorize_tags(self, ctx: Context, resource_id: str) -> dict:
        original = self.plugin.get(ctx, resource_id)
        target = dict(original)
        if hasattr(self.plugin, "target_of"):
            target.update(self.plugin.target_of(ctx, original))
        self._enforce(ctx, f"update_{self.r.singular}", target, (), original)
        return original

    def _enforce(self, ctx: Context, action: str, target: dict, attrs: tuple[str, ...],
                 item: dict, read_target: dict | None = None) -> None:
        """Upstream's update/delete authorization: a caller who may not even
        read the item gets 404, one who may read but not change it 403."""
        try:
            self.policy.enforce(ctx, action, target, attrs)
        except faults.PolicyNotAuthorized:
            if not self._visible(ctx, item, read_target):
                raise faults.HTTPNotFound() from None
            raise
