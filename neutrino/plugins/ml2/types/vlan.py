from neutrino.api import faults
from neutrino.plugins.ml2.types.base import TypeDriver, parse_ranges, pick_unused, segment

MIN_VLAN, MAX_VLAN = 1, 4094


def parse_vlan_ranges(entries):
    """'physnet1:100:200,physnet2' -> {physnet1: [(100, 200)], physnet2: []}"""
    out: dict[str, list[tuple[int, int]]] = {}
    for entry in entries:
        physnet, _, rng = entry.partition(":")
        out.setdefault(physnet, [])
        if rng:
            for lo, hi in parse_ranges([rng], "VLAN"):
                if lo < MIN_VLAN or hi > MAX_VLAN:
                    raise ValueError(f"VLAN range {entry!r} outside {MIN_VLAN}-{MAX_VLAN}")
                out[physnet].append((lo, hi))
    return out


class VlanTypeDriver(TypeDriver):
    network_type = "vlan"

    def __init__(self, network_vlan_ranges):
        self.ranges = parse_vlan_ranges(network_vlan_ranges)

    def validate(self, seg):
        physnet = seg.get("physical_network")
        vid = seg.get("segmentation_id")
        if physnet is None:
            if vid is not None:
                raise faults.invalid_input(
                    "segmentation_id requires physical_network for VLAN provider network")
            return segment("vlan")  # allocate from the tenant ranges
        if physnet not in self.ranges:
            raise faults.invalid_input(
                f"physical_network '{physnet}' unknown for VLAN provider network")
        if vid is not None and not MIN_VLAN <= vid <= MAX_VLAN:
            raise faults.invalid_input(
                f"segmentation_id out of range ({MIN_VLAN} through {MAX_VLAN})")
        return segment("vlan", physnet, vid)

    def allocate(self, conn, partial, ranges_by_physnet=None):
        """`ranges_by_physnet`: network segment ranges to use instead of
        network_vlan_ranges."""
        want = (partial or {}).get("physical_network")
        source = self.ranges if ranges_by_physnet is None else ranges_by_physnet
        for physnet, ranges in source.items():
            if not ranges or (want and physnet != want):
                continue
            vid = pick_unused(conn, "vlan", physnet, ranges)
            if vid is not None:
                return segment("vlan", physnet, vid)
        return None

    def in_use_error(self, seg):
        return faults.VlanIdInUse(vlan_id=seg["segmentation_id"],
                                  physical_network=seg["physical_network"])
