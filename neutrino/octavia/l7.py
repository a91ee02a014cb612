"""/v2/lbaas/l7policies and /v2/lbaas/l7policies/{id}/rules."""
from __future__ import annotations

import re
from urllib.parse import urlparse

from sqlalchemy import func, insert, select, update

from neutrino.db import lbaas_models as m
from neutrino.octavia import faults, store
from neutrino.octavia.listeners import check_pool_protocol
from neutrino.octavia.schema import PROJECT, Field, common, parse, parse_object
from neutrino.octavia.service import Service

PT, RT = m.l7policies, m.l7rules
ACTIONS = ("REDIRECT_TO_POOL", "REDIRECT_TO_URL", "REDIRECT_PREFIX", "REJECT")
HTTP_CODES = (301, 302, 303, 307, 308)
MAX_POSITION = 2147483647
RULE_TYPES = ("HOST_NAME", "PATH", "FILE_TYPE", "HEADER", "COOKIE", "SSL_CONN_HAS_CERT",
              "SSL_VERIFY_RESULT", "SSL_DN_FIELD")
COMPARE = ("REGEX", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO")
MAX_RULES = 50
POLICY_FIELDS = (*common(), PROJECT,
                 Field("listener_id", "uuid", mandatory=True, put=False),
                 Field("action", "enum", mandatory=True, choices=ACTIONS),
                 Field("redirect_pool_id", "uuid"), Field("redirect_url", "str", max_length=255),
                 Field("redirect_prefix", "str", max_length=255),
                 Field("redirect_http_code", "int"),
                 Field("position", "int", MAX_POSITION, lo=1, hi=MAX_POSITION),
                 Field("rules", "list", post=True, put=False))
RULE_FIELDS = (Field("admin_state_up", "bool", True), Field("tags", "tags", []), PROJECT,
               Field("type", "enum", mandatory=True, choices=RULE_TYPES),
               Field("compare_type", "enum", mandatory=True, choices=COMPARE),
               Field("key", "str", max_length=255),
               Field("value", "str", mandatory=True, max_length=255),
               Field("invert", "bool", False))


def policy_view(row: dict, rules: list[str]) -> dict:
    out = store.base_view(row)
    out.update({k: row[k] for k in ("name", "description", "action", "listener_id",
                                    "redirect_pool_id", "redirect_url", "redirect_prefix",
                                    "position", "redirect_http_code")})
    out["rules"] = [{"id": i} for i in rules]
    return out


def policy_views(conn, rows: list[dict]) -> list[dict]:
    ids = [r["id"] for r in rows]
    rules: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for rid, pid in conn.execute(select(RT.c.id, RT.c.l7policy_id)
                                     .where(RT.c.l7policy_id.in_(ids))
                                     .order_by(RT.c.created_at, RT.c.id)):
            rules[pid].append(rid)
    return [policy_view(r, rules[r["id"]]) for r in rows]


def rule_view(row: dict) -> dict:
    out = store.base_view(row)
    out.update({k: row[k] for k in ("type", "compare_type", "key", "value", "invert")})
    return out


def _valid_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and " " not in url


def check_policy(data: dict) -> dict:
    """Octavia's validate.l7policy_data: the redirect argument the action
    needs, the others cleared."""
    action = data["action"]
    need = {"REDIRECT_TO_POOL": "redirect_pool_id", "REDIRECT_TO_URL": "redirect_url",
            "REDIRECT_PREFIX": "redirect_prefix"}.get(action)
    if need and not data.get(need):
        raise faults.InvalidL7PolicyArgs(msg=f"{need} must not be None")
    for key in ("redirect_url", "redirect_prefix"):
        if key == need and not _valid_url(data[key]):
            raise faults.BadRequest(f"Not a valid URL: {data[key]}")
    for key in ("redirect_pool_id", "redirect_url", "redirect_prefix"):
        if key != need:
            data[key] = None
    if action in ("REDIRECT_TO_URL", "REDIRECT_PREFIX"):
        code = data.get("redirect_http_code") or 302
        if code not in HTTP_CODES:
            raise faults.InvalidInput(field="redirect_http_code", value=code,
                                      reason="Value should be one of: "
                                             + ", ".join(map(str, HTTP_CODES)))
        data["redirect_http_code"] = code
    else:
        data["redirect_http_code"] = None
    return data


def check_rule(data: dict) -> None:
    """Octavia's validate.l7rule_data, for the rule types haproxy serves."""
    rtype, compare, key, value = (data["type"], data["compare_type"], data.get("key"),
                                  data["value"])

    def bad(msg):
        raise faults.L7RuleValidation(error=f"Invalid L7 Rule: {msg}")
    if rtype.startswith("SSL_"):
        raise faults.DisabledOption(option="type", value=rtype)
    if not value:
        bad("L7 rule type requires a value")
    if rtype in ("HEADER", "COOKIE"):
        if not key:
            bad("L7 rule type requires a key")
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", key):
            bad("Invalid characters in key")
    if rtype == "FILE_TYPE" and compare not in ("REGEX", "EQUAL_TO"):
        bad("invalid comparison type for file type rule")
    if compare == "REGEX":
        try:
            re.compile(value)
        except re.error as exc:
            bad(f"Unable to parse regular expression: {exc}")
    elif any(c.isspace() for c in value) and rtype != "HEADER":
        bad("Invalid characters in value")
    if rtype in ("HOST_NAME", "PATH", "FILE_TYPE"):
        data["key"] = None


def _renumber(conn, listener_id: str, moved: str | None = None, position: int | None = None):
    """Positions 1..n in order, the moved policy placed at `position`."""
    ids = [r[0] for r in conn.execute(
        select(PT.c.id).where(PT.c.listener_id == listener_id,
                              PT.c.provisioning_status != store.PENDING_DELETE)
        .order_by(PT.c.position, PT.c.created_at))]
    if moved is not None:
        ids = [i for i in ids if i != moved]
        ids.insert(min(position or MAX_POSITION, len(ids) + 1) - 1, moved)
    for index, pid in enumerate(ids, start=1):
        conn.execute(update(PT).where(PT.c.id == pid, PT.c.position != index)
                     .values(position=index))


class L7Policies:
    def __init__(self, svc: Service, quotas):
        self.svc = svc
        self.quotas = quotas

    def list(self, ctx) -> list[dict]:
        scope = self.svc.list_scope(ctx, "l7policy")

        def txn(conn):
            stmt = select(PT)
            if scope is not None:
                stmt = stmt.where(PT.c.project_id == scope)
            return policy_views(conn, [dict(r) for r in conn.execute(stmt).mappings()])
        return self.svc.read(txn)

    def get(self, ctx, obj_id: str) -> dict:
        self.svc.fetch(ctx, store.L7POLICY, obj_id)
        return self.svc.read(lambda conn: policy_views(conn, [store.get_row(
            conn, store.L7POLICY, obj_id)])[0])

    def _check_pool(self, conn, listener: dict, pool_id: str | None) -> None:
        if not pool_id:
            return
        pool = conn.execute(select(m.pools).where(m.pools.c.id == pool_id)).mappings().first()
        if pool is None or pool["loadbalancer_id"] != listener["loadbalancer_id"]:
            raise faults.NotFound(resource="Pool", id=pool_id)
        check_pool_protocol(listener["protocol"], pool["protocol"])

    def create(self, ctx, body: dict) -> dict:
        data = parse("l7policy", body, POLICY_FIELDS, create=True)
        rules = [parse_object("rule", r if isinstance(r, dict) else {}, RULE_FIELDS, True)
                 for r in data.get("rules") or []]     # created with it, as Octavia
        listener = self.svc.read(lambda conn: store.get_row(conn, store.LISTENER,
                                                            data["listener_id"]))
        self.svc.authorize(ctx, "l7policy", "post", listener["project_id"])
        for rule in rules:
            check_rule(rule)
        if len(rules) > MAX_RULES:
            raise faults.Conflict("Too many rules on L7 policy")
        data = check_policy(data)
        if listener["protocol"] in ("UDP", "SCTP", "PROMETHEUS"):
            raise faults.ListenerNoChildren(protocol=listener["protocol"])
        obj_id = store.new_id()

        def txn(conn):
            lb = store.lock_lb(conn, listener["loadbalancer_id"])
            store.check_mutable(lb)
            self.quotas.check(conn, lb["project_id"], "l7policy")
            self._check_pool(conn, listener, data.get("redirect_pool_id"))
            conn.execute(insert(PT).values(
                id=obj_id, loadbalancer_id=lb["id"], listener_id=listener["id"],
                **store.common_values(lb["project_id"], data), action=data["action"],
                position=MAX_POSITION, redirect_pool_id=data["redirect_pool_id"],
                redirect_url=data["redirect_url"], redirect_prefix=data["redirect_prefix"],
                redirect_http_code=data["redirect_http_code"]))
            _renumber(conn, listener["id"], obj_id, data["position"])
            if rules:
                self.quotas.check(conn, lb["project_id"], "l7rule", delta=len(rules))
            for rule in rules:
                conn.execute(insert(RT).values(
                    id=store.new_id(), loadbalancer_id=lb["id"], l7policy_id=obj_id,
                    **store.common_values(lb["project_id"], rule), type=rule["type"],
                    compare_type=rule["compare_type"], key=rule.get("key"),
                    value=rule["value"], invert=rule["invert"]))
            store.begin_change(conn, lb, (store.LISTENER, listener["id"]))
            return policy_views(conn, [store.get_row(conn, store.L7POLICY, obj_id)])[0]
        result = self.svc.write(txn)
        self.svc.notify(listener["loadbalancer_id"])
        return result

    def update(self, ctx, obj_id: str, body: dict) -> dict:
        data = parse("l7policy", body, POLICY_FIELDS, create=False)
        row = self.svc.fetch(ctx, store.L7POLICY, obj_id, "put")
        merged = {k: row[k] for k in ("action", "redirect_pool_id", "redirect_url",
                                      "redirect_prefix", "redirect_http_code")}
        merged.update({k: v for k, v in data.items() if k in merged})
        if merged["action"] is None:
            raise faults.InvalidOption(value="None", option="action")
        if "redirect_http_code" not in data and "action" in data:
            merged["redirect_http_code"] = None
        merged = check_policy(merged)

        def txn(conn):
            lb = store.lock_lb(conn, row["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.L7POLICY, store.get_row(conn, store.L7POLICY,
                                                                     obj_id))
            listener = store.get_row(conn, store.LISTENER, row["listener_id"])
            self._check_pool(conn, listener, merged["redirect_pool_id"])
            values = store.update_values(data, ("name", "description", "admin_state_up",
                                                "tags"))
            values.update(merged)
            conn.execute(update(PT).where(PT.c.id == obj_id).values(**values))
            if data.get("position") is not None:
                _renumber(conn, row["listener_id"], obj_id, data["position"])
            store.begin_change(conn, lb, (store.LISTENER, row["listener_id"]))
            return policy_views(conn, [store.get_row(conn, store.L7POLICY, obj_id)])[0]
        result = self.svc.write(txn)
        self.svc.notify(row["loadbalancer_id"])
        return result

    def delete(self, ctx, obj_id: str) -> None:
        row = self.svc.fetch(ctx, store.L7POLICY, obj_id, "delete")

        def txn(conn):
            lb = store.lock_lb(conn, row["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.L7POLICY, store.get_row(conn, store.L7POLICY,
                                                                     obj_id))
            ts = store.now()
            conn.execute(update(RT).where(RT.c.l7policy_id == obj_id).values(
                provisioning_status=store.PENDING_DELETE, updated_at=ts))
            conn.execute(update(PT).where(PT.c.id == obj_id).values(
                provisioning_status=store.PENDING_DELETE, updated_at=ts))
            _renumber(conn, row["listener_id"])
            store.begin_change(conn, lb, (store.LISTENER, row["listener_id"]))
        self.svc.write(txn)
        self.svc.notify(row["loadbalancer_id"])


class L7Rules:
    def __init__(self, svc: Service, quotas):
        self.svc = svc
        self.quotas = quotas

    def _policy(self, policy_id: str) -> dict:
        return self.svc.read(lambda conn: store.get_row(conn, store.L7POLICY, policy_id))

    def _rule(self, conn, policy_id: str, obj_id: str) -> dict:
        row = store.get_row(conn, store.L7RULE, obj_id)
        if row["l7policy_id"] != policy_id:
            raise faults.NotFound(resource="L7 Rule", id=obj_id)
        return row

    def list(self, ctx, policy_id: str) -> list[dict]:
        pol = self._policy(policy_id)
        self.svc.authorize(ctx, "l7rule", "get_all", pol["project_id"])
        return self.svc.read(lambda conn: [rule_view(dict(r)) for r in conn.execute(
            select(RT).where(RT.c.l7policy_id == policy_id)).mappings()])

    def get(self, ctx, policy_id: str, obj_id: str) -> dict:
        pol = self._policy(policy_id)
        row = self.svc.read(lambda conn: self._rule(conn, policy_id, obj_id))
        self.svc.authorize(ctx, "l7rule", "get_one", pol["project_id"])
        return rule_view(row)

    def create(self, ctx, policy_id: str, body: dict) -> dict:
        data = parse("rule", body, RULE_FIELDS, create=True)
        pol = self._policy(policy_id)
        self.svc.authorize(ctx, "l7rule", "post", pol["project_id"])
        check_rule(data)
        obj_id = store.new_id()

        def txn(conn):
            lb = store.lock_lb(conn, pol["loadbalancer_id"])
            store.check_mutable(lb)
            current = store.get_row(conn, store.L7POLICY, policy_id)
            if current["provisioning_status"] == store.PENDING_DELETE:
                raise faults.Immutable(resource="L7Policy", id=policy_id)
            if conn.execute(select(func.count()).select_from(RT).where(
                    RT.c.l7policy_id == policy_id)).scalar() >= MAX_RULES:
                raise faults.Conflict(f"Too many rules on L7 policy {policy_id}")
            self.quotas.check(conn, lb["project_id"], "l7rule")
            conn.execute(insert(RT).values(
                id=obj_id, loadbalancer_id=lb["id"], l7policy_id=policy_id,
                **store.common_values(lb["project_id"], data), type=data["type"],
                compare_type=data["compare_type"], key=data.get("key"), value=data["value"],
                invert=data["invert"]))
            store.begin_change(conn, lb, (store.L7POLICY, policy_id),
                               (store.LISTENER, pol["listener_id"]))
            return rule_view(store.get_row(conn, store.L7RULE, obj_id))
        result = self.svc.write(txn)
        self.svc.notify(pol["loadbalancer_id"])
        return result

    def update(self, ctx, policy_id: str, obj_id: str, body: dict) -> dict:
        data = parse("rule", body, RULE_FIELDS, create=False)
        pol = self._policy(policy_id)
        row = self.svc.read(lambda conn: self._rule(conn, policy_id, obj_id))
        self.svc.authorize(ctx, "l7rule", "put", pol["project_id"])
        merged = {k: row[k] for k in ("type", "compare_type", "key", "value")}
        merged.update({k: v for k, v in data.items() if k in merged})
        for key in ("type", "compare_type", "value"):
            if merged[key] is None:
                raise faults.InvalidOption(value="None", option=key)
        check_rule(merged)

        def txn(conn):
            lb = store.lock_lb(conn, pol["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.L7RULE, self._rule(conn, policy_id, obj_id))
            values = store.update_values(data, ("admin_state_up", "tags", "invert"))
            values.update(merged)
            if values.get("invert") is None and "invert" in values:
                values["invert"] = False
            conn.execute(update(RT).where(RT.c.id == obj_id).values(**values))
            store.begin_change(conn, lb, (store.L7POLICY, policy_id),
                               (store.LISTENER, pol["listener_id"]))
            return rule_view(store.get_row(conn, store.L7RULE, obj_id))
        result = self.svc.write(txn)
        self.svc.notify(pol["loadbalancer_id"])
        return result

    def delete(self, ctx, policy_id: str, obj_id: str) -> None:
        pol = self._policy(policy_id)
        self.svc.read(lambda conn: self._rule(conn, policy_id, obj_id))
        self.svc.authorize(ctx, "l7rule", "delete", pol["project_id"])

        def txn(conn):
            lb = store.lock_lb(conn, pol["loadbalancer_id"])
            store.check_mutable(lb)
            store.check_object_mutable(store.L7RULE, self._rule(conn, policy_id, obj_id))
            conn.execute(update(RT).where(RT.c.id == obj_id).values(
                provisioning_status=store.PENDING_DELETE, updated_at=store.now()))
            store.begin_change(conn, lb, (store.L7POLICY, policy_id),
                               (store.LISTENER, pol["listener_id"]))
        self.svc.write(txn)
        self.svc.notify(pol["loadbalancer_id"])
