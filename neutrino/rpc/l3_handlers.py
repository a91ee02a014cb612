"""The server's side of the L3 agent protocol.

  get_routers(host) -> {"routers": [...]}   call: every router scheduled to
      the L3 agent of `host`, with its interfaces, gateway, extra routes and
      floating IPs (format below). Router ports not yet bound to `host` are
      bound to it here (binding:host_id), as upstream's sync_routers does:
      the L2 agent of that host then wires their taps.
  update_floatingip_statuses(host, statuses={fip_id: status})   cast on the
      status queue (so one agent's reports apply in order), once per sync
      after the agent applied its routers, only for statuses that changed
  update_ha_routers_states(host, states={router_id: "active"|"standby"|"fault"})
      cast on the status queue when an HA router's keepalived changes state

An HA router (l3-ha) is served to each of its agents with "ha": true, that
agent's own "ha_port", "ha_vr_id", "ha_cidr" (the HA subnet) and "ha_vips"
(the addresses VRRP moves: interfaces', gateway's, floating IPs' /32). Its
other ports are bound to the host whose instance is active (so l2pop and
port status follow the master); every instance's host wires them.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any

from sqlalchemy import select

from neutrino.api.policy import admin_context
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.l3 import ha, scheduling
from neutrino.plugins.l3.floatingips import FloatingIPPlugin
from neutrino.plugins.ml2.segments import segments_for

LOG = logging.getLogger(__name__)
GW_OWNER = "network:router_gateway"
IF_OWNER = "network:router_interface"


def routers_state(conn, host: str) -> dict[str, Any]:
    R, RP, RR, RB = models.routers, models.router_ports, models.router_routes, scheduling.RB
    P, IPA, S, N = models.ports, models.ip_allocations, models.subnets, models.networks
    FIP, A = models.floatingips, models.agents
    rows = conn.execute(select(R, RB.c.ha_port_id).join(RB, RB.c.router_id == R.c.id)
                        .join(A, A.c.id == RB.c.agent_id)
                        .where(A.c.host == host, A.c.agent_type == scheduling.L3_AGENT)
                        ).mappings().all()
    ids = [r["id"] for r in rows]
    ports: dict[str, list[dict]] = {}
    port_ids: list[str] = []
    for part in listing.chunks(ids):
        for r in conn.execute(select(RP.c.router_id, RP.c.port_type, P.c.id, P.c.mac_address,
                                     P.c.network_id, P.c.binding_host, N.c.mtu)
                              .join(P, P.c.id == RP.c.port_id)
                              .join(N, N.c.id == P.c.network_id)
                              .where(RP.c.router_id.in_(part))):
            ports.setdefault(r.router_id, []).append(
                {"id": r.id, "type": r.port_type, "mac_address": r.mac_address,
                 "network_id": r.network_id, "binding_host": r.binding_host, "mtu": r.mtu,
                 "fixed_ips": []})
            port_ids.append(r.id)
    by_id = {p["id"]: p for plist in ports.values() for p in plist}
    for part in listing.chunks(port_ids):
        for r in conn.execute(select(IPA.c.port_id, IPA.c.ip_address, S.c.id, S.c.cidr,
                                     S.c.gateway_ip)
                              .join(S, S.c.id == IPA.c.subnet_id)
                              .where(IPA.c.port_id.in_(part))):
            net = ipaddress.ip_network(r.cidr)
            # IPv6 addresses are configured (the ports are wired and IPv6
            # subnets routed among themselves); NAT, floating IPs and the
            # default route are IPv4 (see docs/user-guide.md).
            by_id[r.port_id]["fixed_ips"].append(
                {"ip_address": r.ip_address, "subnet_id": r.id, "cidr": r.cidr,
                 "prefixlen": net.prefixlen, "gateway_ip": r.gateway_ip,
                 "ip_version": net.version})
    from neutrino.rpc.fwaas_handlers import attach_firewall_groups
    attach_firewall_groups(conn, by_id)     # FWaaS: each port's firewall group, or null
    from neutrino.plugins.subnetpools.l3_scopes import attach_address_scopes
    attach_address_scopes(conn, by_id)      # each port's address scope per IP family
    segs = segments_for(conn, sorted({p["network_id"] for p in by_id.values()}))
    for p in by_id.values():
        p["segment"] = segs.get(p["network_id"])
    routes: dict[str, list] = {}
    fips: dict[str, list] = {}
    for part in listing.chunks(ids):
        for r in conn.execute(select(RR).where(RR.c.router_id.in_(part))):
            routes.setdefault(r.router_id, []).append(
                {"destination": r.destination, "nexthop": r.nexthop})
        for r in conn.execute(select(FIP.c.id, FIP.c.router_id, FIP.c.floating_ip_address,
                                     FIP.c.fixed_ip_address, FIP.c.status)
                              .where(FIP.c.router_id.in_(part),
                                     FIP.c.fixed_port_id.is_not(None))):
            fips.setdefault(r.router_id, []).append(
                {"id": r.id, "floating_ip_address": r.floating_ip_address,
                 "fixed_ip_address": r.fixed_ip_address, "status": r.status})
    from neutrino.rpc.l3x_wire import conntrack_helpers, metering_labels, port_forwardings
    pfs = port_forwardings(conn, ids)       # floating IP port forwardings (DNAT)
    helpers = conntrack_helpers(conn, ids)  # CT --helper rules
    meters = metering_labels(conn, {r["id"]: r["project_id"] for r in rows})
    out = []
    for r in rows:
        mine = ports.get(r["id"], [])
        gw = next((p for p in mine if p["id"] == r["gw_port_id"]), None)
        out.append({"id": r["id"], "project_id": r["project_id"],
                    "admin_state_up": r["admin_state_up"], "enable_snat": r["enable_snat"],
                    "gw_port": gw, "interfaces": [p for p in mine if p["type"] == IF_OWNER],
                    "routes": routes.get(r["id"], []),
                    "floating_ips": fips.get(r["id"], []) if gw else [], "ha": r["ha"],
                    "port_forwardings": pfs.get(r["id"], []) if gw else [],
                    "conntrack_helpers": helpers.get(r["id"], []),
                    "metering_labels": meters.get(r["id"], []) if gw else []})
        if r["ha"]:
            ha_wire(conn, out[-1], by_id.get(r["ha_port_id"]))
    from neutrino.rpc.qos_handlers import attach_router_qos    # qos-fip, qos-gateway-ip
    attach_router_qos(conn, out)
    return {"host": host, "routers": out}


def ha_wire(conn, router: dict, ha_port: dict | None) -> None:
    """The HA part of a router's wire form (see the module's docstring)."""
    hn = models.ha_router_networks
    router["ha_port"] = ha_port
    router["ha_vr_id"] = ha.vrid(conn, router["id"])
    router["ha_cidr"] = next((f["cidr"] for f in (ha_port or {}).get("fixed_ips", ())), None)
    if router["ha_cidr"] is None:
        net = conn.execute(select(hn.c.network_id).where(
            hn.c.project_id == router["project_id"])).scalar()
        router["ha_cidr"] = conn.execute(select(models.subnets.c.cidr).where(
            models.subnets.c.network_id == net)).scalar() if net else None
    vips = [f"{f['ip_address']}/{f['prefixlen']}"
            for p in [router["gw_port"], *router["interfaces"]] if p for f in p["fixed_ips"]]
    vips += [f"{f['floating_ip_address']}/32" for f in router["floating_ips"]]
    router["ha_vips"] = vips


class L3Rpc:
    def __init__(self, core, ports):
        self.core = core
        self.ports = ports
        self.fips = FloatingIPPlugin(core, ports)
        if hasattr(core.notifier, "after_port_deleted"):
            # A deleted port's floating IPs: disassociated and their routers
            # told at once (the heartbeat sweep is the backstop).
            core.notifier.after_port_deleted = self.fips.sweep_orphans

    def get_routers(self, host: str) -> dict:
        state = self.core.db.read(lambda conn: routers_state(conn, host))
        for router in state["routers"]:
            for port in [router["gw_port"], *router["interfaces"]]:
                # An HA router's ports follow its active instance (set by
                # update_ha_routers_states); an unbound one goes to anybody.
                if port and port["binding_host"] != host and not (
                        router["ha"] and port["binding_host"]):
                    self._bind(port, host)
        return state

    def update_ha_routers_states(self, host: str, states: dict) -> None:
        """Store an agent's VRRP states; the ports of a router it is now
        active for are bound to its host (l2pop, port status)."""
        if not isinstance(states, dict):
            return
        active = self.core.db.write(lambda conn: ha.set_states(conn, host, states))
        for router_id in active:
            state = self.core.db.read(lambda conn, rid=router_id: _router_port_hosts(conn, rid))
            for port_id, bound in state:
                if bound != host:
                    self._bind({"id": port_id, "binding_host": bound}, host)

    def _bind(self, port: dict, host: str) -> None:
        try:
            view = self.ports.update(admin_context(), port["id"], {"binding:host_id": host})
            port["binding_host"] = view["binding:host_id"]
        except Exception as exc:  # noqa: BLE001 - a port deleted meanwhile; resync repairs
            LOG.info("binding router port %s to %s failed: %s", port["id"], host, exc)

    def update_floatingip_statuses(self, statuses: dict[str, str]) -> None:
        self.fips.set_status({k: v for k, v in statuses.items() if v in ("ACTIVE", "DOWN")})

    def schedule_ha(self) -> list[str]:
        """HA routers with fewer instances than they should have (an agent
        came up) get more."""
        todo = self.core.db.read(lambda conn: ha.under_scheduled(conn, self.core))
        done = []
        for router_id, project in todo:
            made = self.core.db.write(lambda conn, rid=router_id, p=project: ha.schedule(
                conn, self.core, rid, p) if conn.execute(select(models.routers.c.ha).where(
                    models.routers.c.id == rid)).scalar() else [])
            for port in made:
                self.core.notifier.resource_changed("port", port["id"], -1,
                                                    network_id=port["network_id"],
                                                    hosts=(port["binding_host"],))
            if made:
                hosts = self.core.db.read(lambda conn, rid=router_id:
                                          scheduling.router_hosts(conn, rid))
                self.core.notifier.resource_changed("router", router_id, -1, hosts=hosts)
                done.append(router_id)
        return done

    def schedule_unbound(self) -> list[str]:
        """On every L3 agent heartbeat: routers left without an agent get
        one, and floating IPs whose port was deleted are disassociated."""
        self.fips.sweep_orphans()
        self.schedule_ha()
        r, rb = models.routers, scheduling.RB
        if not self.core.db.read(lambda conn: conn.execute(
                select(r.c.id).where(~r.c.id.in_(select(rb.c.router_id))).limit(1)).first()):
            return []     # the usual heartbeat: nothing to schedule, no write
        down = self.core.cfg.DEFAULT.agent_down_time
        routers = self.core.db.write(lambda conn: scheduling.schedule_unbound_routers(conn, down))
        for router_id in routers:
            hosts = self.core.db.read(lambda conn, rid=router_id: scheduling.router_hosts(conn, rid))
            self.core.notifier.resource_changed("router", router_id, -1, hosts=hosts)
        return routers


def _router_port_hosts(conn, router_id: str) -> list[tuple[str, str]]:
    """(port id, binding host) of a router's interface and gateway ports."""
    RP, P = models.router_ports, models.ports
    return [(r[0], r[1]) for r in conn.execute(
        select(P.c.id, P.c.binding_host).join(RP, RP.c.port_id == P.c.id)
        .where(RP.c.router_id == router_id, RP.c.port_type.in_((GW_OWNER, IF_OWNER))))]
