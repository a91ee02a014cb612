"""The type driver contract. A segment is a plain dict:
{"network_type", "physical_network", "segmentation_id"}.

Drivers validate and pick segments; the SegmentManager inserts them under
the unique alloc_key, so allocation is safe across API workers."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from neutrino.api import faults
from neutrino.db import models
from neutrino.plugins.ranges import random_in


def segment(network_type, physical_network=None, segmentation_id=None) -> dict:
    return {"network_type": network_type, "physical_network": physical_network,
            "segmentation_id": segmentation_id}


def alloc_key(seg: dict) -> str | None:
    if seg["network_type"] == "local":
        return None
    return "%s:%s:%s" % (seg["network_type"], seg["physical_network"] or "",
                         "" if seg["segmentation_id"] is None else seg["segmentation_id"])


def parse_ranges(entries: Iterable[str], what: str) -> list[tuple[int, int]]:
    out = []
    for entry in entries:
        lo, sep, hi = entry.partition(":")
        if not sep:
            raise ValueError(f"{what} range {entry!r} is not min:max")
        lo_i, hi_i = int(lo), int(hi)
        if lo_i > hi_i:
            raise ValueError(f"{what} range {entry!r} has min > max")
        out.append((lo_i, hi_i))
    return out


def used_ids(conn: Connection, network_type: str, physnet: str | None,
             lo: int, hi: int) -> set[int]:
    s = models.segments
    stmt = select(s.c.segmentation_id).where(
        s.c.network_type == network_type, s.c.segmentation_id.between(lo, hi))
    if physnet is not None:
        stmt = stmt.where(s.c.physical_network == physnet)
    return {row[0] for row in conn.execute(stmt)}


SAMPLE = 8
_TAKEN = select(models.segments.c.alloc_key).where(
    models.segments.c.alloc_key.in_(bindparam("keys", expanding=True)))


def pick_unused(conn: Connection, network_type: str, physnet: str | None,
                ranges: list[tuple[int, int]]) -> int | None:
    """A random free id: a few random candidates checked in one query on
    the unique alloc_key, so a create costs the same with 10 or 10,000
    networks; the whole used set is read only when every candidate is taken
    (a nearly full range). The insert's unique key still settles races."""
    total = sum(hi - lo + 1 for lo, hi in ranges)
    if total <= 0:
        return None
    candidates = {}
    for _ in range(min(SAMPLE, total)):
        candidate = random_in(ranges, total)
        candidates[alloc_key(segment(network_type, physnet, candidate))] = candidate
    taken = {k for (k,) in conn.execute(_TAKEN, {"keys": list(candidates)})}
    for key, candidate in candidates.items():
        if key not in taken:
            return candidate
    used: set[int] = set()
    for lo, hi in ranges:
        used |= used_ids(conn, network_type, physnet, lo, hi)
    return pick_free(ranges, used)


def pick_free(ranges: list[tuple[int, int]], used: set[int]) -> int | None:
    """A random free id from the ranges (random, not lowest: concurrent
    workers then rarely race for the same id)."""
    total = sum(hi - lo + 1 for lo, hi in ranges)
    if total - len(used) <= 0:
        return None
    for _ in range(32):
        candidate = random_in(ranges, total)
        if candidate not in used:
            return candidate
    for lo, hi in ranges:  # dense: walk
        for candidate in range(lo, hi + 1):
            if candidate not in used:
                return candidate
    return None


class TypeDriver:
    network_type = ""

    def validate(self, seg: dict) -> dict:
        """Check an admin-given (partial) segment; return it normalized."""
        raise NotImplementedError

    def allocate(self, conn: Connection, partial: dict | None, ranges=None) -> dict | None:
        """A free segment for a tenant network (partial: admin gave only
        some fields); None when none is free. `ranges`: network segment
        ranges replacing the configured ones (vlan: {physnet: [(lo, hi)]},
        vxlan: [(lo, hi)])."""
        return None

    def in_use_error(self, seg: dict) -> faults.NeutronError:
        raise NotImplementedError

    def reject(self, seg: dict, *fields: str) -> None:
        for f in fields:
            if seg.get(f) is not None:
                raise faults.invalid_input(
                    f"provider:{f} specified for {self.network_type} network")
