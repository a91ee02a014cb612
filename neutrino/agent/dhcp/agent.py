"""neutrino-dhcp-agent: one dnsmasq per network scheduled to this host.

Level-triggered like the L2 agent: triggers only mark networks dirty and
one worker converges them (plan(desired, observed) -> ops -> apply):
  * a notification for a network or a port -> fetch that network, except
    a port deletion: the port leaves the cached network, no fetch (a burst
    of deletes is one cycle: one host file write, one SIGHUP, no fetch);
  * start, bus reconnect, any error and every 12th resync_interval ->
    fetch every network of this host and converge all of them, and clean
    up namespaces/state dirs of networks no longer ours;
  * the other resync_intervals -> ask the server for each network's
    digest and fetch only those that are not as last fetched (new, changed,
    gone): at 5,000 ports a full fetch every 5 s was a steady load on the
    server and the agent, where upstream's agent resyncs only networks
    that failed;
  * every check_child_processes_interval -> check each dnsmasq is alive;
    a dead one marks its network dirty (and is restarted by the next cycle).
A running dnsmasq is adopted through its pid file, never restarted: an
agent restart disturbs no DHCP traffic.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from neutrino.agent import startup
from neutrino.agent.dhcp.driver import Driver
from neutrino.agent.dhcp.model import METADATA_IP, MetadataFlags, NetDesired
from neutrino.agent.metadata.options import socket_path
from neutrino.agent.metadata.proxy import ProxySpec, RateLimit
from neutrino.agent.dhcp.plan import plan
from neutrino.agent.threads import AgentThreads, Triggers, leave_bus, report_state
from neutrino.agent.dhcp.rpc import DHCP_AGENT_TYPE, DHCP_BINARY, DHCP_TOPIC, DhcpClient
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.dnsmasq import DnsmasqConf
from neutrino.rpc.bus import Transport, make_transport
from neutrino.rpc.client import NOTICE_BATCHES, host_topic, unbatched

LOG = logging.getLogger(__name__)


class DhcpAgent:
    def __init__(self, cfg, transport: Transport | None = None, netns: str | None = None):
        """`netns`: where the taps go (the host's namespace; None: this
        process's). `transport`: an existing bus connection (inproc)."""
        self.cfg = cfg
        d = cfg.DEFAULT
        # Without dnsmasq no network gets DHCP: stop before joining the bus.
        startup.check_executable("[DEFAULT] dnsmasq_binary", d.dnsmasq_binary)
        self.host = d.host
        self.prefix = d.control_exchange
        self.netns = netns
        self._owns_transport = transport is None
        self.transport = transport or make_transport(
            d.transport_url, **({"client_name": f"dhcp-agent:{self.host}"}
                                if not d.transport_url.startswith("inproc") else {}))
        self.client = DhcpClient(self.transport, self.host, self.prefix)
        domain = (d.dns_domain or d.dhcp_domain).rstrip(".")    # dnsmasq wants no dot
        self.conf = DnsmasqConf(state_path=d.state_path, domain=domain,
                                dns_servers=tuple(d.dnsmasq_dns_servers),
                                lease_max=d.dnsmasq_lease_max, binary=d.dnsmasq_binary,
                                extra=("--log-facility=-", "--log-dhcp"))
        self.metadata = MetadataFlags(d.enable_isolated_metadata, d.force_metadata,
                                      d.enable_metadata_network)
        metadata_socket = socket_path(d.metadata_proxy_socket, d.state_path)
        rate_limit = RateLimit.from_config(getattr(cfg, "metadata_rate_limiting", None))
        self.driver = Driver(self.conf, cfg.agent.namespace_prefix, netns,
                             proxy_spec=lambda net_id, ns: ProxySpec(
                                 uuid=net_id, netns=ns, bind_host=METADATA_IP, bind_port=80,
                                 socket_path=metadata_socket, router=False,
                                 user=d.metadata_proxy_user, group=d.metadata_proxy_group,
                                 rate_limit=rate_limit))
        self.resync_interval = d.resync_interval
        self.report_interval = cfg.agent.report_interval
        self.check_interval = cfg.agent.check_child_processes_interval
        self.threads = d.num_sync_threads
        self.desired: dict[str, NetDesired] = {}
        self.digests: dict[str, str | None] = {}   # network -> digest of its last fetch
        self.synced = threading.Event()
        self.cycles = 0
        self.restarts = 0                     # dnsmasq found dead and restarted
        self.lifecycle = AgentThreads(self.host, netns)   # dnsmasq is started from them
        self._cond = self.lifecycle.cond
        self._stop = self.lifecycle.stopped
        self.triggers = Triggers(self._cond)   # network ids
        self.registered = threading.Event()   # set by the first report the server answered
        self._serving: set[str] = set()       # networks whose dnsmasq we saw running
        # Port deletions are applied to the cached network (no fetch); any
        # other change to a network means fetching it.
        self._gone: dict[str, set[str]] = {}  # network -> ports deleted since the last cycle
        self._refetch: set[str] = set()
        self.fetches = 0                      # get_dhcp_state calls (tests, benchmarks)
        self.reloads = 0                      # SIGHUPs sent to dnsmasq

    # ------------------------------------------------------------ lifecycle

    def start(self) -> DhcpAgent:
        self.transport.subscribe(host_topic(self.host, self.prefix),
                                 unbatched(self._on_notification))
        self.transport.on_reconnect(self.request_full_resync)
        if self.report_interval > 0:
            self.lifecycle.heartbeat("dhcp-heartbeat", self.report, self.report_interval)
        self.lifecycle.spawn("dhcp-reconciler", self._reconcile_loop)
        if self.check_interval > 0:
            self.lifecycle.spawn("dhcp-watchdog", self._watchdog_loop)
        LOG.info("DHCP agent on host %s started (state %s)", self.host, self.conf.state_path)
        return self

    def stop(self) -> None:
        """Stop reconciling; dnsmasq processes keep serving."""
        self.lifecycle.stop()
        leave_bus(self.transport, host_topic(self.host, self.prefix), self._owns_transport)

    def wait_synced(self, timeout: float) -> bool:
        return self.synced.wait(timeout)

    # ------------------------------------------------------------ triggers

    def _on_notification(self, method: str, payload: dict) -> None:
        if method != "resource_changed":
            return
        resource = payload.get("resource")
        net_id = payload.get("id") if resource == "network" else payload.get("network_id")
        if resource not in ("network", "port") or not net_id:
            return
        with self._cond:
            if resource == "port" and payload.get("deleted") and payload.get("id"):
                self._gone.setdefault(net_id, set()).add(payload["id"])
            else:
                self._refetch.add(net_id)
        self.triggers.mark(net_id)

    def request_full_resync(self) -> None:
        self.triggers.request_full()

    def _watchdog_loop(self) -> None:
        while not self._stop.wait(self.check_interval):
            dead = []
            for net_id in sorted(self._serving):
                if not self.driver.process(net_id).is_running():
                    self._serving.discard(net_id)
                    dead.append(net_id)
            if dead:
                for net_id in dead:
                    LOG.warning("dnsmasq for network %s is not running: restarting it", net_id)
                self.restarts += len(dead)
                self.triggers.mark(*dead)

    # ------------------------------------------------------------ the worker

    def _reconcile_loop(self) -> None:
        self.lifecycle.reconcile(self.triggers, self.sync, self.resync_interval, "DHCP",
                                 check=self.check)

    def check(self) -> set[str]:
        """The periodic check: the networks whose digest on the server is not
        the one of their last fetch here (new, changed, no longer ours). A
        network that lost ports by notice only is fetched once more then."""
        now = self.client.get_dhcp_digests()
        stale = {nid for nid, digest in now.items()
                 if digest is None or self.digests.get(nid) != digest}
        return stale | (set(self.desired) - set(now))

    def sync(self, full: bool, dirty: set[str] = frozenset()) -> int:
        """Fetch what is dirty (or everything), converge it; returns the
        number of networks that needed changes."""
        started = time.monotonic()
        with self._cond:
            gone, self._gone = self._gone, {}
            refetch, self._refetch = self._refetch, set()
        if full:
            self.fetches += 1
            state = self.client.get_dhcp_state()
            fresh = {w["id"]: NetDesired.from_wire(w, self.host, self.metadata)
                     for w in state["networks"]}
            todo = set(fresh) | set(self.desired) | self.driver.known_networks()
            self.desired = fresh
            self.digests = {w["id"]: w.get("digest") for w in state["networks"]}
        elif dirty:
            fetch = set()
            for net_id in dirty:
                known = self.desired.get(net_id)
                less = (known.without(gone[net_id])
                        if known is not None and net_id in gone and net_id not in refetch
                        else None)
                if less is None:
                    fetch.add(net_id)
                else:
                    self.desired[net_id] = less
            state = self.client.get_dhcp_state(fetch) if fetch else {"networks": []}
            self.fetches += bool(fetch)
            fresh = {w["id"]: NetDesired.from_wire(w, self.host, self.metadata)
                     for w in state["networks"]}
            digests = {w["id"]: w.get("digest") for w in state["networks"]}
            for net_id in fetch:
                if net_id in fresh:
                    self.desired[net_id] = fresh[net_id]
                    self.digests[net_id] = digests[net_id]
                else:
                    self.desired.pop(net_id, None)
                    self.digests.pop(net_id, None)
            todo = set(dirty)
        else:
            return 0
        taps = self.driver.taps(None if full else self._taps_wanted(todo))
        failed: list[str] = []
        changed = 0
        ordered = sorted(todo)
        if len(ordered) > 1 and self.threads > 1:
            with ThreadPoolExecutor(self.threads, thread_name_prefix="dhcp-sync") as pool:
                results = list(pool.map(lambda n: self._converge_safe(n, taps), ordered))
        else:
            results = [self._converge_safe(n, taps) for n in ordered]
        for net_id, result in zip(ordered, results):
            if result is None:
                failed.append(net_id)
            elif result:
                changed += 1
        self.cycles += 1
        if full or changed:
            LOG.log(logging.INFO if full else logging.DEBUG,
                    "%s DHCP sync: %d network(s), %d changed, %d failed in %.3f s",
                    "full" if full else "partial", len(todo), changed, len(failed),
                    time.monotonic() - started)
        if failed:
            raise RuntimeError(f"{len(failed)} network(s) failed: {', '.join(failed[:5])}")
        if full:
            self.synced.set()
        return changed

    def _taps_wanted(self, todo) -> set[str] | None:
        """The host taps a partial sync of `todo` looks at: their DHCP ports'
        (None: a network to tear down or without its port, whose stale
        devices only a dump of every tap shows)."""
        names = set()
        for net_id in todo:
            desired = self.desired.get(net_id)
            if desired is None or not desired.wanted or desired.dhcp_port is None:
                return None
            names.add(desired.tap())
        return names

    def _converge_safe(self, net_id: str, taps: set[str]) -> bool | None:
        try:
            with _netns.in_netns(self.netns):
                return self.converge(net_id, taps)
        except Exception as exc:  # noqa: BLE001 - one network must not stop the others
            LOG.warning("network %s: %s: %s", net_id, type(exc).__name__, exc,
                        exc_info=LOG.isEnabledFor(logging.DEBUG))
            return None

    def converge(self, net_id: str, taps: set[str]) -> bool:
        desired = self.desired.get(net_id)
        if desired is not None and desired.wanted and not desired.port_complete:
            # Our DHCP port is missing or lacks an address in a new subnet.
            port = self.client.ensure_dhcp_port(net_id)
            self.fetches += 1
            wire = self.client.get_dhcp_state([net_id])["networks"]
            desired = (NetDesired.from_wire(wire[0], self.host, self.metadata)
                       if wire and port else None)
            if desired is not None:
                self.desired[net_id] = desired
        dev = desired.interface() if desired is not None and desired.dhcp_port else None
        want_v6 = desired is not None and any(":" in c for c in desired.cidrs())
        observed = self.driver.observe(net_id, taps, dev, want_v6)
        proxy = None
        if desired is not None and desired.metadata_proxy:
            try:
                proxy = self.driver.proxy_config(net_id)
            except (KeyError, ValueError) as exc:   # metadata_proxy_user/group unknown here
                LOG.error("network %s: no metadata proxy: %s", net_id, exc)
        ops = plan(desired, observed, self.conf, proxy)
        if not ops:
            if observed.pid is not None:
                self._serving.add(net_id)
            return False
        LOG.debug("network %s: %s", net_id, [op[0] for op in ops])
        self._serving.discard(net_id)
        self.driver.apply(net_id, ops)
        self.reloads += sum(op[0] == "reload" for op in ops)
        if any(op[0] in ("start", "restart") for op in ops) or observed.pid is not None:
            self._serving.add(net_id)
        if desired is None or not desired.wanted or desired.dhcp_port is None:
            self._serving.discard(net_id)
        if desired is None or not desired.wanted:
            self.desired.pop(net_id, None)
            if desired is not None and desired.dhcp_port is not None:
                self.client.release_dhcp_port(net_id)
        return True

    # ------------------------------------------------------------ heartbeats

    def agent_state(self, start_flag: bool) -> dict[str, Any]:
        served = [d for d in self.desired.values() if d.wanted]
        state = {"agent_type": DHCP_AGENT_TYPE, "binary": DHCP_BINARY, "host": self.host,
                 "topic": DHCP_TOPIC, "availability_zone": self.cfg.agent.availability_zone,
                 "configurations": {
                     "dhcp_driver": self.cfg.DEFAULT.dhcp_driver,
                     "dhcp_lease_duration": 86400, "log_agent_heartbeats": False,
                     "networks": len(served),
                     "subnets": sum(len(d.network.dhcp_subnets) for d in served),
                     "ports": sum(len(d.network.ports) for d in served),
                     NOTICE_BATCHES: True}}
        if start_flag:
            state["start_flag"] = True
        return state

    def report(self) -> None:
        if report_state(self.client, self.agent_state, self.registered, DHCP_AGENT_TYPE,
                        self.host, LOG):
            self.request_full_resync()    # the server may have just scheduled networks to us

