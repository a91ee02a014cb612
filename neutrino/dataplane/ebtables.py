"""ebtables (bridge) tables of one namespace: read with `ebtables-save`,
changed with one `ebtables-restore --noflush` per change."""
from __future__ import annotations

from neutrino.dataplane import netns as _netns


def parse_save(text: str, table: str = "nat") -> tuple[dict[str, list[str]], dict[str, str]]:
    """ebtables-save output -> (chain -> ['-A chain ...'], chain -> policy) of `table`."""
    chains: dict[str, list[str]] = {}
    policy: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("*"):
            current = line[1:]
        elif current != table or not line or line.startswith("#"):
            continue
        elif line.startswith(":"):
            name, _, pol = line[1:].partition(" ")
            chains.setdefault(name, [])
            policy[name] = pol.strip()
        elif line.startswith("-A "):
            chains.setdefault(line.split()[1], []).append(line)
    return chains, policy


def save(netns: str | None, table: str = "nat") -> tuple[dict[str, list[str]], dict[str, str]]:
    return parse_save(_netns.run(["ebtables-save"], netns=netns), table)


def chain_rules(netns: str | None, chain: str, table: str = "nat") -> list[str]:
    """One chain's rules in the kernel's order, as ebtables-save writes them
    (`ebtables -L` of one chain: 0.09 s at 10,000 rules, ebtables-save of
    the whole table 0.8 s)."""
    text = _netns.run(["ebtables", "-t", table, "-L", chain], netns=netns)
    rules, inside = [], False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Bridge chain:"):
            inside = line.split()[2].rstrip(",") == chain
        elif inside and line:
            rules.append(f"-A {chain} {line}")
    return rules


def restore(netns: str | None, text: str) -> None:
    if text:
        _netns.run(["ebtables-restore", "--noflush"], netns=netns, input=text)
