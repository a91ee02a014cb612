"""port-resource-request(-groups): what a port asks placement for, from
the minimum rules of its QoS policy (its own, else its network's for
non-network ports), as upstream's QoS plugin builds it: a group for the
minimum bandwidth rules (resources NET_BW_{EGR,IGR}_KILOBIT_PER_SEC,
traits CUSTOM_PHYSNET_<physnet> and CUSTOM_VNIC_TYPE_<vnic>, only on a
network with a physical network) and one for the minimum packet rate rules
(NET_PACKET_RATE_[{EGR,IGR}_]KILOPACKET_PER_SEC, the vnic trait), in the
groups format (request_groups, same_subtree). null when it asks for nothing."""
from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from neutrino.plugins import listing
from neutrino.plugins.ml2.segments import segments_for

_BW = {"egress": "NET_BW_EGR_KILOBIT_PER_SEC", "ingress": "NET_BW_IGR_KILOBIT_PER_SEC"}
_PPS = {"egress": "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
        "ingress": "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
        "any": "NET_PACKET_RATE_KILOPACKET_PER_SEC"}


def _trait(prefix: str, name: str) -> str:
    return prefix + re.sub(r"[^A-Z0-9_]", "_", name.upper())


def _policies(conn, views: list[dict]) -> dict[str, str]:
    """port id -> its effective QoS policy id. The QoS feature's keys come
    first in the views (catalogue order): then there is nothing to read."""
    if all("qos_policy_id" in v and "qos_network_policy_id" in v for v in views):
        out = {}
        for v in views:
            policy = v["qos_policy_id"] or (
                None if v.get("device_owner", "").startswith("network:")
                else v["qos_network_policy_id"])
            if policy:
                out[v["id"]] = policy
        return out
    try:     # the same rule, read from the bindings (the L2 agents' QoS uses it)
        from neutrino.rpc.qos_handlers import effective_policies
    except ImportError:      # the QoS feature is not part of this tree
        return {}
    return effective_policies(conn, views)


def requests(conn, views: list[dict]) -> dict[str, dict | None]:
    """port id -> resource_request (None: nothing asked)."""
    policies = _policies(conn, views)
    if not policies:
        return {}
    from neutrino.db import qos_models as qm
    R = qm.qos_rules
    rules: dict[str, list] = {}
    for part in listing.chunks(sorted(set(policies.values()))):
        for r in conn.execute(select(R.c.qos_policy_id, R.c.type, R.c.direction, R.c.min_kbps,
                                     R.c.min_kpps).where(
                R.c.qos_policy_id.in_(part),
                R.c.type.in_(("minimum_bandwidth", "minimum_packet_rate")))):
            rules.setdefault(r.qos_policy_id, []).append(r)
    segs = segments_for(conn, sorted({v["network_id"] for v in views if v["id"] in policies}))
    out: dict[str, dict | None] = {}
    for v in views:
        mine = rules.get(policies.get(v["id"], ""), [])
        if not mine:
            continue
        vnic = _trait("CUSTOM_VNIC_TYPE_", v.get("binding:vnic_type") or "normal")
        physnet = (segs.get(v["network_id"]) or {}).get("physical_network")
        groups = []
        bw = {_BW[r.direction]: r.min_kbps for r in mine if r.type == "minimum_bandwidth"}
        if bw and physnet:
            groups.append({"id": str(uuid.uuid5(uuid.NAMESPACE_OID, v["id"] + "/bw")),
                           "required": [_trait("CUSTOM_PHYSNET_", physnet), vnic],
                           "resources": bw})
        pps = {_PPS[r.direction]: r.min_kpps for r in mine if r.type == "minimum_packet_rate"}
        if pps:
            groups.append({"id": str(uuid.uuid5(uuid.NAMESPACE_OID, v["id"] + "/pps")),
                           "required": [vnic], "resources": pps})
        if groups:
            out[v["id"]] = {"request_groups": groups,
                            "same_subtree": [g["id"] for g in groups]}
    return out
