"""The firewall reconciler the L2 agent runs in each cycle, before it wires
taps (a port's filter exists before its tap joins the bridge).

Level-triggered: a security-group notification, any port change and
every full resync make it fetch the host's firewall state from the server
(one call); it then renders the whole desired state (pure), observes the
kernel and applies the difference. Between full resyncs the diff is
against what the last successful apply left (this saves an iptables-save
of ~30,000 rules on a host of 1,000 ports, so a rule change costs a
fraction of a second); a cycle whose rendering equals it does nothing;
every full resync (start, reconnect, error, [agent] resync_interval)
diffs against the kernel itself.

Status is a promise about the dataplane: before an apply, `before_apply`
gets the filtered ports whose chains the kernel lacks (a cold start after
netfilter was flushed, a port new to the host), so the L2 agent reports
them DOWN first and ACTIVE only after the restore put every filter back
(one atomic `iptables-restore` per IP version for all of them). Conntrack
deletions go to the kernel's background cleaner: nothing here waits for
them."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from neutrino.agent.l2.firewall.apply import FirewallKernel
from neutrino.agent.l2.firewall.model import (FAMILIES, SG_CHAIN, WRAP, FwConf, FwDesired,
                                              Observed, egress_chain, ingress_chain, spoof_chain)
from neutrino.agent.l2.firewall.plan import JUMPS, Rendered, assign_zones, plan, render
from neutrino.agent.l2.firewall.source import Reconciler, ServerView, removed_flows
from neutrino.rpc.bus import Transport

LOG = logging.getLogger(__name__)


class Firewall(Reconciler):
    def __init__(self, conf: FwConf, transport: Transport, host: str, prefix: str,
                 netns: str | None, timeout: float = 30.0, kernel: FirewallKernel | None = None):
        self.conf = conf
        self.transport = transport
        self.host = host
        self.prefix = prefix
        self.timeout = timeout
        self.kernel = kernel or FirewallKernel(netns, background_conntrack=True,
                                                    backend=conf.iptables_backend)
        self.server = ServerView(transport, host, prefix, timeout)
        self.last: Rendered | None = None
        self.stats: dict[str, float] = {}
        # Ports of this host isolated (nothing allowed) because their data is
        # bad: the L2 agent keeps their taps off the bridge and reports ERROR.
        self.bad_ports: dict[str, str] = {}
        # Filtered ports as last applied -> their (version, zone, address):
        # a port that leaves takes its flows with it.
        self._flows_of: dict[str, list[tuple[int, int, str]]] = {}
        self._filtered_now: dict[str, list[tuple[int, int, str]]] = {}

    def converge(self, port_ids, refetch: bool = False, full: bool = False,
                 before_apply: Callable[[set[str]], None] | None = None,
                 gone=frozenset(), changed=frozenset()) -> bool:
        """Returns True if the kernel was changed. `before_apply(ports)`: called
        before the kernel changes with the filtered ports whose chains it lacks.
        `refetch`: the whole state; `gone`: ports notified deleted (no refetch
        for them); `changed`: ports notified changed here (refetched alone)."""
        started = time.monotonic()
        view = self._refresh(port_ids, refetch, full, gone, changed)
        if view is None:
            return False          # a kernel poll: nothing of ours changed since the last apply
        desired, bad = view
        fetched = time.monotonic()
        last = None if full else self.last
        nets = {p.network_id for p in desired.ports.values()}
        if last is None:
            observed = self.kernel.observe()
            zones = assign_zones(nets, observed.iptables.get(4, {}).get("raw", {}))
            rendered = render(desired, self.conf, zones)
            families, eb = FAMILIES, True
        else:
            zones = assign_zones(nets, last.tables.get(4, {}).get("raw", {}))
            rendered = render(desired, self.conf, zones)
            families = tuple(v for v in FAMILIES if rendered.tables.get(v) != last.tables.get(v))
            eb = (rendered.eb, rendered.eb_jumps) != (last.eb, last.eb_jumps)
            if not families and not eb and rendered.sets == last.sets:
                self._note_bad({**bad, **rendered.bad})
                return False
            observed = as_observed(last)      # what the last apply left (see module doc)
            if eb and set(last.eb_jumps) - set(rendered.eb_jumps):
                # jumps leave PREROUTING by position: the kernel's own list,
                # with whatever else shares the builtin chain
                observed.ebtables["PREROUTING"] = self.kernel.eb_prerouting()
        rendered_at = time.monotonic()
        self._note_bad({**bad, **rendered.bad})
        result = plan(desired, rendered, observed, families)
        if not eb:
            result.ebtables = ""
        if result.empty:
            self.last = rendered
            if last is None:      # a full resync that found every filter in place
                done = time.monotonic()
                LOG.info("firewall verified: %d port(s) in place in %.3f s (fetch %.3f, "
                         "observe+render+plan %.3f)", len(desired.ports), done - started,
                         fetched - started, done - fetched)
            return False
        if before_apply is not None:
            missing = unfiltered(desired, observed, rendered)
            if missing:
                before_apply(missing)
        gone = self._flows_of_removed(desired, rendered)
        if gone and result.conntrack:
            # a removed port's whole-address filters cover its pairs with the others
            addrs = {(v, zone, ip) for v, zone, ip, _ in gone if ip}
            result.conntrack = [c for c in result.conntrack
                                if (c.version, c.zone, c.src) not in addrs
                                and (c.version, c.zone, c.dst) not in addrs]
        self.last = None          # unknown until the apply succeeded
        self.kernel.apply(result)
        self.last = rendered
        self._flows_of = self._filtered_now
        if gone:
            self.kernel.conntrack.submit(gone)
        done = time.monotonic()
        self.stats = {"fetch": fetched - started, "observe_render": rendered_at - fetched,
                      "apply": done - rendered_at, "total": done - started}
        LOG.info("firewall: %d port(s), %s%s%s%d conntrack filter(s) queued in %.3f s "
                 "(fetch %.3f, observe+render %.3f, apply %.3f: %s)", len(desired.ports),
                 "".join(f"ip{'6' if v == 6 else ''}tables-restore, "
                         for v in sorted(result.iptables)),
                 "ipset restore, " if result.ipset_before else "",
                 "ebtables-restore, " if result.ebtables else "", len(result.conntrack),
                 done - started, fetched - started, rendered_at - fetched, done - rendered_at,
                 ", ".join(f"{k} {t:.3f}" for k, t in self.kernel.timings.items()))
        return True


    def _flows_of_removed(self, desired: FwDesired, rendered: Rendered
                          ) -> list[tuple[int, int, str | None, str | None]]:
        """Conntrack filters for the flows of ports filtered before and gone
        now (deleted, unbound, port security off): all flows of their
        addresses in their zone (their chains go in this apply)."""
        self._filtered_now, filters = removed_flows(self._flows_of, desired, rendered.zones)
        return filters

    def _forget_flows_of_removed(self, desired: FwDesired, rendered: Rendered) -> None:
        """Hand the flows of ports that left to the cleaner (see above)."""
        gone = self._flows_of_removed(desired, rendered)
        self._flows_of = self._filtered_now
        if gone:
            self.kernel.conntrack.submit(gone)


def unfiltered(desired: FwDesired, observed: Observed, rendered: Rendered) -> set[str]:
    """Ports to be filtered whose chains (ingress, egress, spoofing, in every
    IP version rendered) or whose jumps from the port-switch chain are
    missing in `observed`."""
    missing: set[str] = set()
    for v, tables in rendered.tables.items():
        want = tables.get("filter", {})
        have = observed.iptables.get(v, {}).get("filter", {})
        missing.update(c for c in want if c not in have)
        sg = set(have.get(SG_CHAIN, ()))
        missing.update(line.rsplit(" ", 1)[-1] for line in want.get(SG_CHAIN, ())
                       if line not in sg)
    return {p.id for p in desired.ports.values() if p.filtered and (
        ingress_chain(p.id) in missing or egress_chain(p.id) in missing
        or spoof_chain(p.id) in missing)}


def as_observed(last: Rendered) -> Observed:
    """The kernel as the last apply left it: our chains, our jumps at the
    top of the builtins, our sets and ebtables chains."""
    obs = Observed()
    for v, tables in last.tables.items():
        obs.iptables[v] = {}
        for table, chains in tables.items():
            view = dict(chains)
            for builtin, targets in JUMPS[table].items():
                view[builtin] = [f"-A {builtin} -j {t}" for t in targets] if chains else []
            obs.iptables[v][table] = view
    obs.sets = {name: set(members) for name, (_, members) in last.sets.items()}
    obs.set_family = {name: v for name, (v, _) in last.sets.items()}
    obs.ebtables = {**last.eb, "PREROUTING": list(last.eb_jumps)}
    obs.eb_policy = {c: "DROP" for c in last.eb}
    return obs


def make_firewall(cfg, transport: Transport, host: str, prefix: str,
                  netns: str | None) -> Firewall:
    if cfg.securitygroup.firewall_driver == "nftables":     # same interface, nft tables
        from neutrino.agent.l2.firewall.nft.agent import NftFirewall
        return NftFirewall.from_config(cfg, transport, host, prefix, netns)
    return Firewall(FwConf.from_config(cfg), transport, host, prefix, netns)


__all__ = ["Firewall", "make_firewall", "WRAP"]
