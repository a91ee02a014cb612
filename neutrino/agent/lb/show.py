"""`neutrino show loadbalancer <name-or-id>`: where a load balancer lives and
what its haproxy says now -- the qlbaas- namespace (devices, addresses,
routes), haproxy's pid and config file, and the live state of every
frontend, backend and member from the stats socket. It only reads."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from neutrino.agent.lb import stats as lbstats
from neutrino.agent.lb.model import NS_MARKER, Paths
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.process import running_pid


def find_loadbalancer(api, ident: str) -> dict:
    from neutrino.lab.api import ApiError
    try:
        return api.request("GET", f"/v2/lbaas/loadbalancers/{ident}")["loadbalancer"]
    except ApiError as exc:
        if exc.status not in (400, 404):
            raise
    found = api.request("GET", "/v2/lbaas/loadbalancers", params={"name": ident})
    found = found.get("loadbalancers", [])
    if not found:
        raise ApiError(404, f"no load balancer with id or name {ident!r}")
    if len(found) > 1:
        raise ApiError(409, f"{len(found)} load balancers are named {ident!r}: "
                            + ", ".join(lb["id"] for lb in found))
    return found[0]


def _rows(paths: Paths) -> list[dict[str, str]]:
    try:
        rows = lbstats.parse_stat(lbstats.query(paths.sock))
    except OSError:
        return []
    return [{"proxy": px, "name": sv, "status": row.get("status", ""),
             "check": row.get("check_status", ""), "weight": row.get("weight", ""),
             "current": row.get("scur", ""), "total": row.get("stot", ""),
             "address": row.get("addr", "")} for (px, sv), row in rows.items()]


def loadbalancer_view(api, ident: str, lbaas_dirs: list[Path]) -> dict[str, Any]:
    lb = find_loadbalancer(api, ident)
    suffix = f"{NS_MARKER}{lb['id']}"
    spaces = []
    for name in sorted(n for n in _netns.list_netns() if n.endswith(suffix)):
        devices = _netns.run(["ip", "-br", "address"], netns=name).splitlines()
        routes = _netns.run(["ip", "route"], netns=name).splitlines()
        spaces.append({"name": name, "addresses": devices, "routes": routes})
    haproxies = []
    for root in lbaas_dirs:
        paths = Paths.of(root, lb["id"])
        if not paths.root.is_dir():
            continue
        pid = running_pid(paths.pid, f"-f {paths.conf}")
        haproxies.append({"config": str(paths.conf), "pid": pid, "stats_socket": str(paths.sock),
                          "stats": _rows(paths) if pid else []})
    return {"loadbalancer": {k: lb.get(k) for k in (
        "id", "name", "vip_address", "vip_port_id", "provisioning_status",
        "operating_status", "admin_state_up")},
        "namespaces": spaces, "haproxy": haproxies}


def render_loadbalancer(view: dict[str, Any]) -> list[str]:
    lb = view["loadbalancer"]
    lines = [f"load balancer {lb['id']} {lb.get('name')!r} {lb.get('provisioning_status')}/"
             f"{lb.get('operating_status')}: VIP {lb.get('vip_address')} "
             f"(port {lb.get('vip_port_id')})"]
    if not view["namespaces"]:
        lines.append("  no namespace on this machine")
    for ns in view["namespaces"]:
        lines.append(f"  namespace {ns['name']}")
        lines += [f"    {line}" for line in ns["addresses"] if not line.startswith("lo ")]
        lines += [f"    route {line}" for line in ns["routes"]]
    for hp in view["haproxy"]:
        lines.append(f"  haproxy pid {hp['pid'] or '(not running)'} config {hp['config']}")
        for row in hp["stats"]:
            if row["name"] == "FRONTEND":
                lines.append(f"    listener {row['proxy']}: {row['status']} "
                             f"{row['current']} open, {row['total']} total")
            elif row["name"] == "BACKEND":
                lines.append(f"    pool {row['proxy']}: {row['status']}")
            else:
                check = f" ({row['check']})" if row["check"] else ""
                lines.append(f"      member {row['name']} {row['address']}: {row['status']}"
                             f"{check} weight {row['weight']}, {row['current']} open, "
                             f"{row['total']} total")
    return lines
