"""The L2 agent's QoS reconciler: learns each port's QoS from the server's
host state (the "qos" key of its ports, neutrino.rpc.qos_handlers),
programs the taps that are wired, and checks on full syncs that what it
programmed is still there (a tap recreated by the hypervisor comes back
without qdiscs)."""
from __future__ import annotations

import logging

from neutrino.agent.l2.model import tap_name
from neutrino.agent.l2.qos.plan import (NFT_TABLE, QosSpec, clear_commands, ifb_name,
                                        nft_script, plan, set_commands)
from neutrino.dataplane import netns as ns

LOG = logging.getLogger(__name__)


class QosAgent:
    def __init__(self, netns: str | None):
        self.netns = netns
        self.wanted: dict[str, QosSpec | None] = {}     # port id -> spec
        self.networks: dict[str, str] = {}              # port id -> network id
        self.applied: dict[str, tuple[int, QosSpec | None]] = {}   # tap -> (ifindex, spec)
        self.marks: dict[str, int] | None = None        # what the nft table holds
        self.problems: dict[str, str] = {}

    # --- what the server says ------------------------------------------------------
    def learn(self, state: dict, full: bool, port_ids=(), network_ids=()) -> None:
        if full:
            self.wanted.clear()
            self.networks.clear()
        else:
            for pid in [p for p, net in self.networks.items()
                        if p in port_ids or net in network_ids]:
                self.wanted.pop(pid, None)
                self.networks.pop(pid, None)
        for port in state.get("ports", ()):
            self.wanted[port["id"]] = QosSpec.from_wire(port.get("qos"))
            self.networks[port["id"]] = port["network_id"]

    # --- the kernel -----------------------------------------------------------------
    def _run(self, argv: list[str], must: bool, input: str | None = None) -> None:
        ns.run(argv, netns=self.netns, check=must, input=input, timeout=10)

    def _qdisc_kinds(self) -> dict[str, set[str]]:
        """{device: qdisc kinds} of every device, in one command."""
        out: dict[str, set[str]] = {}
        shown = ns.run(["tc", "qdisc", "show"], netns=self.netns, check=False)
        for line in shown.splitlines():
            words = line.split()
            if len(words) > 4 and words[0] == "qdisc" and words[3] == "dev":
                out.setdefault(words[4], set()).add(words[1])
        return out

    def converge(self, wired: set[str], observed: dict, full: bool) -> None:
        """Program the wired ports' taps (`observed`: the links by name, for
        their ifindex: a recreated tap is programmed again). Full syncs
        check the kernel: missing qdiscs are put back, and those a previous
        run left on a tap that should have none are removed."""
        for tap, (index, _spec) in list(self.applied.items()):
            link = observed.get(tap)
            if link is None or link.index != index:
                del self.applied[tap]     # gone or recreated: its qdiscs went with it
                if link is None:
                    self._run(["ip", "link", "del", ifb_name_of(tap)], False)
        wanted = {tap_name(pid): self.wanted.get(pid) for pid in wired
                  if tap_name(pid) in observed}
        have = {tap: spec for tap, (_index, spec) in self.applied.items()}
        broken: set[str] = set()
        if full:
            kinds = self._qdisc_kinds()
            for tap, spec in wanted.items():
                shown = kinds.get(tap, set()) & {"tbf", "ingress"}
                if spec is not None and not spec.qdiscs() <= shown:
                    broken.add(tap)
                elif spec is None and tap not in have and (
                        shown or ifb_name_of(tap) in observed):
                    have[tap] = QosSpec()      # left over: cleared below
        changes = plan(wanted, have, broken)
        for tap, spec in changes.items():
            self._program(tap, spec, observed, keep=tap in wanted)
        self._mark(wanted, observed, full)

    def _program(self, tap: str, spec: QosSpec | None, observed: dict, keep: bool) -> None:
        ifb = ifb_name_of(tap)
        try:
            for argv, must in clear_commands(tap, ifb):
                self._run(argv, must)
            if spec is not None:
                for argv, must in set_commands(tap, ifb, spec):
                    self._run(argv, must)
        except ns.CommandError as exc:
            LOG.error("QoS on %s failed: %s", tap, exc)
            self.problems[tap] = str(exc)
            self.applied.pop(tap, None)
            return
        self.problems.pop(tap, None)
        if tap in observed and keep:
            self.applied[tap] = (observed[tap].index, spec)
        else:
            self.applied.pop(tap, None)

    def _mark(self, wanted: dict[str, QosSpec | None], observed: dict, check: bool,
              force: bool = False) -> None:
        """The DSCP marks: the whole nft table rewritten when they change
        (or, `check`, when the kernel lost them)."""
        marks = {tap: s.dscp_mark for tap, s in wanted.items()
                 if s is not None and s.dscp_mark is not None and tap in observed}
        if marks == self.marks and not check:
            return
        if marks == self.marks and self._table_matches(marks):
            return
        if not marks and self.marks is None and not check:
            return
        try:
            if marks:
                self._run(["nft", "-f", "-"], True, input=nft_script(marks))
            else:
                self._run(["nft", "delete", "table", "bridge", NFT_TABLE], False)
        except ns.CommandError as exc:
            LOG.error("QoS DSCP marks failed: %s", exc)
            self.marks = None
            return
        self.marks = marks

    def _table_matches(self, marks: dict[str, int]) -> bool:
        shown = ns.run(["nft", "list", "table", "bridge", NFT_TABLE], netns=self.netns,
                       check=False)
        return all(f'iifname "{tap}" ip dscp set' in shown for tap in marks)


def ifb_name_of(tap: str) -> str:
    return ifb_name(tap[3:])
