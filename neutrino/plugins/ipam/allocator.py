"""IP and MAC allocation under unique keys.

A candidate is chosen from fresh reads and inserted; if another worker took
it first, the unique key (subnet_id, ip_address) or (network_id,
mac_address) rejects the insert and the whole transaction runs again
(RetryTransaction). Candidates are random, so concurrent workers rarely pick
the same one.
"""
from __future__ import annotations

import ipaddress
import os
import random
import threading
from typing import Any

from sqlalchemy import bindparam, exists, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.db import models, seg_models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins.core import rbac_network_visible
from neutrino.plugins.ipam import pools as P
from neutrino.plugins.ranges import random_in

SAMPLE = 8
_IPA, _AP, _S = models.ip_allocations, models.allocation_pools, models.subnets
_TAKEN = select(_IPA.c.ip_address).where(_IPA.c.subnet_id == bindparam("subnet"),
                                         _IPA.c.ip_address.in_(bindparam("ips", expanding=True)))
_TAKEN_ALL = select(_IPA.c.ip_address).where(_IPA.c.subnet_id == bindparam("subnet"))
_INSERT_IP = insert(_IPA)
_IN_USE = select(_IPA.c.port_id).where(_IPA.c.subnet_id == bindparam("subnet"),
                                       _IPA.c.ip_address == bindparam("ip"))
# A network's subnets with their pools, in one round trip.
_SUBNETS_WITH_POOLS = (
    select(_S.c.id, _S.c.cidr, _S.c.ip_version, _S.c.gateway_ip, _S.c.ipv6_address_mode,
           _S.c.enable_dhcp, _AP.c.first_ip, _AP.c.last_ip)
    .outerjoin(_AP, _AP.c.subnet_id == _S.c.id)
    .where(_S.c.network_id == bindparam("network"))
    .order_by(_S.c.created_at, _S.c.id))


_N = models.networks
# Whether a subnet serves some device owners only (service types) or sits
# on a segment: then neutrino.plugins.segments.ipam reads which; for the
# usual subnet this column spares that query.
_NARROWED = (exists().where(seg_models.subnet_service_types.c.subnet_id == _S.c.id)
             | exists().where(seg_models.subnet_segments.c.subnet_id == _S.c.id)
             ).label("narrowed")
_NET_SUBNETS_POOLS = (
    select(_N, _S.c.id.label("s_id"), _S.c.cidr, _S.c.ip_version, _S.c.gateway_ip,
           _S.c.ipv6_address_mode, _S.c.enable_dhcp, _AP.c.first_ip, _AP.c.last_ip,
           _NARROWED)
    .select_from(_N.outerjoin(_S, _S.c.network_id == _N.c.id)
                 .outerjoin(_AP, _AP.c.subnet_id == _S.c.id))
    .where(_N.c.id == bindparam("network"))
    .order_by(_S.c.created_at, _S.c.id))
_NET_SUBNETS_POOLS_SCOPED = _NET_SUBNETS_POOLS.where(
    (_N.c.project_id == bindparam("project")) | _N.c.shared
    | rbac_network_visible(_N, bindparam("project")))
_NET_COLUMNS = tuple(c.name for c in _N.c)


def network_with_subnets(conn: Connection, network_id: str, project: str | None):
    """A network row (as a dict) with its subnets and their pools, in one
    round trip: (network, subnets, ranges) as network_subnets_and_ranges, or
    None when there is no such network (visible to `project`; None: admin)."""
    stmt = _NET_SUBNETS_POOLS if project is None else _NET_SUBNETS_POOLS_SCOPED
    rows = conn.execute(stmt, {"network": network_id, "project": project}).mappings().all()
    if not rows:
        return None
    network = {k: rows[0][k] for k in _NET_COLUMNS}
    subnets, ranges = _subnets_and_ranges(
        [r for r in rows if r["s_id"] is not None], "s_id")
    return network, subnets, ranges


def network_subnets_and_ranges(conn: Connection, network_id: str):
    """([subnet dicts], {subnet_id: [(first, last) as ints]})"""
    return _subnets_and_ranges(
        conn.execute(_SUBNETS_WITH_POOLS, {"network": network_id}).mappings(), "id")


def _subnets_and_ranges(rows, id_key: str):
    subnets: list[dict] = []
    ranges: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        row_id = row[id_key]
        if row_id not in ranges:
            ranges[row_id] = []
            subnets.append({"id": row_id, "cidr": row["cidr"], "ip_version": row["ip_version"],
                            "gateway_ip": row["gateway_ip"],
                            "ipv6_address_mode": row["ipv6_address_mode"],
                            "enable_dhcp": row["enable_dhcp"]})
            if "narrowed" in row:
                subnets[-1]["narrowed"] = bool(row["narrowed"])
        if row["first_ip"] is not None:
            ranges[row_id].append((int(ipaddress.ip_address(row["first_ip"])),
                                   int(ipaddress.ip_address(row["last_ip"]))))
    return subnets, ranges


def subnet_ranges(conn: Connection, subnet_ids: list[str]) -> dict[str, list[tuple[int, int]]]:
    ap = models.allocation_pools
    out: dict[str, list[tuple[int, int]]] = {sid: [] for sid in subnet_ids}
    if not subnet_ids:
        return out
    for sid, first, last in conn.execute(select(ap.c.subnet_id, ap.c.first_ip, ap.c.last_ip)
                                         .where(ap.c.subnet_id.in_(subnet_ids))):
        out[sid].append((int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last))))
    return out


def _to_str(version: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def pick_ip(conn: Connection, subnet: dict, ranges: list[tuple[int, int]]) -> str | None:
    """A free address of the subnet's pools, or None when they are full."""
    version = subnet["ip_version"]
    total = sum(hi - lo + 1 for lo, hi in ranges)
    if total <= 0:
        return None
    sample = {random_in(ranges, total) for _ in range(min(SAMPLE, total))}
    candidates = [_to_str(version, v) for v in sample]
    taken = {r[0] for r in conn.execute(_TAKEN, {"subnet": subnet["id"], "ips": candidates})}
    free = [c for c in candidates if c not in taken]
    if free:
        return random.choice(free)
    # Dense subnet: read every allocation once and choose among the rest.
    taken_all = {int(ipaddress.ip_address(r[0])) for r in conn.execute(
        _TAKEN_ALL, {"subnet": subnet["id"]})}
    if total - sum(1 for t in taken_all if any(lo <= t <= hi for lo, hi in ranges)) <= 0:
        return None
    free_all = [v for lo, hi in ranges for v in range(lo, min(hi, lo + 65535) + 1)
                if v not in taken_all]
    return _to_str(version, random.choice(free_all)) if free_all else None


_IF_FREE: dict[str, Any] = {}


def _insert_if_free(dialect: str):
    """INSERT ... ON CONFLICT (subnet_id, ip_address) DO NOTHING where the
    database has it. (MariaDB's INSERT IGNORE would also swallow a foreign
    key failure, so it takes the read-then-insert path.)"""
    if dialect not in _IF_FREE:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            _IF_FREE[dialect] = None
            return None
        # (SQLAlchemy reports an INSERT's rowcount only when asked to.)
        _IF_FREE[dialect] = dialect_insert(_IPA).on_conflict_do_nothing(
            index_elements=["subnet_id", "ip_address"]).execution_options(preserve_rowcount=True)
    return _IF_FREE[dialect]


OPTIMISTIC_TRIES = 3


def allocate_ip(conn: Connection, port_id: str, network_id: str, subnet: dict,
                ranges: list[tuple[int, int]]) -> str | None:
    """Allocate a free address of the subnet's pools to the port; None when
    they are full. Where the database can skip a taken address without
    failing the transaction, a random candidate is simply inserted (one
    statement, not a read and an insert); after a few taken candidates, or
    elsewhere, it is pick_ip() and insert_ip()."""
    stmt = _insert_if_free(conn.dialect.name)
    total = sum(hi - lo + 1 for lo, hi in ranges)
    if stmt is not None and total > 0:
        for _ in range(min(OPTIMISTIC_TRIES, total)):
            ip = _to_str(subnet["ip_version"], random_in(ranges, total))
            if conn.execute(stmt, {"port_id": port_id, "network_id": network_id,
                                   "subnet_id": subnet["id"], "ip_address": ip}).rowcount == 1:
                return ip
    ip = pick_ip(conn, subnet, ranges)
    if ip is not None:
        insert_ip(conn, port_id, network_id, subnet["id"], ip, False)
    return ip


def insert_ip(conn: Connection, port_id: str, network_id: str, subnet_id: str, ip: str,
              requested: bool) -> None:
    try:
        conn.execute(_INSERT_IP, {"port_id": port_id, "network_id": network_id,
                                  "subnet_id": subnet_id, "ip_address": ip})
    except IntegrityError:
        if requested:
            raise faults.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet_id) from None
        raise RetryTransaction(f"{ip} taken in {subnet_id}") from None


def ip_in_use(conn: Connection, subnet_id: str, ip: str) -> bool:
    return conn.execute(_IN_USE, {"subnet": subnet_id, "ip": ip}).first() is not None


def resolve_fixed_ips(network_id: str, subnets: list[dict], requested: list[dict],
                      mac: str, is_router: bool = False) -> list[dict]:
    """Turn the request's fixed_ips into [{subnet, ip_address|None}] (None:
    allocate), validating each against the network's subnets."""
    by_id = {s["id"]: s for s in subnets}
    out = []
    for item in requested:
        subnet_id, ip = item.get("subnet_id"), item.get("ip_address")
        if ip is not None:
            try:
                addr = ipaddress.ip_address(ip)
            except (ValueError, TypeError):
                raise faults.HTTPBadRequest(
                    f"Invalid input for fixed_ips. Reason: '{ip}' is not a valid IP address.") from None
        if subnet_id is not None:
            subnet = by_id.get(subnet_id)
            if subnet is None:
                raise faults.invalid_input(
                    f"Failed to create port on network {network_id}, because fixed_ips "
                    f"included invalid subnet {subnet_id}")
            if ip is not None and not _valid_for(subnet, addr):
                raise faults.InvalidIpForSubnet(ip_address=ip)
        elif ip is not None:
            subnet = next((s for s in subnets if _valid_for(s, addr)), None)
            if subnet is None:
                raise faults.InvalidIpForNetwork(ip_address=ip)
        else:
            raise faults.HTTPBadRequest(
                "Invalid input for fixed_ips. Reason: a fixed IP needs a subnet_id or an ip_address.")
        if ip is None and P.is_auto_address(subnet) and not is_router:
            ip = P.eui64(subnet["cidr"], mac)
        out.append({"subnet": subnet, "ip_address": None if ip is None else str(
            ipaddress.ip_address(ip)), "requested": item.get("ip_address") is not None})
    seen = set()
    for item in out:
        key = (item["subnet"]["id"], item["ip_address"])
        if item["ip_address"] is not None and key in seen:
            raise faults.invalid_input(f"Duplicate IP address '{item['ip_address']}'")
        seen.add(key)
    return out


def _valid_for(subnet: dict, addr) -> bool:
    net = ipaddress.ip_network(subnet["cidr"])
    if addr.version != net.version or addr not in net:
        return False
    if net.version == 4 and net.prefixlen < 31 and addr in (net.network_address,
                                                            net.broadcast_address):
        return False
    return True


def default_fixed_ips(subnets: list[dict], mac: str, is_router: bool = False) -> list[dict]:
    """No fixed_ips asked: one IPv4 subnet (the first with room, decided at
    allocation), one stateful IPv6 subnet, and every SLAAC subnet."""
    out = []
    v4 = [s for s in subnets if s["ip_version"] == 4]
    v6_stateful = [s for s in subnets if s["ip_version"] == 6 and not P.is_auto_address(s)]
    v6_auto = [s for s in subnets if P.is_auto_address(s)]
    if v4:
        out.append({"subnets": v4, "ip_address": None, "requested": False})
    if v6_stateful:
        out.append({"subnets": v6_stateful, "ip_address": None, "requested": False})
    if not is_router:
        for s in v6_auto:
            out.append({"subnet": s, "ip_address": P.eui64(s["cidr"], mac), "requested": False})
    return out


# MACs walk from a random start by a fixed odd step: one process repeats
# none before it has handed out the whole space, and the walks of two API
# workers (same step, random starts) meet only if their starts are close.
# Independent random picks collide by the birthday bound instead (0.7 % for
# 500 ports in 2^24): harmless on different networks (uniqueness is per
# network, and a collision there is retried), but clients check it.
_MAC_STEP = 0x9E3779                 # odd: visits every value of 2^8..2^24 once
_mac_walk: dict[str, Any] = {}
_mac_lock = threading.Lock()


def _next_mac_value() -> int:
    with _mac_lock:
        if _mac_walk.get("pid") != os.getpid():     # a forked worker starts its own walk
            _mac_walk.update(pid=os.getpid(), next=random.SystemRandom().randrange(1 << 24))
        value = _mac_walk["next"]
        _mac_walk["next"] = (value + _MAC_STEP) % (1 << 24)
        return value


def random_mac(base_mac: str) -> str:
    base = base_mac.split(":")
    # Keep the operator's prefix (its non-zero leading bytes), generate the rest.
    keep = 3
    for i in range(3, 6):
        if base[i] != "00":
            keep = i + 1
    bits = 8 * (6 - keep)
    value = _next_mac_value() % (1 << bits)
    octets = base[:keep] + ["%02x" % ((value >> (8 * i)) & 0xFF)
                            for i in reversed(range(6 - keep))]
    return ":".join(octets)
