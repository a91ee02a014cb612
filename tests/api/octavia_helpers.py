"""Helpers of the Octavia API tests: a Loadbalancer agent registered in the
database, and its reports driven through the server's own handler
(neutrino.rpc.lbaas_handlers: the code a real agent's casts reach), so
objects go PENDING_* -> ACTIVE exactly as they do in production."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from neutrino.db import models
from neutrino.rpc.lbaas_handlers import LB_AGENT_TYPE, LbaasRpc
from tests.api.helpers import Persona, expect, rand

LB = "/v2/lbaas"


def fault(resp, status: int, contains: str | None = None) -> str:
    """Octavia's error body: {"faultcode", "faultstring", "debuginfo"}."""
    assert resp.status_code == status, f"HTTP {resp.status_code} (want {status}): {resp.text}"
    body = resp.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}, body
    assert body["faultcode"] == ("Client" if status < 500 or status == 501 else "Server"), body
    assert body["debuginfo"] is None, body
    if contains is not None:
        assert contains in body["faultstring"], body
    return body["faultstring"]


class Octavia:
    def __init__(self, api):
        self.api = api
        self.rpc = LbaasRpc(api.core)
        self.host = rand("lbhost")
        self.heartbeat()

    def heartbeat(self) -> None:
        """Keep this test's agent alive (and the L2 agent of its host)."""
        for agent_type, binary in ((LB_AGENT_TYPE, "neutrino-lb-agent"),
                                   ("Linux bridge agent", "neutrino-linuxbridge-agent")):
            self.api.agents.report_state({
                "agent_type": agent_type, "host": self.host, "binary": binary,
                "topic": "N/A", "configurations": {"tunnel_types": ["vxlan"]}})

    def hosts(self) -> list[str]:
        a = models.agents
        return self.api.core.db.read(lambda conn: [h for (h,) in conn.execute(
            select(a.c.host).where(a.c.agent_type == LB_AGENT_TYPE))])

    def state(self, host: str | None = None) -> list[dict]:
        return self.rpc.get_loadbalancers(host or self.host)["loadbalancers"]

    def ack(self, outcome: str = "ACTIVE", only: str | None = None, **extra: Any) -> None:
        """Every agent applies what it is given and reports it: the version
        it applied, ACTIVE (or `outcome`), DELETED for what it tore down."""
        for host in self.hosts():
            reports = {}
            for lb in self.state(host):
                if only and lb["id"] != only:
                    continue
                reports[lb["id"]] = {
                    "version": lb["version"], "reason": None,
                    "provisioning_status": "DELETED" if lb["deleted"] else outcome,
                    "operating_status": "ONLINE", **extra}
            if reports:
                self.rpc.update_loadbalancer_statuses(host, reports)

    # --- making things (asserting success), each acknowledged ----------------------
    def network(self, who: Persona, cidr: str = "10.10.0.0/24") -> tuple[dict, dict]:
        return who.net_with_subnet(cidr)

    def post(self, who: Persona, collection: str, wrapper: str, ack: bool = True,
             **attrs) -> dict:
        self.heartbeat()
        body = expect(who.post(f"{LB}/{collection}", {wrapper: attrs}), 201)[wrapper]
        if ack:
            self.ack()
        return body

    def lb(self, who: Persona, subnet_id: str, **attrs) -> dict:
        attrs.setdefault("name", rand("lb"))
        return self.post(who, "loadbalancers", "loadbalancer", vip_subnet_id=subnet_id, **attrs)

    def listener(self, who: Persona, lb_id: str, port: int = 80, protocol: str = "HTTP",
                 **attrs) -> dict:
        return self.post(who, "listeners", "listener", loadbalancer_id=lb_id,
                         protocol=protocol, protocol_port=port, **attrs)

    def pool(self, who: Persona, listener_id: str | None = None, lb_id: str | None = None,
             **attrs) -> dict:
        attrs.setdefault("protocol", "HTTP")
        attrs.setdefault("lb_algorithm", "ROUND_ROBIN")
        if listener_id:
            attrs["listener_id"] = listener_id
        if lb_id:
            attrs["loadbalancer_id"] = lb_id
        return self.post(who, "pools", "pool", **attrs)

    def member(self, who: Persona, pool_id: str, address: str, port: int = 80,
               **attrs) -> dict:
        return self.post(who, f"pools/{pool_id}/members", "member", address=address,
                         protocol_port=port, **attrs)

    def show(self, who: Persona, path: str, key: str, status: int = 200) -> dict:
        resp = who.get(f"{LB}/{path}")
        if status != 200:
            fault(resp, status)
            return {}
        return expect(resp, 200)[key]

    def tree(self, who: Persona) -> dict:
        """A load balancer with an HTTP listener, a pool with two members
        and a health monitor, an L7 policy with a rule: all ACTIVE."""
        net, sub = who.net_with_subnet("10.20.0.0/24")
        lb = self.lb(who, sub["id"])
        lis = self.listener(who, lb["id"])
        pool = self.pool(who, lis["id"])
        members = [self.member(who, pool["id"], f"10.20.0.{n}", subnet_id=sub["id"])
                   for n in (11, 12)]
        hm = self.post(who, "healthmonitors", "healthmonitor", pool_id=pool["id"],
                       type="HTTP", delay=2, timeout=1, max_retries=2, url_path="/health")
        pol = self.post(who, "l7policies", "l7policy", listener_id=lis["id"],
                        action="REDIRECT_TO_URL", redirect_url="http://example.com/x")
        rule = self.post(who, f"l7policies/{pol['id']}/rules", "rule", type="PATH",
                         compare_type="STARTS_WITH", value="/old")
        return {"net": net, "subnet": sub, "lb": lb, "listener": lis, "pool": pool,
                "members": members, "hm": hm, "l7policy": pol, "rule": rule}
