"""A subnet's CIDR from a subnet pool, inside the subnet's create
transaction: which pool (subnetpool_id or the default one), the pool's
prefix-length bounds, the project's quota in prefix space, free prefix
space, and the network's affinity (one pool, or one address scope, per IP
family on a network)."""
from __future__ import annotations

from sqlalchemy import bindparam, func, select, update

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.db import models
from neutrino.plugins.subnetpools import common
from neutrino.plugins.subnetpools import faults as pf
from neutrino.plugins.subnetpools import prefixes as px

SP, S = common.SP, models.subnets


def _bad(msg: str) -> faults.BadRequest:
    return faults.BadRequest(resource="subnets", msg=msg)


def pool_id_for(conn, ctx, body: dict) -> str | None:
    """upstream's _get_subnetpool_id: the pool named, or the default one of
    the request's IP family when use_default_subnetpool is set."""
    pool_id = body.get("subnetpool_id")
    use_default = bool(body.get("use_default_subnetpool"))
    if use_default and pool_id:
        raise _bad("subnetpool_id and use_default_subnetpool cannot both be specified")
    if pool_id or not use_default:
        return pool_id
    if body.get("cidr") is not None:
        version = px.net(body["cidr"]).version
    else:
        version = body.get("ip_version")
    stmt = select(SP.c.id).where(SP.c.is_default, SP.c.ip_version == version)
    where = common.scope(SP, ctx, "subnetpool")
    if where is not None:
        stmt = stmt.where(where)
    found = conn.execute(stmt.limit(1)).scalar()
    if found is None:
        raise _bad(f"No default subnetpool found for IPv{version}")
    return found


def lock_pool(conn, pool_id: str) -> None:
    """Serialize allocations from one pool (their CIDRs must not overlap):
    the row write holds its lock until the transaction ends."""
    conn.execute(update(SP).where(SP.c.id == pool_id).values(
        revision_number=SP.c.revision_number))


def allocated(conn, pool_id: str, project_id: str | None = None) -> list:
    stmt = select(S.c.cidr).where(S.c.subnetpool_id == pool_id)
    if project_id is not None:
        stmt = stmt.where(S.c.project_id == project_id)
    return [px.net(c) for c, in conn.execute(stmt)]


_POOLS_OF_NETWORK = select(S.c.subnetpool_id, SP.c.address_scope_id).select_from(
    S.outerjoin(SP, SP.c.id == S.c.subnetpool_id)).where(
    S.c.network_id == bindparam("net"), S.c.ip_version == bindparam("version"))


def check_affinity(conn, network_id: str, version: int, pool) -> None:
    """upstream's _validate_network_subnetpools."""
    # the network's subnets of this version with their pools' scopes: one query
    rows = conn.execute(_POOLS_OF_NETWORK, {"net": network_id, "version": version}).all()
    scope = next((scope for _, scope in rows if scope), None)
    if scope and (pool is None or pool["address_scope_id"] != scope):
        raise pf.NetworkAddressScopeAffinityError()
    for sp_id, _ in rows:
        if pool is None:
            if sp_id:
                raise pf.NetworkSubnetPoolAffinityError()
        elif sp_id != pool["id"] and not scope:
            raise pf.NetworkSubnetPoolAffinityError()


def allocate(conn, ctx, body: dict, network_id: str, owner: str):
    """(cidr, pool id or None) for a new subnet; raises upstream's errors."""
    has_cidr, has_len = body.get("cidr") is not None, body.get("prefixlen") is not None
    if has_cidr and has_len:
        raise _bad("cidr and prefixlen must not be supplied together")
    pool_id = pool_id_for(conn, ctx, body)
    if not pool_id:
        if not has_cidr:
            raise _bad("a subnetpool must be specified in the absence of a cidr")
        return None, None
    if not a.is_uuid(pool_id):
        raise pf.SubnetPoolNotFound(subnetpool_id=pool_id)
    pool = common.pool_row(conn, ctx, pool_id)
    version = body.get("ip_version")
    if version is not None and version != pool["ip_version"]:
        raise faults.invalid_input(
            f"Cannot allocate IPv{version} subnet from IPv{pool['ip_version']} subnet pool")
    lock_pool(conn, pool_id)
    check_affinity(conn, network_id, pool["ip_version"], pool)
    pool_prefixes = [px.net(c) for c in common.pool_prefixes(conn, [pool_id])[pool_id]]
    if has_cidr:
        cidr = px.net(body["cidr"])
        if cidr.version != pool["ip_version"]:
            raise faults.invalid_input(
                f"Cannot allocate IPv{cidr.version} subnet from IPv{pool['ip_version']} "
                "subnet pool")
        prefixlen = cidr.prefixlen
    else:
        prefixlen = body["prefixlen"] if has_len else pool["default_prefixlen"]
    if prefixlen > pool["max_prefixlen"]:
        raise pf.MaxPrefixSubnetAllocationError(prefixlen=prefixlen,
                                                max_prefixlen=pool["max_prefixlen"])
    if prefixlen < pool["min_prefixlen"]:
        raise pf.MinPrefixSubnetAllocationError(prefixlen=prefixlen,
                                                min_prefixlen=pool["min_prefixlen"])
    if pool["default_quota"] is not None and pool["default_quota"] > 0:
        unit_len = px.QUOTA_UNIT[pool["ip_version"]]
        used = sum(px.quota_units(c) for c in allocated(conn, pool_id, owner))
        if used + 2 ** max(unit_len - prefixlen, 0) > pool["default_quota"]:
            raise pf.SubnetPoolQuotaExceeded()
    taken = allocated(conn, pool_id)
    if has_cidr:
        if not px.is_free(pool_prefixes, taken, cidr):
            raise pf.SubnetAllocationError(
                reason="Cannot allocate requested subnet from the available set of prefixes")
        return cidr, pool_id
    found = px.allocate_any(pool_prefixes, taken, prefixlen)
    if found is None:
        raise pf.SubnetAllocationError(
            reason=f"Insufficient prefix space to allocate subnet size /{prefixlen}")
    return found, pool_id


def subnets_in_pool(conn, pool_id: str) -> int:
    return conn.execute(select(func.count()).select_from(S).where(
        S.c.subnetpool_id == pool_id)).scalar()
