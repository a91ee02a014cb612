"""The only FWaaS code that reads or changes the kernel of a router's
namespace: one `iptables-save` and one `ip6tables-save` to observe; to apply,
one atomic `iptables-restore --noflush` per IP version that changed; then
the conntrack entries of the namespace are listed and the flows the new
rules forbid are deleted one by one (after the rules are in, so no packet
re-creates them under the old ones)."""
from __future__ import annotations

import logging

from neutrino.agent.l3.fwaas.model import FAMILIES
from neutrino.agent.l3.fwaas.plan import Flow, FwaasPlan, parse_flows
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.iptables import parse_save

LOG = logging.getLogger(__name__)
SAVE = {4: "iptables-save", 6: "ip6tables-save"}
RESTORE = {4: "iptables-restore", 6: "ip6tables-restore"}


class RouterFirewallKernel:
    """The filter tables and conntrack of one router namespace."""

    def __init__(self, netns: str):
        if netns is None:
            raise ValueError("FWaaS only ever works inside a router namespace")
        self.netns = netns
        self.restores = 0           # iptables-restore calls (tests, benchmarks)

    def observe(self) -> dict[int, dict[str, list[str]]]:
        """IP version -> the filter table (chain -> '-A' lines)."""
        return {v: parse_save(_netns.run([SAVE[v], "-t", "filter"], netns=self.netns))
                .get("filter", {}) for v in FAMILIES}

    def apply(self, plan: FwaasPlan) -> None:
        for v, text in sorted(plan.iptables.items()):
            _netns.run([RESTORE[v], "--noflush"], netns=self.netns, input=text)
            self.restores += 1

    def flows(self) -> list[Flow]:
        out: list[Flow] = []
        for v in FAMILIES:
            text = _netns.run(["conntrack", "-L", "-f", "ipv6" if v == 6 else "ipv4"],
                              netns=self.netns, check=False)
            out += parse_flows(text.splitlines(), v)
        return out

    def delete_flows(self, flows: list[Flow]) -> None:
        for flow in flows:
            # exit status 1 only means the entry was gone already
            _netns.run(flow.delete_argv(), netns=self.netns, check=False)
        if flows:
            LOG.debug("%s: %d flow(s) the firewall now forbids deleted", self.netns, len(flows))
