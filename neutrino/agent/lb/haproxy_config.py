"""haproxy.conf of one load balancer, rendered from its wire value. Pure.

One haproxy (master-worker) per load balancer serves all its listeners:
  * a frontend per listener, named by the listener's id, on VIP:port (mode
    http for HTTP listeners, tcp for TCP), with connection_limit as maxconn,
    the client/inspect timeouts, allowed_cidrs (tcp-request connection
    reject), insert_headers, and the L7 policies;
  * a backend per pool, named by the pool's id: balance, session
    persistence, the health monitor, a server per member named by its id.
L7 policies are applied strictly in position order, first match wins (as
Octavia documents): each matching policy either sets the variable
txn.l7pool (REDIRECT_TO_POOL), redirects or denies, and each is guarded by
"no earlier policy matched"; one use_backend then follows the variable.
Health monitors: HTTP/HTTPS send the method and path and expect the codes;
TCP and PING are a TCP connect check (haproxy has no ICMP check; Octavia's
amphorae run an external ping script instead).
"""
from __future__ import annotations

import re

from neutrino.agent.lb.model import Paths

ALGORITHMS = {"ROUND_ROBIN": "roundrobin", "LEAST_CONNECTIONS": "leastconn",
              "SOURCE_IP": "source"}
# listener and pool protocols -> haproxy mode (HTTPS: TLS passed through to
# the members; TERMINATED_HTTPS needs certificates, not offered)
MODES = {"HTTP": "http", "TCP": "tcp", "HTTPS": "tcp", "PROXY": "tcp", "PROXYV2": "tcp"}
SEND_PROXY = {"PROXY": " send-proxy", "PROXYV2": " send-proxy-v2"}
# Octavia's defaults (milliseconds) when a listener leaves a timeout unset.
TIMEOUT_DEFAULTS = {"timeout_client_data": 50000, "timeout_member_connect": 5000,
                    "timeout_member_data": 50000, "timeout_tcp_inspect": 0}
COMPARE = {"EQUAL_TO": "str", "STARTS_WITH": "beg", "ENDS_WITH": "end",
           "CONTAINS": "sub", "REGEX": "reg"}
L7_POOL_VAR = "txn.l7pool"


class Unsupported(ValueError):
    """Something the wire asks for that this driver cannot configure."""


def _quote(value: str) -> str:
    """An haproxy argument: double-quoted, with \\ and " escaped."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _truthy(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def expected_codes(codes: str | None) -> str:
    """Octavia's expected_codes ("200", "200,202", "200-204") as a regex for
    http-check expect rstatus."""
    alternatives = []
    for part in (codes or "200").split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (int(x) for x in part.split("-", 1))
            alternatives.extend(str(c) for c in range(lo, hi + 1))
        elif part:
            alternatives.append(str(int(part)))
    return "^(" + "|".join(alternatives) + ")$"


def _ms(listener: dict, key: str) -> int:
    value = listener.get(key)
    return TIMEOUT_DEFAULTS[key] if value is None else int(value)


def _rule_fetch(rule: dict) -> str:
    kind = rule["type"]
    key = rule.get("key")
    if kind == "PATH":
        return "path"
    if kind == "HOST_NAME":
        return "req.hdr(host),field(1,:)"
    if kind == "HEADER":
        return f"req.hdr({key})"
    if kind == "COOKIE":
        return f"req.cook({key})"
    if kind == "FILE_TYPE":
        return "path,field(-1,.)"
    raise Unsupported(f"L7 rule type {kind} is not supported")


def _rule_acl(rule: dict) -> str:
    compare = COMPARE.get(rule["compare_type"])
    if compare is None:
        raise Unsupported(f"L7 compare type {rule['compare_type']} is not supported")
    flags = " -i" if rule["type"] == "HOST_NAME" else ""
    return f"{_rule_fetch(rule)} -m {compare}{flags} {_quote(rule['value'])}"


def _acl_name(rule: dict) -> str:
    return "rule_" + re.sub(r"[^A-Za-z0-9_-]", "_", rule["id"])


def _l7_lines(listener: dict) -> list[str]:
    lines: list[str] = []
    policies = sorted((p for p in listener.get("l7policies") or ()
                       if p.get("admin_state_up", True)),
                      key=lambda p: (p.get("position") or 0, p["id"]))
    if not policies:
        return lines
    acls, actions = [], []
    unmatched = f"!{{ var({L7_POOL_VAR}) -m found }}"
    for policy in policies:
        rules = [r for r in policy.get("rules") or () if r.get("admin_state_up", True)]
        if not rules:
            continue           # a policy without (enabled) rules matches nothing
        cond = []
        for rule in sorted(rules, key=lambda r: r["id"]):
            acls.append(f"    acl {_acl_name(rule)} {_rule_acl(rule)}")
            cond.append(("!" if rule.get("invert") else "") + _acl_name(rule))
        guard = " ".join(cond) + " " + unmatched
        action = policy["action"]
        if action == "REDIRECT_TO_POOL" and policy.get("redirect_pool_id"):
            actions.append(f"    http-request set-var({L7_POOL_VAR}) "
                           f"str({policy['redirect_pool_id']}) if {guard}")
        elif action == "REJECT":
            actions.append(f"    http-request deny deny_status 403 if {guard}")
        elif action == "REDIRECT_TO_URL" and policy.get("redirect_url"):
            code = policy.get("redirect_http_code") or 302
            actions.append(f"    http-request redirect location "
                           f"{_quote(policy['redirect_url'])} code {code} if {guard}")
        elif action == "REDIRECT_PREFIX" and policy.get("redirect_prefix"):
            code = policy.get("redirect_http_code") or 302
            prefix = _quote(policy["redirect_prefix"].rstrip("/"))
            actions.append(f"    http-request redirect prefix {prefix} code {code} if {guard}")
    if not actions:
        return lines
    return acls + actions + [f"    use_backend %[var({L7_POOL_VAR})] "
                             f"if {{ var({L7_POOL_VAR}) -m found }}"]


def frontend(listener: dict, vip_address: str, pool_ids: set[str],
             lb_enabled: bool = True) -> list[str]:
    protocol = listener["protocol"]
    mode = MODES.get(protocol)
    if mode is None:
        raise Unsupported(f"listener protocol {protocol} is not supported")
    bind_host = f"[{vip_address}]" if ":" in vip_address else vip_address
    lines = [f"frontend {listener['id']}", f"    mode {mode}"]
    if not (lb_enabled and listener.get("admin_state_up", True)):
        lines.append("    disabled")
    limit = listener.get("connection_limit")
    if limit is not None and int(limit) >= 0:
        lines.append(f"    maxconn {int(limit)}")
    lines.append(f"    bind {bind_host}:{int(listener['protocol_port'])}")
    lines.append(f"    timeout client {_ms(listener, 'timeout_client_data')}ms")
    cidrs = [c for c in listener.get("allowed_cidrs") or () if c]
    if cidrs:
        lines.append("    acl allowed_cidr src " + " ".join(sorted(cidrs)))
        lines.append("    tcp-request connection reject unless allowed_cidr")
    inspect = _ms(listener, "timeout_tcp_inspect")
    if inspect > 0:
        lines.append(f"    tcp-request inspect-delay {inspect}ms")
    if mode == "http":
        lines.append("    option http-keep-alive")
        headers = listener.get("insert_headers") or {}
        if _truthy(headers.get("X-Forwarded-For")):
            lines.append("    option forwardfor")
        if _truthy(headers.get("X-Forwarded-Port")):
            lines.append("    http-request set-header X-Forwarded-Port %[dst_port]")
        if _truthy(headers.get("X-Forwarded-Proto")):
            lines.append("    http-request set-header X-Forwarded-Proto "
                         + ("https" if protocol == "TERMINATED_HTTPS" else "http"))
        lines.extend(_l7_lines(listener))
    default = listener.get("default_pool_id")
    if default and default in pool_ids:
        lines.append(f"    default_backend {default}")
    return lines


def _persistence(pool: dict, mode: str) -> list[str]:
    sp = pool.get("session_persistence") or None
    if not sp:
        return []
    kind = sp.get("type")
    if kind == "SOURCE_IP":
        table = "ipv6" if any(":" in (m.get("address") or "") for m in pool.get("members") or ()) \
            else "ip"
        return [f"    stick-table type {table} size 10k expire 30m", "    stick on src"]
    if kind == "HTTP_COOKIE" and mode == "http":
        return ["    cookie SRV insert indirect nocache"]
    if kind == "APP_COOKIE" and mode == "http" and sp.get("cookie_name"):
        name = sp["cookie_name"]
        return ["    stick-table type string len 64 size 10k expire 30m",
                f"    stick store-response res.cook({name})",
                f"    stick match req.cook({name})"]
    return []


def _monitor(pool: dict, mode: str) -> tuple[list[str], str]:
    """(backend lines, per-server check options); ("", "") without a monitor."""
    hm = pool.get("healthmonitor") or None
    if not hm or not hm.get("admin_state_up", True):
        return [], ""
    kind = hm["type"]
    lines = [f"    timeout check {int(hm['timeout'])}s"]
    extra = ""
    if kind in ("HTTP", "HTTPS"):
        method = hm.get("http_method") or "GET"
        path = hm.get("url_path") or "/"
        lines.append(f"    option httpchk {method} {path}")
        lines.append(f"    http-check expect rstatus {expected_codes(hm.get('expected_codes'))}")
        if kind == "HTTPS":
            extra = " check-ssl verify none"
    elif kind in ("TCP", "PING", "TLS-HELLO"):
        if kind == "TLS-HELLO":
            lines.append("    option ssl-hello-chk")
    else:
        raise Unsupported(f"health monitor type {kind} is not supported")
    fall = hm.get("max_retries_down") or 3
    rise = hm.get("max_retries") or 3
    return lines, f" check inter {int(hm['delay'])}s fall {int(fall)} rise {int(rise)}{extra}"


def backend(pool: dict, listener: dict | None = None) -> list[str]:
    """`listener`: the one whose traffic the pool takes (its member timeouts
    and its mode: a PROXY pool behind an HTTP listener is in http mode)."""
    protocol = pool["protocol"]
    mode = MODES.get(protocol)
    if mode is None:
        raise Unsupported(f"pool protocol {protocol} is not supported")
    if listener is not None and listener["protocol"] in MODES:
        mode = MODES[listener["protocol"]]
    timeouts = listener or {}
    algorithm = ALGORITHMS.get(pool["lb_algorithm"])
    if algorithm is None:
        raise Unsupported(f"lb_algorithm {pool['lb_algorithm']} is not supported")
    lines = [f"backend {pool['id']}", f"    mode {mode}"]
    if not pool.get("admin_state_up", True):
        lines.append("    disabled")
    lines.append(f"    balance {algorithm}")
    lines.append(f"    timeout connect {_ms(timeouts, 'timeout_member_connect')}ms")
    lines.append(f"    timeout server {_ms(timeouts, 'timeout_member_data')}ms")
    lines.extend(_persistence(pool, mode))
    check_lines, check = _monitor(pool, mode)
    lines.extend(check_lines)
    cookie = (pool.get("session_persistence") or {}).get("type") == "HTTP_COOKIE" \
        and mode == "http"
    for member in sorted(pool.get("members") or (), key=lambda m: m["id"]):
        address = member["address"]
        host = f"[{address}]" if ":" in address else address
        line = (f"    server {member['id']} {host}:{int(member['protocol_port'])} "
                f"weight {int(member.get('weight', 1) if member.get('weight') is not None else 1)}")
        if member.get("backup"):
            line += " backup"
        if check:
            line += check
            if member.get("monitor_address"):
                line += f" addr {member['monitor_address']}"
            if member.get("monitor_port"):
                line += f" port {int(member['monitor_port'])}"
        line += SEND_PROXY.get(protocol, "")
        if cookie:
            line += f" cookie {member['id']}"
        if not member.get("admin_state_up", True):
            line += " disabled"
        lines.append(line)
    return lines


def render(lb: dict, paths: Paths) -> str:
    """The whole haproxy.conf of load balancer `lb` (a wire value)."""
    listeners = sorted(lb.get("listeners") or (), key=lambda item: (int(item["protocol_port"]),
                                                                    item["id"]))
    pools = sorted(lb.get("pools") or (), key=lambda p: p["id"])
    pool_ids = {p["id"] for p in pools}
    # A pool's member timeouts and mode come from the listener that uses it
    # (by default, else through an L7 policy).
    listener_of: dict[str, dict] = {}
    for listener in listeners:
        if listener.get("default_pool_id"):
            listener_of.setdefault(listener["default_pool_id"], listener)
    for listener in listeners:
        for policy in listener.get("l7policies") or ():
            if policy.get("redirect_pool_id"):
                listener_of.setdefault(policy["redirect_pool_id"], listener)
    out = [
        f"# load balancer {lb['id']} (generated by neutrino-lb-agent; do not edit)",
        "global",
        # no global maxconn: haproxy derives it from the file descriptor limit
        f"    stats socket {paths.sock} mode 600 level admin expose-fd listeners",
        f"    server-state-file {paths.state}",
        "",
        "defaults",
        "    log global",
        "    retries 3",
        "    option redispatch",
        "    load-server-state-from-file global",
        "    timeout connect 5000ms",
        "    timeout client 50000ms",
        "    timeout server 50000ms",
        "    timeout http-request 10s",
        "",
    ]
    enabled = lb.get("admin_state_up", True)
    for listener in listeners:
        out.extend(frontend(listener, lb["vip"]["address"], pool_ids, enabled))
        out.append("")
    for pool in pools:
        out.extend(backend(pool, listener_of.get(pool["id"])))
        out.append("")
    return "\n".join(out)
