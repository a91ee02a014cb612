from neutrino.api import faults
from neutrino.plugins.ml2.types.base import TypeDriver, segment


class LocalTypeDriver(TypeDriver):
    """Host-internal networks: no uplink, nothing to allocate."""
    network_type = "local"

    def validate(self, seg):
        for key in ("physical_network", "segmentation_id"):
            if seg.get(key) is not None:
                raise faults.invalid_input(f"{key} prohibited for local provider network")
        return segment("local")

    def allocate(self, conn, partial):
        return segment("local")
