from neutrino.api import faults
from neutrino.plugins.ml2.types.base import TypeDriver, segment


class FlatTypeDriver(TypeDriver):
    """One untagged network per physical network; admin-created only."""
    network_type = "flat"

    def __init__(self, flat_networks):
        self.any = "*" in flat_networks
        self.physnets = {p for p in flat_networks if p != "*"}

    def validate(self, seg):
        if seg.get("segmentation_id") is not None:
            raise faults.invalid_input("segmentation_id prohibited for flat provider network")
        physnet = seg.get("physical_network")
        if not physnet:
            raise faults.invalid_input("physical_network required for flat provider network")
        if not self.any and physnet not in self.physnets:
            raise faults.invalid_input(
                f"physical_network '{physnet}' unknown for flat provider network")
        return segment("flat", physnet)

    def in_use_error(self, seg):
        return faults.FlatNetworkInUse(physical_network=seg["physical_network"])
