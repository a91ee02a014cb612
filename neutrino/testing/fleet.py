"""Simulated hosts: the real Linux bridge agent (its ServerClient, its
reconcile loop: fetch -> plan -> BUILD -> apply -> ACTIVE, its heartbeats)
with the kernel replaced by a recorder of what it would have done (devices
created, taps enslaved, l2population fdb entries). 100 of them fit in one
process, so the server and broker side can be measured at fleet size.

The seam is the agent's existing `kernel=` argument; the link monitor (a
netlink socket per host) is left out, and a "hypervisor" plugs the tap of a
port as soon as the host is told about it (what Nova does after binding),
reporting it to the agent the way the link monitor would.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import threading
from typing import Any

from neutrino import config as config_mod
from neutrino.agent.l2.agent import LinuxBridgeAgent
from neutrino.agent.l2.apply import ApplyResult
from neutrino.agent.l2.model import (RELEASE, AddFdb, CreateBridge, CreateVlan, CreateVxlan,
                                     DeleteLink, DelFdb, DelNeigh, Forwarding, SetLink,
                                     SetNeigh, tap_name)
from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA
from neutrino.dataplane.netlink_model import Link
from neutrino.rpc.bus import Transport
from neutrino.rpc.client import host_topic, unbatched

_INDEX = itertools.count(1000)


class RecorderKernel:
    """The agent's Kernel interface over a dict: what the host's kernel
    would hold after each apply()."""

    def __init__(self):
        self.lock = threading.Lock()
        self.links: dict[str, Link] = {"lo": self._link("lo", None, up=True)}
        self.fdb: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
        self.neigh: dict[str, dict[str, str]] = collections.defaultdict(dict)
        self.ops = 0

    @staticmethod
    def _link(name: str, kind: str | None, mtu: int = 1500, up: bool = False, **kw) -> Link:
        return Link(name=name, index=next(_INDEX), kind=kind, mtu=mtu, mac="fa:16:3e:00:00:01",
                    up=up, master=None, **kw)

    # --- the hypervisor's side
    def plug(self, port_id: str) -> bool:
        name = tap_name(port_id)
        with self.lock:
            if name in self.links:
                return False
            self.links[name] = self._link(name, "tun", up=True)
            return True

    def unplug(self, port_id: str) -> bool:
        with self.lock:
            return self.links.pop(tap_name(port_id), None) is not None

    # --- what the agent calls
    def observe(self):
        with self.lock:
            return dict(self.links)

    def observe_forwarding(self, observed=None) -> dict[str, Forwarding]:
        with self.lock:
            return {dev: Forwarding(fdb=frozenset(self.fdb.get(dev, ())),
                                    neigh=tuple(sorted(self.neigh.get(dev, {}).items())))
                    for dev, link in self.links.items() if link.kind == "vxlan"}

    def apply(self, ops) -> ApplyResult:
        result = ApplyResult()
        with self.lock:
            for op in ops:
                self._apply(op)
                result.applied += 1
            self.ops += len(ops)
        return result

    def _apply(self, op) -> None:
        links = self.links
        if isinstance(op, DeleteLink):
            links.pop(op.name, None)
            self.fdb.pop(op.name, None)
            self.neigh.pop(op.name, None)
            for name, link in list(links.items()):
                if link.master == op.name:
                    links[name] = dataclasses.replace(link, master=None)
        elif isinstance(op, CreateBridge):
            links[op.name] = self._link(op.name, "bridge")
        elif isinstance(op, CreateVxlan):
            links[op.name] = self._link(
                op.name, "vxlan", mtu=op.mtu, vxlan_id=op.vni, vxlan_local=op.local_ip,
                vxlan_group=op.group, vxlan_port=op.dstport, vxlan_ttl=op.ttl or 0,
                vxlan_tos=op.tos or 0, vxlan_dev=op.dev, vxlan_learning=op.learning,
                vxlan_proxy=op.proxy)
        elif isinstance(op, CreateVlan):
            links[op.name] = self._link(op.name, "vlan", mtu=op.mtu, vlan_id=op.vid,
                                        vlan_parent=op.parent)
        elif isinstance(op, SetLink):
            changes: dict[str, Any] = {}
            if op.master is not None:
                changes["master"] = None if op.master == RELEASE else op.master
            if op.mtu is not None:
                changes["mtu"] = op.mtu
            if op.up is not None:
                changes["up"] = op.up
            if op.name in links:
                links[op.name] = dataclasses.replace(links[op.name], **changes)
        elif isinstance(op, AddFdb):
            self.fdb[op.dev].add((op.mac, op.dst))
        elif isinstance(op, DelFdb):
            self.fdb[op.dev].discard((op.mac, op.dst))
        elif isinstance(op, SetNeigh):
            self.neigh[op.dev][op.ip] = op.mac
        elif isinstance(op, DelNeigh):
            self.neigh[op.dev].pop(op.ip, None)

    def close(self) -> None:
        pass

    # --- what a benchmark or test reads
    def wired_taps(self) -> set[str]:
        with self.lock:
            return {n for n, link in self.links.items()
                    if link.kind == "tun" and link.master and link.up}

    def remote_macs(self, vni: int) -> set[tuple[str, str]]:
        """(mac, vtep) entries of vxlan-<vni>, flood entries left out."""
        with self.lock:
            return {e for e in self.fdb.get(f"vxlan-{vni}", ()) if e[0] != "00:00:00:00:00:00"}


class SimulatedHost:
    """One host: a LinuxBridgeAgent on a RecorderKernel, joined to the bus
    like the real one (its own host topic), minus the link monitor."""

    def __init__(self, host: str, vtep: str, transport: Transport, prefix: str,
                 report_interval: float = 30, resync_interval: int = 600,
                 auto_plug: bool = True):
        cfg = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], {
            "DEFAULT": {"host": host, "control_exchange": prefix,
                        "transport_url": "rabbit://unused/"},
            "vxlan": {"enable_vxlan": "true", "local_ip": vtep, "l2_population": "true",
                      "arp_responder": "false"},
            "agent": {"report_interval": str(report_interval),
                      "resync_interval": str(resync_interval)},
        })
        self.host = host
        self.vtep = vtep
        self.kernel = RecorderKernel()
        self.agent = LinuxBridgeAgent(cfg, transport, kernel=self.kernel)
        self.auto_plug = auto_plug
        self.delivered: collections.Counter = collections.Counter()   # resource -> notices
        self.bus_messages = 0     # what carried them (a batch carries several)
        self.fetches: collections.Counter = collections.Counter()     # what it asked for
        self._lock = threading.Lock()
        fetch = self.agent.client.get_host_state

        def counted(ports=None, networks=None, tables_held=(), tables=()):
            kind = ("full" if ports is None and networks is None
                    else "networks" if networks else "ports" if ports else "tables")
            with self._lock:
                self.fetches[kind] += 1
            return fetch(ports, networks, tables_held, tables)
        self.agent.client.get_host_state = counted

    def start(self) -> SimulatedHost:
        """LinuxBridgeAgent.start() without the netlink link monitor. The
        first heartbeat is a call (registration) before anything else."""
        a = self.agent
        a.report()
        notices = unbatched(self._on_notification)

        def on_message(method: str, payload: dict) -> None:
            with self._lock:
                self.bus_messages += 1
            notices(method, payload)
        a.transport.subscribe(host_topic(a.host, a.prefix), on_message)
        a.transport.on_reconnect(a.request_full_resync)
        a.lifecycle.spawn("lb-reconciler", a._reconcile_loop)
        if a.report_interval > 0:
            a.lifecycle.heartbeat("lb-heartbeat", a.report, a.report_interval)
        return self

    def stop(self) -> None:
        self.agent.lifecycle.stop()

    def _on_notification(self, method: str, payload: dict) -> None:
        with self._lock:
            self.delivered[payload.get("resource")] += 1
        if (self.auto_plug and payload.get("resource") == "port" and not payload.get("deleted")
                and self.kernel.plug(payload["id"])):
            self.agent._on_link_event("new", tap_name(payload["id"]))
        self.agent._on_notification(method, payload)

    def messages(self) -> collections.Counter:
        with self._lock:
            return collections.Counter(self.delivered)


def vtep_of(i: int) -> str:
    return f"10.{200 + i // 65536}.{i // 256 % 256}.{i % 256 + 1}"
