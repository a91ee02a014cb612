"""Segment allocation across the type drivers, and network MTU."""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins.listing import new_id, now
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
        # network-segment-range: (conn, network_type, project, driver) ->
        # the range sets to allocate from, in order (None: the driver's own)
        self.range_source = None
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

    def segments_request(self, body: dict) -> list[dict | None]:
        """multi-provider: the validated segments asked for by `segments`
        (several), else [provider_request(body)]."""
        wanted = body.get("segments")
        if wanted is None:
            return [self.provider_request(body)]
        if any(body.get(f"provider:{k}") is not None for k in PROVIDER_KEYS):
            raise faults.invalid_input(
                "Segments and provider values cannot both be set.")
        out = []
        for item in wanted:
            if not isinstance(item, dict) or set(item) - {f"provider:{k}" for k in PROVIDER_KEYS}:
                raise faults.invalid_input(f"Invalid segment {item!r}")
            seg = self.provider_request(item)
            if seg is None:
                raise faults.invalid_input("network_type required")
            partial = seg["network_type"] in ("vlan", "vxlan") and seg["segmentation_id"] is None
            if seg in out and not partial:
                raise faults.invalid_input("Duplicate segment entry in request.")
            out.append(seg)
        return out or [None]

    def choose(self, conn: Connection, requested: dict | None,
               project_id: str | None = None) -> tuple[dict, bool]:
        """The segment a new network gets: (segment, picked) where picked
        means we chose the id, so losing a race to it means "pick again".
        With network segment ranges, the project's ranges come first."""
        if requested is None:
            for network_type in self.tenant_types:
                seg = self._allocate(conn, network_type, None, project_id)
                if seg is not None:
                    return seg, True
            raise faults.NoNetworkAvailable()
        if requested["network_type"] in ("vlan", "vxlan") and requested["segmentation_id"] is None:
            seg = self._allocate(conn, requested["network_type"], requested, project_id)
            if seg is None:
                raise faults.NoNetworkAvailable()
            return seg, True
        return requested, False

    def _allocate(self, conn, network_type: str, partial: dict | None,
                  project_id: str | None) -> dict | None:
        driver = self.drivers[network_type]
        if self.range_source is None or network_type not in ("vlan", "vxlan"):
            return driver.allocate(conn, partial)
        for ranges in self.range_source(conn, network_type, project_id, driver):
            seg = driver.allocate(conn, partial, ranges)
            if seg is not None:
                return seg
        return None

    def insert(self, conn: Connection, network_id: str, seg: dict, picked: bool,
               index: int = 0) -> dict:
        ts = now()
        try:
            conn.execute(_INSERT_SEGMENT, {"id": new_id(), "network_id": network_id,
                                           "alloc_key": alloc_key(seg), "segment_index": index,
                                           "created_at": ts, "updated_at": ts, **seg})
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
    """{network id: its first segment} (lowest segment_index)."""
    global _SEGMENTS
    if _SEGMENTS is None:
        from neutrino.plugins.listing import ChildQuery
        s = models.segments
        # descending: the first segment is the last row, and wins the dict
        _SEGMENTS = ChildQuery(s.c.network_id, s.c.network_type, s.c.physical_network,
                               s.c.segmentation_id,
                               order_by=(s.c.segment_index.desc(), s.c.id.desc()))
    return {row[0]: segment(row[1], row[2], row[3]) for row in _SEGMENTS.rows(conn, network_ids)}


_ALL_SEGMENTS = None


def all_segments_for(conn: Connection, network_ids: list[str]) -> dict[str, list[dict]]:
    """{network id: [its segments, with their ids, in index order]}."""
    global _ALL_SEGMENTS
    if _ALL_SEGMENTS is None:
        from neutrino.plugins.listing import ChildQuery
        s = models.segments
        _ALL_SEGMENTS = ChildQuery(s.c.network_id, s.c.id, s.c.network_type,
                                   s.c.physical_network, s.c.segmentation_id,
                                   order_by=(s.c.segment_index, s.c.id))
    out: dict[str, list[dict]] = {}
    for row in _ALL_SEGMENTS.rows(conn, network_ids):
        out.setdefault(row[0], []).append({"id": row[1], **segment(row[2], row[3], row[4])})
    return out


def _strip(seg: dict) -> dict:
    return segment(seg["network_type"], seg["physical_network"], seg["segmentation_id"])


def host_agent_conf(conn: Connection, host: str) -> dict | None:
    """The configurations of the Linux bridge agent on `host` (its
    bridge/interface mappings say which segments it can reach)."""
    import json

    from neutrino.plugins.ml2.mech import LINUXBRIDGE_AGENT
    a = models.agents
    text = conn.execute(select(a.c.configurations).where(
        a.c.host == host, a.c.agent_type == LINUXBRIDGE_AGENT)).scalar()
    return None if text is None else json.loads(text or "{}")


def host_segments(conn: Connection, segs: list[dict], host: str,
                  conf: dict | None = None) -> list[dict]:
    """The segments (of one network) mapped on `host`."""
    from neutrino.plugins.ml2.mech import segment_unservable
    conf = host_agent_conf(conn, host) if conf is None else conf
    if conf is None:
        return []
    return [s for s in segs if segment_unservable(conf, s) is None]


def segments_for_host(conn: Connection, network_ids: list[str], host: str) -> dict[str, dict]:
    """{network id: the segment `host` wires}: a multi-segment network's
    first segment mapped on the host, else its first segment."""
    out: dict[str, dict] = {}
    conf: dict | None = None
    for net_id, segs in all_segments_for(conn, network_ids).items():
        if len(segs) > 1 and host:
            if conf is None:
                conf = host_agent_conf(conn, host) or {}
            mapped = host_segments(conn, segs, host, conf)
            out[net_id] = _strip((mapped or segs)[0])
        else:
            out[net_id] = _strip(segs[0])
    return out


def segment_for_host(conn: Connection, network_id: str, host: str) -> dict | None:
    return segments_for_host(conn, [network_id], host).get(network_id)
