"""Server -> agent notifications: "resource X changed (revision r)" on the
per-host topic of exactly the hosts concerned.

The plugins call `resource_changed` after each commit, on the API request
thread. Working out the hosts of a network or a security group needs a
query, and a publish may wait for a broker, so both happen on one sender
thread (in order); the API call never waits for the bus. Delivery is
at-most-once by design: agents resync periodically and on reconnect.

l2population notices ("re-fetch this network's forwarding table") are
coalesced per network: one goes out at once, the ones that follow within
the network's window leave together at its end. The window grows with the
network's recent notices (FDB_WINDOW_MIN per notice of the last ~30 s, at
most FDB_WINDOW_MAX): a lone change is told in FDB_WINDOW_MIN at most, a
burst of ports going ACTIVE costs each host there one fetch of the whole
table every few seconds instead of one per status report (each fetch is
O(ports on the network): per report that was O(n^2) per burst).

A host's notices of one batch leave together: one `resources_changed`
message when its agents say they unpack it (`_batches`), else one
`resource_changed` per change.
"""
from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from typing import Any

from sqlalchemy import select

from neutrino.db import models
from neutrino.rpc.bus import Transport
from neutrino.rpc.client import (BATCH_METHOD, DEFAULT_PREFIX, LINUXBRIDGE_AGENT_TYPE,
                                 NOTICE_BATCHES, host_topic)

DHCP_AGENT_TYPE = "DHCP agent"
FDB_RESOURCE = "fdb"   # l2population: "re-fetch this network's forwarding table"

LOG = logging.getLogger(__name__)
_STOP = object()
FDB_WINDOW_MIN = 0.5   # seconds, per notice of the network's recent past...
FDB_WINDOW_MAX = 5.0   # ...up to this
FDB_HEAT_DECAY = 30.0  # seconds: how long a network's notices count as recent
# A notice that follows the previous batch within GATHER_AFTER waits GATHER
# for the rest of its burst (1,000 port deletes at 5,000 ports: 1.2 s of
# server CPU less, the agents a third fewer cycles); one after a quiet spell
# goes at once.
GATHER_AFTER = 0.05
GATHER = 0.02
# A host's notices of one batch leave as one message (in chunks of
# BATCH_MAX) when its agents unpack batches; whether they do is looked up
# again after BATCHES_TTL (an upgraded agent is sent batches from then on).
BATCH_MAX = 500
BATCHES_TTL = 30.0


def hosts_for(conn, resource: str, resource_id: str, deleted: bool) -> list[str]:
    """Hosts with a port bound that the change concerns."""
    p = models.ports
    if resource == "network":
        if deleted:  # its ports are gone: tell every L2 and DHCP agent
            a = models.agents
            return sorted(h for (h,) in conn.execute(
                select(a.c.host).where(a.c.agent_type.in_((LINUXBRIDGE_AGENT_TYPE,
                                                           DHCP_AGENT_TYPE))).distinct()))
        stmt = select(p.c.binding_host).where(p.c.network_id == resource_id)
    elif resource == "security_group":
        psg = models.port_security_groups
        stmt = (select(p.c.binding_host).join(psg, psg.c.port_id == p.c.id)
                .where(psg.c.security_group_id == resource_id))
    else:
        return []
    return sorted(h for (h,) in conn.execute(stmt.where(p.c.binding_host != "").distinct()))


def dhcp_hosts(conn, network_id: str) -> list[str]:
    """Hosts of the DHCP agents serving a network: every port or subnet
    change there rewrites their dnsmasq files."""
    a, b = models.agents, models.network_dhcp_agent_bindings
    return [h for (h,) in conn.execute(select(a.c.host).join(b, b.c.agent_id == a.c.id)
                                       .where(b.c.network_id == network_id))]


def _says_batches(configurations: str | None) -> bool:
    try:
        return bool(json.loads(configurations or "{}").get(NOTICE_BATCHES))
    except (ValueError, AttributeError):
        return False


class BusNotifier:
    """Drop-in for core.NullNotifier that publishes on the bus."""

    def __init__(self, transport: Transport, db, prefix: str = DEFAULT_PREFIX):
        self.transport = transport
        self.db = db
        self.prefix = prefix
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._agent_hosts: set[str] = set()
        self._batching: dict[str, tuple[bool, float]] = {}   # host -> (batches?, when asked)
        self._outbox: dict[str, list[dict]] = {}   # host -> its notices of this batch
        # Set by attach_bus: schedules a changed network to DHCP agents
        # before its hosts are worked out (so the chosen agent hears of it).
        self.before_network_change = None
        # Set by attach_bus with l2population: (conn, network_id) -> hosts
        # serving it, told of port changes that alter its forwarding table.
        self.l2pop_hosts = None
        # Set by the L3 RPC (l3_handlers): () -> None, after a port deletion
        # (floating IPs mapped to the port are disassociated, routers told).
        self.after_port_deleted = None
        self._sweep_due = False
        self._last_batch = 0.0
        self.fdb_window_min, self.fdb_window_max = FDB_WINDOW_MIN, FDB_WINDOW_MAX
        self._fdb_sent: dict[str, float] = {}          # network -> when its last notice left
        self._fdb_heat: dict[str, float] = {}          # network -> its recent notices, decayed
        self._fdb_pending: dict[str, set[str]] = {}    # network -> hosts owed a notice
        self._memo: dict = {}     # lookups shared by the notices drained together
        self._thread = threading.Thread(target=self._run, name="rpc-notifier", daemon=True)
        self._thread.start()

    def resource_changed(self, resource: str, resource_id: str, revision: int,
                         hosts: tuple[str, ...] | None = None, network_id: str | None = None,
                         deleted: bool = False, **extra: Any) -> None:
        """`extra`: facts for the server side only, never published; a port's
        `security_groups` (before and after the change) narrow the membership
        notice to the hosts whose rules name one of them as remote group."""
        payload = {"resource": resource, "id": resource_id, "revision": revision,
                   "network_id": network_id, "deleted": bool(deleted)}
        self._queue.put((payload, None if hosts is None else tuple(hosts), extra))

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is published (tests),
        coalesced forwarding-table notices included."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _has_agent(self, host: str) -> bool:
        """Only hosts with a registered agent have a listener (and a broker
        exchange worth creating); an agent that registers later starts with a
        full sync anyway. Positive answers are cached: agents rarely go away."""
        if host in self._agent_hosts:
            return True
        a = models.agents
        found = self.db.read(lambda conn: conn.execute(
            select(a.c.id).where(a.c.host == host).limit(1)).first())
        if found:
            self._agent_hosts.add(host)
        return bool(found)

    def _batches(self, host: str) -> bool:
        """Every agent of `host` unpacks `resources_changed` (an agent of an
        earlier release would drop it)."""
        known = self._batching.get(host)
        if known is not None and time.monotonic() - known[1] < BATCHES_TTL:
            return known[0]
        a = models.agents
        rows = self.db.read(lambda conn: conn.execute(
            select(a.c.configurations).where(a.c.host == host)).all())
        ok = bool(rows) and all(_says_batches(conf) for (conf,) in rows)
        self._batching[host] = (ok, time.monotonic())
        return ok

    def _tell(self, host: str, payload: dict) -> None:
        """Queue a notice for `host`; it leaves with the batch's others."""
        if host and self._has_agent(host):
            self._outbox.setdefault(host, []).append(payload)

    def _flush_outbox(self) -> None:
        outbox, self._outbox = self._outbox, {}
        for host, changes in outbox.items():
            topic = host_topic(host, self.prefix)
            try:
                if len(changes) > 1 and self._batches(host):
                    for start in range(0, len(changes), BATCH_MAX):
                        self.transport.publish(topic, BATCH_METHOD,
                                               {"changes": changes[start:start + BATCH_MAX]})
                else:
                    for change in changes:
                        self.transport.publish(topic, "resource_changed", change)
            except Exception:  # noqa: BLE001 - never lose the sender thread; other hosts still hear
                LOG.exception("%d notice(s) for host %s not sent", len(changes), host)

    def _lookup(self, key: tuple, fn):
        """A query's answer, shared by the notices drained in one batch (they
        were all queued after their commits, so one answer serves them all)."""
        if key not in self._memo:
            self._memo[key] = self.db.read(fn)
        return self._memo[key]

    def _members_changed(self, payload: dict, told: set[str],
                         groups: list[str] | None) -> None:
        """A port joining, changing or leaving may change the remote-group
        sets of other hosts' firewalls: those with a remote-group rule hear
        "security group membership changed", but for `told`, which refetch
        the groups anyway."""
        from neutrino.rpc.sg_handlers import hosts_referencing_members
        try:
            # groups unknown (a caller that did not say): every host with a
            # remote-group rule; known: only those naming one of them.
            key = ("members", None if groups is None else tuple(sorted(groups)))
            hosts = self._lookup(key, lambda conn: hosts_referencing_members(conn, groups))
            sg_payload = {"resource": "security_group", "id": None, "revision": -1,
                          "network_id": None, "deleted": False, "members_of_port": payload["id"]}
            if groups is not None:      # the agents refetch these groups' members alone
                sg_payload["groups"] = sorted(set(groups))
            for host in hosts:
                if host not in told:
                    self._tell(host, sg_payload)
        except Exception:  # noqa: BLE001 - the other notices of this change still go out
            LOG.exception("membership notice for port %s not sent", payload["id"])

    # ------------------------------------------------ l2population, coalesced

    def _fdb_changed(self, net_id: str, hosts) -> None:
        """Hosts of `net_id` must re-fetch its forwarding table: now if no
        notice for it left within the window, else at the window's end."""
        if not hosts:
            return
        pending = self._fdb_pending.get(net_id)
        if pending is not None:
            pending.update(hosts)
            return
        last = self._fdb_sent.get(net_id)
        if last is not None and time.monotonic() - last < self._fdb_window(net_id):
            self._fdb_pending[net_id] = set(hosts)
            return
        self._send_fdb(net_id, hosts)

    def _fdb_window(self, net_id: str) -> float:
        return min(self.fdb_window_max, self.fdb_window_min * self._fdb_heat.get(net_id, 0.0))

    def _send_fdb(self, net_id: str, hosts) -> None:
        now = time.monotonic()
        last = self._fdb_sent.get(net_id)
        heat = 0.0 if last is None else \
            self._fdb_heat.get(net_id, 0.0) * math.exp((last - now) / FDB_HEAT_DECAY)
        self._fdb_heat[net_id] = heat + 1
        self._fdb_sent[net_id] = now
        fdb = {"resource": FDB_RESOURCE, "id": net_id, "revision": -1, "network_id": net_id,
               "deleted": False}
        try:
            for host in sorted(hosts):
                self._tell(host, fdb)
        except Exception:  # noqa: BLE001 - never lose the sender thread
            LOG.exception("forwarding table notice for network %s not sent", net_id)

    def _send_due_fdb(self, everything: bool = False) -> None:
        now = time.monotonic()
        for net_id in [n for n in self._fdb_pending
                       if everything or now - self._fdb_sent[n] >= self._fdb_window(n)]:
            self._send_fdb(net_id, self._fdb_pending.pop(net_id))
        if len(self._fdb_sent) > 4096:   # forget networks quiet for long
            for net_id, at in list(self._fdb_sent.items()):
                if now - at >= 5 * FDB_HEAT_DECAY and net_id not in self._fdb_pending:
                    del self._fdb_sent[net_id]
                    self._fdb_heat.pop(net_id, None)

    def _until_fdb_due(self) -> float | None:
        if not self._fdb_pending:
            return None
        due = min(self._fdb_sent[n] + self._fdb_window(n) for n in self._fdb_pending)
        return max(0.0, due - time.monotonic())

    # ------------------------------------------------ the sender thread

    def _run(self) -> None:
        while True:
            try:
                batch = [self._queue.get(timeout=self._until_fdb_due())]
            except queue.Empty:
                self._send_due_fdb()
                self._flush_outbox()
                continue
            if time.monotonic() - self._last_batch < GATHER_AFTER:
                # a burst (the last batch just went): let it gather, so its
                # notices share lookups and reach each agent as one cycle's
                # work; a lone change goes at once
                time.sleep(GATHER)
            while len(batch) < 1000:    # whatever else is queued: one batch
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._memo = {}
            for item in batch:
                if item is _STOP:
                    self._flush_outbox()
                    return
                if isinstance(item, threading.Event):
                    self._sweep()
                    self._send_due_fdb(everything=True)
                    self._flush_outbox()
                    item.set()
                    continue
                self._send(*item)
            self._sweep()
            self._send_due_fdb()
            self._flush_outbox()
            self._last_batch = time.monotonic()

    def _sweep(self) -> None:
        """After ports were deleted: their floating IPs' and port
        forwardings' associations go (one sweep for a batch of deletes)."""
        if not self._sweep_due or self.after_port_deleted is None:
            return
        self._sweep_due = False
        try:
            self.after_port_deleted()
        except Exception:  # noqa: BLE001 - never lose the sender thread
            LOG.exception("sweeping the deleted ports' floating IPs failed")

    def _send(self, payload: dict, hosts, facts: dict) -> None:
        try:
            net_id = payload["id"] if payload["resource"] == "network" \
                else payload.get("network_id")
            if payload["resource"] == FDB_RESOURCE:
                self._fdb_changed(net_id, hosts or ())
                return
            if payload["resource"] == "network":
                self._memo.clear()    # may schedule DHCP, change ports: fresh answers
                if not payload["deleted"] and self.before_network_change is not None:
                    self.before_network_change(net_id)
            if hosts is None:
                hosts = self.db.read(lambda conn: hosts_for(
                    conn, payload["resource"], payload["id"], payload["deleted"]))
            bound = set(hosts)     # the resource's own (before DHCP hosts join)
            if net_id and payload["resource"] in ("network", "port") \
                    and not (payload["resource"] == "network" and payload["deleted"]):
                extra = self._lookup(("dhcp", net_id), lambda conn: dhcp_hosts(conn, net_id))
                hosts = tuple(sorted(set(hosts) | set(extra)))
            for host in hosts:
                self._tell(host, payload)
            if payload["resource"] == "port":
                # the port's own hosts refetch its groups with it (a deleted
                # one: dropped unasked, members refetched); the network's DHCP
                # hosts, told of every port for DHCP's sake, ignore a port
                # that is not theirs: they hear of members as any other host
                self._members_changed(payload, bound, facts.get("security_groups"))
                if payload["deleted"]:
                    self._sweep_due = True    # once per batch (it sweeps all orphans)
            # l2population: every host serving the port's vxlan network re-fetches
            # its forwarding table (not on creation: a new port is not ACTIVE yet);
            # the port's own hosts too when it changes (a port fetch does not
            # refresh the network on a host the port has left), not when it
            # is deleted: its own host's table never held it
            if (self.l2pop_hosts is not None and payload["resource"] == "port" and net_id
                    and (payload["deleted"] or payload["revision"] != 1)):
                serving = set(self._lookup(
                    ("l2pop", net_id), lambda conn: self.l2pop_hosts(conn, net_id)))
                if payload["deleted"]:
                    serving -= bound
                self._fdb_changed(net_id, serving)
        except Exception:  # noqa: BLE001 - never lose the sender thread
            LOG.exception("notification %s %s not sent", payload["resource"], payload["id"])
