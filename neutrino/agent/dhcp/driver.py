"""Observing and changing one network's DHCP dataplane: its namespace, the
veth, the files under <state_path>/dhcp/<network-id>/ and its dnsmasq."""
from __future__ import annotations

import logging
import shutil
from collections.abc import Callable

from neutrino.agent import ns_port
from neutrino.agent.dhcp.model import NetObserved, namespace
from neutrino.agent.dhcp.plan import Op
from neutrino.agent.metadata.proxy import ProxyManager, ProxySpec, haproxy_config
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.dnsmasq import (DnsmasqConf, DnsmasqProcess, stop_strays,
                                        write_if_changed)
from neutrino.dataplane.process import pid_cmdline
from neutrino.dataplane.rtnl_fast import FastLinks

LOG = logging.getLogger(__name__)
FILE_NAMES = ("host", "addn_hosts", "opts")


class Driver:
    def __init__(self, conf: DnsmasqConf, ns_prefix: str, agent_netns: str | None,
                 proxy_spec: Callable[[str, str], ProxySpec] | None = None):
        """`proxy_spec(network_id, netns)`: the network's metadata proxy."""
        self.conf = conf
        self.ns_prefix = ns_prefix
        self.agent_netns = agent_netns       # where the taps (and the bridges) are
        self._procs: dict[str, DnsmasqProcess] = {}
        self.proxies = ProxyManager(conf.state_path)
        self.proxy_spec = proxy_spec

    def proxy_config(self, network_id: str) -> str:
        """The metadata proxy's config text as it should be."""
        return haproxy_config(self.proxy_spec(network_id, self.netns(network_id)))

    def netns(self, network_id: str) -> str:
        return namespace(self.ns_prefix, network_id)

    def process(self, network_id: str, argv: list[str] | None = None) -> DnsmasqProcess:
        """The network's dnsmasq. The object that started it is kept: its
        Popen reaps the child if it dies (else it stays a zombie until the
        agent exits)."""
        if argv is None and network_id in self._procs:
            return self._procs[network_id]
        proc = DnsmasqProcess(self.conf, network_id, argv, netns=self.netns(network_id))
        if argv is not None:
            self._procs[network_id] = proc
        return proc

    def taps(self, names=None) -> set[str]:
        """The taps in the host's namespace: all of them, or which of
        `names` exist (a partial sync: no dump of a host's 5,000 VM taps)."""
        if names is None:
            return ns_port.host_taps(self.agent_netns)
        with FastLinks(self.agent_netns) as fl:
            return fl.existing(names)

    def known_networks(self) -> set[str]:
        """Networks with something of ours left: a namespace or a state dir
        (what a restarted agent must adopt or clean up)."""
        marker = f"{self.ns_prefix}qdhcp-"
        found = {name[len(marker):] for name in _netns.list_netns() if name.startswith(marker)}
        root = self.conf.network_dir("x").parent
        if root.is_dir():
            found |= {p.name for p in root.iterdir() if p.is_dir()}
        return found | self.proxies.known(router=False)

    def observe(self, network_id: str, taps: set[str], dev: str | None,
                want_v6: bool = False) -> NetObserved:
        obs = NetObserved(taps=taps)
        ns = self.netns(network_id)
        obs.netns_exists = _netns.exists(ns)
        if obs.netns_exists:
            obs.ns_devices, obs.addresses, _ = ns_port.observe(ns, dev, want_v6)
        ndir = self.conf.network_dir(network_id)
        obs.has_state_dir = ndir.is_dir()
        for name in FILE_NAMES:
            try:
                obs.files[name] = (ndir / name).read_text()
            except FileNotFoundError:
                obs.files[name] = None
        # A dnsmasq is ours if its pid file names a live process with our
        # pid-file argument in our namespace (never trust a bare pid).
        obs.pid = self.process(network_id).pid if obs.netns_exists else None
        obs.cmdline = pid_cmdline(obs.pid) if obs.pid else None
        try:
            obs.proxy_config = self.proxies.config_path(network_id).read_text()
        except FileNotFoundError:
            obs.proxy_config = None
        obs.proxy_running = (obs.proxy_config is not None
                             and self.proxies.is_running(network_id, ns))
        return obs

    def apply(self, network_id: str, ops: list[Op]) -> None:
        ns = self.netns(network_id)
        for op in ops:
            kind = op[0]
            if kind == "create_netns":
                _netns.create(ns, exist_ok=True)
            elif kind in ns_port.PORT_OPS:
                ns_port.apply(op, ns, self.agent_netns)
            elif kind == "write":
                write_if_changed(self.conf.path(network_id, op[1]), op[2])
            elif kind == "start":
                stray = stop_strays(f"--pid-file={self.conf.path(network_id, 'pid')}")
                if stray:
                    LOG.warning("network %s: stopped unsupervised dnsmasq %s", network_id, stray)
                pid = self.process(network_id, op[1]).start(wait=10)
                LOG.info("dnsmasq for network %s started (pid %d)", network_id, pid)
            elif kind == "restart":
                self.process(network_id).stop()
                pid = self.process(network_id, op[1]).start(wait=10)
                LOG.info("dnsmasq for network %s restarted with a new command line (pid %d)",
                         network_id, pid)
            elif kind == "reload":
                self.process(network_id).reload()
            elif kind == "stop":
                self.process(network_id).stop()
                self._procs.pop(network_id, None)
                stop_strays(f"--pid-file={self.conf.path(network_id, 'pid')}")
                LOG.info("dnsmasq for network %s stopped", network_id)
            elif kind == "proxy" and op[1] == "ensure":
                try:
                    self.proxies.ensure(self.proxy_spec(network_id, ns))
                except Exception as exc:  # noqa: BLE001 - DHCP goes on; the next sync retries
                    LOG.error("network %s: metadata proxy did not start: %s", network_id, exc)
            elif kind == "proxy":
                self.proxies.stop(network_id)
            elif kind == "delete_netns":
                _netns.delete(ns, missing_ok=True)
            elif kind == "remove_dir":
                shutil.rmtree(self.conf.network_dir(network_id), ignore_errors=True)
            else:
                raise ValueError(f"unknown op {op!r}")

