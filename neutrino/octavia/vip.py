"""The VIP port and its security group.

As Octavia does, the VIP is a Neutron port of the load balancer's project
(device_owner `Octavia`, device_id `lb-<id>`), bound to the host of the
agent that serves the load balancer, and a security group `lb-<id>` on it
lets in the listeners' ports (from each listener's allowed_cidrs, or from
everyone); it is rewritten whenever the listeners change. Both are made
and removed in the load balancer's own transactions.
"""
from __future__ import annotations

import ipaddress

from sqlalchemy import delete, insert, select, update

from neutrino.api import faults as nfaults
from neutrino.api.policy import admin_context
from neutrino.db import lbaas_models as m
from neutrino.db import models
from neutrino.octavia import faults, store
from neutrino.plugins import listing
from neutrino.plugins.secgroups import _rule_values

OWNER = "Octavia"
SG, RULE, PSG = models.security_groups, models.security_group_rules, models.port_security_groups
IP_PROTOCOL = {"UDP": "udp", "SCTP": "sctp"}       # every other listener: TCP


def device_id(lb_id: str) -> str:
    return f"lb-{lb_id}"


def _visible_subnet(conn, ctx, subnet_id: str) -> dict:
    s, n = models.subnets, models.networks
    row = conn.execute(select(s, n.c.shared, n.c.project_id.label("net_project"))
                       .join(n, n.c.id == s.c.network_id)
                       .where(s.c.id == subnet_id)).mappings().first()
    if row is None or not (ctx.is_admin or row["shared"] or ctx.project_id in (
            row["project_id"], row["net_project"])):
        raise faults.InvalidSubresource(resource="Subnet", id=subnet_id)
    return dict(row)


def _visible_network(conn, ctx, network_id: str) -> dict:
    n = models.networks
    row = conn.execute(select(n).where(n.c.id == network_id)).mappings().first()
    if row is None or not (ctx.is_admin or row["shared"] or row["external"]
                           or row["project_id"] == ctx.project_id):
        raise faults.InvalidSubresource(resource="Network", id=network_id)
    return dict(row)


def _in(address: str, cidr: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(cidr)


def resolve(conn, ctx, body: dict) -> dict:
    """vip_subnet_id / vip_network_id / vip_port_id / vip_address ->
    {"subnet_id", "network_id", "address" (or None), "port": row or None},
    with Octavia's checks and wording."""
    port_id, net_id = body.get("vip_port_id"), body.get("vip_network_id")
    subnet_id, address = body.get("vip_subnet_id"), body.get("vip_address")
    if not (port_id or net_id or subnet_id):
        raise faults.VIPValidation(objects="vip_port_id, vip_network_id, vip_subnet_id")
    port = None
    if port_id:
        p = models.ports
        port = conn.execute(select(p).where(p.c.id == port_id)).mappings().first()
        if port is None or not (ctx.is_admin or port["project_id"] == ctx.project_id):
            raise faults.InvalidSubresource(resource="Port", id=port_id)
        if port["device_id"] or port["device_owner"]:
            raise faults.Validation(detail=f"Port {port_id} already in use by device "
                                           f"{port['device_id']}" if port["device_id"] else
                                           f"Port {port_id} already in use")
        ipa = models.ip_allocations
        fixed = conn.execute(select(ipa.c.subnet_id, ipa.c.ip_address)
                             .where(ipa.c.port_id == port_id)).all()
        net_id = port["network_id"]
        if subnet_id:
            _visible_subnet(conn, ctx, subnet_id)
            match = [ip for sid, ip in fixed if sid == subnet_id]
            if not match:
                raise faults.Validation(detail="No VIP address found on the specified VIP "
                                               "port within the specified subnet.")
            address = match[0]
        elif address:
            match = [sid for sid, ip in fixed
                     if ipaddress.ip_address(ip) == ipaddress.ip_address(address)]
            if not match:
                raise faults.Validation(detail="Specified VIP address not found on the "
                                               "specified VIP port.")
            subnet_id = match[0]
        elif len(fixed) == 1:
            subnet_id, address = fixed[0]
        else:
            raise faults.Validation(detail="VIP port's subnet could not be determined. "
                                           "Please specify either a VIP subnet or address.")
        return {"subnet_id": subnet_id, "network_id": net_id, "address": address,
                "port": dict(port)}
    if subnet_id:
        subnet = _visible_subnet(conn, ctx, subnet_id)
        if net_id and net_id != subnet["network_id"]:
            raise faults.Validation(detail="VIP subnet must belong to the VIP network.")
        if address and not _in(address, subnet["cidr"]):
            raise faults.Validation(detail=f"VIP address {address} is not in subnet "
                                           f"{subnet_id}.")
        return {"subnet_id": subnet_id, "network_id": subnet["network_id"],
                "address": address, "port": None}
    _visible_network(conn, ctx, net_id)
    s = models.subnets
    subnets = conn.execute(select(s.c.id, s.c.cidr, s.c.ip_version)
                           .where(s.c.network_id == net_id)
                           .order_by(s.c.created_at, s.c.id)).all()
    if address:
        chosen = next((r.id for r in subnets if _in(address, r.cidr)), None)
        if chosen is None:
            raise faults.Validation(detail="Supplied network does not contain a subnet for "
                                           "VIP address specified.")
    else:
        if not subnets:
            raise faults.Validation(detail="Supplied network does not contain a subnet.")
        chosen = next((r.id for r in subnets if r.ip_version == 4), subnets[0].id)
    return {"subnet_id": chosen, "network_id": net_id, "address": address, "port": None}


def create(conn, ports, lb_id: str, project_id: str, vip: dict, host: str | None) -> dict:
    """The VIP port (new, or the user's taken over) with the `lb-<id>`
    group on it; returns {"port_id", "address", "sg_id", "owned"}."""
    sg_id = listing.new_id()
    ts = listing.now()
    conn.execute(insert(SG).values(
        id=sg_id, project_id=project_id, name=device_id(lb_id),
        description=f"Load balancer {lb_id}: its listeners' ports (managed by the "
                    "load-balancing service)",
        stateful=True, created_at=ts, updated_at=ts, revision_number=0))
    conn.execute(RULE.insert(), [_rule_values(project_id, sg_id, "egress", e)
                                 for e in ("IPv4", "IPv6")])
    if vip["port"] is not None:
        port_id = vip["port"]["id"]
        conn.execute(delete(PSG).where(PSG.c.port_id == port_id))
        conn.execute(insert(PSG).values(port_id=port_id, security_group_id=sg_id))
        conn.execute(update(models.ports).where(models.ports.c.id == port_id).values(
            device_owner=OWNER, device_id=device_id(lb_id), port_security_enabled=True))
        return {"port_id": port_id, "address": vip["address"], "sg_id": sg_id, "owned": False}
    fixed = {"subnet_id": vip["subnet_id"]}
    if vip["address"]:
        fixed["ip_address"] = vip["address"]
    body = {"network_id": vip["network_id"], "device_owner": OWNER,
            "device_id": device_id(lb_id), "fixed_ips": [fixed],
            "name": f"octavia-lb-{lb_id}", "security_groups": [sg_id],
            "port_security_enabled": True}
    if host:
        body["binding:host_id"] = host
    try:
        view = ports.create_in(conn, admin_context(), body, project_id)
    except nfaults.OverQuota:
        raise faults.QuotaExceeded(resource="Port") from None
    except nfaults.IpAddressAlreadyAllocated as exc:
        raise faults.Conflict(f"The VIP IP address is already in use: {exc}") from None
    except nfaults.NeutronError as exc:     # no free address, and the like
        raise faults.Validation(detail=str(exc)) from None
    address = next(ip["ip_address"] for ip in view["fixed_ips"]
                   if ip["subnet_id"] == vip["subnet_id"])
    return {"port_id": view["id"], "address": address, "sg_id": sg_id, "owned": True}


def listener_rules(conn, lb: dict) -> list[dict]:
    """The ingress rules the listeners (not being deleted) need."""
    lt = m.listeners
    version = "IPv6" if ":" in (lb["vip_address"] or "") else "IPv4"
    everyone = "::/0" if version == "IPv6" else "0.0.0.0/0"
    rules = []
    seen = set()
    for r in conn.execute(select(lt.c.protocol, lt.c.protocol_port, lt.c.allowed_cidrs)
                          .where(lt.c.loadbalancer_id == lb["id"],
                                 lt.c.provisioning_status != store.PENDING_DELETE)):
        proto = IP_PROTOCOL.get(r.protocol, "tcp")
        for cidr in store.loads(r.allowed_cidrs, []) or [everyone]:
            key = (proto, r.protocol_port, cidr)
            if key in seen or (":" in cidr) != (version == "IPv6"):
                continue
            seen.add(key)
            rules.append(_rule_values(lb["project_id"], lb["vip_sg_id"], "ingress", version,
                                      protocol=proto, port_range_min=r.protocol_port,
                                      port_range_max=r.protocol_port, remote_ip_prefix=cidr,
                                      normalized_cidr=cidr))
    return rules


def sync_group(conn, lb: dict) -> str | None:
    """Rewrite the group's ingress rules from the listeners; the group's id
    (to notify after commit) or None when it has none."""
    if not lb.get("vip_sg_id"):
        return None
    sg_id = lb["vip_sg_id"]
    if conn.execute(select(SG.c.id).where(SG.c.id == sg_id)).first() is None:
        return None
    conn.execute(delete(RULE).where(RULE.c.security_group_id == sg_id,
                                    RULE.c.direction == "ingress"))
    rules = listener_rules(conn, lb)
    if rules:
        conn.execute(RULE.insert(), rules)
    conn.execute(update(SG).where(SG.c.id == sg_id).values(
        revision_number=SG.c.revision_number + 1, updated_at=listing.now()))
    return sg_id


def remove(conn, ports, lb: dict) -> dict | None:
    """Delete (or hand back) the VIP port and delete the group; the deleted
    port's row for the notification, or None."""
    p = models.ports
    row = None
    if lb["vip_port_id"]:
        row = conn.execute(select(p).where(p.c.id == lb["vip_port_id"])).mappings().first()
    if row is not None:
        if lb["vip_port_owned"]:
            ports.delete_in(conn, row["id"])
        else:
            conn.execute(delete(PSG).where(PSG.c.port_id == row["id"],
                                           PSG.c.security_group_id == lb["vip_sg_id"]))
            conn.execute(update(p).where(p.c.id == row["id"]).values(
                device_owner="", device_id="", revision_number=p.c.revision_number + 1,
                updated_at=listing.now()))
            row = None
    if lb["vip_sg_id"]:
        conn.execute(delete(PSG).where(PSG.c.security_group_id == lb["vip_sg_id"]))
        conn.execute(delete(RULE).where(RULE.c.remote_group_id == lb["vip_sg_id"]))
        conn.execute(delete(SG).where(SG.c.id == lb["vip_sg_id"]))
    return dict(row) if row is not None else None
