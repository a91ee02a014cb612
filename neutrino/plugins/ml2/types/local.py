from neutrino.plugins.ml2.types.base import TypeDriver, segment


class LocalTypeDriver(TypeDriver):
    """Host-internal networks: no uplink, nothing to allocate."""
    network_type = "local"

    def validate(self, seg):
        self.reject(seg, "physical_network", "segmentation_id")
        return segment("local")

    def allocate(self, conn, partial):
        return segment("local")
