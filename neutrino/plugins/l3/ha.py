"""HA routers (upstream's l3-ha): one instance per L3 agent, VRRP between them.

What the server keeps, all inside the caller's transaction:
  * one HA network per project ("HA network tenant <project>", owned by no
    project, as upstream) with one subnet from `l3_ha_net_cidr`, made with
    the project's first HA router and removed with its last;
  * a VRRP id per router, unique within its HA network
    (ha_router_vrid_allocations);
  * one binding per (router, L3 agent) in router_agent_bindings, each with its
    own `ha-` port (device_owner network:router_ha_interface) bound to that
    agent's host, and the VRRP state the agent last reported (ha_state).
"""
from __future__ import annotations

import ipaddress
import random

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.api import faults
from neutrino.api.policy import admin_context
from neutrino.db import models
from neutrino.db.engine import RetryTransaction
from neutrino.plugins import listing
from neutrino.plugins.ipam import pools as P
from neutrino.plugins.l3 import scheduling

HA_OWNER = "network:router_ha_interface"
HA_NETWORK_NAME = "HA network tenant %s"
HA_SUBNET_NAME = "HA subnet tenant %s"
HA_PORT_NAME = "HA port tenant %s"
MAX_VRID = 255
STATES = ("active", "standby", "fault")
HN, VR = models.ha_router_networks, models.ha_router_vrid_allocations
RB, A, R, RP = scheduling.RB, models.agents, models.routers, models.router_ports


def ha_network_id(conn: Connection, project_id: str, lock: bool = False) -> str | None:
    """`lock`: hold the project's row until commit, so that HA routers of one
    project made and deleted in parallel see each other (the last one out
    removes the network, nobody uses a network being removed)."""
    stmt = select(HN.c.network_id).where(HN.c.project_id == project_id)
    if lock and conn.dialect.name != "sqlite":      # SQLite: one writer at a time
        stmt = stmt.with_for_update()
    return conn.execute(stmt).scalar()


def ensure_network(conn: Connection, core, project_id: str) -> str:
    """The project's HA network, made on first use."""
    net_id = ha_network_id(conn, project_id, lock=True)
    if net_id:
        return net_id
    cfg = core.cfg.DEFAULT
    requested = None
    if cfg.l3_ha_network_type:
        body = {"provider:network_type": cfg.l3_ha_network_type}
        if cfg.l3_ha_network_physical_name:
            body["provider:physical_network"] = cfg.l3_ha_network_physical_name
        requested = core.segments.provider_request(body)
    seg, picked = core.segments.choose(conn, requested)
    net_id, subnet_id, ts = listing.new_id(), listing.new_id(), listing.now()
    conn.execute(insert(models.networks).values(
        id=net_id, project_id="", name=HA_NETWORK_NAME % project_id, description="",
        status="ACTIVE", admin_state_up=True, shared=False, external=False,
        mtu=core.segments.mtu(seg), port_security_enabled=False,
        created_at=ts, updated_at=ts, revision_number=1))
    core.segments.insert(conn, net_id, seg, picked)
    net = ipaddress.ip_network(cfg.l3_ha_net_cidr)
    conn.execute(insert(models.subnets).values(
        id=subnet_id, project_id="", network_id=net_id, name=HA_SUBNET_NAME % project_id,
        description="", ip_version=4, cidr=str(net), gateway_ip=None, enable_dhcp=False,
        ipv6_ra_mode=None, ipv6_address_mode=None, subnetpool_id=None,
        created_at=ts, updated_at=ts, revision_number=0))
    conn.execute(models.allocation_pools.insert(), [
        {"subnet_id": subnet_id, "first_ip": str(ipaddress.IPv4Address(lo)),
         "last_ip": str(ipaddress.IPv4Address(hi))} for lo, hi in P.default_pools(net, None)])
    try:
        conn.execute(insert(HN).values(project_id=project_id, network_id=net_id))
    except IntegrityError:
        raise RetryTransaction("HA network made concurrently") from None
    return net_id


def allocate_vrid(conn: Connection, network_id: str, router_id: str) -> int:
    used = {v for (v,) in conn.execute(select(VR.c.vr_id).where(VR.c.network_id == network_id))}
    free = [v for v in range(1, MAX_VRID + 1) if v not in used]
    if not free:
        raise faults.Conflict(f"No more VRIDs available in HA network {network_id}")
    try:
        vrid = random.choice(free)
        conn.execute(insert(VR).values(network_id=network_id, vr_id=vrid, router_id=router_id))
    except IntegrityError:
        raise RetryTransaction("VRID taken concurrently") from None
    return vrid


def vrid(conn: Connection, router_id: str) -> int | None:
    return conn.execute(select(VR.c.vr_id).where(VR.c.router_id == router_id)).scalar()


def make_ha(conn: Connection, core, router_id: str, project_id: str) -> None:
    net_id = ensure_network(conn, core, project_id)
    if vrid(conn, router_id) is None:
        allocate_vrid(conn, net_id, router_id)


def target_count(core, live: int) -> int:
    wanted = core.cfg.DEFAULT.max_l3_agents_per_router
    return live if wanted == 0 else min(wanted, live)


def schedule(conn: Connection, core, router_id: str, project_id: str) -> list[dict]:
    """Bind an HA router to more live L3 agents, up to max_l3_agents_per_router,
    least loaded first, each with a new ha- port bound to its host. Returns
    the new ports (for the caller to notify after commit)."""
    ports = core_ports(core)
    down = core.cfg.DEFAULT.agent_down_time
    live = scheduling.live_agents(conn, scheduling.L3_AGENT, down)
    bound = {a for (a,) in conn.execute(select(RB.c.agent_id).where(RB.c.router_id == router_id))}
    net_id = ensure_network(conn, core, project_id)
    made = []
    while len(bound) < target_count(core, len(live)):
        agent = scheduling.least_loaded(conn, live, RB, exclude=bound)
        if agent is None:
            break
        port = ports.create_in(conn, admin_context(), {
            "network_id": net_id, "device_owner": HA_OWNER, "device_id": router_id,
            "name": HA_PORT_NAME % project_id, "security_groups": [],
            "port_security_enabled": False, "binding:host_id": agent.host}, "")
        conn.execute(insert(RP).values(router_id=router_id, port_id=port["id"],
                                       port_type=HA_OWNER))
        try:
            conn.execute(insert(RB).values(router_id=router_id, agent_id=agent.id,
                                           ha_port_id=port["id"], ha_state="standby"))
        except IntegrityError:
            raise RetryTransaction("HA router scheduled concurrently") from None
        bound.add(agent.id)
        made.append({"id": port["id"], "network_id": net_id, "binding_host": agent.host})
    return made


def core_ports(core):
    from neutrino.plugins.ports import PortPlugin
    return PortPlugin(core)


def under_scheduled(conn: Connection, core) -> list[tuple[str, str]]:
    """(router id, project) of HA routers with fewer instances than they
    should have now (an agent came up since they were made)."""
    live = len(scheduling.live_agents(conn, scheduling.L3_AGENT,
                                      core.cfg.DEFAULT.agent_down_time))
    want = target_count(core, live)
    if want == 0:
        return []
    counts = (select(RB.c.router_id, func.count().label("n")).group_by(RB.c.router_id)
              .subquery())
    rows = conn.execute(select(R.c.id, R.c.project_id)
                        .outerjoin(counts, counts.c.router_id == R.c.id)
                        .where(R.c.ha, func.coalesce(counts.c.n, 0) < want)).all()
    return [(r.id, r.project_id) for r in rows]


def unmake(conn: Connection, core, router_id: str, project_id: str) -> tuple[list, str | None]:
    """Remove a router's HA part (its ha- ports and bindings, its VRID) and,
    if it was the project's last HA router, the HA network. Returns the
    deleted port rows and the deleted network id, for notifications."""
    P_ = models.ports
    rows = conn.execute(select(P_).join(RP, RP.c.port_id == P_.c.id).where(
        RP.c.router_id == router_id, RP.c.port_type == HA_OWNER)).mappings().all()
    ports = core_ports(core)
    for row in rows:
        ports.delete_in(conn, row["id"])
    net_id = ha_network_id(conn, project_id, lock=True)
    conn.execute(delete(RB).where(RB.c.router_id == router_id))
    conn.execute(delete(VR).where(VR.c.router_id == router_id))
    others = conn.execute(select(R.c.id).where(R.c.project_id == project_id, R.c.ha,
                                               R.c.id != router_id).limit(1)).first()
    if net_id is None or others:
        return list(rows), None
    delete_network(conn, net_id)
    return list(rows), net_id


def delete_network(conn: Connection, net_id: str) -> None:
    P_, IPA, S = models.ports, models.ip_allocations, models.subnets
    conn.execute(delete(IPA).where(IPA.c.network_id == net_id))
    conn.execute(delete(P_).where(P_.c.network_id == net_id))
    conn.execute(delete(S).where(S.c.network_id == net_id))
    conn.execute(delete(HN).where(HN.c.network_id == net_id))
    conn.execute(delete(models.networks).where(models.networks.c.id == net_id))


def set_states(conn: Connection, host: str, states: dict) -> list[str]:
    """Store an agent's VRRP states; returns the routers it is now active for."""
    agent = conn.execute(select(A.c.id).where(A.c.host == host,
                                              A.c.agent_type == scheduling.L3_AGENT)).scalar()
    if agent is None:
        return []
    active = []
    for router_id, state in states.items():
        if state not in STATES:
            continue
        conn.execute(update(RB).where(RB.c.router_id == router_id, RB.c.agent_id == agent,
                                      RB.c.ha_port_id.is_not(None)).values(ha_state=state))
        if state == "active":
            active.append(router_id)
    return active


def shown_states(bindings: list[dict], alive: dict[str, bool]) -> dict[str, str]:
    """agent id -> ha_state as shown: with more than one instance claiming
    active, those of dead agents are shown standby (as upstream)."""
    out = {b["agent_id"]: b["ha_state"] or "standby" for b in bindings}
    active = [a for a, s in out.items() if s == "active"]
    if len(active) > 1:
        for a in active:
            if not alive.get(a, False):
                out[a] = "standby"
    return out
