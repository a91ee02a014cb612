"""Server -> agent notifications: "resource X changed (revision r)" on the
per-host topic of exactly the hosts concerned.

The plugins call `resource_changed` after each commit, on the API request
thread. Working out the hosts of a network or a security group needs a
query, and a publish may wait for a broker, so both happen on one sender
thread (in order); the API call never waits for the bus. Delivery is
at-most-once by design: agents resync periodically and on reconnect.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from sqlalchemy import select

from neutrino.db import models
from neutrino.rpc.bus import Transport
from neutrino.rpc.client import DEFAULT_PREFIX, LINUXBRIDGE_AGENT_TYPE, host_topic

DHCP_AGENT_TYPE = "DHCP agent"

LOG = logging.getLogger(__name__)
_STOP = object()


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


class BusNotifier:
    """Drop-in for core.NullNotifier that publishes on the bus."""

    def __init__(self, transport: Transport, db, prefix: str = DEFAULT_PREFIX):
        self.transport = transport
        self.db = db
        self.prefix = prefix
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._agent_hosts: set[str] = set()
        # Set by attach_bus: schedules a changed network to DHCP agents
        # before its hosts are worked out (so the chosen agent hears of it).
        self.before_network_change = None
        # Set by attach_bus with l2population: (conn, network_id) -> hosts
        # serving it, told of port changes that alter its forwarding table.
        self.l2pop_hosts = None
        # Set by the L3 RPC (l3_handlers): () -> None, after a port deletion
        # (floating IPs mapped to the port are disassociated, routers told).
        self.after_port_deleted = None
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
        """Wait until everything queued so far is published (tests)."""
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

    def _members_changed(self, payload: dict, told: set[str],
                         groups: list[str] | None) -> None:
        """A port joining, changing or leaving may change the remote-group
        sets of other hosts' firewalls: those with a remote-group rule hear
        "security group membership changed" (the hosts already told about
        the port refetch anyway)."""
        from neutrino.rpc.sg_handlers import hosts_referencing_members
        try:
            # groups unknown (a caller that did not say): every host with a
            # remote-group rule; known: only those naming one of them.
            hosts = self.db.read(lambda conn: hosts_referencing_members(conn, groups))
            sg_payload = {"resource": "security_group", "id": None, "revision": -1,
                          "network_id": None, "deleted": False, "members_of_port": payload["id"]}
            for host in hosts:
                if host not in told and self._has_agent(host):
                    self.transport.publish(host_topic(host, self.prefix), "resource_changed",
                                           sg_payload)
        except Exception:  # noqa: BLE001 - the other notices of this change still go out
            LOG.exception("membership notice for port %s not sent", payload["id"])

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            payload, hosts, facts = item
            try:
                net_id = payload["id"] if payload["resource"] == "network" \
                    else payload.get("network_id")
                if (payload["resource"] == "network" and not payload["deleted"]
                        and self.before_network_change is not None):
                    self.before_network_change(net_id)
                if hosts is None:
                    hosts = self.db.read(lambda conn: hosts_for(
                        conn, payload["resource"], payload["id"], payload["deleted"]))
                if net_id and payload["resource"] in ("network", "port") \
                        and not (payload["resource"] == "network" and payload["deleted"]):
                    extra = self.db.read(lambda conn: dhcp_hosts(conn, net_id))
                    hosts = tuple(sorted(set(hosts) | set(extra)))
                for host in hosts:
                    if host and self._has_agent(host):
                        self.transport.publish(host_topic(host, self.prefix),
                                               "resource_changed", payload)
                if payload["resource"] == "port":
                    self._members_changed(payload, set(hosts), facts.get("security_groups"))
                    if payload["deleted"] and self.after_port_deleted is not None:
                        self.after_port_deleted()
                # l2population: every host serving the port's vxlan network re-fetches
                # its forwarding table (not on creation: a new port is not ACTIVE yet)
                if (self.l2pop_hosts is not None and payload["resource"] == "port" and net_id
                        and (payload["deleted"] or payload["revision"] != 1)):
                    others = self.db.read(lambda conn: self.l2pop_hosts(conn, net_id))
                    fdb = {"resource": "fdb", "id": net_id, "revision": -1,
                           "network_id": net_id, "deleted": False}
                    # the port's own hosts too: a port fetch does not refresh
                    # the network on a host the port has left
                    for host in sorted(others):
                        if self._has_agent(host):
                            self.transport.publish(host_topic(host, self.prefix),
                                                   "resource_changed", fdb)
            except Exception:  # noqa: BLE001 - never lose the sender thread
                LOG.exception("notification %s %s not sent", payload["resource"], payload["id"])
