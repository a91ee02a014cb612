"""The server's side of the firewall protocol: `get_firewall_state(host)`
-> what the L2 agent of `host` needs to filter its ports:

  {"ports": [{id, network_id, mac_address, device_owner, port_security_enabled,
              fixed_ips: [ip], allowed_address_pairs: [{ip_address, mac_address}],
              security_groups: [id]}],
   "security_groups": {group id: [rule, ...]},   the groups those ports are in
   "members": {group id: [ip or cidr, ...]},     the groups their rules name as remote
                                                 (and address groups: their CIDRs)
   "stateless": [group id]}                      those of stateful=false

A handful of queries whatever the number of ports (chunked IN lists), so a
host with 1,000 ports refetches it in well under a second.

`get_firewall_state(host, ports)`: those ports alone (after they changed
here), with `asked`: the ids asked about (a port absent is not bound here).

`get_group_rules(groups)` -> {"security_groups", "members", "stateless"} as
above, for those groups alone: after a rule change (or a change of an
address group their rules name).

`get_group_members(groups)` -> {"members": {group id: [...]}}: the members
alone, after a port joined or left groups (a burst of deletes on a host of
5,000 ports refetches a few member lists, not every port).
"""
from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, exists, select

from neutrino.db import models
from neutrino.plugins import listing
from neutrino.plugins.ml2.mech import VIF_BRIDGE
from neutrino.rpc.client import LINUXBRIDGE_AGENT_TYPE

RULE_FIELDS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
               "remote_ip_prefix", "remote_group_id")


def firewall_state(conn, host: str, port_ids: list[str] | None = None) -> dict[str, Any]:
    """The host's whole state; with `port_ids`, only those of its ports
    (those not bound here, by their absence) with their groups' rules and
    the members those name: the answer then says which it was asked about
    (`asked`), so an agent can tell it from an older server's whole state."""
    ports: dict[str, dict] = {}
    asked = None if port_ids is None else sorted(set(port_ids))
    for part in [None] if asked is None else listing.chunks(asked):
        _host_ports(conn, host, part, ports)
    for port in ports.values():
        port["fixed_ips"].sort()
        port["security_groups"].sort()
    groups = sorted({g for port in ports.values() for g in port["security_groups"]})
    state = {"host": host, "ports": list(ports.values()), **group_state(conn, groups)}
    if asked is not None:
        state["asked"] = asked
    return state


def _host_ports(conn, host: str, ids: list[str] | None, ports: dict[str, dict]) -> None:
    """Into `ports`: the host's bound ports (of `ids`, if given), each with
    its addresses, groups and address pairs."""
    p, ipa, psg = models.ports, models.ip_allocations, models.port_security_groups
    aap = models.allowed_address_pairs
    where = (p.c.binding_host == host, p.c.binding_vif_type == VIF_BRIDGE,
             *(() if ids is None else (p.c.id.in_(ids),)))
    for r in conn.execute(select(p.c.id, p.c.network_id, p.c.mac_address, p.c.device_owner,
                                 p.c.port_security_enabled).where(*where)):
        ports[r.id] = {"id": r.id, "network_id": r.network_id, "mac_address": r.mac_address,
                       "device_owner": r.device_owner,
                       "port_security_enabled": bool(r.port_security_enabled),
                       "fixed_ips": [], "allowed_address_pairs": [], "security_groups": []}
    for pid, ip in conn.execute(select(ipa.c.port_id, ipa.c.ip_address)
                                .join(p, p.c.id == ipa.c.port_id).where(*where)):
        ports[pid]["fixed_ips"].append(ip)
    for pid, gid in conn.execute(select(psg.c.port_id, psg.c.security_group_id)
                                 .join(p, p.c.id == psg.c.port_id).where(*where)):
        ports[pid]["security_groups"].append(gid)
    for pid, mac, ip in conn.execute(select(aap.c.port_id, aap.c.mac_address, aap.c.ip_address)
                                     .join(p, p.c.id == aap.c.port_id).where(*where)):
        ports[pid]["allowed_address_pairs"].append({"ip_address": ip, "mac_address": mac})


def group_state(conn, groups: list[str]) -> dict[str, Any]:
    """The rules of `groups` (an unknown one: none), the members of the
    remote groups they name and which of them are stateless: firewall_state
    without the ports, which `get_group_rules` answers after a rule change
    (a host of 5,000 ports refetches one group, not its whole state)."""
    rule = models.security_group_rules
    rules: dict[str, list[dict]] = {g: [] for g in groups}
    address_groups: set[str] = set()
    for part in listing.chunks(groups):
        for r in conn.execute(select(rule).where(rule.c.security_group_id.in_(part))
                              .order_by(rule.c.created_at, rule.c.id)).mappings():
            one = {k: r[k] for k in RULE_FIELDS}
            if r["remote_address_group_id"]:
                # An address group filters as a remote group whose members
                # are its CIDRs: the same ipset / nftables set machinery.
                one["remote_group_id"] = r["remote_address_group_id"]
                address_groups.add(r["remote_address_group_id"])
            rules[r["security_group_id"]].append(one)
    remote = sorted({r["remote_group_id"] for rs in rules.values() for r in rs
                     if r["remote_group_id"]} - address_groups)
    members = group_members(conn, remote)
    if address_groups:
        from neutrino.plugins.rbac.address_groups import addresses_of
        members.update(addresses_of(conn, sorted(address_groups)))
    stateless: list[str] = []
    sg = models.security_groups
    for part in listing.chunks(groups):
        stateless += [g for (g,) in conn.execute(select(sg.c.id).where(
            sg.c.id.in_(part), sg.c.stateful == False))]  # noqa: E712
    return {"security_groups": rules, "members": members, "stateless": sorted(stateless)}


def group_members(conn, group_ids: list[str]) -> dict[str, list[str]]:
    """Addresses of every port in each group, on any host: fixed IPs and
    allowed address pairs (as upstream puts them in the remote-group sets)."""
    ipa, psg, aap = models.ip_allocations, models.port_security_groups, \
        models.allowed_address_pairs
    members: dict[str, set[str]] = {g: set() for g in group_ids}
    for part in listing.chunks(group_ids):
        for gid, ip in conn.execute(select(psg.c.security_group_id, ipa.c.ip_address)
                                    .join(ipa, ipa.c.port_id == psg.c.port_id)
                                    .where(psg.c.security_group_id.in_(part))):
            members[gid].add(ip)
        for gid, ip in conn.execute(select(psg.c.security_group_id, aap.c.ip_address)
                                    .join(aap, aap.c.port_id == psg.c.port_id)
                                    .where(psg.c.security_group_id.in_(part))):
            members[gid].add(ip)
    return {g: sorted(ips) for g, ips in members.items()}


def members_of(conn, ids: list[str]) -> dict[str, list[str]]:
    """The members of remote groups as firewall_state gives them: security
    groups' port addresses, address groups' CIDRs; unknown ids: none."""
    from neutrino.plugins.rbac.address_groups import addresses_of
    ids = sorted(set(ids))
    sg = models.security_groups
    groups = [g for part in listing.chunks(ids)
              for (g,) in conn.execute(select(sg.c.id).where(sg.c.id.in_(part)))]
    out = {g: [] for g in ids}
    out.update(group_members(conn, groups))
    others = sorted(set(ids) - set(groups))
    if others:
        out.update(addresses_of(conn, others))
    return out


def hosts_referencing_members(conn, groups: list[str] | None = None) -> list[str]:
    """Hosts with a Linux bridge agent and a port in a group whose rules
    name as remote group one of `groups` (the groups a port joined or
    left), or any group when `groups` is None: only their remote-group sets
    can change."""
    if groups is not None and not groups:
        return []
    if groups is None:
        return sorted(h for (h,) in conn.execute(_hosts_referencing(False)))
    return sorted(h for (h,) in conn.execute(_hosts_referencing(True),
                                             {"groups": sorted(set(groups))}))


@functools.cache
def _hosts_referencing(named: bool):
    """The statement of hosts_referencing_members, built once (building its
    subquery's columns per notice was a tenth of the server's CPU in a
    burst of port deletes); `named`: the remote groups are a bound list."""
    p, psg, rule = models.ports, models.port_security_groups, models.security_group_rules
    with_remote = select(rule.c.security_group_id).where(
        rule.c.remote_group_id.in_(bindparam("groups", expanding=True)) if named
        else rule.c.remote_group_id.is_not(None))
    # Per host with an L2 agent (a few rows: the ports' distinct hosts were
    # an index scan per notice batch, growing with the ports; a host without
    # an agent has no one to tell, and its agent syncs in full when it
    # starts), whether one of its ports is in such a group: the first port
    # found answers (joining every port of the groups read all 5,000 rows
    # of a default group per batch).
    a = models.agents
    hosts = select(a.c.host.label("host")).where(a.c.agent_type == LINUXBRIDGE_AGENT_TYPE) \
        .distinct().subquery()
    mine = p.alias("mine")
    stmt = select(hosts.c.host).where(exists(
        select(1).select_from(mine.join(psg, psg.c.port_id == mine.c.id))
        .where(mine.c.binding_host == hosts.c.host, psg.c.security_group_id.in_(with_remote))))
    return stmt
