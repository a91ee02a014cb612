"""Segment allocation across the type drivers, and network MTU."""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins.listing import new_id
from neutrino.plugins.ml2.types.base import alloc_key, segment
from neutrino.plugins.ml2.types.flat import FlatTypeDriver
from neutrino.plugins.ml2.types.local import LocalTypeDriver
from neutrino.plugins.ml2.types.vlan import VlanTypeDriver
from neutrino.plugins.ml2.types.vxlan import VxlanTypeDriver

PROVIDER_KEYS = ("network_type", "physical_network", "segmentation_id")
VXLAN_OVERHEAD = 50  # outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
SUPPORTED = ("local", "flat", "vlan", "vxlan")
_INSERT_SEGMENT = insert(models.segments)


class SegmentManager:
    def __init__(self, cfg):
        ml2 = cfg.ml2
        for name in ml2.type_drivers:
            if name not in SUPPORTED:
                raise ValueError(f"[ml2] type_drivers: '{name}' is not supported "
                                 f"(supported: {', '.join(SUPPORTED)})")
        for name in ml2.tenant_network_types:
            if name not in ml2.type_drivers:
                raise ValueError(f"[ml2] tenant_network_types: '{name}' is not in type_drivers")
        builders = {
            "local": lambda: LocalTypeDriver(),
            "flat": lambda: FlatTypeDriver(cfg.ml2_type_flat.flat_networks),
            "vlan": lambda: VlanTypeDriver(cfg.ml2_type_vlan.network_vlan_ranges),
            "vxlan": lambda: VxlanTypeDriver(cfg.ml2_type_vxlan.vni_ranges),
        }
        self.drivers = {name: builders[name]() for name in ml2.type_drivers}
        self.tenant_types = ml2.tenant_network_types
        self.global_mtu = cfg.DEFAULT.global_physnet_mtu
        self.path_mtu = ml2.path_mtu
        self.physnet_mtus = {}
        for entry in ml2.physical_network_mtus:
            physnet, _, mtu = entry.partition(":")
            self.physnet_mtus[physnet] = int(mtu)

    def provider_request(self, body: dict) -> dict | None:
        """The validated provider segment asked for, or None (tenant default)."""
        given = {k: body.get(f"provider:{k}") for k in PROVIDER_KEYS}
        if all(v is None for v in given.values()):
            return None
        network_type = given["network_type"]
        if network_type is None:
            raise faults.invalid_input("network_type required")
        driver = self.drivers.get(network_type)
        if driver is None:
            raise faults.invalid_input(f"network_type value '{network_type}' not supported")
        return driver.validate(given)

    def choose(self, conn: Connection, requested: dict | None) -> tuple[dict, bool]:
        """The segment a new network gets: (segment, picked) where picked
        means we chose the id, so losing a race to it means "pick again"."""
        if requested is None:
            for network_type in self.tenant_types:
                seg = self.drivers[network_type].allocate(conn, None)
                if seg is not None:
                    return seg, True
            raise faults.NoNetworkAvailable()
        driver = self.drivers[requested["network_type"]]
        if requested["network_type"] in ("vlan", "vxlan") and requested["segmentation_id"] is None:
            seg = driver.allocate(conn, requested)
            if seg is None:
                raise faults.NoNetworkAvailable()
            return seg, True
        return requested, False

    def insert(self, conn: Connection, network_id: str, seg: dict, picked: bool) -> dict:
        try:
            conn.execute(_INSERT_SEGMENT, {"id": new_id(), "network_id": network_id,
                                           "alloc_key": alloc_key(seg), **seg})
        except IntegrityError:
            if picked:  # another worker took the id we picked: pick again
                raise RetryTransaction(f"segment {alloc_key(seg)} taken") from None
            raise self.drivers[seg["network_type"]].in_use_error(seg) from None
        return seg

    def mtu(self, seg: dict) -> int:
        base = self.physnet_mtus.get(seg.get("physical_network") or "", self.global_mtu)
        if seg["network_type"] == "vxlan":
            path = min(self.global_mtu, self.path_mtu) if self.path_mtu else self.global_mtu
            return path - VXLAN_OVERHEAD
        return base


_SEGMENTS = None


def segments_for(conn: Connection, network_ids: list[str]) -> dict[str, dict]:
    global _SEGMENTS
    if _SEGMENTS is None:
        from neutrino.plugins.listing import ChildQuery
        s = models.segments
        _SEGMENTS = ChildQuery(s.c.network_id, s.c.network_type, s.c.physical_network,
                               s.c.segmentation_id)
    return {row[0]: segment(row[1], row[2], row[3]) for row in _SEGMENTS.rows(conn, network_ids)}
