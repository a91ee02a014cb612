"""`neutrino show router` for an HA router: every instance (host, agent, the
server's ha_state) with what that host's keepalived says (its state file,
its verified pid). Reads files only."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from neutrino.agent.l3.ha import HaRouters
from neutrino.agent.l3.keepalived import VrrpOptions


def instances(router_id: str, agents: list[dict], confs: dict[str, Path]) -> list[dict]:
    """`confs`: host -> its ha_confs directory (where known)."""
    out = []
    for agent in agents:
        if "ha_state" not in agent:
            return []            # not an HA router
        item: dict[str, Any] = {"host": agent["host"], "agent_id": agent["id"],
                                "alive": agent["alive"], "ha_state": agent["ha_state"],
                                "keepalived_state": None, "keepalived_pid": None}
        root = confs.get(agent["host"])
        if root is not None:
            ha = HaRouters(root, VrrpOptions(), report=lambda _states: None)
            item["keepalived_state"] = ha.state(router_id)
            item["keepalived_pid"] = ha.pid(router_id)
            item["config"] = str(ha.dir(router_id) / "keepalived.conf")
        out.append(item)
    return out


def render(items: list[dict]) -> list[str]:
    if not items:
        return []
    lines = ["  HA instances (VRRP)"]
    for i in items:
        kept = (f"keepalived {i['keepalived_state'] or '?'} pid {i['keepalived_pid'] or '-'}"
                if "config" in i else "keepalived: not on this machine")
        lines.append(f"    {i['host']}: ha_state {i['ha_state']}"
                     f"{'' if i['alive'] else ' (agent dead)'}; {kept}")
    return lines
