"""dns-integration, dns-domain-ports, subnet-dns-publish-fixed-ip: dns_name,
dns_domain and dns_assignment of ports, dns_domain of networks and
dns_publish_fixed_ip of subnets, as upstream's DNS extension driver (without
an external DNS service: the names are served by the DHCP agents'
dnsmasq)."""
from __future__ import annotations

import re

from sqlalchemy import delete, insert, select, update

from neutrino.api import faults
from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.db import dns_models as dm
from neutrino.plugins import listing
from neutrino.plugins.dns import settings
from neutrino.plugins.extend import ResourceExtension

FQDN_MAX = 255
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def to_lowercase(value):
    if isinstance(value, str):
        return value.lower()
    raise faults.invalid_input(f"'{value}' cannot be converted to lowercase string")


def _format_reason(data: str, max_len: int = FQDN_MAX) -> str | None:
    """Why `data` is not a valid PQDN/FQDN (RFC 1123 labels), or None."""
    trimmed = data[:-1] if data.endswith(".") else data
    if len(trimmed) > max_len:
        return f"'{trimmed}' exceeds the {max_len} character FQDN limit"
    labels = trimmed.split(".")
    for label in labels:
        if not label:
            return "Encountered an empty component"
        if label.startswith("-") or label.endswith("-"):
            return f"Name '{label}' must not start or end with a hyphen"
        if not _LABEL.match(label):
            return (f"Name '{label}' must be 1-63 characters long, each of which can only "
                    "be alphanumeric or a hyphen")
    if len(labels) > 1 and labels[-1].isdigit():
        return f"TLD '{labels[-1]}' must not be all numeric"
    return None


def _dns_format(data) -> str | None:
    if not isinstance(data, str):
        return f"'{data}' is not a valid string"
    if not data:
        return None
    reason = _format_reason(data)
    if reason:
        return f"'{data}' not a valid PQDN or FQDN. Reason: {reason}"
    return None


def validate_dns_name(data) -> str | None:
    """type:dns_host_name, the part that needs no configuration."""
    return _dns_format(data)


def validate_dns_domain(data) -> str | None:
    """type:dns_domain: empty, or a FQDN (trailing dot) with room for a label."""
    if not isinstance(data, str):
        return f"'{data}' is not a valid string"
    if not data:
        return None
    if not data.endswith("."):
        return f"'{data}' is not a FQDN"
    reason = _dns_format(data)
    if reason:
        return reason
    if len(data) > FQDN_MAX - 2:
        return (f"'{data}' contains {len(data)} characters. Adding a sub-domain will cause "
                f"it to exceed the maximum length of a FQDN of '{FQDN_MAX}'")
    return None


def check_name_with_domain(dns_name: str, domain: str, configured: str) -> None:
    """The dns_name checks that depend on [DEFAULT] dns_domain (`domain`
    with its dot, `configured` as written in the file)."""
    suffix = f".{domain}" if domain else ""
    if not dns_name.endswith("."):
        if len(dns_name) + len(suffix) > FQDN_MAX:
            reason = (f"The dns_name passed is a PQDN and its size is '{len(dns_name)}'. The "
                      f"dns_domain option in neutron.conf is set to {configured}, with a "
                      f"length of '{len(suffix)}'. When the two are concatenated to form a "
                      "FQDN (with a '.' at the end), the resulting length exceeds the "
                      f"maximum size of '{FQDN_MAX}'")
        else:
            return
    elif len(dns_name) <= len(suffix) or not dns_name.endswith(suffix):
        reason = ("The dns_name passed is a FQDN. Its higher level labels must be equal to "
                  "the dns_domain option in neutron.conf, that has been set to "
                  f"'{configured}'. It must also include one or more valid DNS labels to "
                  f"the left of '{configured}'")
    else:
        return
    raise faults.HTTPBadRequest(f"Invalid input for dns_name. Reason: {reason}.")


def hostname_of(ip: str) -> str:
    return "host-" + ip.replace(".", "-").replace(":", "-")


def assignment(fixed_ips: list[dict], dns_name: str, domain: str) -> list[dict]:
    """dns_assignment: per address its hostname and FQDN (the port's
    dns_name when names are enabled, else host-<address>)."""
    out = []
    for f in fixed_ips:
        ip = f["ip_address"]
        if dns_name:
            host = dns_name
            fqdn = dns_name if dns_name.endswith(".") else f"{dns_name}.{domain}"
        else:
            host = hostname_of(ip)
            fqdn = f"{host}.{domain}" if domain else host
        out.append({"ip_address": ip, "hostname": host, "fqdn": fqdn})
    return out


# --- ports -------------------------------------------------------------------------------

_PORT_DNS = listing.ChildQuery(dm.port_dns.c.port_id, dm.port_dns.c.dns_name,
                               dm.port_dns.c.dns_domain)


def port_dns_rows(conn, port_ids: list[str]) -> dict[str, tuple[str, str]]:
    return {pid: (name, dom) for pid, name, dom in _PORT_DNS.rows(conn, port_ids)}


def _port_views(conn, views: list[dict]) -> None:
    domain = settings.dns_domain(conn)
    enabled = settings.names_enabled(domain)
    rows = port_dns_rows(conn, [v["id"] for v in views])
    for v in views:
        name, dom = rows.get(v["id"], ("", ""))
        v["dns_name"], v["dns_domain"] = name, dom
        v["dns_assignment"] = assignment(v["fixed_ips"], name if enabled else "", domain)


def _check_port_body(conn, body: dict) -> tuple[str, bool]:
    domain = settings.dns_domain(conn)
    enabled = settings.names_enabled(domain)
    if enabled and body.get("dns_name"):
        check_name_with_domain(body["dns_name"], domain, settings.configured_domain(conn))
    return domain, enabled


def _port_create(conn, ctx, body: dict, view: dict) -> None:
    domain, enabled = _check_port_body(conn, body)
    name, dom = body.get("dns_name") or "", body.get("dns_domain") or ""
    if enabled and (name or dom):
        conn.execute(insert(dm.port_dns), {"port_id": view["id"], "dns_name": name,
                                           "dns_domain": dom})
    else:
        name, dom = "", ""
    view["dns_name"], view["dns_domain"] = name, dom
    view["dns_assignment"] = assignment(view["fixed_ips"], name, domain)


def _port_update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    domain, enabled = _check_port_body(conn, body)
    name, dom = current.get("dns_name", ""), current.get("dns_domain", "")
    changed = False
    if enabled and ("dns_name" in body or "dns_domain" in body):
        new_name = body.get("dns_name", name) or ""
        new_dom = body.get("dns_domain", dom) or ""
        if (new_name, new_dom) != (name, dom):
            t = dm.port_dns
            done = conn.execute(update(t).where(t.c.port_id == view["id"]).values(
                dns_name=new_name, dns_domain=new_dom)).rowcount
            if not done:
                conn.execute(insert(t), {"port_id": view["id"], "dns_name": new_name,
                                         "dns_domain": new_dom})
            name, dom, changed = new_name, new_dom, True
    view["dns_name"], view["dns_domain"] = name, dom
    view["dns_assignment"] = assignment(view["fixed_ips"], name if enabled else "", domain)
    return changed


def _port_filter(key: str):
    def clauses(table, filters: dict) -> list:
        t = dm.port_dns
        values = filters.get(key)
        if values is None:
            return []
        clause = table.c.id.in_(select(t.c.port_id).where(t.c[key].in_(values)))
        if "" in values:    # ports without a row have ''
            clause = clause | table.c.id.not_in(select(t.c.port_id))
        return [clause]
    return clauses


DNS_NAME = Attr("dns_name", post=True, put=True, default="", convert=to_lowercase,
                validate=validate_dns_name, sort=False)
PORT_DNS = ResourceExtension(
    "ports", "dns-integration",
    attrs=(DNS_NAME, Attr("dns_assignment", filter=False, sort=False)),
    views=_port_views, create=_port_create, update=_port_update,
    filters=_port_filter("dns_name"))
# dns_domain of ports is its own extension upstream; its rows are PORT_DNS's.
PORT_DNS_DOMAIN = ResourceExtension(
    "ports", "dns-domain-ports",
    attrs=(Attr("dns_domain", post=True, put=True, default="", convert=to_lowercase,
                validate=validate_dns_domain, sort=False),),
    filters=_port_filter("dns_domain"))


# --- networks ----------------------------------------------------------------------------

def _net_views(conn, views: list[dict]) -> None:
    t = dm.network_dns_domains
    found = {}
    for part in listing.chunks([v["id"] for v in views]):
        found.update(conn.execute(select(t.c.network_id, t.c.dns_domain)
                                  .where(t.c.network_id.in_(part))).all())
    for v in views:
        v["dns_domain"] = found.get(v["id"], "")


def _net_create(conn, ctx, body: dict, view: dict) -> None:
    dom = body.get("dns_domain") or ""
    if dom:
        conn.execute(insert(dm.network_dns_domains), {"network_id": view["id"],
                                                      "dns_domain": dom})
    view["dns_domain"] = dom


def _net_update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    if "dns_domain" not in body or (body["dns_domain"] or "") == current.get("dns_domain"):
        return False
    t = dm.network_dns_domains
    conn.execute(delete(t).where(t.c.network_id == current["id"]))
    if body["dns_domain"]:
        conn.execute(insert(t), {"network_id": current["id"], "dns_domain": body["dns_domain"]})
    view["dns_domain"] = body["dns_domain"] or ""
    return True


def _net_filters(table, filters: dict) -> list:
    t = dm.network_dns_domains
    values = filters.get("dns_domain")
    if values is None:
        return []
    clause = table.c.id.in_(select(t.c.network_id).where(t.c.dns_domain.in_(values)))
    if "" in values:
        clause = clause | table.c.id.not_in(select(t.c.network_id))
    return [clause]


NETWORK_DNS = ResourceExtension(
    "networks", "dns-integration",
    attrs=(Attr("dns_domain", post=True, put=True, default="", convert=to_lowercase,
                validate=validate_dns_domain, sort=False),),
    views=_net_views, create=_net_create, update=_net_update, filters=_net_filters)


# --- subnets -----------------------------------------------------------------------------

def _subnet_views(conn, views: list[dict]) -> None:
    t = dm.subnet_dns_publish_fixed_ips
    found = set()
    for part in listing.chunks([v["id"] for v in views]):
        found.update(r[0] for r in conn.execute(
            select(t.c.subnet_id).where(t.c.subnet_id.in_(part), t.c.dns_publish_fixed_ip)))
    for v in views:
        v["dns_publish_fixed_ip"] = v["id"] in found


def _subnet_create(conn, ctx, body: dict, view: dict) -> None:
    flag = bool(body.get("dns_publish_fixed_ip"))
    if flag:
        conn.execute(insert(dm.subnet_dns_publish_fixed_ips),
                     {"subnet_id": view["id"], "dns_publish_fixed_ip": True})
    view["dns_publish_fixed_ip"] = flag


def _subnet_update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    if "dns_publish_fixed_ip" not in body or \
            bool(body["dns_publish_fixed_ip"]) == current.get("dns_publish_fixed_ip"):
        return False
    t = dm.subnet_dns_publish_fixed_ips
    conn.execute(delete(t).where(t.c.subnet_id == current["id"]))
    if body["dns_publish_fixed_ip"]:
        conn.execute(insert(t), {"subnet_id": current["id"], "dns_publish_fixed_ip": True})
    view["dns_publish_fixed_ip"] = bool(body["dns_publish_fixed_ip"])
    return True


def _subnet_filters(table, filters: dict) -> list:
    t = dm.subnet_dns_publish_fixed_ips
    values = filters.get("dns_publish_fixed_ip")
    if values is None:
        return []
    published = table.c.id.in_(select(t.c.subnet_id).where(t.c.dns_publish_fixed_ip))
    wanted = {bool(x) for x in values}
    if wanted == {True, False}:
        return []
    return [published if True in wanted else ~published]


SUBNET_DNS = ResourceExtension(
    "subnets", "subnet-dns-publish-fixed-ip",
    attrs=(Attr("dns_publish_fixed_ip", post=True, put=True, default=False,
                convert=a.to_boolean, sort=False),),
    views=_subnet_views, create=_subnet_create, update=_subnet_update,
    filters=_subnet_filters)
