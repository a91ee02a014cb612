from neutrino.api import faults
from neutrino.plugins.ml2.types.base import TypeDriver, parse_ranges, pick_unused, segment

MIN_VNI, MAX_VNI = 1, 2 ** 24 - 1


class VxlanTypeDriver(TypeDriver):
    network_type = "vxlan"

    def __init__(self, vni_ranges):
        self.ranges = parse_ranges(vni_ranges, "VNI")
        for lo, hi in self.ranges:
            if lo < MIN_VNI or hi > MAX_VNI:
                raise ValueError(f"VNI range {lo}:{hi} outside {MIN_VNI}-{MAX_VNI}")

    def validate(self, seg):
        self.reject(seg, "physical_network")
        vni = seg.get("segmentation_id")
        # Upstream accepts any integer here (even -1 and 2**24); a VNI is 24 bits.
        if vni is not None and not MIN_VNI <= vni <= MAX_VNI:
            raise faults.invalid_input(
                f"segmentation_id out of range ({MIN_VNI} through {MAX_VNI})")
        return segment("vxlan", None, vni)

    def allocate(self, conn, partial, ranges=None):
        """`ranges`: network segment ranges to use instead of vni_ranges."""
        ranges = self.ranges if ranges is None else ranges
        vni = pick_unused(conn, "vxlan", None, ranges)
        return None if vni is None else segment("vxlan", None, vni)

    def in_use_error(self, seg):
        return faults.TunnelIdInUse(tunnel_id=seg["segmentation_id"])
