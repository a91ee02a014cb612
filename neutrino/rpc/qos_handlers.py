"""The server's side of QoS on the L2 agent protocol: every port dict of
get_host_state gains "qos" — null, or what the Linux bridge agent enforces
on its tap:

  {"policy_id": id,
   "egress": {"max_kbps", "max_burst_kbps"} | null,    from the instance
   "ingress": {"max_kbps", "max_burst_kbps"} | null,   to the instance
   "dscp_mark": int | null}                            set on what it sends

The port's own policy wins over its network's; network policies apply to
ports not owned by the network (upstream: compute ports, not routers or
DHCP). Rule types the agent does not enforce are not sent."""
from __future__ import annotations

from sqlalchemy import select

from neutrino.db import qos_models as qm
from neutrino.plugins import listing


def effective_policies(conn, ports: list[dict]) -> dict[str, str]:
    """{port id: policy id} for the ports that have one."""
    ids = [p["id"] for p in ports]
    nets = sorted({p["network_id"] for p in ports})
    own: dict[str, str] = {}
    by_net: dict[str, str] = {}
    pb, nb = qm.qos_port_policy_bindings, qm.qos_network_policy_bindings
    for part in listing.chunks(ids):
        own.update(conn.execute(select(pb.c.port_id, pb.c.policy_id)
                                .where(pb.c.port_id.in_(part))).all())
    for part in listing.chunks(nets):
        by_net.update(conn.execute(select(nb.c.network_id, nb.c.policy_id)
                                   .where(nb.c.network_id.in_(part))).all())
    out = {}
    for p in ports:
        pid = own.get(p["id"])
        if pid is None and not (p.get("device_owner") or "").startswith("network:"):
            pid = by_net.get(p["network_id"])
        if pid:
            out[p["id"]] = pid
    return out


def attach_qos(conn, ports: list[dict]) -> None:
    policies = effective_policies(conn, ports)
    wires: dict[str, dict] = {}
    r = qm.qos_rules
    wanted = sorted(set(policies.values()))
    for part in listing.chunks(wanted):
        for row in conn.execute(select(r).where(
                r.c.qos_policy_id.in_(part),
                r.c.type.in_(("bandwidth_limit", "dscp_marking")))).mappings():
            wire = wires.setdefault(row["qos_policy_id"], {
                "policy_id": row["qos_policy_id"], "egress": None, "ingress": None,
                "dscp_mark": None})
            if row["type"] == "dscp_marking":
                wire["dscp_mark"] = row["dscp_mark"]
            else:
                wire[row["direction"]] = {"max_kbps": row["max_kbps"],
                                          "max_burst_kbps": row["max_burst_kbps"]}
    for p in ports:
        p["qos"] = wires.get(policies.get(p["id"], ""))


def _limits(conn, policy_ids: list[str]) -> dict[str, dict]:
    """{policy id: {"egress": limit | None, "ingress": limit | None}}."""
    r = qm.qos_rules
    out: dict[str, dict] = {}
    for part in listing.chunks(sorted(set(policy_ids))):
        for row in conn.execute(select(r).where(r.c.qos_policy_id.in_(part),
                                                r.c.type == "bandwidth_limit")).mappings():
            out.setdefault(row["qos_policy_id"], {"egress": None, "ingress": None})[
                row["direction"]] = {"max_kbps": row["max_kbps"],
                                     "max_burst_kbps": row["max_burst_kbps"]}
    return out


def attach_router_qos(conn, routers: list[dict]) -> None:
    """Every router dict of get_routers gains "qos": the bandwidth limits of
    its floating IPs (qos-fip) and gateway addresses (qos-gateway-ip), as
    [{"ip", "egress", "ingress"}] (neutrino.agent.l3.fip_qos)."""
    fb, gb = qm.qos_fip_policy_bindings, qm.qos_router_gw_policy_bindings
    fip_ids = [f["id"] for r in routers for f in r.get("floating_ips", ())]
    router_ids = [r["id"] for r in routers if r.get("gw_port")]
    fip_pol: dict[str, str] = {}
    gw_pol: dict[str, str] = {}
    for part in listing.chunks(fip_ids):
        fip_pol.update(conn.execute(select(fb.c.fip_id, fb.c.policy_id)
                                    .where(fb.c.fip_id.in_(part))).all())
    for part in listing.chunks(router_ids):
        gw_pol.update(conn.execute(select(gb.c.router_id, gb.c.policy_id)
                                   .where(gb.c.router_id.in_(part))).all())
    limits = _limits(conn, [*fip_pol.values(), *gw_pol.values()])
    for router in routers:
        out = []
        for fip in router.get("floating_ips", ()):
            lim = limits.get(fip_pol.get(fip["id"], ""))
            if lim:
                out.append({"ip": fip["floating_ip_address"], **lim})
        lim = limits.get(gw_pol.get(router["id"], ""))
        if lim and router.get("gw_port"):
            out += [{"ip": f["ip_address"], **lim} for f in router["gw_port"]["fixed_ips"]]
        router["qos"] = out
