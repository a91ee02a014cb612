"""Metering in the router namespace (metering,
metering_source_and_destination_fields), done by the L3 agent itself (no
separate metering agent).

Each label the router is metered by gets two chains in the mangle table,
upstream's names: neutron-meter-r-<label> holds its rules (excluded ones
first, as RETURN), which jump to neutron-meter-l-<label>, whose one rule
counts. They hang off mangle FORWARD (FWaaS owns the filter FORWARD), so
they see traffic after DNAT and before SNAT: fixed addresses, as upstream's
iptables metering driver does. Ingress is traffic coming in through the
gateway (-i qg-), egress going out through it (-o qg-).

The chains have their own writer (MeterTables) in the namespace, so a
rewrite of the router's other tables never resets the counters; the agent
reads them (one iptables-save -c) and reports per label the bytes and
packets counted since the last report (neutrino.agent.l3.meter_report).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from neutrino.dataplane import netns as _netns
from neutrino.dataplane.iptables import IptablesManager, Table

PREFIX = "neutron-meter-"
TOP = f"{PREFIX}FORWARD"
# the builtins of the mangle table the L3 agent's own writer keeps
NOT_OURS = ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")


@dataclass(frozen=True)
class MeterLabel:
    id: str
    project_id: str
    rules: tuple[tuple, ...]   # (direction, excluded, remote, source, destination)

    @classmethod
    def from_wire(cls, d: dict) -> MeterLabel:
        return cls(d["id"], d.get("project_id", ""), tuple(
            (r["direction"], bool(r["excluded"]), r.get("remote_ip_prefix"),
             r.get("source_ip_prefix"), r.get("destination_ip_prefix"))
            for r in d.get("rules", ())))

    @property
    def count_chain(self) -> str:
        return f"{PREFIX}l-{self.id[:11]}"

    @property
    def rules_chain(self) -> str:
        return f"{PREFIX}r-{self.id[:11]}"


def _match(qg: str, rule: tuple) -> str | None:
    direction, _, remote, source, dest = rule
    if any(":" in (p or "") for p in (remote, source, dest)):
        return None          # IPv6: the router's NAT and gateway are IPv4 (user guide)
    parts = [f"-i {qg}" if direction == "ingress" else f"-o {qg}"]
    if remote:   # the other side: where ingress comes from, where egress goes
        parts.append(f"-s {remote}" if direction == "ingress" else f"-d {remote}")
    if source:
        parts.append(f"-s {source}")
    if dest:
        parts.append(f"-d {dest}")
    return " ".join(parts)


def mangle_table(labels: list[MeterLabel], qg: str | None, up: bool = True) -> Table:
    """The metering part of the mangle table (what MeterTables writes)."""
    t = Table("mangle")
    t.chain("FORWARD")
    t.chain(TOP)
    if not labels or qg is None or not up:
        return t
    t.add("FORWARD", f"-j {TOP}")
    for label in sorted(labels, key=lambda lab: lab.id):
        t.add(TOP, f"-j {label.rules_chain}")
        t.chain(label.rules_chain)
        t.add(label.count_chain, "-j RETURN")
        # excluded first (RETURN before counting), then a stable order
        ordered = sorted(label.rules, key=lambda r: (not r[1], r[0],
                                                     *[p or "" for p in r[2:]]))
        for rule in ordered:
            match = _match(qg, rule)
            if match is None:
                continue
            target = "RETURN" if rule[1] else label.count_chain
            t.add(label.rules_chain, f"{_norm(match)} -j {target}")
    return t


def _norm(match: str) -> str:
    """iptables-save prints a host prefix without /32? no: it keeps /32, but
    it drops the host bits of a network (10.0.0.1/24 -> 10.0.0.0/24)."""
    import ipaddress

    def fix(m):
        return f"{m.group(1)} {ipaddress.ip_network(m.group(2), strict=False)}"
    return re.sub(r"(-[sd]) (\S+)", fix, match)


_COUNTED = re.compile(r"^\[(\d+):(\d+)\] -A (\S+) -j RETURN$")


class MeterTables:
    """The metering writer of one router namespace and its counter reader."""

    def __init__(self, netns: str):
        self.netns = netns
        self.iptables = IptablesManager(netns, prefixes=(PREFIX,), foreign=NOT_OURS)

    def apply(self, labels: list[MeterLabel], qg: str | None, up: bool) -> bool:
        return bool(self.iptables.apply([mangle_table(labels, qg, up)]))

    def counters(self) -> dict[str, tuple[int, int]]:
        """count chain -> (packets, bytes) since the chain was made."""
        out = _netns.run(["iptables-save", "-c", "-t", "mangle"], netns=self.netns)
        found = {}
        for line in out.splitlines():
            m = _COUNTED.match(line.strip())
            if m and m.group(3).startswith(f"{PREFIX}l-"):
                found[m.group(3)] = (int(m.group(1)), int(m.group(2)))
        return found
