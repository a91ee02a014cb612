"""The nftables firewall reconciler ([securitygroup] firewall_driver =
nftables): the iptables one's interface and cycle (firewall/agent.py),
nftables objects instead of chains/ipsets/ebtables.

Each converge renders the whole desired state (pure) and applies the
difference as one `nft -f -` transaction. Between full resyncs the diff
is against what the last successful apply left; a full resync (start,
reconnect, error, [agent] resync_interval) reads the kernel's maps and
sets (zones and port indices are kept), its chain names and the digest
chain: a kernel that holds exactly the rendering is left alone (a
restarted agent changes nothing), anything else gets both tables
replaced in one transaction. The rules themselves are not read back
(listing 50,000 rules takes nft seconds): the namespace's nftables
generation, which the kernel bumps on every commit by anyone, is kept
after each apply, and a full resync that finds another commit since
replaces the tables (a rule deleted by hand is put back). A restarted
agent has no generation to compare and trusts the digest.

As the iptables reconciler: before an apply, `before_apply` gets the
filtered ports whose chains the kernel lacks (cold start, new port), so
the L2 agent reports them DOWN until the transaction is in; conntrack
deletions go to the kernel's background cleaner."""
from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from neutrino.agent.l2.firewall.apply import FirewallKernel
from neutrino.agent.l2.firewall.model import ConntrackDelete, FwDesired
from neutrino.agent.l2.firewall.nft import plan as nft_plan
from neutrino.agent.l2.firewall.source import Reconciler, forget_removed
from neutrino.agent.l2.firewall.nft.render import (BASE, BRIDGE, CONST_SETS, INET, STATE_PREFIX,
                                                   TABLE, NftRendered, assign_zones, eg_chain,
                                                   in_chain, render)
from neutrino.dataplane import conntrack as _conntrack
from neutrino.dataplane import nftables
from neutrino.rpc.bus import Transport

LOG = logging.getLogger(__name__)
REPLACE_ABOVE = 1000     # diff lines past which a whole replace may be the smaller transaction


@dataclass(frozen=True)
class NftConf:
    enabled: bool = True

    @classmethod
    def from_config(cls, cfg) -> NftConf:
        sg = cfg.securitygroup
        return cls(enabled=bool(sg.enable_security_group and sg.firewall_driver == "nftables"))


@dataclass
class NftObserved:
    present: bool = False
    chains: set[tuple[str, str]] = field(default_factory=set)   # (family, chain)
    digest: str | None = None
    generation: int | None = None
    zones: dict[str, int] = field(default_factory=dict)        # bridge -> zone
    marks: dict[str, int] = field(default_factory=dict)        # port -> index
    sets: dict[str, frozenset[str]] = field(default_factory=dict)


def _element_text(e) -> str:
    if isinstance(e, dict) and "prefix" in e:
        return str(ipaddress.ip_network(f"{e['prefix']['addr']}/{e['prefix']['len']}"))
    return str(e)


def expected_chains(rendered: NftRendered) -> set[tuple[str, str]]:
    """Every chain the tables should have."""
    return {*rendered.chains, *BASE, (INET, STATE_PREFIX + rendered.digest())}


def holds(observed: NftObserved, rendered: NftRendered, generation: int | None) -> bool:
    """Whether the kernel still holds exactly `rendered` (see module doc)."""
    return (observed.digest == rendered.digest()
            and observed.chains == expected_chains(rendered)
            and observed.sets == {n: m for n, (_, m) in rendered.sets.items()}
            and (generation is None or observed.generation == generation))


class NftKernel:
    """The two `neutrino` tables of one namespace, and its conntrack."""

    def __init__(self, netns: str | None, background_conntrack: bool = False):
        self.netns = netns
        self.transactions = 0          # nft -f calls (tests, benchmarks)
        self.generation: int | None = None    # the ruleset generation after our last commit
        self.timings: dict[str, float] = {}
        self.conntrack = _conntrack.Cleaner(netns, background=background_conntrack,
                                            name=f"conntrack-{netns or 'host'}")

    @property
    def restores(self) -> int:
        """As FirewallKernel.restores: atomic kernel writes (here one per change)."""
        return self.transactions

    def close(self) -> None:
        self.conntrack.close()

    def ensure_bridge_netfilter(self) -> None:
        # conntrack of bridged packets happens in the inet hooks (see render.py)
        FirewallKernel(self.netns).ensure_bridge_netfilter()

    def observe(self) -> NftObserved:
        generation = nftables.generation(self.netns)     # first: a later commit shows
        chains = nftables.chain_names(self.netns, INET, TABLE)
        if not chains:
            return NftObserved(generation=generation)
        obs = NftObserved(present=True, chains={(INET, c) for c in chains},
                          generation=generation)
        obs.digest = next((c[len(STATE_PREFIX):] for c in chains
                           if c.startswith(STATE_PREFIX)), None)
        obs.chains |= {(BRIDGE, c) for c in nftables.chain_names(self.netns, BRIDGE, TABLE) or ()}
        for key, value in nftables.elements(self.netns, INET, TABLE, "map", "zones"):
            obs.zones[str(key)] = int(value)
        for key, value in nftables.elements(self.netns, INET, TABLE, "map", "egress"):
            target = value.get("jump", {}).get("target", "") if isinstance(value, dict) else ""
            if target.startswith("eg-"):
                obs.marks[target[3:]] = int(key)
        obs.sets = {name: frozenset(_element_text(e) for e in elems)
                    for name, elems in nftables.sets(self.netns, INET, TABLE).items()
                    if name not in CONST_SETS}
        return obs

    def apply(self, text: str | list[str], flows: list[ConntrackDelete]) -> None:
        """`text`: one transaction; a list (full_texts, written where no
        table of ours is: a cold start): one `nft -f` per table at once.
        Their commits take turns, their parsing (half of nft's time)
        overlaps: at 5,000 ports 1.9-2.0 s as one, 1.2-1.6 s as two.
        Nothing is filtered yet, so nothing needs the two tables to change
        at one instant; any other full write stays one transaction."""
        started = time.monotonic()
        texts = text if isinstance(text, list) else [text]
        if len(texts) > 1:
            nftables.apply_side_by_side(self.netns, texts)
        else:
            nftables.apply(self.netns, texts[0])
        self.transactions += len(texts)
        self.generation = nftables.generation(self.netns)
        applied = time.monotonic()
        self.conntrack.submit((ct.version, ct.zone, ct.src, ct.dst) for ct in flows)
        self.timings = {"nft": applied - started, "conntrack": time.monotonic() - applied}


class NftFirewall(Reconciler):
    def __init__(self, conf: NftConf, transport: Transport, host: str, prefix: str,
                 netns: str | None, timeout: float = 30.0, kernel: NftKernel | None = None):
        self._hold(conf, transport, host, prefix, timeout,
                   kernel or NftKernel(netns, background_conntrack=True))
        self.last: NftRendered | None = None
        self._generation: int | None = None       # the kernel's, right after our last apply

    @classmethod
    def from_config(cls, cfg, transport: Transport, host: str, prefix: str,
                    netns: str | None) -> NftFirewall:
        return cls(NftConf.from_config(cfg), transport, host, prefix, netns)

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
        nets = {p.network_id for p in desired.ports.values()}
        last = None if full else self.last
        if last is None:
            observed = self.kernel.observe()
            rendered = render(desired, assign_zones(nets, observed.zones), observed.marks)
            have = observed.chains
            if holds(observed, rendered, self._generation):
                text, flows = "", []
                self._generation = observed.generation
            else:
                text = (nft_plan.full_texts(rendered) if not observed.present
                        else nft_plan.full_text(rendered))
                flows = nft_plan.conntrack(desired, None, rendered, observed.sets)
        else:
            known = {f"brq{net[:11]}": z for net, z in last.zones.items()}
            rendered = render(desired, assign_zones(nets, known), last.marks)
            have = set(last.chains)
            text = nft_plan.diff_text(last, rendered)
            flows = nft_plan.conntrack(desired, last, rendered) if text else []
            lines = text.count("\n")
            # deleting is dearer than adding (measured, benchmarks/nft_firewall.py);
            # the whole text is built only when it may be the shorter one
            if lines > REPLACE_ABOVE and nft_plan.whole_lines(rendered) < lines:
                text = nft_plan.full_text(rendered)
        rendered_at = time.monotonic()
        self._note_bad({**bad, **rendered.bad})
        if not text:
            self.last = rendered
            if last is None:      # a full resync that found every filter in place
                done = time.monotonic()
                LOG.info("firewall verified: %d port(s) in place in %.3f s (fetch %.3f, "
                         "observe+render %.3f)", len(desired.ports), done - started,
                         fetched - started, done - fetched)
            return False
        if before_apply is not None:
            missing = {p.id for p in desired.ports.values() if p.filtered and any(
                (INET, chain(p.id)) not in have for chain in (in_chain, eg_chain))}
            if missing:
                before_apply(missing)
        self.last = None          # unknown until the apply succeeded
        self.kernel.apply(text, flows)
        self._generation = self.kernel.generation
        self.last = rendered
        self._forget_flows_of_removed(desired, rendered)
        done = time.monotonic()
        self.stats = {"fetch": fetched - started, "observe_render": rendered_at - fetched,
                      "apply": done - rendered_at, "total": done - started}
        texts = text if isinstance(text, list) else [text]
        LOG.info("firewall: %d port(s), %s of %d line(s), %d conntrack "
                 "deletion(s) in %.3f s (fetch %.3f, observe+render %.3f, apply %.3f: %s)",
                 len(desired.ports), "nft transaction" if len(texts) == 1 else
                 f"{len(texts)} nft transactions side by side",
                 sum(t.count("\n") for t in texts), len(flows), done - started,
                 fetched - started, rendered_at - fetched, done - rendered_at,
                 ", ".join(f"{k} {t:.3f}" for k, t in self.kernel.timings.items()))
        return True

    def _forget_flows_of_removed(self, desired: FwDesired, rendered: NftRendered) -> None:
        self._flows_of = forget_removed(self._flows_of, desired, rendered.zones,
                                        self.kernel.conntrack)