"""What `neutrino show port` prints about a port's firewall on its host:
its chains (iptables-save lines of i/o/s<port> and of the shared chains
that mention its tap), the ipsets its rules match and their members, and
its ebtables chains. Only reads."""
from __future__ import annotations

from typing import Any

from neutrino.agent.l2.firewall.model import (SET_PREFIXES, egress_chain, ingress_chain,
                                              spoof_chain, tap)
from neutrino.dataplane import ebtables, ipset
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.iptables import parse_save


def port_firewall(netns: str | None, port_id: str) -> dict[str, Any]:
    own = (ingress_chain(port_id), egress_chain(port_id), spoof_chain(port_id))
    t = tap(port_id)
    view: dict[str, Any] = {"iptables": {}, "ipsets": {}, "ebtables": []}
    sets: set[str] = set()
    for v, cmd in ((4, "iptables-save"), (6, "ip6tables-save")):
        try:
            tables = parse_save(_netns.run([cmd], netns=netns))
        except Exception as exc:  # noqa: BLE001 - a host without the tool: say so
            view["iptables"][f"IPv{v}"] = [f"({cmd}: {exc})"]
            continue
        lines: list[str] = []
        for table in ("raw", "filter"):
            for chain, rules in tables.get(table, {}).items():
                if chain in own:
                    lines += rules
                else:
                    lines += [r for r in rules if f" {t} " in r or r.endswith(f" {t}")]
        view["iptables"][f"IPv{v}"] = lines
        for line in lines:
            words = line.split()
            if "--match-set" in words:
                sets.add(words[words.index("--match-set") + 1])
    try:
        members, _ = ipset.save(netns)
        view["ipsets"] = {n: sorted(members.get(n, ())) for n in sorted(sets)
                          if n.startswith(SET_PREFIXES)}
    except Exception:  # noqa: BLE001
        pass
    try:
        chains, _ = ebtables.save(netns)
        view["ebtables"] = [r for c, rules in chains.items() for r in rules
                            if c.endswith(t) or f" {t} " in r]
    except Exception:  # noqa: BLE001
        pass
    return view


def render(view: dict[str, Any]) -> list[str]:
    out = []
    for family, lines in view["iptables"].items():
        out.append(f"  firewall {family}: {len(lines)} rule(s)" if lines else
                   f"  firewall {family}: no chains (port security off, or not filtered here)")
        out += [f"    {line}" for line in lines]
    for name, members in view["ipsets"].items():
        out.append(f"  ipset {name}: {', '.join(members) or '(empty)'}")
    if view["ebtables"]:
        out.append("  ebtables (nat):")
        out += [f"    {line}" for line in view["ebtables"]]
    return out
