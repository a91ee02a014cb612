"""The only code of the firewall that reads or changes the kernel: one
`iptables-save` per IP version, `ipset save` and `ebtables-save` to
observe (run side by side: reads); to apply, in this order: one `ipset
restore` (sets exist and have their members before a rule names them),
one atomic `iptables-restore --noflush` per IP version, one
`ebtables-restore --noflush` (those three side by side on a cold start,
see FirewallKernel._side_by_side), stale sets destroyed, then the conntrack entries of removed allows handed to the
conntrack cleaner (after the new rules are in, so no packet re-creates
them under the old ones). The agent's cleaner runs on its own thread
(one netlink dump and one batched delete per batch): wiring never waits
for it."""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

from neutrino.agent.l2.firewall.model import FAMILIES, FwPlan, Observed
from neutrino.agent_options import IPTABLES_BACKENDS
from neutrino.dataplane import conntrack, ebtables, ipset
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.iptables import parse_save

LOG = logging.getLogger(__name__)


def tool(command: str, backend: str = "auto") -> str:
    """`iptables`, `ip6tables-restore`... as the backend names them:
    auto, the one on PATH (the host's alternative, as upstream's agent);
    else iptables-nft-save, ip6tables-legacy-restore... Legacy restores
    replace whole tables (under the machine-wide xtables lock): at 5,000
    ports a cold restore is 0.5 s per IP version, iptables-nft's 1.5 s."""
    if backend not in IPTABLES_BACKENDS:
        raise ValueError(f"iptables backend {backend!r}: not one of "
                         f"{', '.join(IPTABLES_BACKENDS)}")
    if backend == "auto":
        return command
    name, dash, action = command.partition("-")
    return f"{name}-{backend}{dash}{action}"


SAVE = {4: "iptables-save", 6: "ip6tables-save"}
RESTORE = {4: "iptables-restore", 6: "ip6tables-restore"}
# A cold start's restore at 5,000 ports: ~2 s per IP version on a quiet
# 2-core host (-Z first, see plan._zero_first), many times that under load:
# past netns.run's default 30 s.
RESTORE_TIMEOUT = 600.0
BRIDGE_NF = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")


class FirewallKernel:
    """iptables, ipsets, ebtables and conntrack of one namespace (None: the
    one this process runs in, i.e. a real host's)."""

    def __init__(self, netns: str | None, background_conntrack: bool = False,
                 backend: str = "auto"):
        self.netns = netns
        self.save = {v: tool(cmd, backend) for v, cmd in SAVE.items()}
        self.restore = {v: tool(cmd, backend) for v, cmd in RESTORE.items()}
        self.conntrack = conntrack.Cleaner(netns, background=background_conntrack,
                                           name=f"conntrack-{netns or 'host'}")
        self.restores = 0          # iptables-restore calls (tests, benchmarks)
        self.set_restores = 0      # ipset restore calls
        self.timings: dict[str, float] = {}   # seconds per step of the last apply
        self._nft_backend: bool | None = None if backend == "auto" else backend == "nft"

    def ensure_bridge_netfilter(self) -> None:
        """Bridged frames only traverse iptables with br_netfilter on (per
        namespace): without it no security group rule would ever match."""
        with _netns.in_netns(self.netns):
            if not os.path.isdir("/proc/sys/net/bridge"):
                _netns.run(["modprobe", "br_netfilter"], check=False)
        for key in BRIDGE_NF:
            if _netns.sysctl_get(key, self.netns) != "1":
                _netns.sysctl_set(key, 1, self.netns, allow_init_netns=self.netns is None)

    def observe(self, families=FAMILIES, eb: bool = True) -> Observed:
        """The saves run at once (each is mostly the kernel's and the tool's
        time: ~0.8 s per IP version at 5,000 ports), then are parsed."""
        argvs = {v: [self.save[v]] for v in families}
        argvs["ipset"] = ["ipset", "save"]
        if eb:
            argvs["eb"] = ["ebtables-save"]
        with ThreadPoolExecutor(len(argvs)) as pool:
            futures = {k: pool.submit(_netns.run, argv, netns=self.netns)
                       for k, argv in argvs.items()}
            texts = {k: f.result() for k, f in futures.items()}
        obs = Observed()
        for v in families:
            obs.iptables[v] = parse_save(texts[v])
        obs.sets, obs.set_family = ipset.parse_save(texts["ipset"])
        if eb:
            obs.ebtables, obs.eb_policy = ebtables.parse_save(texts["eb"])
        return obs

    def eb_prerouting(self) -> list[str]:
        """The nat PREROUTING rules, ours and others', in the kernel's order."""
        return ebtables.chain_rules(self.netns, "PREROUTING")

    def apply(self, plan: FwPlan) -> None:
        t = time.monotonic()
        self.timings = {}

        def lap(name: str) -> None:
            nonlocal t
            now = time.monotonic()
            self.timings[name] = now - t
            t = now
        if plan.ipset_before:
            ipset.restore(self.netns, plan.ipset_before)
            self.set_restores += 1
            lap("ipset")
        restores = [(f"ip{v}", [self.restore[v], "--noflush"], text)
                    for v, text in sorted(plan.iptables.items())]
        if plan.ebtables:
            restores.append(("ebtables", ["ebtables-restore", "--noflush"], plan.ebtables))
        if plan.additive and len(restores) > 1 and self._nf_tables():
            self._side_by_side([], beside=restores)
            lap("side by side: " + ", ".join(name for name, _, _ in restores))
        elif plan.ebtables and len(restores) > 1 and not self._nf_tables():
            # iptables-legacy: x_tables, untouched by ebtables' commits and its lock
            self._side_by_side(restores[:-1], beside=restores[-1:])
            lap("side by side: " + ", ".join(name for name, _, _ in restores))
        else:
            for name, argv, text in restores:
                self._restore(argv, text)
                lap(name)
        self.restores += len(plan.iptables)
        if plan.ipset_after:
            ipset.destroy(self.netns, plan.ipset_after)
        if plan.conntrack:
            self.conntrack.submit((ct.version, ct.zone, ct.src, ct.dst) for ct in plan.conntrack)
            lap("conntrack")

    def _side_by_side(self, restores, beside=()) -> None:
        """`beside` started, `restores` run one after the other meanwhile,
        then `beside` waited for.

        With iptables-nft, a cold start's three all beside: their commits
        take turns in the kernel (one nf_tables generation per namespace),
        but the tools' parsing, a third of their time, overlaps: at 5,000
        ports ip4 + ip6 + ebtables 4.6-5.2 s one after the other, 2.8-3.7 s
        side by side (benchmarks/ipt_backends.py). A tool whose commit finds
        the generation moved refetches its own family's tables and resends:
        safe and cheap only while they hold nothing of ours. Otherwise one
        after the other: ebtables-nft 1.8.9's resend of a restore that
        removes rules fails ("RULE_DELETE failed"), and the refetch of a
        5,000-port table costs a full dump.

        With iptables-legacy, ebtables beside the two iptables restores
        (which share the xtables lock, so take turns)."""
        started: list[_netns.Started] = []
        try:
            for _, argv, text in beside:
                started.append(_netns.start(argv, self.netns, text))
            for _, argv, text in restores:
                self._restore(argv, text)
        finally:
            _netns.wait_all(started, RESTORE_TIMEOUT)

    def _nf_tables(self) -> bool:
        """Whether the restores go through nf_tables (iptables-nft): legacy
        ones take the machine-wide xtables lock, and without `-w` a restore
        finding it taken fails."""
        if self._nft_backend is None:
            version = _netns.run([self.restore[4], "--version"], check=False)
            self._nft_backend = "nf_tables" in version
        return self._nft_backend

    def _restore(self, argv: list[str], text: str) -> None:
        _netns.run(argv, netns=self.netns, input=text, timeout=RESTORE_TIMEOUT)

    def close(self) -> None:
        self.conntrack.close()
