"""L2 population, the server side (`[ml2] mechanism_drivers = ...,l2population`).

What an agent with `[vxlan] l2_population = True` needs for a vxlan network
it serves: the VTEPs (`tunneling_ip` of the Linux bridge agent) of the other
hosts with ACTIVE ports on it -- the flood list -- and those ports' MACs
and IPs, for per-MAC fdb entries and the ARP responder. As upstream, only
ACTIVE ports count: a port enters other hosts' tables once its own agent
has wired it, and leaves them when it goes DOWN, moves or is deleted.

Upstream pushes fdb deltas in the notifications, on a fanout topic that
every agent hears. Here the notification is the usual "changed, go fetch"
(agents are level-triggered, the fetch returns the whole table of the
network), and it goes only to the hosts with a port bound on that network:
O(hosts on the network) messages per change, not O(all hosts).
"""
from __future__ import annotations

import functools
import json
from typing import Any

from sqlalchemy import select

from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.ml2.segments import segments_for

LINUXBRIDGE_AGENT = "Linux bridge agent"
VIF_BRIDGE = "bridge"
FDB_RESOURCE = "fdb"   # notification resource: "re-fetch this network's forwarding table"


def vteps(conn, hosts: set[str]) -> dict[str, str]:
    """host -> tunneling_ip of its Linux bridge agent (hosts without one,
    or without VXLAN, are left out)."""
    a = models.agents
    out = {}
    for part in listing.chunks(sorted(hosts)):
        for host, configurations in conn.execute(
                select(a.c.host, a.c.configurations)
                .where(a.c.host.in_(part), a.c.agent_type == LINUXBRIDGE_AGENT)):
            ip = _tunneling_ip(configurations or "{}")
            if ip:
                out[host] = ip
    return out


@functools.lru_cache(maxsize=4096)
def _tunneling_ip(configurations: str) -> str | None:
    """Parsed once per distinct text: every forwarding-table fetch asks
    for the VTEPs of the same few hosts, whose heartbeats rarely change it."""
    return json.loads(configurations).get("tunneling_ip")


def remote_fdb(conn, host: str, network_ids: list[str]) -> dict[str, dict[str, Any]]:
    """For each vxlan network of `network_ids`: {"vteps": [...], "ports":
    [{"vtep", "mac_address", "ips"}]} of the ACTIVE ports bound on other
    hosts. A few queries whatever the number of ports."""
    segs = segments_for(conn, list(network_ids))
    nets = [n for n in network_ids if (segs.get(n) or {}).get("network_type") == "vxlan"]
    out: dict[str, dict[str, Any]] = {n: {"vteps": [], "ports": []} for n in nets}
    if not nets:
        return out
    p, ipa = models.ports, models.ip_allocations
    where = [p.c.status == "ACTIVE", p.c.binding_vif_type == VIF_BRIDGE,
             p.c.binding_host != host, p.c.binding_host != ""]
    # one row per (port, address), ports without one included: one query,
    # grouped here (this runs for every fetch of a network's table)
    found: dict[str, tuple[str, str, str, list[str]]] = {}
    for part in listing.chunks(nets):
        for port_id, net_id, mac, bound, ip in conn.execute(
                select(p.c.id, p.c.network_id, p.c.mac_address, p.c.binding_host,
                       ipa.c.ip_address)
                .outerjoin(ipa, ipa.c.port_id == p.c.id)
                .where(p.c.network_id.in_(part), *where)):
            entry = found.get(port_id)
            if entry is None:
                entry = found[port_id] = (net_id, mac, bound, [])
            if ip is not None:
                entry[3].append(ip)
    if not found:
        return out
    where_is = vteps(conn, {bound for _, _, bound, _ in found.values()})
    per_net: dict[str, list[tuple[str, str, list[str]]]] = {n: [] for n in nets}
    for net_id, mac, bound, ips in found.values():
        vtep = where_is.get(bound)
        if vtep is not None:
            per_net[net_id].append((vtep, mac, ips))
    for net_id, entries in per_net.items():
        entries.sort(key=lambda e: (e[0], e[1]))
        out[net_id] = {"vteps": sorted({e[0] for e in entries}),
                       "ports": [{"vtep": vtep, "mac_address": mac, "ips": sorted(ips)}
                                 for vtep, mac, ips in entries]}
    return out


def network_hosts(conn, network_id: str) -> set[str]:
    """Hosts that serve `network_id` (a port bound there) if it is a vxlan
    network: the ones whose forwarding table a change on it concerns."""
    seg = segments_for(conn, [network_id]).get(network_id)
    if not seg or seg.get("network_type") != "vxlan":
        return set()
    p = models.ports
    return {h for (h,) in conn.execute(
        select(p.c.binding_host).where(p.c.network_id == network_id,
                                       p.c.binding_vif_type == VIF_BRIDGE,
                                       p.c.binding_host != "").distinct())}


def networks_of(conn, port_ids: list[str]) -> set[str]:
    p = models.ports
    out: set[str] = set()
    for part in listing.chunks(port_ids):
        out |= {n for (n,) in conn.execute(select(p.c.network_id).where(p.c.id.in_(part))
                                           .distinct())}
    return out


def status_changed(core, host: str, port_ids: list[str]) -> None:
    """Ports of `host` went ACTIVE or DOWN: the other hosts on their vxlan
    networks re-fetch those networks' forwarding tables."""
    if not port_ids:
        return

    def find(conn):
        return {net: network_hosts(conn, net) - {host} for net in networks_of(conn, port_ids)}
    for net, hosts in core.db.read(find).items():
        if hosts:
            core.notifier.resource_changed(FDB_RESOURCE, net, -1, hosts=tuple(sorted(hosts)),
                                           network_id=net)
