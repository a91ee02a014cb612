"""A fully populated load balancer in one call (Octavia's "single-call
create"): `listeners` with their `default_pool` (members, health monitor)
and `l7policies` (rules, `redirect_pool`), and `pools`, validated first and
then written in the load balancer's own transaction, all PENDING_CREATE.

As Octavia, a `default_pool` or `redirect_pool` that gives only a `name`
refers to a pool of the load balancer's `pools` list by that name."""
from __future__ import annotations

from sqlalchemy import insert

from neutrino.db import lbaas_models as m
from neutrino.octavia import faults, healthmonitors, l7, listeners, members, pools, store
from neutrino.octavia.schema import Field, parse_object


def _without(fields, *names) -> tuple[Field, ...]:
    return tuple(f for f in fields if f.name not in names)


LISTENER_FIELDS = _without(listeners.FIELDS, "loadbalancer_id") + (
    Field("default_pool", "object"), Field("l7policies", "list"))
POOL_FIELDS = _without(pools.FIELDS, "listener_id", "loadbalancer_id") + (
    Field("healthmonitor", "object"), Field("members", "list"))
HM_FIELDS = _without(healthmonitors.FIELDS, "pool_id")
POLICY_FIELDS = _without(l7.POLICY_FIELDS, "listener_id") + (Field("redirect_pool", "object"),)


def _objects(value, what: str) -> list[dict]:
    items = value or []
    if not all(isinstance(i, dict) for i in items):
        raise faults.InvalidInput(field=what, value=items, reason="Value should be a list of "
                                                                  "objects")
    return items


class Graph:
    """The parsed and checked tree of one load balancer create body."""

    def __init__(self, body: dict):
        self.pools: list[dict] = [self._pool(p) for p in _objects(body.get("pools"), "pools")]
        self.by_name = {p["name"]: p for p in self.pools if p.get("name")}
        self.listeners: list[dict] = []
        seen: set[tuple[str, int]] = set()
        for raw in _objects(body.get("listeners"), "listeners"):
            lis = parse_object("listener", raw, LISTENER_FIELDS, True)
            protocol = lis["protocol"]
            if protocol not in listeners.SUPPORTED:
                raise faults.DisabledOption(option="protocol", value=protocol)
            listeners._check_tls(lis)
            listeners._check_headers(protocol, lis.get("insert_headers"))
            key = (listeners.port_family(protocol), lis["protocol_port"])
            if key in seen:
                raise faults.DuplicateListener(protocol=protocol, port=lis["protocol_port"])
            seen.add(key)
            if lis.get("default_pool_id"):
                raise faults.Validation(detail="default_pool_id cannot be given when creating "
                                               "a load balancer: use default_pool.")
            lis["default_pool"] = self._ref(lis.get("default_pool"), protocol)
            lis["l7policies"] = [self._policy(p, protocol)
                                 for p in _objects(lis.get("l7policies"), "l7policies")]
            self.listeners.append(lis)

    def _pool(self, raw: dict) -> dict:
        pool = parse_object("pool", raw, POOL_FIELDS, True)
        pools._check_supported(pool)
        pool["session_persistence"] = pools.check_persistence(pool.get("session_persistence"))
        pool["members"] = [parse_object("member", m_, members.FIELDS, True)
                           for m_ in _objects(pool.get("members"), "members")]
        keys = [(x["address"], x["protocol_port"]) for x in pool["members"]]
        if len(set(keys)) != len(keys):
            address, port = next(k for k in keys if keys.count(k) > 1)
            raise faults.DuplicateMember(ip_address=address, port=port)
        hm = pool.get("healthmonitor")
        if hm is not None:
            hm = parse_object("healthmonitor", hm, HM_FIELDS, True)
            if hm["type"] not in healthmonitors.SUPPORTED:
                raise faults.DisabledOption(option="type", value=hm["type"])
            pool["healthmonitor"] = healthmonitors._normalize(hm["type"], hm, create=True)
        pool["id"] = store.new_id()
        return pool

    def _ref(self, raw: dict | None, protocol: str) -> dict | None:
        """A pool given in full, or by the name of one of `pools`."""
        if raw is None:
            return None
        if set(raw) == {"name"}:
            pool = self.by_name.get(raw["name"])
            if pool is None:
                raise faults.Validation(detail=f"Pool {raw['name']} is not defined in the "
                                               "load balancer's pools.")
        else:
            pool = self._pool(raw)
            self.pools.append(pool)
        listeners.check_pool_protocol(protocol, pool["protocol"])
        return pool

    def _policy(self, raw: dict, protocol: str) -> dict:
        pol = parse_object("l7policy", raw, POLICY_FIELDS, True)
        redirect = self._ref(pol.pop("redirect_pool", None), protocol)
        if redirect is not None:
            if pol.get("redirect_pool_id"):
                raise faults.Validation(detail="Cannot specify redirect_pool_id and "
                                               "redirect_pool.")
            pol["redirect_pool_id"] = redirect["id"]
        elif pol.get("redirect_pool_id"):
            raise faults.Validation(detail="redirect_pool_id cannot be given when creating a "
                                           "load balancer: use redirect_pool.")
        pol = l7.check_policy(pol)
        pol["rules"] = [parse_object("rule", r, l7.RULE_FIELDS, True)
                        for r in _objects(pol.get("rules"), "rules")]
        for rule in pol["rules"]:
            l7.check_rule(rule)
        return pol

    def counts(self) -> dict[str, int]:
        return {"listener": len(self.listeners), "pool": len(self.pools),
                "member": sum(len(p["members"]) for p in self.pools),
                "health_monitor": sum(1 for p in self.pools if p.get("healthmonitor")),
                "l7policy": sum(len(x["l7policies"]) for x in self.listeners),
                "l7rule": sum(len(p["rules"]) for x in self.listeners
                              for p in x["l7policies"])}

    def insert(self, conn, ctx, lb: dict, quotas) -> None:
        project = lb["project_id"]
        for resource, count in self.counts().items():
            if count:
                quotas.check(conn, project, resource, delta=count)
        for lis in self.listeners:
            listeners._check_cidrs(lb, lis.get("allowed_cidrs"))
        for pool in self.pools:
            conn.execute(insert(m.pools).values(
                id=pool["id"], loadbalancer_id=lb["id"], **store.common_values(project, pool),
                protocol=pool["protocol"], lb_algorithm=pool["lb_algorithm"],
                session_persistence=store.dumps(pool["session_persistence"])
                if pool["session_persistence"] else None))
            hm = pool.get("healthmonitor")
            for member in pool["members"]:
                members._check(conn, ctx, member)
                conn.execute(insert(m.members).values(
                    id=store.new_id(), **members._values(
                        {"id": pool["id"], "loadbalancer_id": lb["id"], "project_id": project},
                        member, store.OFFLINE if hm else store.NO_MONITOR)))
            if hm:
                conn.execute(insert(m.healthmonitors).values(
                    id=store.new_id(), loadbalancer_id=lb["id"], pool_id=pool["id"],
                    **store.common_values(project, hm), type=hm["type"],
                    **{k: hm.get(k) for k in healthmonitors.COLUMNS[3:]}))
        for lis in self.listeners:
            lis_id = store.new_id()
            pool = lis["default_pool"]
            conn.execute(insert(m.listeners).values(
                id=lis_id, loadbalancer_id=lb["id"], **store.common_values(project, lis),
                protocol=lis["protocol"], protocol_port=lis["protocol_port"],
                connection_limit=lis["connection_limit"],
                default_pool_id=pool["id"] if pool else None,
                insert_headers=store.dumps(lis.get("insert_headers") or {}),
                allowed_cidrs=store.dumps(lis.get("allowed_cidrs") or []),
                **{k: lis[k] for k in listeners._TIMEOUTS}))
            ordered = sorted(enumerate(lis["l7policies"]),
                             key=lambda ip: (ip[1]["position"], ip[0]))
            for position, (_, pol) in enumerate(ordered, start=1):
                pol_id = store.new_id()
                conn.execute(insert(m.l7policies).values(
                    id=pol_id, loadbalancer_id=lb["id"], listener_id=lis_id,
                    **store.common_values(project, pol), action=pol["action"],
                    position=position, redirect_pool_id=pol["redirect_pool_id"],
                    redirect_url=pol["redirect_url"], redirect_prefix=pol["redirect_prefix"],
                    redirect_http_code=pol["redirect_http_code"]))
                for rule in pol["rules"]:
                    conn.execute(insert(m.l7rules).values(
                        id=store.new_id(), loadbalancer_id=lb["id"], l7policy_id=pol_id,
                        **store.common_values(project, rule), type=rule["type"],
                        compare_type=rule["compare_type"], key=rule.get("key"),
                        value=rule["value"], invert=rule["invert"]))
