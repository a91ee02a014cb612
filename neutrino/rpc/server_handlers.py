"""The server's side of the agent protocol (see neutrino.rpc.client for the
names and methods): desired state per host, device status, heartbeats.

`attach_bus(core, transport)` is all a server process needs: it makes the
core publish "resource changed" notifications on the bus and serves the
agents' requests. Several server processes may do so on one broker; they
compete for the work queues.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import or_, select, update

from neutrino.api.policy import admin_context
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.agents import AgentPlugin
from neutrino.plugins.ml2 import l2pop as l2pop_mod
from neutrino.plugins.ml2.mech import VIF_BRIDGE, VIF_FAILED
from neutrino.plugins.ml2.segments import segments_for_host
from neutrino.plugins.ports import PortPlugin
from neutrino.rpc.bus import Transport
from neutrino.rpc.client import DEFAULT_PREFIX, server_target, status_target
from neutrino.rpc.dhcp_handlers import DHCP_AGENT_TYPE, DHCP_METHODS, DhcpRpc
from neutrino.rpc.notifier import BusNotifier

LOG = logging.getLogger(__name__)


def host_state(conn, host: str, port_ids: list[str] | None = None,
               network_ids: list[str] | None = None, l2pop: bool = False,
               tables_held=(), tables=()) -> dict[str, Any]:
    """Ports bound to `host` (all, or those listed and those on the listed
    networks) with their networks' segment and MTU (and, with `l2pop`, the
    vxlan networks' remote forwarding tables, but for those in
    `tables_held` and not in `network_ids`: the agent has them, and fdb
    notices tell it when to fetch them again). `tables`: networks whose
    entry and table alone are asked (an fdb notice: the host's own ports
    there did not change), for those the host still serves. A few queries
    whatever the number of ports: agents ask for all of it on every resync."""
    p, ipa, n = models.ports, models.ip_allocations, models.networks
    # HA routers' ports are wired on the host of every instance (l3-ha)
    where = [or_(p.c.binding_host == host, p.c.id.in_(ha_router_ports(host))),
             p.c.binding_vif_type == VIF_BRIDGE]
    served: set[str] = set()     # of `tables`
    for part in listing.chunks(sorted(set(tables) - set(network_ids or ()))):
        served |= {nid for (nid,) in conn.execute(
            select(p.c.network_id).where(*where, p.c.network_id.in_(part)).distinct())}
    if port_ids is not None or network_ids is not None:
        scope = []
        for part in listing.chunks(list(port_ids or ())):
            scope.append(p.c.id.in_(part))
        for part in listing.chunks(list(network_ids or ())):
            scope.append(p.c.network_id.in_(part))
        if not scope:
            return {"host": host, "ports": [],       # only forwarding tables asked
                    "networks": network_entries(conn, host, sorted(served), l2pop)}
        where.append(or_(*scope))
    rows = conn.execute(select(p.c.id, p.c.network_id, p.c.mac_address, p.c.admin_state_up,
                               p.c.status, p.c.device_owner, p.c.revision_number)
                        .where(*where)).all()
    ips: dict[str, list[dict]] = {}
    for port_id, subnet_id, ip in conn.execute(
            select(ipa.c.port_id, ipa.c.subnet_id, ipa.c.ip_address)
            .join(p, p.c.id == ipa.c.port_id).where(*where)):
        ips.setdefault(port_id, []).append({"subnet_id": subnet_id, "ip_address": ip})
    ports = [{"id": r.id, "network_id": r.network_id, "mac_address": r.mac_address,
              "admin_state_up": r.admin_state_up, "status": r.status,
              "device_owner": r.device_owner, "revision_number": r.revision_number,
              "fixed_ips": ips.get(r.id, [])} for r in rows]
    from neutrino.rpc.qos_handlers import attach_qos    # each port's limits and DSCP mark
    attach_qos(conn, ports)
    from neutrino.plugins.trunk import wire as trunk_wire
    trunk_wire.add_subports(conn, ports)   # parents: their VLAN subports
    net_ids = sorted({r.network_id for r in rows} | served)
    skip = set(tables_held) - set(network_ids or ()) - served
    return {"host": host, "ports": ports,
            "networks": network_entries(conn, host, net_ids, l2pop, skip)}


def network_entries(conn, host: str, net_ids: list[str], l2pop: bool,
                    without_table=frozenset()) -> list[dict[str, Any]]:
    """The networks' segment on `host` and MTU, with their l2population
    tables (but for `without_table`) when `l2pop`."""
    n = models.networks
    segs = segments_for_host(conn, net_ids, host)   # multi-segment: the host's
    fdb = l2pop_mod.remote_fdb(conn, host, [i for i in net_ids if i not in without_table]) \
        if l2pop else {}
    networks = []
    for part in listing.chunks(net_ids):
        for r in conn.execute(select(n.c.id, n.c.mtu, n.c.admin_state_up)
                              .where(n.c.id.in_(part))):
            seg = segs.get(r.id)
            if seg is None:
                continue
            networks.append({"id": r.id, "mtu": r.mtu, "admin_state_up": r.admin_state_up,
                             "network_type": seg["network_type"],
                             "physical_network": seg.get("physical_network"),
                             "segmentation_id": seg.get("segmentation_id")})
            if r.id in fdb:
                networks[-1]["l2pop"] = fdb[r.id]
    return networks


def ha_router_ports(host: str):
    """The interface and gateway ports of the HA routers with an instance on
    `host`: a subquery (neutrino.plugins.l3.ha)."""
    rp, rb, a, r = models.router_ports, models.router_agent_bindings, models.agents, models.routers
    return (select(rp.c.port_id).join(rb, rb.c.router_id == rp.c.router_id)
            .join(a, a.c.id == rb.c.agent_id).join(r, r.c.id == rp.c.router_id)
            .where(a.c.host == host, r.c.ha,
                   rp.c.port_type.in_(("network:router_interface", "network:router_gateway"))))


class ServerRpc:
    """Handlers for the agents' requests, served on the bus."""

    def __init__(self, core, transport: Transport, prefix: str = DEFAULT_PREFIX,
                 threads: int = 4):
        self.core = core
        self.transport = transport
        self.prefix = prefix
        self.threads = threads
        self.ports = PortPlugin(core)
        self.agents = AgentPlugin(core)
        self.dhcp = DhcpRpc(core, self.ports)
        from neutrino.rpc.l3_handlers import L3Rpc
        self.l3 = L3Rpc(core, self.ports)
        from neutrino.rpc.lbaas_handlers import LbaasRpc
        self.lbaas = LbaasRpc(core, self.ports)

    def start(self) -> ServerRpc:
        self.transport.serve(server_target(self.prefix), self.dispatch, threads=self.threads)
        # Status reports of one agent must be applied in the order sent.
        self.transport.serve(status_target(self.prefix), self.dispatch, threads=1)
        return self

    def dispatch(self, method: str, payload: dict) -> dict | None:
        if method == "get_host_state":
            return self.get_host_state(payload["host"], payload.get("ports"),
                                       payload.get("networks"), payload.get("tables_held", ()),
                                       payload.get("tables", ()))
        if method == "update_device_status":
            self.update_device_status(payload["host"], payload.get("up", ()),
                                      payload.get("down", ()), payload.get("build", ()),
                                      payload.get("error", ()))
            return None
        if method == "report_state":
            return self.report_state(payload["agent_state"])
        if method in DHCP_METHODS:
            return self.dhcp.dispatch(method, payload)
        if method == "get_firewall_state":
            from neutrino.rpc.sg_handlers import firewall_state
            ports = payload.get("ports")
            ports = None if ports is None else [str(pid) for pid in ports]
            return self.core.db.read(lambda conn: firewall_state(conn, payload["host"], ports))
        if method == "get_group_rules":
            from neutrino.rpc.sg_handlers import group_state
            groups = sorted({str(g) for g in payload.get("groups", ())})
            return self.core.db.read(lambda conn: group_state(conn, groups))
        if method == "get_group_members":
            from neutrino.rpc.sg_handlers import members_of
            groups = [str(g) for g in payload.get("groups", ())]
            return {"members": self.core.db.read(lambda conn: members_of(conn, groups))}
        if method == "get_routers":
            return self.l3.get_routers(payload["host"])
        if method == "update_firewall_group_statuses":
            from neutrino.rpc.fwaas_handlers import FwaasRpc
            FwaasRpc(self.core).update_firewall_group_statuses(payload.get("host", ""),
                                                               payload.get("statuses", {}))
            return None
        if method == "update_ha_routers_states":     # l3-ha
            self.l3.update_ha_routers_states(payload.get("host", ""), payload.get("states", {}))
            return None
        if method == "update_floatingip_statuses":
            self.l3.update_floatingip_statuses(payload.get("statuses", {}))
            return None
        if method in ("get_loadbalancers", "update_loadbalancer_statuses"):
            return self.lbaas.dispatch(method, payload)
        if method == "get_ports":      # the metadata agent's only call
            from neutrino.rpc.metadata_handlers import get_ports
            return self.core.db.read(lambda conn: get_ports(conn, payload["filters"]))
        raise ValueError(f"unknown method {method!r}")

    def get_host_state(self, host: str, port_ids=None, network_ids=None,
                       tables_held=(), tables=()) -> dict:
        l2pop = self.core.mech.l2population
        return self.core.db.read(lambda conn: host_state(conn, host, port_ids, network_ids,
                                                         l2pop, tables_held, tables))

    def update_device_status(self, host: str, up, down, build, error=()) -> None:
        if build:
            self._set_build(host, list(build))
        changed = []
        if up:
            changed += self.ports.set_status(list(up), "ACTIVE", host)
        if down:
            changed += self.ports.set_status(list(down), "DOWN", host)
        if error:   # the agent could not filter these (bad data): isolated, not wired
            changed += self.ports.set_status(list(error), "ERROR", host)
        if changed and self.core.mech.l2population:
            l2pop_mod.status_changed(self.core, host, changed)

    def _set_build(self, host: str, port_ids: list[str]) -> None:
        """DOWN -> BUILD only: a BUILD arriving after the ACTIVE it preceded
        (competing consumers) must not undo it."""
        p = models.ports

        def txn(conn):
            for part in listing.chunks(port_ids):
                conn.execute(update(p).where(p.c.id.in_(part), p.c.binding_host == host,
                                             p.c.status == "DOWN")
                             .values(status="BUILD", updated_at=listing.now(),
                                     revision_number=p.c.revision_number + 1))
        self.core.db.write(txn)

    def report_state(self, state: dict) -> dict:
        view, fresh = self.agents.report_state(state)
        if fresh:
            LOG.info("agent %s on host %s registered or restarted", view["agent_type"],
                     view["host"])
            self.rebind_failed_ports(view["host"])
        if view["agent_type"] == DHCP_AGENT_TYPE:
            # Every heartbeat: networks left unscheduled while no DHCP agent
            # was alive get one as soon as one is.
            self.dhcp.schedule_unscheduled()
        if view["agent_type"] == "L3 agent" and view["alive"] and view["admin_state_up"]:
            self.l3.schedule_unbound()   # routers created while no L3 agent was alive
        if view["agent_type"] == "Loadbalancer agent" and view["alive"] \
                and view["admin_state_up"]:
            self.lbaas.schedule_unbound()   # load balancers created while none was alive
        return {"id": view["id"], "alive": view["alive"],
                "admin_state_up": view["admin_state_up"]}

    def rebind_failed_ports(self, host: str) -> list[str]:
        """Bind again the ports of `host` whose binding failed (typically:
        created before this host's agent was up). Each goes through the
        ordinary port update, which rebinds and notifies."""
        p = models.ports
        ids = self.core.db.read(lambda conn: [r[0] for r in conn.execute(
            select(p.c.id).where(p.c.binding_host == host,
                                 p.c.binding_vif_type == VIF_FAILED))])
        for port_id in ids:
            try:
                self.ports.update(admin_context(), port_id, {})
            except Exception as exc:  # noqa: BLE001 - a deleted port, say; others still rebind
                LOG.info("rebinding port %s failed: %s", port_id, exc)
        if ids:
            LOG.info("rebound %d port(s) on host %s", len(ids), host)
        return ids


def attach_bus(core, transport: Transport, prefix: str = DEFAULT_PREFIX,
               threads: int = 4) -> ServerRpc:
    """Wire a server core to the bus: notifications out, agent requests in."""
    core.notifier = BusNotifier(transport, core.db, prefix)
    if core.mech.l2population:
        core.notifier.l2pop_hosts = l2pop_mod.network_hosts
    rpc = ServerRpc(core, transport, prefix, threads).start()
    core.notifier.before_network_change = rpc.dhcp.schedule_network_dhcp
    from neutrino.rpc.failover import FailoverCheck
    rpc.failover = FailoverCheck(core, rpc).start()   # dead agents' routers/networks move
    return rpc


def attach_bus_from_config(core, cfg) -> ServerRpc | None:
    """For server processes: attach to [DEFAULT] transport_url unless it is
    in-process (then only an all-in-one process has agents to talk to)."""
    url = cfg.DEFAULT.transport_url
    if url.startswith("inproc"):
        return None
    from neutrino.rpc.bus import make_transport
    return attach_bus(core, make_transport(url), prefix=cfg.DEFAULT.control_exchange)
