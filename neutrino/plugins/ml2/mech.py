"""ML2 mechanism drivers: port binding and the postcommit seam.

A mechanism driver sees each change twice: `*_precommit(conn, ...)` inside
the transaction (may veto by raising) and `*_postcommit(...)` after commit
(talks to agents). Binding (`bind_port`) picks a vif_type for a port on a
host, or leaves it `binding_failed` with a reason.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from neutrino.db import models
from neutrino.plugins.listing import now

LOG = logging.getLogger(__name__)

LINUXBRIDGE_AGENT = "Linux bridge agent"
VIF_BRIDGE = "bridge"
VIF_UNBOUND = "unbound"
VIF_FAILED = "binding_failed"


@dataclass(frozen=True)
class Binding:
    vif_type: str
    vif_details: dict

    def columns(self) -> dict:
        return {"binding_vif_type": self.vif_type,
                "binding_vif_details": json.dumps(self.vif_details, sort_keys=True)}


def bridge_name(network_id: str) -> str:
    return "brq" + network_id[:11]


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


class MechanismDriver:
    name = ""

    def bind_port(self, conn: Connection, port: dict, segment: dict, host: str) -> Binding | str:
        """A Binding, or a reason (str) why this driver cannot bind."""
        return "not a binding driver"

    def port_postcommit(self, notifier, port: dict, hosts: tuple[str, ...]) -> None:
        pass


class LinuxBridgeMechanismDriver(MechanismDriver):
    name = "linuxbridge"

    def __init__(self, agent_down_time: int):
        self.agent_down_time = agent_down_time

    def bind_port(self, conn, port, segment, host):
        if port.get("binding:vnic_type", "normal") != "normal":
            return f"vnic_type {port['binding:vnic_type']} is not supported by linuxbridge"
        a = models.agents
        agent = conn.execute(select(a).where(a.c.host == host,
                                             a.c.agent_type == LINUXBRIDGE_AGENT)).mappings().first()
        if agent is None:
            return f"no Linux bridge agent on host {host}"
        if not agent["admin_state_up"]:
            return f"the Linux bridge agent on host {host} is disabled"
        if agent["heartbeat_timestamp"] < now() - timedelta(seconds=self.agent_down_time):
            return f"the Linux bridge agent on host {host} is not alive"
        reason = segment_unservable(json.loads(agent["configurations"] or "{}"), segment)
        if reason:
            return f"the Linux bridge agent on host {host} {reason}"
        return Binding(VIF_BRIDGE, {"port_filter": True,
                                    "bridge_name": bridge_name(port["network_id"]),
                                    "connectivity": "l2"})


def segment_unservable(conf: dict, segment: dict) -> str | None:
    """Why an agent with configurations `conf` cannot serve `segment`."""
    network_type = segment["network_type"]
    physnet = segment.get("physical_network")
    if network_type == "local":
        return None
    if network_type in ("flat", "vlan"):
        mappings = {**conf.get("interface_mappings", {}), **conf.get("bridge_mappings", {})}
        if physnet not in mappings:
            return f"has no mapping for physical network {physnet}"
        return None
    if network_type == "vxlan":
        if "vxlan" not in conf.get("tunnel_types", []):
            return "has VXLAN disabled"
        return None
    return f"does not support network type {network_type}"


class L2PopulationMechanismDriver(MechanismDriver):
    """Binds nothing: it makes the server hand l2population agents their
    vxlan forwarding tables and tell them when those change
    (neutrino.plugins.ml2.l2pop)."""
    name = "l2population"


class MechanismManager:
    def __init__(self, cfg):
        drivers = []
        for name in cfg.ml2.mechanism_drivers:
            if name == "linuxbridge":
                drivers.append(LinuxBridgeMechanismDriver(cfg.DEFAULT.agent_down_time))
            elif name == "l2population":
                drivers.append(L2PopulationMechanismDriver())
            else:
                raise ValueError(f"[ml2] mechanism_drivers: '{name}' is not supported "
                                 "(supported: linuxbridge, l2population)")
        self.drivers = drivers
        self.l2population = any(isinstance(d, L2PopulationMechanismDriver) for d in drivers)

    def bind(self, conn: Connection, port: dict, segment: dict | None, host: str) -> Binding:
        if not host:
            return Binding(VIF_UNBOUND, {})
        if segment is None:
            return Binding(VIF_FAILED, {"reason": "the network has no segment"})
        reasons = []
        for driver in self.drivers:
            result = driver.bind_port(conn, port, segment, host)
            if isinstance(result, Binding):
                return result
            if result != "not a binding driver":
                reasons.append(f"{driver.name}: {result}")
        reason = "; ".join(reasons) or "no mechanism driver can bind"
        LOG.warning("port %s: binding on host %s failed: %s", port.get("id"), host, reason)
        return Binding(VIF_FAILED, {"reason": reason})
