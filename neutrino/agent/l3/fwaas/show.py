"""`neutrino show router`: the FWaaS part of a router namespace (the jump in
FORWARD and every chain of ours, per IP version, as `iptables -S` prints
them) and the firewall groups on the router's ports. Read only."""
from __future__ import annotations

from typing import Any

from neutrino.agent.l3.fwaas.apply import RouterFirewallKernel
from neutrino.agent.l3.fwaas.model import FAMILIES, is_ours


def chains(netns: str) -> dict[str, list[str]]:
    """"4"/"6" -> ['-N chain', ..., '-A ...'] (our chains only; [] without FWaaS)."""
    out: dict[str, list[str]] = {}
    for v, table in RouterFirewallKernel(netns).observe().items():
        ours = [c for c in table if is_ours(c)]
        lines = [f"-N {c}" for c in ours]
        lines += [r for r in table.get("FORWARD", []) if is_ours(r.rsplit(" ", 1)[-1])]
        for c in ours:
            lines += table[c]
        out[str(v)] = lines
    return out


def groups(api, router_id: str) -> list[dict[str, Any]]:
    """The firewall groups (as the API shows them to the caller) that hold a
    port of the router; [] when the server has no FWaaS."""
    ports = {p["id"] for p in api.list("ports", device_id=router_id)}
    try:
        found = api.request("GET", "/v2.0/fwaas/firewall_groups")["firewall_groups"]
    except Exception:  # noqa: BLE001 - no FWaaS API there: nothing to show
        return []
    return [{k: g.get(k) for k in ("id", "name", "status", "status_reason", "admin_state_up",
                                   "ingress_firewall_policy_id", "egress_firewall_policy_id")}
            | {"ports": sorted(ports & set(g.get("ports") or ()))}
            for g in found if ports & set(g.get("ports") or ())]


def render(view_groups: list[dict], ns_chains: dict[str, list[str]]) -> list[str]:
    lines = []
    if view_groups:
        lines.append("  firewall groups")
        for g in view_groups:
            lines.append(f"    {g['id']} {g.get('name')!r} {g.get('status')}"
                         f"{'' if g.get('admin_state_up', True) else ' (admin down)'}: "
                         f"ingress policy {g.get('ingress_firewall_policy_id') or '-'}, "
                         f"egress policy {g.get('egress_firewall_policy_id') or '-'}, "
                         f"ports {', '.join(p[:11] for p in g['ports'])}")
            if g.get("status_reason"):        # admins only: the agents' ERROR reasons
                lines.append(f"      reason: {g['status_reason']}")
    for v in FAMILIES:
        rules = ns_chains.get(str(v), [])
        if rules:
            lines.append(f"  firewall (FWaaS) {'ip6tables' if v == 6 else 'iptables'} -S")
            lines += [f"    {line}" for line in rules]
    return lines
