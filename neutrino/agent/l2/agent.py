"""neutrino-linuxbridge-agent: the level-triggered L2 reconciler of one host.

Triggers only mark things dirty; one worker thread converges:
  * a notification for a port/network -> fetch just those from the server;
  * a tap appearing or vanishing (netlink event) -> no RPC at all, the
    cached desired state is planned against a fresh kernel dump;
  * start, bus reconnect, any error and every resync_interval -> fetch the
    whole host state (one call) and converge everything, stale devices too;
  * every polling_interval -> rescan the kernel.
Each cycle is: the firewall (every bound port but those whose tap left;
a port ACTIVE whose filter the kernel lacks, e.g. after netfilter was
flushed, is reported DOWN before its filter is restored), observe (one
link dump; the last one again when no link event arrived and nothing was
applied since), the firewall again if taps left or came back, plan
(pure), report BUILD for the
ports about to be wired, apply (batched netlink), report ACTIVE/DOWN (one
cast). A port is reported ACTIVE only after its filter and its wiring are
in place. Nothing on the wiring path waits for the server or for
conntrack cleanup.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from neutrino.agent import startup
from neutrino.agent.l2.apply import Kernel
from neutrino.agent.l2.firewall.apply import tool as iptables_tool
from neutrino.agent.l2.model import Desired, L2Conf, Plan, tap_name
from neutrino.agent.l2.plan import plan
from neutrino.agent.l2.trunk.plan import missing_subports, plan_subports
from neutrino.agent.threads import AgentThreads, leave_bus, next_full_resync
from neutrino.agent_options import parse_mappings
from neutrino.dataplane.rtnl_fast import LinkMonitor, ipv4_addresses
from neutrino.rpc.bus import Transport, make_transport
from neutrino.rpc.client import (LINUXBRIDGE_AGENT_TYPE, LINUXBRIDGE_BINARY, NOTICE_BATCHES,
                                 ServerClient, host_topic, unbatched)

LOG = logging.getLogger(__name__)
MAX_BACKOFF = 10.0


def find_interface_with(ip: str, netns: str | None) -> str | None:
    """Name of the interface holding `ip` (the VTEP address) in `netns`."""
    if not ip:
        return None
    index = next((idx for idx, addr, _ in ipv4_addresses(netns) if addr == ip), None)
    if index is None:
        return None
    with Kernel(netns) as kernel:
        return next((l.name for l in kernel.observe().values() if l.index == index), None)


def check_host(cfg, netns: str | None) -> str | None:
    """AgentCannotStart when a mapped interface or bridge is missing in
    `netns` or [vxlan] local_ip is on none of its interfaces (as upstream's
    agent, which exits); else the interface holding local_ip."""
    vx = cfg.vxlan
    if vx.enable_vxlan and not vx.local_ip:
        LOG.warning("[vxlan] enable_vxlan is true but local_ip is unset: vxlan networks are "
                    "not served on this host")
    vxlan_dev = find_interface_with(vx.local_ip, netns) if vx.enable_vxlan else None
    with Kernel(netns) as kernel:
        links = set(kernel.observe())
    problems = startup.linuxbridge_problems(
        parse_mappings(cfg.linux_bridge.physical_interface_mappings),
        parse_mappings(cfg.linux_bridge.bridge_mappings), vx.enable_vxlan, vx.local_ip,
        links, vxlan_dev)
    if problems:
        raise startup.terminated(problems)
    sg = cfg.securitygroup
    if sg.enable_security_group and sg.firewall_driver == "iptables" \
            and sg.iptables_backend != "auto":
        for command in ("iptables-restore", "ip6tables-restore"):
            startup.check_executable("[securitygroup] iptables_backend",
                                     iptables_tool(command, sg.iptables_backend))
    return vxlan_dev


class LinuxBridgeAgent:
    def __init__(self, cfg, transport: Transport | None = None, netns: str | None = None,
                 kernel: Kernel | None = None):
        """`netns`: the namespace whose devices to manage (None: the one this
        process runs in). `transport`: an existing bus connection (inproc
        all-in-one); otherwise one is made from [DEFAULT] transport_url.
        `kernel`: a stand-in for the kernel (unit tests)."""
        # A configuration that cannot work stops here, before the bus is joined.
        vxlan_dev = check_host(cfg, netns) if kernel is None else None
        self.cfg = cfg
        self.host = cfg.DEFAULT.host
        self.prefix = cfg.DEFAULT.control_exchange
        self.netns = netns
        self._owns_transport = transport is None
        self.transport = transport or make_transport(
            cfg.DEFAULT.transport_url,
            **({"client_name": f"lb-agent:{self.host}"}
               if not cfg.DEFAULT.transport_url.startswith("inproc") else {}))
        self.client = ServerClient(self.transport, self.host, self.prefix)
        self.polling_interval = cfg.agent.polling_interval
        self.report_interval = cfg.agent.report_interval
        self.resync_interval = cfg.agent.resync_interval
        self.conf = L2Conf.from_config(cfg, vxlan_dev)
        self.kernel = kernel or Kernel(netns)
        # Security groups (#7): only on a real kernel, and only when enabled.
        self.firewall = None
        if kernel is None:
            from neutrino.agent.l2.firewall.agent import make_firewall
            fw = make_firewall(cfg, self.transport, self.host, self.prefix, netns)
            self.firewall = fw if fw.conf.enabled else None
        # QoS (bandwidth limits, DSCP marks on the taps): only on a real kernel
        self.qos = None
        if kernel is None:
            from neutrino.agent.l2.qos.agent import QosAgent
            self.qos = QosAgent(netns)
        self.desired: Desired | None = None
        self.known_status: dict[str, str] = {}
        self.last_plan: Plan | None = None
        self.problems: dict[str, str] = {}
        self.synced = threading.Event()          # first full sync done
        self.cycles = 0
        # children (helpers, later daemons) live in the host's namespace too
        self.lifecycle = AgentThreads(self.host, netns)
        self._cond = self.lifecycle.cond
        self._stop = self.lifecycle.stopped
        self._dirty_ports: set[str] = set()
        self._deleted_ports: set[str] = set()    # of those, notified deleted: nothing to ask
        self._dirty_networks: set[str] = set()
        self._dirty_tables: set[str] = set()     # l2population: remote ports changed
        self._full = True
        self._kernel_dirty = True
        self._monitor: LinkMonitor | None = None
        # link events heard (any device, overruns too), and the last dump of
        # the links with the count it began at (see _observe_links)
        self._link_events = 0
        self._taps_seen: set[str] = set()    # bound ports whose tap the last cycle saw
        self._taps_left: set[str] = set()    # ... seen once, gone since: not filtered
        self._links: tuple[int, dict] | None = None
        self._poll_due = False
        self._registered = False
        self._unknown_taps: dict[str, float | None] = {}  # tap -> first seen; None: asked

    # ------------------------------------------------------------ lifecycle

    def start(self) -> LinuxBridgeAgent:
        self.transport.subscribe(host_topic(self.host, self.prefix),
                                 unbatched(self._on_notification))
        self.transport.on_reconnect(self.request_full_resync)
        from neutrino.dashboard import inspect as dashboard_inspect   # "under the hood" RPC
        dashboard_inspect.serve(self.transport, self.host, self.netns, self.prefix)
        self._monitor = LinkMonitor(self.netns, self._on_link_event).start()
        self.lifecycle.spawn("lb-reconciler", self._reconcile_loop)
        if self.report_interval > 0:
            self.lifecycle.heartbeat("lb-heartbeat", self.report, self.report_interval)
        LOG.info("Linux bridge agent on host %s started (mappings %s, vxlan %s)", self.host,
                 self.conf.interface_mappings, self.conf.local_ip if self.conf.vxlan_enabled
                 else "off")
        return self

    def stop(self) -> None:
        """Stop reconciling; the dataplane stays exactly as it is."""
        self.lifecycle.stop()
        if self._monitor is not None:
            self._monitor.stop()
        leave_bus(self.transport, host_topic(self.host, self.prefix), self._owns_transport)
        self.kernel.close()
        if self.firewall is not None:
            self.firewall.close()

    def wait_synced(self, timeout: float) -> bool:
        return self.synced.wait(timeout)

    # ------------------------------------------------------------ triggers

    def _on_notification(self, method: str, payload: dict) -> None:
        if method != "resource_changed":
            return
        resource = payload.get("resource")
        with self._cond:
            if resource == "port":
                self._dirty_ports.add(payload["id"])
                if payload.get("deleted"):
                    self._deleted_ports.add(payload["id"])
            elif resource == "network":
                self._dirty_networks.add(payload["id"])
            elif resource == "fdb":   # l2population: only the network's table changed
                self._dirty_tables.add(payload["id"])
            elif resource == "security_group" and self.firewall is not None:
                groups = payload.get("groups")
                if payload.get("id") is None and isinstance(groups, list):
                    self.firewall.members_changed(groups)   # members alone: refetch those
                elif payload.get("id") is not None and not payload.get("deleted"):
                    self.firewall.rules_changed([payload["id"]])   # its rules alone
                else:
                    self.firewall.mark_dirty()       # refetch all, re-render
                self._kernel_dirty = True
            else:
                return
            self._cond.notify()

    def _relevant_link(self, name: str | None) -> bool:
        """Taps, devices we own, mapped interfaces and bridges; None means
        the kernel dropped events (rescan)."""
        if name is None or name.startswith(("tap", "brq", "vxlan-")) or "." in name:
            return True
        return (name in self.conf.interface_mappings.values()
                or name in self.conf.bridge_mappings.values())

    def _on_link_event(self, event: str, name: str | None) -> None:
        self._link_events += 1          # this thread alone writes it
        if not self._relevant_link(name):
            return
        with self._cond:
            self._kernel_dirty = True
            self._cond.notify()

    def request_full_resync(self) -> None:
        with self._cond:
            self._full = True
            self._cond.notify()

    # ------------------------------------------------------------ the worker

    def _reconcile_loop(self) -> None:
        now = time.monotonic()
        next_full = next_full_resync(now, self.resync_interval)
        next_poll = now + self.polling_interval
        backoff = 0.0
        while not self._stop.is_set():
            with self._cond:
                while not (self._full or self._kernel_dirty or self._dirty_ports
                           or self._dirty_networks or self._dirty_tables
                           or self._stop.is_set()):
                    now = time.monotonic()
                    if now >= next_full:
                        self._full = True
                        break
                    if now >= next_poll:
                        self._kernel_dirty = True
                        self._poll_due = True      # a real rescan (see _observe_links)
                        break
                    self._cond.wait(min(next_full, next_poll) - now)
                if self._stop.is_set():
                    return
                full, self._full = self._full, False
                ports, self._dirty_ports = self._dirty_ports, set()
                gone, self._deleted_ports = self._deleted_ports, set()
                networks, self._dirty_networks = self._dirty_networks, set()
                tables, self._dirty_tables = self._dirty_tables, set()
                self._kernel_dirty = False
            try:
                self.sync(full, ports, networks, tables, gone)
                backoff = 0.0
            except Exception as exc:  # noqa: BLE001 - any error: full resync, with backoff
                backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF)
                LOG.warning("sync failed (%s: %s); full resync in %.1f s", type(exc).__name__,
                            exc, backoff, exc_info=LOG.isEnabledFor(logging.DEBUG))
                with self._cond:
                    self._full = True
                self._stop.wait(backoff)
            now = time.monotonic()
            if full:
                next_full = next_full_resync(now, self.resync_interval)
            next_poll = now + self.polling_interval

    def sync(self, full: bool, ports: set[str] = frozenset(),
             networks: set[str] = frozenset(), tables: set[str] = frozenset(),
             gone: set[str] = frozenset()) -> Plan:
        """One cycle: fetch what is dirty, observe, plan, apply, report.
        `tables`: networks whose l2population table alone changed. `gone`:
        those of `ports` notified deleted, not asked about (a burst of
        deletes fetches no port)."""
        started = time.monotonic()
        # subports of the parents refetched now: those no parent claims
        # afterwards are refetched too (unbound with their trunk or parent)
        former = set() if self.desired is None or full else {
            sid for pid in ports if pid in self.desired.ports
            for sid, _ in self.desired.ports[pid].subports}
        ours: set[str] = set()      # notified ports bound here, now or before
        if full or self.desired is None:
            state = self.client.get_host_state()
            self.desired = Desired.from_wire(state)
            if self.qos is not None:
                self.qos.learn(state, True)
            self.known_status = {p.id: p.status for p in self.desired.ports.values()}
            ours = set(ports) - set(gone)
        elif ports or networks or tables:
            # l2population tables: refetched alone on fdb notices, with
            # their network on network notices, not with every port of it
            tables = set(tables) - set(networks)
            held = ({n for n in self.desired.networks if n not in networks and n not in tables}
                    if self.conf.l2_population else set())
            ask = set(ports) - set(gone)
            state = (self.client.get_host_state(ask, networks, held, tables)
                     if ask or networks or tables else {"ports": [], "networks": []})
            had = {pid for pid in ask if pid in self.desired.ports}
            self.desired.merge(state, set(ports), set(networks), held)
            ours = had | {pid for pid in ask if pid in self.desired.ports}
            if self.qos is not None:
                self.qos.learn(state, False, set(ports), set(networks))
            for p in state.get("ports", ()):
                self.known_status[p["id"]] = p["status"]
            for pid in list(self.known_status):
                if pid not in self.desired.ports:
                    del self.known_status[pid]
        # trunk subports bound with their parent: fetch them too (once each
        # until the next full sync: one that is not bound here stays away)
        asked = self.__dict__.setdefault("_subports_asked", set())
        if full:
            asked.clear()
        missing = missing_subports(self.desired) - asked
        asked |= missing
        claimed = {sid for p in self.desired.ports.values() for sid, _ in p.subports}
        missing |= (former - claimed) & set(self.desired.ports)
        if missing:
            state = self.client.get_host_state(missing, ())
            self.desired.merge(state, set(missing), set())
            if getattr(self, "qos", None) is not None:
                self.qos.learn(state, False, set(missing), set())
            for p in state.get("ports", ()):
                self.known_status[p["id"]] = p["status"]
            for pid in missing - set(self.desired.ports):
                self.known_status.pop(pid, None)
            ours |= missing
        desired = self.desired
        fetched = time.monotonic()
        blocked: dict[str, str] = {}
        filtered = set(desired.ports) - self._taps_left    # as the last cycle left them
        if self.firewall is not None:    # filters exist before their taps join a bridge
            # ports notified deleted are dropped, not refetched (a burst of
            # deletes); ports changed here are refetched alone; another
            # host's port (this host serves its network's DHCP) changes only
            # members, which come by their own notice; before the links are
            # observed: a deleted port's chains leave the kernel without
            # waiting for a dump of every link
            self.firewall.converge(filtered, refetch=bool(full or networks), full=full,
                                   before_apply=self._filters_missing, gone=gone,
                                   changed=ours)
        observed = self._observe_links(full)
        trunk_ops = plan_subports(desired, observed)
        if trunk_ops:   # subport devices first: the plan below wires them as taps
            self.kernel.apply(trunk_ops)
            self._links = None
            observed = self._observe_links(full)
        if self.firewall is not None:
            now = self._to_filter(desired, observed)
            if now != filtered:          # taps left or came back: before the plan wires
                self.firewall.converge(now, before_apply=self._filters_missing)
            blocked = self.firewall.bad_ports    # bad data: isolated, tap kept off, ERROR
        if self._unknown_taps_due(observed, desired, full):
            self.request_full_resync()
        forwarding = (self.kernel.observe_forwarding(observed) if self.conf.l2_population
                      else None)
        observed_at = time.monotonic()
        result = plan(desired, observed, self.conf, forwarding, blocked)
        planned = time.monotonic()
        self._log_problems(result.problems)
        build = [pid for pid in sorted(result.touching_ports & result.wired)
                 if self.known_status.get(pid) == "DOWN"]
        if build:
            self.client.update_device_status(build=build)
            for pid in build:
                self.known_status[pid] = "BUILD"
        if result.ops:
            self._links = None      # changed by us: the next cycle dumps them again
        outcome = self.kernel.apply(result.ops)
        applied = time.monotonic()
        failed_ports = {pid for pid in result.wired if tap_name(pid) in outcome.failed}
        if self.qos is not None:
            self.qos.converge(result.wired - failed_ports, observed, full)
        up = [pid for pid in sorted(result.wired - failed_ports)
              if self.known_status.get(pid) != "ACTIVE"]
        down = [pid for pid in sorted(result.unwired | failed_ports)
                if self.known_status.get(pid) not in ("DOWN", None)]
        error = [pid for pid in sorted(result.failed) if self.known_status.get(pid) != "ERROR"]
        self.client.update_device_status(up=up, down=down, error=error)
        for pid in error:
            self.known_status[pid] = "ERROR"
        for pid in up:
            self.known_status[pid] = "ACTIVE"
        for pid in down:
            self.known_status[pid] = "DOWN"
        self.last_plan = result
        self.cycles += 1
        elapsed = time.monotonic() - started
        if full or result.ops:
            LOG.log(logging.INFO if full or len(result.ops) > 20 else logging.DEBUG,
                    "%s sync: %d port(s) bound, %d wired, %d op(s) in %.3f s (fetch %.3f, "
                    "observe %.3f, plan %.3f, apply %.3f)", "full" if full else "partial",
                    len(desired.ports), len(result.wired), len(result.ops), elapsed,
                    fetched - started, observed_at - fetched, planned - observed_at,
                    applied - planned)
        if outcome.failed:
            raise RuntimeError(f"{len(outcome.failed)} device change(s) failed: "
                               + ", ".join(sorted(outcome.failed)[:5]))
        if full:
            self.synced.set()
        return result

    def _observe_links(self, full: bool) -> dict:
        """The namespace's links. The last dump serves again when no link
        event of any device arrived since that dump began and this agent
        changed no link since: a burst of port deletes whose taps left
        before costs no dump of 5,000 links per cycle (a third of the
        agent's CPU in one). A change whose event is still on its way
        when this looks wakes the loop again, and that cycle dumps. Full
        syncs, the polling_interval rescans (there for whatever an event
        could miss) and agents without a link monitor (tests driving sync()
        over a fake kernel) always dump."""
        heard, poll, self._poll_due = self._link_events, self._poll_due, False
        if (not (full or poll) and self._monitor is not None and self._links is not None
                and self._links[0] == heard):
            return self._links[1]
        observed = self.kernel.observe()
        self._links = (heard, observed)
        return observed

    def _to_filter(self, desired: Desired, observed) -> set[str]:
        """The bound ports to filter: all but those whose tap left (seen
        by this agent, gone since: the instance destroyed or stopped), as
        upstream's agent drops a vanished device's filter, not when Nova
        deletes the port later. A port whose tap has not appeared yet keeps
        its filter ready (filtered before it joins the bridge); a tap that
        comes back gets it again before the plan wires it."""
        bound = set(desired.ports)
        present = {pid for pid in bound if tap_name(pid) in observed}
        left = (self._taps_seen - present) & bound
        if left:
            LOG.info("%d port(s) on host %s lost their tap (e.g. %s): their filters go until "
                     "it is back", len(left), self.host, min(left))
        self._taps_left = ((self._taps_left | left) - present) & bound
        self._taps_seen = present
        return bound - self._taps_left

    def _filters_missing(self, port_ids: set[str]) -> None:
        """Ports about to get their filter back (or for the first time): one
        reported ACTIVE is not filtered right now, so it is DOWN until the
        cycle reports it ACTIVE again, after the restore (the server takes
        BUILD only from DOWN)."""
        down = sorted(p for p in port_ids if self.known_status.get(p) == "ACTIVE")
        if down:
            LOG.warning("%d port(s) ACTIVE on host %s had no filter in the kernel (netfilter "
                        "flushed?): DOWN until it is restored", len(down), self.host)
            self.client.update_device_status(down=down)
            for pid in down:
                self.known_status[pid] = "DOWN"

    def _unknown_taps_due(self, observed, desired: Desired, full: bool) -> bool:
        """A tap that none of our ports explains may belong to a port whose
        notification was lost (say its server died between commit and
        publish). Once it has stayed unknown for two polling intervals, fetch
        the whole host state: once per tap name, so a stranger's tap costs
        one fetch, not one per cycle."""
        known = {tap_name(pid) for pid in desired.ports}
        taps = {name for name in observed if name.startswith("tap") and name not in known}
        for name in set(self._unknown_taps) - taps:
            del self._unknown_taps[name]
        now, due = time.monotonic(), False
        for name in taps:
            if full:  # this very sync asked the server about every port
                self._unknown_taps[name] = None
            first = self._unknown_taps.setdefault(name, now)
            if first is not None and now - first >= 2 * self.polling_interval:
                self._unknown_taps[name] = None
                due = True
        return due

    def _log_problems(self, problems: dict[str, str]) -> None:
        for net_id, why in problems.items():
            if self.problems.get(net_id) != why:
                LOG.error("network %s cannot be served on host %s: %s", net_id, self.host, why)
        self.problems = problems

    # ------------------------------------------------------------ heartbeats

    def agent_state(self, start_flag: bool) -> dict[str, Any]:
        configurations = self.conf.agent_configurations()
        configurations["devices"] = len(self.last_plan.wired) if self.last_plan else 0
        configurations[NOTICE_BATCHES] = True
        state = {"agent_type": LINUXBRIDGE_AGENT_TYPE, "binary": LINUXBRIDGE_BINARY,
                 "host": self.host, "topic": "N/A", "configurations": configurations}
        if start_flag:
            state["start_flag"] = True
        return state

    def report(self) -> None:
        """One heartbeat: a call until the server has registered us, then casts."""
        if not self._registered:
            self.client.report_state(self.agent_state(True), wait=True)
            self._registered = True
            LOG.info("registered with the server as %s on %s", LINUXBRIDGE_AGENT_TYPE, self.host)
        else:
            self.client.report_state(self.agent_state(False))

