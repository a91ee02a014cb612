"""neutrino-lb-agent: the level-triggered reconciler of the load balancers
scheduled to one host (one qlbaas- namespace and one haproxy each).

Triggers only mark load balancers dirty; one worker converges them
(fetch -> plan(desired, observed) -> apply):
  * a resource_changed(resource="loadbalancer") notification -> converge it;
  * start, bus reconnect, any error and every resync_interval -> converge
    every load balancer of this host, and remove what is left of ours that
    the server no longer lists;
  * a poller reads each haproxy's statistics every stats_poll_interval and
    reports operating statuses and statistics that changed; an haproxy
    found dead marks its load balancer dirty (restarted by the worker).
Converging a load balancer that is right changes nothing: a restarted agent
adopts running haproxies (pid file + command line + namespace) untouched.
After each apply the agent casts update_loadbalancer_statuses with the
version it applied (ACTIVE, ERROR with a reason, or DELETED).
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from neutrino.agent import startup
from neutrino.agent.lb import stats as lbstats
from neutrino.agent.lb.driver import ConfigRejected, Driver
from neutrino.agent.lb.haproxy_config import render
from neutrino.agent.lb.model import LbDesired, Vip
from neutrino.agent.lb.plan import plan
from neutrino.agent.threads import AgentThreads, Triggers, leave_bus, report_state
from neutrino.rpc.bus import Transport, make_transport
from neutrino.rpc.client import (NOTICE_BATCHES, ServerClient, host_topic, server_target,
                                 status_target, unbatched)

LOG = logging.getLogger(__name__)
LB_AGENT_TYPE = "Loadbalancer agent"
LB_BINARY = "neutrino-lb-agent"
LB_TOPIC = "loadbalancer_agent"


def lbaas_dir(cfg) -> Path:
    return Path(cfg.haproxy.loadbalancer_state_path or Path(cfg.DEFAULT.state_path) / "lbaas")


def desired_from_wire(wire: dict, driver: Driver) -> LbDesired:
    """The desired value of one load balancer; the config is rendered here
    (a render error is the load balancer's ERROR, raised to the caller)."""
    if wire.get("deleted"):
        return LbDesired(wire["id"], True, int(wire.get("epoch") or 0),
                         str(wire.get("version", "")), None, None)
    if not wire.get("vip"):
        raise ValueError("the VIP port or its subnet is missing")
    return LbDesired(wire["id"], False, int(wire.get("epoch") or 0), str(wire.get("version", "")),
                     Vip.from_wire(wire["vip"]), render(wire, driver.paths(wire["id"])))


class LbAgent:
    def __init__(self, cfg, transport: Transport | None = None, host_netns: str | None = None):
        """`host_netns`: where the taps go (the host's namespace; None: this
        process's). `transport`: an existing bus connection (inproc)."""
        self.cfg = cfg
        d = cfg.DEFAULT
        startup.check_executable("[haproxy] haproxy_binary", cfg.haproxy.haproxy_binary)
        self.host = d.host
        self.prefix = d.control_exchange
        self.host_netns = host_netns
        self._owns_transport = transport is None
        self.transport = transport or make_transport(
            d.transport_url, **({"client_name": f"lb-agent:{self.host}"}
                                if not d.transport_url.startswith("inproc") else {}))
        self.driver = Driver(lbaas_dir(cfg), cfg.agent.namespace_prefix, host_netns,
                             cfg.haproxy.haproxy_binary, cfg.haproxy.send_gratuitous_arp)
        self.report_interval = cfg.agent.report_interval
        self.resync_interval = cfg.agent.resync_interval
        self.poll_interval = cfg.haproxy.stats_poll_interval
        self.wires: dict[str, dict] = {}           # lb id -> its last wire value
        self.applied: dict[str, dict] = {}         # lb id -> {version, provisioning_status, reason}
        self._sent: dict[str, dict] = {}           # lb id -> the last report sent
        self._lock = threading.Lock()              # wires/applied/_sent
        self.synced = threading.Event()
        self.cycles = 0
        self.lifecycle = AgentThreads(self.host)   # namespaces are per load balancer
        self.triggers = Triggers(self.lifecycle.cond)
        self.registered = threading.Event()        # set by the first report the server answered

    # ------------------------------------------------------------ lifecycle

    def start(self) -> LbAgent:
        self.transport.subscribe(host_topic(self.host, self.prefix),
                                 unbatched(self._on_notification))
        self.transport.on_reconnect(self.request_full_resync)
        if self.report_interval > 0:
            self.lifecycle.heartbeat("lb-heartbeat", self.report, self.report_interval)
        self.lifecycle.spawn("lb-reconciler", self._reconcile_loop)
        if self.poll_interval > 0:
            self.lifecycle.spawn("lb-stats", self._poll_loop)
        LOG.info("LB agent on host %s started (state %s)", self.host, self.driver.lbaas_dir)
        return self

    def stop(self) -> None:
        """Stop reconciling; every haproxy keeps serving."""
        self.lifecycle.stop()
        leave_bus(self.transport, host_topic(self.host, self.prefix), self._owns_transport)

    def wait_synced(self, timeout: float) -> bool:
        return self.synced.wait(timeout)

    # ------------------------------------------------------------ triggers

    def _on_notification(self, method: str, payload: dict) -> None:
        if method == "resource_changed" and payload.get("resource") == "loadbalancer" \
                and payload.get("id"):
            self.triggers.mark(payload["id"])

    def request_full_resync(self) -> None:
        self.triggers.request_full()

    def _reconcile_loop(self) -> None:
        self.registered.wait(5.0 if self.report_interval > 0 else 0)
        self.lifecycle.reconcile(self.triggers, self.sync, self.resync_interval, "LB")

    # ------------------------------------------------------------ the worker

    def fetch(self) -> dict[str, dict]:
        state = self.transport.call(server_target(self.prefix), "get_loadbalancers",
                                    {"host": self.host}, timeout=30)
        return {lb["id"]: lb for lb in state.get("loadbalancers") or ()}

    def sync(self, full: bool, dirty: set[str] = frozenset()) -> int:
        """Fetch this host's load balancers and converge the dirty ones (all
        of them on a full pass); returns how many needed changes."""
        started = time.monotonic()
        wires = self.fetch()
        todo = set(wires) if full else (set(dirty) | (set(wires) - set(self.wires))
                                        | (set(self.wires) - set(wires)))
        if full:
            todo |= self.driver.known()
        with self._lock:
            self.wires = {k: v for k, v in wires.items() if not v.get("deleted")}
        taps = self.driver.taps()
        changed, failed = 0, []
        reports = {}
        for lb_id in sorted(todo):
            wire = wires.get(lb_id)
            result, report = self.converge_one(lb_id, wire, taps)
            if result is None:
                failed.append(lb_id)
            elif result:
                changed += 1
            if report is not None:
                reports[lb_id] = report
        self._report(reports, force=True)
        self.cycles += 1
        if full or changed:
            LOG.log(logging.INFO if full else logging.DEBUG,
                    "%s LB sync: %d load balancer(s), %d changed, %d failed in %.3f s",
                    "full" if full else "partial", len(todo), changed, len(failed),
                    time.monotonic() - started)
        if failed:
            raise RuntimeError(f"{len(failed)} load balancer(s) failed: {', '.join(failed[:5])}")
        if full:
            self.synced.set()
        return changed

    def converge_one(self, lb_id: str, wire: dict | None,
                     taps: set[str]) -> tuple[bool | None, dict | None]:
        """(changed, or None on error; the provisioning report, or None)."""
        version = str(wire.get("version", "")) if wire else ""
        permanent = False        # the same wire will fail the same way: no retry loop
        try:
            try:
                desired = desired_from_wire(wire, self.driver) if wire is not None else None
            except Exception:
                permanent = True
                raise
            vip = desired.vip if desired is not None else None
            observed = self.driver.observe(lb_id, taps, vip.dev if vip else None,
                                           v6=vip is not None and vip.ip_version == 6)
            ops = plan(desired, observed)
            if ops:
                LOG.debug("load balancer %s: %s", lb_id, [op[0] for op in ops])
                self.driver.apply(lb_id, ops, desired.vip if desired is not None else None)
        except Exception as exc:  # noqa: BLE001 - one load balancer must not stop the others
            LOG.warning("load balancer %s: %s: %s", lb_id, type(exc).__name__, exc,
                        exc_info=LOG.isEnabledFor(logging.DEBUG))
            if wire is None:
                return None, None
            entry = {"version": version, "provisioning_status": "ERROR",
                     "reason": f"{type(exc).__name__}: {exc}"[:255]}
            with self._lock:
                self.applied[lb_id] = entry
            # a config this driver cannot make, or haproxy refuses, waits for the
            # next change (or resync); a kernel error makes the next pass a full
            # one after a backoff
            permanent = permanent or isinstance(exc, ConfigRejected)
            return (False if permanent else None), entry
        if wire is None:          # ours on disk, unknown to the server: just removed
            with self._lock:
                self.applied.pop(lb_id, None)
                self._sent.pop(lb_id, None)
            return bool(ops), None
        if desired.deleted:
            entry = {"version": version, "provisioning_status": "DELETED", "reason": None}
            with self._lock:
                self.applied.pop(lb_id, None)
                self._sent.pop(lb_id, None)
            return bool(ops), entry
        entry = {"version": version, "provisioning_status": "ACTIVE", "reason": None}
        with self._lock:
            previous = self.applied.get(lb_id)
            self.applied[lb_id] = entry
        report = entry if (ops or previous != entry
                           or self._sent.get(lb_id, {}).get("version") != version) else None
        return bool(ops), report

    # ------------------------------------------------------------ statuses

    def status_of(self, lb_id: str, entry: dict) -> dict:
        """The full report of one load balancer: provisioning from the last
        apply, operating statuses and statistics from its haproxy now."""
        if entry["provisioning_status"] == "DELETED":
            return dict(entry)
        with self._lock:
            wire = self.wires.get(lb_id)
        rows = self.driver.rows(lb_id) if wire is not None else None
        live = lbstats.statuses(wire, rows) if wire is not None else {}
        return {**entry, **live}

    def _report(self, entries: dict[str, dict], force: bool = False) -> None:
        """One cast with the load balancers whose report changed (`force`:
        the ones given, changed or not)."""
        out = {}
        for lb_id, entry in entries.items():
            full = self.status_of(lb_id, entry)
            with self._lock:
                if force or self._sent.get(lb_id) != full:
                    out[lb_id] = full
                    if full["provisioning_status"] != "DELETED":
                        self._sent[lb_id] = full
        if out:
            self.transport.cast(status_target(self.prefix), "update_loadbalancer_statuses",
                                {"host": self.host, "loadbalancers": out})

    def _poll_loop(self) -> None:
        while not self.lifecycle.stopped.wait(self.poll_interval):
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - the next poll retries
                LOG.warning("LB statistics poll failed: %s", exc)

    def poll_once(self) -> None:
        with self._lock:
            entries = {k: v for k, v in self.applied.items()
                       if v["provisioning_status"] == "ACTIVE" and k in self.wires}
        dead = [lb_id for lb_id in entries if self.driver.pid(lb_id) is None]
        if dead:
            LOG.warning("haproxy of load balancer(s) %s not running: restarting",
                        ", ".join(sorted(dead)))
            self.triggers.mark(*dead)
        self._report(entries)

    # ------------------------------------------------------------ heartbeats

    def agent_state(self, start_flag: bool) -> dict[str, Any]:
        with self._lock:
            wires = list(self.wires.values())
        state = {"agent_type": LB_AGENT_TYPE, "binary": LB_BINARY, "host": self.host,
                 "topic": LB_TOPIC,
                 "configurations": {
                     "device_drivers": ["haproxy_ns"],
                     "interface_driver": self.cfg.DEFAULT.interface_driver,
                     "loadbalancers": len(wires),
                     "listeners": sum(len(w.get("listeners") or ()) for w in wires),
                     "pools": sum(len(w.get("pools") or ()) for w in wires),
                     "members": sum(len(p.get("members") or ())
                                    for w in wires for p in w.get("pools") or ()),
                     NOTICE_BATCHES: True}}
        if start_flag:
            state["start_flag"] = True
        return state

    def report(self) -> None:
        if report_state(ServerClient(self.transport, self.host, self.prefix), self.agent_state,
                        self.registered, LB_AGENT_TYPE, self.host, LOG):
            self.request_full_resync()
