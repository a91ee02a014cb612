"""The server's side of the DHCP agent protocol.

    get_dhcp_state(host, networks=None)  call: the networks scheduled to the
        DHCP agent(s) of `host` (all, or only those listed), each with its
        MTU, subnets (DHCP options included), ports and `digest`.
    get_dhcp_digests(host)               call: {"networks": {id: digest}} of
        those networks, cheap: the agent's periodic check refetches only
        the networks whose digest is not the one of its last fetch.
    ensure_dhcp_port(host, network_id)   call: create or complete the DHCP
        port of `host` on the network (an IP in each DHCP subnet, bound to
        `host` so its L2 agent wires the tap); returns the port.
    release_dhcp_port(host, network_id)  call: delete it -> {"released": bool}.

Scheduling (network_dhcp_agent_bindings) happens when a DHCP agent
registers (every unscheduled network with a DHCP subnet) and when a
network or its subnets change (that network), through the notifier hook
`schedule_network_dhcp`, before the notification goes out, so the agent
chosen is among the hosts told.
"""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import func, select

from neutrino.api.policy import admin_context
from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.dns import dhcp_names
from neutrino.plugins.l3 import scheduling
from neutrino.plugins.ml2.mech import VIF_BRIDGE

LOG = logging.getLogger(__name__)
DHCP_OWNER = "network:dhcp"
DHCP_AGENT_TYPE = scheduling.DHCP_AGENT
DHCP_METHODS = ("get_dhcp_state", "get_dhcp_digests", "ensure_dhcp_port",
                "release_dhcp_port")


def dhcp_device_id(host: str, network_id: str) -> str:
    """Upstream's device_id of a DHCP port: stable per (host, network)."""
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{network_id}"


def dhcp_network_ids(conn) -> list[str]:
    s = models.subnets
    return [r[0] for r in conn.execute(select(s.c.network_id).where(s.c.enable_dhcp)
                                       .distinct())]


def host_network_ids(conn, host: str) -> list[str]:
    a, b = models.agents, scheduling.DB
    return sorted(r[0] for r in conn.execute(
        select(b.c.network_id).join(a, a.c.id == b.c.agent_id)
        .where(a.c.host == host, a.c.agent_type == DHCP_AGENT_TYPE)))


def network_digests(conn, network_ids: list[str]) -> dict[str, str]:
    """Per network, a digest of what `network_payload` answers for it: the
    revisions, last update and count of the network, its subnets and its
    ports (every API change to one of them bumps its revision; a port
    deleted lowers the count, one created raises the newest creation). The
    DHCP agent's periodic check compares them with those of its last fetch
    and refetches only the networks that differ (three grouped queries for
    the host's networks, where a fetch is every port of each)."""
    n, s, p = models.networks, models.subnets, models.ports
    parts: dict[str, list] = {}
    for part in listing.chunks(network_ids):
        for r in conn.execute(select(n.c.id, n.c.revision_number, n.c.updated_at)
                              .where(n.c.id.in_(part))):
            parts[r[0]] = [r[1], r[2]]
        for t, extra in ((s, ()), (p, (func.max(p.c.created_at),))):
            for r in conn.execute(select(t.c.network_id, func.count(t.c.id),
                                         func.sum(t.c.revision_number),
                                         func.max(t.c.updated_at), *extra)
                                  .where(t.c.network_id.in_(part))
                                  .group_by(t.c.network_id)):
                if r[0] in parts:
                    parts[r[0]] += [t.name, *r[1:]]
    return {nid: "|".join(str(v) for v in values) for nid, values in parts.items()}


def network_payload(conn, network_ids: list[str]) -> list[dict]:
    """Networks with subnets and ports, in a few queries whatever their size."""
    n, s, p, ipa = models.networks, models.subnets, models.ports, models.ip_allocations
    dns, routes = models.dns_nameservers, models.host_routes
    out: dict[str, dict] = {}
    for part in listing.chunks(network_ids):
        for r in conn.execute(select(n.c.id, n.c.mtu, n.c.admin_state_up)
                              .where(n.c.id.in_(part))):
            out[r.id] = {"id": r.id, "mtu": r.mtu, "admin_state_up": r.admin_state_up,
                         "subnets": [], "ports": []}
    ids = list(out)
    subnets: dict[str, dict] = {}
    ports: dict[str, dict] = {}
    for part in listing.chunks(ids):
        for r in conn.execute(select(s.c.id, s.c.network_id, s.c.cidr, s.c.ip_version,
                                     s.c.gateway_ip, s.c.enable_dhcp, s.c.ipv6_address_mode)
                              .where(s.c.network_id.in_(part))
                              .order_by(s.c.created_at, s.c.id)):
            sub = {"id": r.id, "cidr": r.cidr, "ip_version": r.ip_version,
                   "gateway_ip": r.gateway_ip, "enable_dhcp": r.enable_dhcp,
                   "ipv6_address_mode": r.ipv6_address_mode, "dns_nameservers": [],
                   "host_routes": []}
            subnets[r.id] = sub
            out[r.network_id]["subnets"].append(sub)
        for r in conn.execute(select(p.c.id, p.c.network_id, p.c.mac_address, p.c.device_owner,
                                     p.c.device_id, p.c.admin_state_up, p.c.binding_host)
                              .where(p.c.network_id.in_(part))):
            port = {"id": r.id, "mac_address": r.mac_address, "device_owner": r.device_owner,
                    "device_id": r.device_id, "admin_state_up": r.admin_state_up,
                    "binding:host_id": r.binding_host, "fixed_ips": []}
            ports[r.id] = port
            out[r.network_id]["ports"].append(port)
    for part in listing.chunks(list(subnets)):
        for r in conn.execute(select(dns.c.subnet_id, dns.c.address)
                              .where(dns.c.subnet_id.in_(part)).order_by(dns.c.position)):
            subnets[r.subnet_id]["dns_nameservers"].append(r.address)
        for r in conn.execute(select(routes.c.subnet_id, routes.c.destination, routes.c.nexthop)
                              .where(routes.c.subnet_id.in_(part))):
            subnets[r.subnet_id]["host_routes"].append(
                {"destination": r.destination, "nexthop": r.nexthop})
    for part in listing.chunks(ids):
        for r in conn.execute(select(ipa.c.port_id, ipa.c.subnet_id, ipa.c.ip_address)
                              .where(ipa.c.network_id.in_(part))):
            if r.port_id in ports:
                ports[r.port_id]["fixed_ips"].append({"subnet_id": r.subnet_id,
                                                      "ip_address": r.ip_address})
    dhcp_names.add_names_and_options(conn, ports)
    return [out[i] for i in sorted(out)]


class DhcpRpc:
    """Mixed into ServerRpc's dispatch: `handles(method)` then `dispatch`."""

    def __init__(self, core, ports):
        self.core = core
        self.ports = ports
        dhcp_names.remember(core)     # the domain of the names in get_dhcp_state

    @property
    def per_network(self) -> int:
        return self.core.cfg.DEFAULT.dhcp_agents_per_network

    @property
    def down_time(self) -> int:
        return self.core.cfg.DEFAULT.agent_down_time

    def dispatch(self, method: str, payload: dict):
        if method == "get_dhcp_state":
            return self.get_dhcp_state(payload["host"], payload.get("networks"))
        if method == "get_dhcp_digests":
            return self.get_dhcp_digests(payload["host"])
        if method == "ensure_dhcp_port":
            return self.ensure_dhcp_port(payload["host"], payload["network_id"])
        if method == "release_dhcp_port":
            return self.release_dhcp_port(payload["host"], payload["network_id"])
        raise ValueError(f"unknown method {method!r}")

    # --- scheduling ----------------------------------------------------------
    def schedule_unscheduled(self) -> int:
        """Every network with a DHCP subnet and too few agents gets some."""
        b = scheduling.DB

        def txn(conn):
            counts: dict[str, int] = {}
            for (nid,) in conn.execute(select(b.c.network_id)):
                counts[nid] = counts.get(nid, 0) + 1
            done = 0
            for nid in dhcp_network_ids(conn):
                if counts.get(nid, 0) < self.per_network:
                    done += bool(scheduling.schedule_network(conn, nid, self.per_network,
                                                             self.down_time))
            return done
        return self.core.db.write(txn)

    def schedule_network_dhcp(self, network_id: str) -> None:
        """Notifier hook: a network (or one of its subnets) changed."""
        def txn(conn):
            s = models.subnets
            has_dhcp = conn.execute(select(s.c.id).where(s.c.network_id == network_id,
                                                         s.c.enable_dhcp).limit(1)).first()
            if has_dhcp and len(scheduling.network_dhcp_hosts(conn, network_id)) \
                    < self.per_network:
                scheduling.schedule_network(conn, network_id, self.per_network,
                                            self.down_time)
        self.core.db.write(txn)

    # --- agent requests ----------------------------------------------------------
    def get_dhcp_state(self, host: str, network_ids=None) -> dict:
        """The host's networks (or those of `network_ids`), each with its
        `digest` (read in the same transaction)."""
        def txn(conn):
            mine = host_network_ids(conn, host)
            if network_ids is not None:
                wanted = set(network_ids)
                mine = [nid for nid in mine if nid in wanted]
            nets = network_payload(conn, mine)
            digests = network_digests(conn, mine)
            for net in nets:
                net["digest"] = digests.get(net["id"])
            return nets
        return {"host": host, "networks": self.core.db.read(txn)}

    def get_dhcp_digests(self, host: str) -> dict:
        """{"networks": {network id: digest}} of every network of `host`."""
        def txn(conn):
            return network_digests(conn, host_network_ids(conn, host))
        return {"host": host, "networks": self.core.db.read(txn)}

    def _find_port(self, host: str, network_id: str) -> dict | None:
        p = models.ports
        device_id = dhcp_device_id(host, network_id)
        row = self.core.db.read(lambda conn: conn.execute(
            select(p.c.id).where(p.c.network_id == network_id, p.c.device_id == device_id,
                                 p.c.device_owner == DHCP_OWNER)).first())
        return self.ports.get(admin_context(), row[0]) if row else None

    def ensure_dhcp_port(self, host: str, network_id: str) -> dict | None:
        """Create, or complete, the DHCP port; None (on the bus: {}) if the
        network has no DHCP subnet (or is gone)."""
        s = models.subnets
        from neutrino.plugins.segments.ipam import host_subnets
        dhcp_subnets = self.core.db.read(lambda conn: host_subnets(conn, network_id, [
            r[0] for r in conn.execute(
                select(s.c.id).where(s.c.network_id == network_id, s.c.enable_dhcp)
                .order_by(s.c.created_at, s.c.id))], host))   # routed: the host's segment's
        if not dhcp_subnets:
            return None
        port = self._find_port(host, network_id)
        if port is None:
            net = self.core.db.read(lambda conn: conn.execute(
                select(models.networks.c.project_id)
                .where(models.networks.c.id == network_id)).first())
            if net is None:
                return None
            body = {"network_id": network_id, "device_owner": DHCP_OWNER,
                    "device_id": dhcp_device_id(host, network_id), "name": "",
                    "binding:host_id": host, "project_id": net[0],
                    "fixed_ips": [{"subnet_id": sid} for sid in dhcp_subnets]}
            port = self.ports.create(admin_context(), body)
            LOG.info("DHCP port %s created for network %s on %s", port["id"], network_id, host)
            return port
        have = {f["subnet_id"] for f in port["fixed_ips"]}
        missing = [sid for sid in dhcp_subnets if sid not in have]
        # Addresses in subnets that lost DHCP go too: dnsmasq would listen there.
        stale = have - set(dhcp_subnets)
        if missing or stale or port["binding:host_id"] != host \
                or port["binding:vif_type"] != VIF_BRIDGE:
            fixed = [f for f in port["fixed_ips"] if f["subnet_id"] not in stale]
            fixed += [{"subnet_id": sid} for sid in missing]
            port = self.ports.update(admin_context(), port["id"],
                                     {"fixed_ips": fixed, "binding:host_id": host})
        return port

    def release_dhcp_port(self, host: str, network_id: str) -> dict:
        port = self._find_port(host, network_id)
        if port is None:
            return {"released": False}
        self.ports.delete(admin_context(), port["id"])
        LOG.info("DHCP port %s of network %s on %s released", port["id"], network_id, host)
        return {"released": True}
