"""What `neutrino show port` prints about a port's firewall on its host:
its chains (iptables-save lines of i/o/s<port>, of its groups' chains
and of the shared chains that mention its tap), the ipsets its rules match and their members, and
its ebtables chains; with the nftables driver, its chains and map entries
in the `neutrino` tables and the sets its rules name. Only reads."""
from __future__ import annotations

import os
import shutil
from typing import Any

from neutrino.agent.l2.firewall.apply import SAVE, tool
from neutrino.agent.l2.firewall.model import (GROUP_PREFIXES, SET_PREFIXES, egress_chain, ingress_chain,
                                              spoof_chain, tap)
from neutrino.agent_options import IPTABLES_BACKENDS
from neutrino.dataplane import ebtables, ipset, nftables
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.iptables import parse_save


def _saves(netns: str | None, own: tuple[str, ...]) -> dict[int, tuple[str, Any]]:
    """IP version -> (save command, its parsed tables or why not), from the
    first iptables backend whose filter table holds one of the port's own
    chains ([securitygroup] iptables_backend is the agent's, not known
    here); the PATH's when none does."""
    first = None
    tried: set[str] = set()
    for backend in IPTABLES_BACKENDS:
        # auto is one of the others (xtables-nft-multi or -legacy-multi): once
        binary = os.path.realpath(shutil.which(tool(SAVE[4], backend)) or SAVE[4])
        if binary in tried:
            continue
        tried.add(binary)
        out: dict[int, tuple[str, Any]] = {}
        for v, command in SAVE.items():
            cmd = tool(command, backend)
            try:
                out[v] = (cmd, parse_save(_netns.run([cmd], netns=netns)))
            except Exception as exc:  # noqa: BLE001
                out[v] = (cmd, exc)
        first = first or out
        if any(c in tables.get("filter", {}) for _, tables in out.values()
               if not isinstance(tables, Exception) for c in own):
            return out
    return first


def port_firewall(netns: str | None, port_id: str) -> dict[str, Any]:
    own = (ingress_chain(port_id), egress_chain(port_id), spoof_chain(port_id))
    t = tap(port_id)
    view: dict[str, Any] = {"iptables": {}, "ipsets": {}, "ebtables": [],
                            "nftables": nft_port(netns, port_id)}
    if view["nftables"]:          # the nftables driver: nothing in iptables to show
        return view
    sets: set[str] = set()
    for v, (cmd, tables) in _saves(netns, own).items():
        if isinstance(tables, Exception):   # a host without the tool: say so
            view["iptables"][f"IPv{v}"] = [f"({cmd}: {tables})"]
            continue
        lines: list[str] = []
        for table in ("raw", "filter"):
            chains = tables.get(table, {})
            # the chains of its groups' rules its own chains jump to (shared)
            groups = {r.rsplit(" ", 1)[-1] for c in own for r in chains.get(c, ())
                      if r.rsplit(" ", 1)[-1].startswith(GROUP_PREFIXES)}
            for chain, rules in chains.items():
                if chain in own or chain in groups:
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


def nft_blocks(text: str) -> dict[str, list[str]]:
    """`nft list table` output -> "chain NAME" / "set NAME" / "map NAME" ->
    its lines (as nft prints them, indentation stripped)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        head = line.strip()
        if line.startswith("\t") and not line.startswith("\t\t") and head.endswith("{"):
            current = blocks.setdefault(head[:-1].strip(), [])
        elif line.startswith("\t") and not line.startswith("\t\t") and head == "}":
            current = None
        elif current is not None and head:
            if current and current[-1].startswith("elements") and not current[-1].endswith("}"):
                current[-1] += " " + head          # a long element list wraps
            else:
                current.append(head)
    return blocks


def nft_port(netns: str | None, port_id: str) -> list[str]:
    """The port's nftables objects ([] when there is no `neutrino` table)."""
    out: list[str] = []
    sets: set[str] = set()
    for family in ("inet", "bridge"):
        blocks = nft_blocks(nftables.ruleset(netns, family, "neutrino"))
        own = [n for n in blocks if n.startswith("chain ") and n.endswith("-" + port_id)]
        shared = sorted({f"chain {line.split()[-1]}" for n in own for line in blocks[n]
                         if line.split()[-2:-1] == ["goto"]})     # its groups' chains
        for name in own + shared:
            lines = blocks.get(name, [])
            out.append(f"{family} {name}" + (" (its security groups)" if name in shared else ""))
            out += [f"  {line}" for line in lines]
            sets.update(w[1:] for line in lines for w in line.split() if w.startswith("@"))
        for name, lines in blocks.items():
            if name.startswith("map "):
                hits = [e.strip() for line in lines if line.startswith("elements")
                        for e in line.split("=", 1)[1].strip(" {}").split(",")
                        if port_id in e or tap(port_id) in e]
                if hits:
                    out.append(f"{family} {name}: {', '.join(hits)}")
        for name in sorted(sets):
            lines = blocks.get(f"set {name}", [])
            elements = [line.split("=", 1)[1].strip() for line in lines
                        if line.startswith("elements")]
            out.append(f"{family} set {name}: {' '.join(elements) or '(empty)'}")
        sets.clear()
    return out


def nft_network(netns: str | None, bridge_name: str) -> list[str]:
    """The network's conntrack zone in the nftables driver's zone map."""
    blocks = nft_blocks(nftables.ruleset(netns, "inet", "neutrino"))
    return [f"nftables zone {e.split(':')[1].strip()}"
            for line in blocks.get("map zones", []) if line.startswith("elements")
            for e in line.split("=", 1)[1].strip(" {}").split(",")
            if e.strip().startswith(f'"{bridge_name}"')]


def render(view: dict[str, Any]) -> list[str]:
    out = []
    if view.get("nftables"):
        out.append(f"  firewall (nftables): {len(view['nftables'])} line(s)")
        return out + [f"    {line}" for line in view["nftables"]]
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
