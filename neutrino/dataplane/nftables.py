"""nftables of one namespace through the `nft` binary (Debian's `nftables`
package): a change is one `nft -f -` transaction (a single netlink batch,
so packets see the ruleset before or after it, never half of it); reading
uses `nft -j` (JSON) so nothing depends on how nft prints a rule.
Never run in the machine's own namespace by tests: callers pass theirs."""
from __future__ import annotations

import json
from typing import Any

from neutrino.dataplane import netns as _netns


def apply(netns: str | None, text: str) -> None:
    """One atomic transaction (`text`: nft commands, one per line)."""
    if text:
        _netns.run(["nft", "-f", "-"], netns=netns, input=text, timeout=120.0)


def _objects(netns: str | None, argv: list[str]) -> list[dict[str, Any]]:
    out = _netns.run(["nft", "-j", *argv], netns=netns, check=False)
    try:
        return json.loads(out).get("nftables", []) if out.strip() else []
    except ValueError:
        return []


def list_chains(netns: str | None, family: str, table: str) -> set[str] | None:
    """The chain names of one table; None when the table does not exist."""
    tables = {(o["table"]["family"], o["table"]["name"])
              for o in _objects(netns, ["list", "tables"]) if "table" in o}
    if (family, table) not in tables:
        return None
    return {o["chain"]["name"] for o in _objects(netns, ["list", "chains", family])
            if "chain" in o and o["chain"]["table"] == table}


def rule_counts(netns: str | None, family: str, table: str) -> dict[str, int]:
    """chain -> number of rules, every chain of the table ({} if absent)."""
    counts: dict[str, int] = {}
    for o in _objects(netns, ["list", "table", family, table]):
        if "chain" in o:
            counts.setdefault(o["chain"]["name"], 0)
        elif "rule" in o:
            chain = o["rule"]["chain"]
            counts[chain] = counts.get(chain, 0) + 1
    return counts


def elements(netns: str | None, family: str, table: str, kind: str, name: str) -> list[Any]:
    """The elements of a set or map as nft's JSON gives them ([] if absent):
    set members as strings or {"prefix": {...}}; map entries as [key, value]."""
    for o in _objects(netns, ["list", kind, family, table, name]):
        if kind in o:
            return o[kind].get("elem", [])
    return []


def sets(netns: str | None, family: str, table: str) -> dict[str, list[Any]]:
    """Every set of a table (not maps) -> its elements."""
    return {o["set"]["name"]: o["set"].get("elem", [])
            for o in _objects(netns, ["list", "sets", family])
            if "set" in o and o["set"]["table"] == table}


def ruleset(netns: str | None, family: str, table: str) -> str:
    """The table as `nft list table` prints it ("" if absent, or no nft here):
    `neutrino show`."""
    try:
        return _netns.run(["nft", "list", "table", family, table], netns=netns, check=False)
    except OSError:
        return ""
