"""Prefix arithmetic of subnet pools, pure (no database): compacting a
pool's prefixes, what is still free, carving a subnet of a given length out
of it, and the quota units a subnet costs (IPv4 counted in /32s, IPv6 in
/64s, as upstream)."""
from __future__ import annotations

import ipaddress
from typing import Iterable

Net = ipaddress.IPv4Network | ipaddress.IPv6Network

BITS = {4: 32, 6: 128}
DEFAULT_MIN_PREFIXLEN = {4: 8, 6: 64}
QUOTA_UNIT = {4: 32, 6: 64}


def net(cidr: str) -> Net:
    return ipaddress.ip_network(cidr, strict=False)


def compact(cidrs: Iterable[str | Net]) -> list[Net]:
    """Overlapping and adjacent prefixes merged (upstream's IPSet.compact)."""
    nets = [c if not isinstance(c, str) else net(c) for c in cidrs]
    out: list[Net] = []
    for version in (4, 6):
        out += ipaddress.collapse_addresses([n for n in nets if n.version == version])
    return out


def subtract(base: Iterable[Net], cut: Iterable[Net]) -> list[Net]:
    """The addresses of `base` outside `cut`, as CIDRs."""
    cut = compact(cut)
    out: list[Net] = []
    for block in compact(base):
        pieces = [block]
        for c in cut:
            if c.version != block.version:
                continue
            nxt = []
            for p in pieces:
                if not p.overlaps(c):
                    nxt.append(p)
                elif c.supernet_of(p):
                    continue
                else:               # c inside p
                    nxt += p.address_exclude(c)
            pieces = nxt
        out += pieces
    return compact(out)


def covers(base: Iterable[Net], cidr: Net) -> bool:
    return any(b.version == cidr.version and b.supernet_of(cidr) for b in compact(base))


def overlaps(a: Iterable[Net], b: Iterable[Net]) -> bool:
    b = list(b)
    return any(x.version == y.version and x.overlaps(y) for x in a for y in b)


def allocate_any(prefixes: Iterable[Net], allocated: Iterable[Net],
                 prefixlen: int) -> Net | None:
    """The first /prefixlen in the smallest free block that holds one (least
    fragmentation, as upstream), or None when none is free."""
    free = sorted(subtract(prefixes, allocated), key=lambda n: (-n.prefixlen, n))
    for block in free:
        if prefixlen >= block.prefixlen:
            return next(block.subnets(new_prefix=prefixlen))
    return None


def is_free(prefixes: Iterable[Net], allocated: Iterable[Net], cidr: Net) -> bool:
    return covers(subtract(prefixes, allocated), cidr)


def quota_units(cidr: Net) -> int:
    return 2 ** max(QUOTA_UNIT[cidr.version] - cidr.prefixlen, 0)


def covers_all(base: Iterable[Net], nets: Iterable[Net]) -> bool:
    base = compact(base)
    return all(covers(base, n) for n in nets)
