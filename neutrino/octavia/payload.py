"""get_loadbalancers(host): the desired state of every load balancer
scheduled to that host's agent (CONTRACTS.md, "Load balancing wire
contract"). Objects being deleted are left out (the agent removes what is
not listed); a load balancer being deleted is listed with "deleted": true.
A few queries per call whatever the number of load balancers."""
from __future__ import annotations

import ipaddress

from sqlalchemy import select

from neutrino.db import lbaas_models as m
from neutrino.db import models
from neutrino.octavia import scheduler, store
from neutrino.plugins import listing

LB = m.loadbalancers


def _rows(conn, table, lb_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {i: [] for i in lb_ids}
    for part in listing.chunks(lb_ids):
        for r in conn.execute(select(table).where(
                table.c.loadbalancer_id.in_(part),
                table.c.provisioning_status != store.PENDING_DELETE)
                .order_by(table.c.created_at, table.c.id)).mappings():
            out[r["loadbalancer_id"]].append(dict(r))
    return out


def _vips(conn, lbs: list[dict]) -> dict[str, dict]:
    p, s, n = models.ports, models.subnets, models.networks
    port_ids = [lb["vip_port_id"] for lb in lbs if lb["vip_port_id"]]
    out = {}
    for part in listing.chunks(port_ids):
        for r in conn.execute(select(p.c.id, p.c.mac_address, p.c.binding_host,
                                     s.c.id.label("subnet_id"),
                                     s.c.cidr, s.c.gateway_ip, n.c.id.label("network_id"),
                                     n.c.mtu)
                              .join(n, n.c.id == p.c.network_id)
                              .join(s, s.c.network_id == n.c.id)
                              .where(p.c.id.in_(part))):
            out[(r.id, r.subnet_id)] = r
    vips = {}
    for lb in lbs:
        r = out.get((lb["vip_port_id"], lb["vip_subnet_id"]))
        if r is None:
            continue
        net = ipaddress.ip_network(r.cidr)
        vips[lb["id"]] = {"address": lb["vip_address"], "port_id": r.id,
                          "mac_address": r.mac_address, "subnet_id": r.subnet_id,
                          "network_id": r.network_id, "cidr": r.cidr,
                          "gateway_ip": r.gateway_ip, "prefixlen": net.prefixlen,
                          "mtu": r.mtu, "ip_version": net.version,
                          "binding_host": r.binding_host}   # (taken out by the handler)
    return vips


def _listener(r: dict, policies: list[dict], rules: dict[str, list[dict]]) -> dict:
    return {"id": r["id"], "protocol": r["protocol"], "protocol_port": r["protocol_port"],
            "admin_state_up": r["admin_state_up"], "connection_limit": r["connection_limit"],
            "default_pool_id": r["default_pool_id"],
            "timeout_client_data": r["timeout_client_data"],
            "timeout_member_connect": r["timeout_member_connect"],
            "timeout_member_data": r["timeout_member_data"],
            "timeout_tcp_inspect": r["timeout_tcp_inspect"],
            "insert_headers": store.loads(r["insert_headers"], {}),
            "allowed_cidrs": store.loads(r["allowed_cidrs"], []),
            "l7policies": [{
                "id": p["id"], "position": p["position"], "action": p["action"],
                "redirect_pool_id": p["redirect_pool_id"], "redirect_url": p["redirect_url"],
                "redirect_prefix": p["redirect_prefix"],
                "redirect_http_code": p["redirect_http_code"],
                "admin_state_up": p["admin_state_up"],
                "rules": [{k: rule[k] for k in ("id", "type", "compare_type", "key", "value",
                                                "invert", "admin_state_up")}
                          for rule in rules.get(p["id"], [])]}
                for p in sorted(policies, key=lambda p: p["position"])]}


def _pool(r: dict, hm: dict | None, members: list[dict]) -> dict:
    return {"id": r["id"], "protocol": r["protocol"], "lb_algorithm": r["lb_algorithm"],
            "admin_state_up": r["admin_state_up"],
            "session_persistence": _persistence(r["session_persistence"]),
            "healthmonitor": None if hm is None else {
                k: hm[k] for k in ("id", "type", "delay", "timeout", "max_retries",
                                   "max_retries_down", "http_method", "url_path",
                                   "expected_codes", "admin_state_up")},
            "members": [{k: mem[k] for k in ("id", "address", "protocol_port", "weight",
                                             "backup", "admin_state_up", "monitor_address",
                                             "monitor_port", "subnet_id")}
                        for mem in members]}


def _persistence(text: str | None) -> dict | None:
    sp = store.loads(text)
    if not sp:
        return None
    return {"type": sp["type"], "cookie_name": sp.get("cookie_name")}


def loadbalancers_for(conn, host: str) -> dict:
    a, b = models.agents, scheduler.B
    lbs = [dict(r) for r in conn.execute(
        select(LB).join(b, b.c.loadbalancer_id == LB.c.id).join(a, a.c.id == b.c.agent_id)
        .where(a.c.host == host, a.c.agent_type == scheduler.LB_AGENT_TYPE)
        .order_by(LB.c.id)).mappings()]
    ids = [lb["id"] for lb in lbs]
    vips = _vips(conn, lbs)
    listeners, pools = _rows(conn, m.listeners, ids), _rows(conn, m.pools, ids)
    members, hms = _rows(conn, m.members, ids), _rows(conn, m.healthmonitors, ids)
    policies, rules = _rows(conn, m.l7policies, ids), _rows(conn, m.l7rules, ids)
    out = []
    for lb in lbs:
        lid = lb["id"]
        by_policy: dict[str, list[dict]] = {}
        for rule in rules[lid]:
            by_policy.setdefault(rule["l7policy_id"], []).append(rule)
        by_listener: dict[str, list[dict]] = {}
        for pol in policies[lid]:
            by_listener.setdefault(pol["listener_id"], []).append(pol)
        hm_of = {hm["pool_id"]: hm for hm in hms[lid]}
        members_of: dict[str, list[dict]] = {}
        for mem in members[lid]:
            members_of.setdefault(mem["pool_id"], []).append(mem)
        out.append({
            "id": lid, "admin_state_up": lb["admin_state_up"],
            "provisioning_status": lb["provisioning_status"],
            "deleted": lb["provisioning_status"] == store.PENDING_DELETE,
            "epoch": lb["epoch"], "version": str(lb["version"]),
            "vip": vips.get(lid),
            "listeners": [_listener(r, by_listener.get(r["id"], []), by_policy)
                          for r in listeners[lid]],
            "pools": [_pool(r, hm_of.get(r["id"]), members_of.get(r["id"], []))
                      for r in pools[lid]]})
    return {"loadbalancers": out}
