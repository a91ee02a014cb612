"""neutrino-l3-agent: the level-triggered reconciler of the routers of one host.

Triggers only mark routers dirty; one worker converges:
  * a "router" notification -> fetch this host's routers (one call) and
    converge the routers named (plus any that appeared or went away);
  * start, bus reconnect, any error and every resync_interval -> converge
    every router, and remove router namespaces of ours no router needs.
Converging a router that is already right changes nothing (see router_ns),
so a restarted agent leaves flowing traffic alone. Router ports are bound
to this host by the server when it answers get_routers; the Linux bridge
agent of the host wires their tap ends. A router that is administratively
down keeps its namespace with its devices down (see router_ns). After each
pass, one cast tells the server the floating IP statuses that changed
(compared with the statuses the fetch returned). FWaaS v2 is an extension
of this reconciler (neutrino.agent.l3.fwaas): after a router converges its
firewall does, and the firewall groups' statuses are cast after the pass.
An HA router (l3-ha) also gets its keepalived (neutrino.agent.l3.ha), whose
state changes are cast as update_ha_routers_states.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from neutrino.agent.l3.fwaas.extension import FwaasExtension, firewall_only
from neutrino.agent.l3.ha import HaRouters
from neutrino.agent.l3.keepalived import VrrpOptions
from neutrino.agent.l3.meter_report import MeterReport
from neutrino.agent.l3.model import Router
from neutrino.agent.metadata.options import socket_path
from neutrino.agent.metadata.proxy import ProxyManager, ProxySpec, RateLimit
from neutrino.agent.threads import AgentThreads, Triggers, leave_bus
from neutrino.agent.l3.router_ns import RouterNamespace, existing_routers
from neutrino.dataplane.rtnl_fast import FastLinks
from neutrino.rpc.bus import Transport, make_transport
from neutrino.rpc.client import (NOTICE_BATCHES, ServerClient, host_topic, server_target,
                                 status_target, unbatched)

LOG = logging.getLogger(__name__)
L3_AGENT_TYPE = "L3 agent"
L3_BINARY = "neutrino-l3-agent"


class L3Agent:
    def __init__(self, cfg, transport: Transport | None = None,
                 host_netns: str | None = None, workers: int = 8):
        self.cfg = cfg
        self.host = cfg.DEFAULT.host
        self.prefix = cfg.DEFAULT.control_exchange
        self.ns_prefix = cfg.agent.namespace_prefix
        self.host_netns = host_netns
        self._owns_transport = transport is None
        self.transport = transport or make_transport(
            cfg.DEFAULT.transport_url,
            **({"client_name": f"l3-agent:{self.host}"}
               if not cfg.DEFAULT.transport_url.startswith("inproc") else {}))
        self.report_interval = cfg.agent.report_interval
        self.resync_interval = cfg.agent.resync_interval
        self.routers: dict[str, Router] = {}
        # floating IP id -> its status on the server, as of the last fetch
        self.fip_status: dict[str, str] = {}
        self.synced = threading.Event()
        self.cycles = 0
        self.workers = workers
        # routers live in their own namespaces: the threads stay where we are
        self.lifecycle = AgentThreads(self.host)
        self._cond = self.lifecycle.cond
        self._stop = self.lifecycle.stopped
        self.triggers = Triggers(self._cond)   # router ids
        self._registered = False
        self._registered_event = threading.Event()
        d = cfg.DEFAULT
        # The metadata proxy of each router: haproxy on metadata_port in its
        # namespace, forwarding to the metadata agent's unix socket.
        self.metadata_port = d.metadata_port if d.enable_metadata_proxy else None
        self.proxies = ProxyManager(d.state_path)
        self.metadata_socket = socket_path(d.metadata_proxy_socket, d.state_path)
        self.rate_limit = RateLimit.from_config(getattr(cfg, "metadata_rate_limiting", None))
        fwaas = getattr(cfg, "fwaas", None)
        self.fwaas = FwaasExtension(enabled=fwaas.enabled if fwaas is not None else True)
        # qos-fip, qos-gateway-ip: tc on the gateway device (router id -> wire)
        from neutrino.agent.l3.fip_qos import FipQos
        self.fip_qos = FipQos()
        self.qos_wire: dict[str, list | None] = {}
        # metering: the labels' traffic, read and reported at each heartbeat
        self.meter_report = MeterReport(self.host, self.ns_prefix, d.state_path)
        self.ha = HaRouters(
            getattr(d, "ha_confs_path", "") or os.path.join(d.state_path, "ha_confs"),
            VrrpOptions(getattr(d, "ha_vrrp_advert_int", 2),
                        getattr(d, "ha_vrrp_auth_type", "PASS"),
                        getattr(d, "ha_vrrp_auth_password", "")),
            report=self._report_ha)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> L3Agent:
        self.transport.subscribe(host_topic(self.host, self.prefix),
                                 unbatched(self._on_notification))
        self.transport.on_reconnect(self.request_full_resync)
        if self.report_interval > 0:
            self.lifecycle.heartbeat("l3-heartbeat", self.report, self.report_interval)
        self.lifecycle.spawn("l3-reconciler", self._reconcile_loop)
        self.ha.start()
        LOG.info("L3 agent on host %s started (namespace prefix %r)", self.host, self.ns_prefix)
        return self

    def stop(self) -> None:
        """Stop reconciling; routers stay exactly as they are."""
        self.ha.stop_watching()
        self.lifecycle.stop()
        leave_bus(self.transport, host_topic(self.host, self.prefix), self._owns_transport)

    def wait_synced(self, timeout: float) -> bool:
        return self.synced.wait(timeout)

    # ------------------------------------------------------------ triggers

    def _on_notification(self, method: str, payload: dict) -> None:
        if method != "resource_changed" or payload.get("resource") != "router":
            return
        self.triggers.mark(payload["id"])

    def request_full_resync(self) -> None:
        self.triggers.request_full()

    # ------------------------------------------------------------ the worker

    def _reconcile_loop(self) -> None:
        # Registering schedules the routers left without an agent to us:
        # the first sync waits for it (briefly) so it sees them all.
        self._registered_event.wait(5.0 if self.report_interval > 0 else 0)
        self.lifecycle.reconcile(self.triggers, self.sync, self.resync_interval, "L3")

    def fetch(self) -> dict[str, Router]:
        state = self.transport.call(server_target(self.prefix), "get_routers",
                                    {"host": self.host}, timeout=30)
        routers = {}
        statuses = {}
        for wire in state["routers"]:
            router = Router.from_wire(wire)
            if router.gw is None and not self.cfg.DEFAULT.handle_internal_only_routers:
                continue
            routers[router.id] = router
            statuses.update((f["id"], f["status"]) for f in wire.get("floating_ips", ()))
            self.qos_wire[router.id] = wire.get("qos")     # qos-fip, qos-gateway-ip
            statuses.update((p["floatingip_id"], p["status"])   # port forwarding FIPs
                            for p in wire.get("port_forwardings", ()) if p.get("floatingip_id"))
        # Level-triggered: the server's word, fresh each fetch (it resets a
        # floating IP to DOWN when its association changes).
        self.fip_status = statuses
        return routers

    def sync(self, full: bool, dirty: set[str] = frozenset()) -> None:
        started = time.monotonic()
        desired = self.fetch()
        fetched = time.monotonic() - started
        present = set(existing_routers(self.ns_prefix))
        with FastLinks(self.host_netns) as fl:
            host_links = {link.name: link for link in fl.dump()}
        gone = present - set(desired)
        todo = set(desired) if full else (set(dirty) | (set(desired) - set(self.routers))
                                           | (set(self.routers) - set(desired)))
        todo |= {rid for rid in desired if rid not in present}
        errors: dict[str, Exception] = {}
        fw_errors: dict[str, str] = {}
        ha_known = self.ha.known()

        def one(rid: str) -> None:
            ns = RouterNamespace(rid, self.ns_prefix, self.host_netns,
                                 self.cfg.DEFAULT.send_arp_for_ha, self.metadata_port,
                                 self.cfg.DEFAULT.metadata_access_mark)
            try:
                if rid in desired and not full and rid in present and firewall_only(
                        self.routers.get(rid), desired[rid]):
                    # a firewall group change: the namespace is as it was
                    self._firewall(ns.name, desired[rid], full, fw_errors)
                elif rid in desired:     # admin down too: devices kept, down
                    if not desired[rid].ha and rid in ha_known:
                        self.ha.stop(rid)       # no longer HA: its VIPs go first
                    ns.converge(desired[rid], host_links)
                    self.fip_qos.converge(ns.name, desired[rid].qg, self.qos_wire.get(rid))
                    if desired[rid].ha:
                        self.ha.ensure(desired[rid], ns.name)
                    self._metadata_proxy(rid, ns.name)
                    self._firewall(ns.name, desired[rid], full, fw_errors)
                elif rid in present or rid in self.routers:
                    self.proxies.stop(rid)      # before its namespace goes
                    self.ha.stop(rid)
                    ns.destroy()
                    self.fwaas.forget(rid)
                    self.fip_qos.forget(ns.name)
            except Exception as exc:  # noqa: BLE001 - the others still converge
                LOG.error("router %s: %s", rid, exc, exc_info=LOG.isEnabledFor(logging.DEBUG))
                errors[rid] = exc
                if rid in desired:
                    self.fwaas.record(desired[rid], f"router not converged: {exc}")

        work = sorted(todo | gone)
        if len(work) > 1:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="l3-router") as pool:
                list(pool.map(one, work))
        else:
            for rid in work:
                one(rid)
        if full:     # proxies left by an earlier life for routers no longer ours
            for rid in self.proxies.known(router=True) - set(desired):
                self.proxies.stop(rid)
            for rid in ha_known - set(desired):
                self.ha.stop(rid)
        self.routers = {rid: r for rid, r in desired.items() if rid not in errors}
        self._report_fips(desired, errors)
        self.ha.watch({rid for rid, r in desired.items() if r.ha and rid not in errors})
        self.ha.report_changes(full)
        self._report_firewalls(desired, full)
        self.cycles += 1
        if full or work:
            LOG.log(logging.INFO if full else logging.DEBUG,
                    "%s sync: %d router(s), %d converged, %d removed in %.3f s (fetch %.3f s)",
                    "full" if full else "partial", len(desired), len(todo), len(gone),
                    time.monotonic() - started, fetched)
        if errors or fw_errors:
            failed = sorted(set(errors) | set(fw_errors))
            raise RuntimeError(f"{len(failed)} router(s) failed: " + ", ".join(failed))
        if full:
            self.synced.set()

    def _metadata_proxy(self, rid: str, netns: str) -> None:
        if self.metadata_port is None:
            if rid in self.proxies.known(router=True):
                self.proxies.stop(rid)
            return
        d = self.cfg.DEFAULT
        try:
            self.proxies.ensure(ProxySpec(uuid=rid, netns=netns, bind_host="0.0.0.0",
                                          bind_port=self.metadata_port,
                                          socket_path=self.metadata_socket, router=True,
                                          user=d.metadata_proxy_user,
                                          group=d.metadata_proxy_group,
                                          rate_limit=self.rate_limit))
        except Exception as exc:  # noqa: BLE001 - routing goes on; the next sync retries
            LOG.error("router %s: metadata proxy did not start: %s", rid, exc)

    def _firewall(self, netns: str, router: Router, full: bool, fw_errors: dict) -> None:
        """Converge the router's FWaaS chains; a failure costs this router's
        groups (ERROR, with the reason) and nothing else."""
        try:
            self.fwaas.converge(netns, router, full)
            self.fwaas.record(router, None)
        except Exception as exc:  # noqa: BLE001 - the next full sync retries
            reason = f"{type(exc).__name__}: {exc}"
            LOG.error("router %s: firewall not applied: %s", router.id, reason)
            fw_errors[router.id] = reason
            self.fwaas.record(router, reason)

    def _report_firewalls(self, desired: dict[str, Router], full: bool) -> None:
        """One cast with the firewall groups' statuses (changes only, or
        all after a full sync), on the status queue like the others."""
        statuses = self.fwaas.changes(desired, full)
        if statuses:
            self.transport.cast(status_target(self.prefix), "update_firewall_group_statuses",
                                {"host": self.host, "statuses": statuses})

    def _report_ha(self, states: dict[str, str]) -> None:
        self.transport.cast(status_target(self.prefix), "update_ha_routers_states",
                            {"host": self.host, "states": states})

    def _report_fips(self, desired: dict[str, Router], errors: dict) -> None:
        """One cast with the floating IPs whose status changed, after apply;
        on the status queue, so one agent's reports are applied in order."""
        statuses = {}
        for rid, router in desired.items():
            active = router.active_fips() if rid not in errors else {}
            for fid in router.fips:
                status = "ACTIVE" if fid in active else "DOWN"
                if self.fip_status.get(fid) != status:
                    statuses[fid] = status
            # a floating IP used by port forwardings: ACTIVE once one is in effect
            forwarding = {pf.fip_id for pf in router.active_port_forwards()} \
                if rid not in errors else set()
            for fid in {pf.fip_id for pf in router.port_forwards if pf.fip_id}:
                status = "ACTIVE" if fid in forwarding else "DOWN"
                if self.fip_status.get(fid) != status:
                    statuses[fid] = status
        if statuses:
            self.transport.cast(status_target(self.prefix), "update_floatingip_statuses",
                                {"host": self.host, "statuses": statuses})
            self.fip_status.update(statuses)

    # ------------------------------------------------------------ heartbeats

    def agent_state(self, start_flag: bool) -> dict[str, Any]:
        routers = self.routers.values()
        state = {"agent_type": L3_AGENT_TYPE, "binary": L3_BINARY, "host": self.host,
                 "topic": "l3_agent", "availability_zone": self.cfg.agent.availability_zone,
                 "configurations": {
                     "agent_mode": self.cfg.DEFAULT.agent_mode,
                     "interface_driver": self.cfg.DEFAULT.interface_driver,
                     "handle_internal_only_routers":
                         self.cfg.DEFAULT.handle_internal_only_routers,
                     "routers": len(self.routers),
                     "floating_ips": sum(len(r.active_fips()) for r in routers),
                     "interfaces": sum(len(r.interfaces) for r in routers),
                     "gateways": sum(1 for r in routers if r.gw),
                     NOTICE_BATCHES: True}}
        if start_flag:
            state["start_flag"] = True
        return state

    def report(self) -> None:
        try:
            self.meter_report.collect(dict(self.routers))
        except Exception as exc:  # noqa: BLE001 - the heartbeat must go on
            LOG.error("metering report failed: %s", exc)
        first = not self._registered
        ServerClient(self.transport, self.host, self.prefix).report_state(
            self.agent_state(first), wait=first)
        if first:
            self._registered = True
            self._registered_event.set()
            LOG.info("registered with the server as %s on %s", L3_AGENT_TYPE, self.host)

