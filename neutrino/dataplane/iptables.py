"""iptables tables of one namespace, kept as desired state in memory and
applied atomically.

The caller describes whole tables (the chains it owns and their rules, in
order, written the way `iptables-save` prints them). `apply()` reads
`iptables-save` once, and for every table that differs writes one
`iptables-restore --noflush` input that, in a single commit, flushes the
builtin chains it uses and declares (which flushes) its own chains,
deletes its stale chains, then appends every rule. A table that already
matches is not rewritten, so a restarted agent changes nothing and no
packet ever sees a half-written table. Never run in the machine's own
namespace: callers pass the namespace they created.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from neutrino.dataplane import netns as _netns

LOG = logging.getLogger(__name__)

BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
}


@dataclass
class Table:
    """One table's desired content: chain -> ordered rules (without "-A chain")."""
    name: str
    chains: dict[str, list[str]] = field(default_factory=dict)

    def chain(self, name: str) -> list[str]:
        return self.chains.setdefault(name, [])

    def add(self, chain: str, rule: str) -> None:
        self.chain(chain).append(rule)

    def own_chains(self) -> list[str]:
        return [c for c in self.chains if c not in BUILTIN[self.name]]

    def lines(self) -> dict[str, list[str]]:
        """chain -> ['-A chain rule', ...] as iptables-save prints them."""
        return {c: [f"-A {c} {r}" for r in rules] for c, rules in self.chains.items()}


def parse_save(text: str) -> dict[str, dict[str, list[str]]]:
    """iptables-save output -> table -> chain -> ['-A chain ...'] (all chains
    listed, empty ones included)."""
    tables: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("*"):
            current = tables.setdefault(line[1:], {})
        elif current is None or not line or line.startswith("#") or line == "COMMIT":
            continue
        elif line.startswith(":"):
            current.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            current.setdefault(line.split()[1], []).append(line)
    return tables


def differs(table: Table, observed: dict[str, list[str]], prefixes: tuple[str, ...],
            foreign: tuple[str, ...] = ()) -> bool:
    """True if the kernel's table is not exactly what `table` wants: our
    chains' rules, the builtins' rules, and no stale chain of ours.
    `foreign`: names (or name prefixes) of chains, builtins included, that
    another writer of the namespace owns: never compared, flushed or deleted."""
    want = table.lines()
    for chain, rules in want.items():
        if observed.get(chain) != rules:
            return True
    stale = [c for c in observed if c not in want and c.startswith(prefixes)
             and not (foreign and c.startswith(foreign))]
    builtin_extra = [c for c in BUILTIN[table.name] if c not in want and observed.get(c)
                     and not (foreign and c.startswith(foreign))]
    return bool(stale or builtin_extra)


def restore_input(table: Table, observed: dict[str, list[str]],
                  prefixes: tuple[str, ...], foreign: tuple[str, ...] = ()) -> str:
    """The one-commit --noflush input that makes the table exactly `table`."""
    want = table.lines()
    out = [f"*{table.name}"]
    out += [f":{c} - [0:0]" for c in table.own_chains()]   # declare = create or flush
    out += [f"-F {c}" for c in BUILTIN[table.name]          # ours, unless another's
            if not (foreign and c.startswith(foreign))]
    stale = [c for c in observed if c not in want and c.startswith(prefixes)
             and not (foreign and c.startswith(foreign))]
    out += [f"-F {c}" for c in stale]
    out += [f"-X {c}" for c in stale]
    for rules in want.values():
        out += rules
    out.append("COMMIT")
    return "\n".join(out) + "\n"


class IptablesManager:
    """The tables of one namespace. `prefixes`: names of the chains we own
    (stale ones are deleted); `foreign`: chains another writer of the
    namespace owns (see differs)."""

    def __init__(self, netns: str | None, prefixes: tuple[str, ...] = ("neutron-",),
                 foreign: tuple[str, ...] = (), ipv6: bool = False):
        if netns is None:
            raise ValueError("iptables is only ever managed inside a namespace we created")
        self.netns = netns
        self.tool = "ip6tables" if ipv6 else "iptables"    # -save / -restore
        self.prefixes = prefixes
        self.foreign = foreign
        self.restores = 0      # how many times a table was rewritten (tests, benchmarks)

    def save(self) -> dict[str, dict[str, list[str]]]:
        return parse_save(_netns.run([f"{self.tool}-save"], netns=self.netns))

    def apply(self, tables: list[Table]) -> list[str]:
        """Converge; returns the names of the tables rewritten."""
        observed = self.save()
        parts, changed = [], []
        for table in tables:
            current = observed.get(table.name, {})
            if differs(table, current, self.prefixes, self.foreign):
                parts.append(restore_input(table, current, self.prefixes, self.foreign))
                changed.append(table.name)
        if parts:
            _netns.run([f"{self.tool}-restore", "--noflush"], netns=self.netns,
                       input="".join(parts))
            self.restores += 1
            LOG.debug("iptables in %s: rewrote %s", self.netns, ", ".join(changed))
        return changed
