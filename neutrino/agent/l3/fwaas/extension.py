"""FWaaS as an extension of the L3 agent's router reconciler (no agent of
its own, as upstream): after a router's namespace converges, its firewall
converges (render -> observe -> plan -> apply, then the flows the new rules
forbid are cut), and after each pass the groups' statuses go to the server.

A group's status is reported once every router of this host that has one of
its ports has applied the group's current version: ERROR with the reason if
any of them failed (or the group's data was unusable), else ACTIVE.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import replace

from neutrino.agent.l3.fwaas.apply import RouterFirewallKernel
from neutrino.agent.l3.fwaas.model import FAMILIES
from neutrino.agent.l3.fwaas.plan import Rendered, forbidden, plan, render

LOG = logging.getLogger(__name__)


def firewall_only(before, after) -> bool:
    """True if `after` differs from `before` (the router as last converged)
    in its ports' firewall groups and in nothing else: a FWaaS change, which
    needs no router converge (a full sync still converges everything)."""
    if before is None:
        return False
    def versions(r):
        return [(p.id, p.firewall_group and (p.firewall_group.id, p.firewall_group.version))
                for p in r.devices().values()]
    if versions(before) == versions(after):
        return False
    return without_groups(before) == without_groups(after)


def without_groups(router):
    return replace(router, interfaces=[replace(p, firewall_group=None) for p in router.interfaces],
                   gw=replace(router.gw, firewall_group=None) if router.gw else None)


def router_groups(router) -> dict:
    return {p.firewall_group.id: p.firewall_group for p in router.devices().values()
            if p.firewall_group is not None}


class FwaasExtension:
    def __init__(self, enabled: bool = True, kernel=None):
        self.enabled = enabled
        self.kernel = kernel or RouterFirewallKernel     # netns -> kernel access
        self._lock = threading.Lock()
        # routers whose namespace we know has no FWaaS chains (not observed
        # again until a group appears or a full sync)
        self._clean: set[str] = set()
        # router id -> group id -> (version applied, reason it failed or None)
        self._applied: dict[str, dict[str, tuple[str, str | None]]] = {}
        self._reported: dict[str, dict] = {}
        self._cut_pending: set[str] = set()     # routers whose flows still need judging
        self.last_flows_cut = 0          # tests, benchmarks

    def converge(self, netns: str, router, full: bool = False) -> bool:
        """Make the router's FWaaS chains match its groups; True if the
        kernel changed. Raises on failure (the caller records it)."""
        rendered = render(router) if self.enabled else Rendered(chains={v: {} for v in FAMILIES})
        if not rendered.ports and not full and router.id in self._clean:
            return False
        kernel = self.kernel(netns)
        result = plan(rendered, kernel.observe())
        cut = not result.empty or router.id in self._cut_pending
        if cut:     # until it is done, a failed cut is tried again (plan or not)
            with self._lock:
                self._cut_pending.add(router.id)
        if not result.empty:
            kernel.apply(result)
        if cut:
            doomed = forbidden(kernel.flows(), rendered, router)
            kernel.delete_flows(doomed)
            self.last_flows_cut = len(doomed)
            with self._lock:
                self._cut_pending.discard(router.id)
        with self._lock:
            if rendered.ports:
                self._clean.discard(router.id)
            else:
                self._clean.add(router.id)
        return not result.empty

    def record(self, router, failure: str | None) -> None:
        """What the last converge of `router` left applied (failure: why not)."""
        with self._lock:
            self._applied[router.id] = {gid: (g.version, failure or g.error)
                                        for gid, g in router_groups(router).items()}

    def forget(self, router_id: str) -> None:
        with self._lock:
            self._applied.pop(router_id, None)
            self._clean.discard(router_id)
            self._cut_pending.discard(router_id)

    def statuses(self, routers: dict) -> dict[str, dict]:
        """Group id -> {"status", "version", "reason"} for every group whose
        routers here have all applied its current version."""
        out: dict[str, dict] = {}
        pending: set[str] = set()
        with self._lock:
            for rid, router in routers.items():
                applied = self._applied.get(rid, {})
                for gid, group in router_groups(router).items():
                    done = applied.get(gid)
                    if done is None or done[0] != group.version:
                        pending.add(gid)
                        continue
                    if done[1]:
                        out[gid] = {"status": "ERROR", "version": group.version,
                                    "reason": done[1]}
                    else:
                        out.setdefault(gid, {"status": "ACTIVE", "version": group.version,
                                             "reason": None})
        return {gid: s for gid, s in out.items() if gid not in pending}

    def changes(self, routers: dict, full: bool) -> dict[str, dict]:
        """The statuses to report after a pass: all after a full sync, else
        those that changed since the last report."""
        now = self.statuses(routers) if self.enabled else {}
        send = now if full else {g: s for g, s in now.items() if self._reported.get(g) != s}
        self._reported = now
        return send
