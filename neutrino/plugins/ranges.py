"""Picking from inclusive integer ranges (VLAN/VNI ids, pool addresses)."""
from __future__ import annotations

import random


def random_in(ranges: list[tuple[int, int]], total: int) -> int:
    """A uniformly random member of the ranges (`total`: how many they hold)."""
    n = random.randrange(total)
    for lo, hi in ranges:
        size = hi - lo + 1
        if n < size:
            return lo + n
        n -= size
    raise ValueError("total exceeds the ranges")
