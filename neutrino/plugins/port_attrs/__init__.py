"""Port attribute extensions (one row in port_attrs per port that has a
non-default value): numa_affinity_policy (port-numa-affinity-policy and
its -socket value), device_profile, data_plane_status (admins and data
plane integrators set it), propagate_uplink_status, ip_allocation
(immediate; none for a port created with fixed_ips []; deferred for an
unbound port of a routed network until its host is known),
resource_request (admin-only; from the QoS minimum rules:
resource_request.py), MAC regeneration (mac_address null on update),
resources_synced on agents, check_limit on quota updates and the
port's bindings (binding-extended: bindings.py). A shim with
nothing to serve on Linux bridge: port-mac-override (direct-physical
ports only)."""
from __future__ import annotations

from sqlalchemy import and_, exists, not_, or_, select, update

from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.db import models
from neutrino.db import trunk_models as tm
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension
from neutrino.plugins.port_attrs import bindings, resource_request
from neutrino.plugins.port_owners import UnsupportedPortDeviceOwner

EXTENSIONS = [
    ("port-mac-address-regenerate", "Neutron Port MAC address regenerate",
     "Network port MAC address regenerate"),
    ("port-mac-override", "Neutron Port MAC address override",
     "Allow overriding the MAC address of a direct-physical Port via the active binding "
     "profile"),
    ("port-numa-affinity-policy", "Port NUMA affinity policy",
     "Expose the port NUMA affinity policy"),
    ("port-numa-affinity-policy-socket", 'Port NUMA affinity policy "socket"',
     'Adds "socket" to the supported port NUMA affinity policies'),
    ("port-device-profile", "Port device profile", "Expose the port device profile (Cyborg)"),
    ("port-resource-request", "Port Resource Request", "Expose resource request to Port"),
    ("port-resource-request-groups", "Port Resource Request Groups",
     "Support requesting multiple groups of resources in Placement for a Port"),
    ("data-plane-status", "Port data plane status extension",
     "Expose status of underlying data plane"),
    ("uplink-status-propagation", "Uplink status propagation extension",
     "Provides ability to propagate port uplink status."),
    ("ip_allocation", "IP Allocation", "IP allocation extension."),
    ("agent-resources-synced", "Agent's Resource View Synced to Placement",
     "Stores success/failure of last sync to Placement"),
    ("quota-check-limit", "Quota engine limit check",
     "Support for checking the resource usage before applying a new quota limit"),
    ("binding-extended", "Port Bindings Extended",
     "Expose port bindings of a virtual port to external application"),
]

POLICY_RULES = {
    "admin_or_data_plane_int": "rule:context_is_admin or role:data_plane_integrator",
    "update_port:data_plane_status": "rule:admin_or_data_plane_int",
    "get_port:resource_request": "rule:admin_only",
    **bindings.POLICY_RULES,
}


def install(api) -> list:
    return bindings.routes(api)      # binding-extended


def openapi(schemas: dict, paths: dict) -> None:
    bindings.openapi(schemas, paths)

NUMA_POLICIES = ("required", "preferred", "legacy", "socket")
IMMEDIATE, DEFERRED, NONE = "immediate", "deferred", "none"
PA, P = tm.port_attrs, models.ports
# column -> its value when a port has no row
DEFAULTS = {"numa_affinity_policy": None, "device_profile": None, "data_plane_status": None,
            "propagate_uplink_status": True, "ip_allocation": IMMEDIATE}
_SHOWN = ("numa_affinity_policy", "device_profile", "data_plane_status",
          "propagate_uplink_status", "ip_allocation")


def _numa(value):
    return None if value is None else a.values(*NUMA_POLICIES)(value)


def _dp_status(value):
    return None if value is None else a.values("ACTIVE", "DOWN")(value)


ATTRS = (
    Attr("numa_affinity_policy", post=True, put=True, default=None, validate=_numa,
         filter=False, sort=False),
    Attr("device_profile", post=True, default=None, validate=a.string(255, nullable=True),
         filter=False, sort=False),
    Attr("data_plane_status", put=True, policy=True, validate=_dp_status, filter=False,
         sort=False),
    Attr("propagate_uplink_status", post=True, default=True, convert=a.to_boolean,
         filter=False, sort=False),
    Attr("ip_allocation", sort=False),
    Attr("resource_request", policy=True, filter=False, sort=False),
)


def _rows(conn, ids: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for part in listing.chunks(ids):
        for r in conn.execute(select(PA).where(PA.c.port_id.in_(part))).mappings():
            out[r["port_id"]] = dict(r)
    return out


def _show(view: dict, row: dict | None) -> None:
    for key in _SHOWN:
        view[key] = DEFAULTS[key] if row is None else row[key]


def _views(conn, views: list[dict]) -> None:
    rows = _rows(conn, [v["id"] for v in views])
    wanted = resource_request.requests(conn, views)
    for v in views:
        _show(v, rows.get(v["id"]))
        v["resource_request"] = wanted.get(v["id"])


def _write(conn, port_id: str, values: dict, existing: bool) -> None:
    if existing:
        conn.execute(update(PA).where(PA.c.port_id == port_id).values(**values))
    elif any(values.get(k, DEFAULTS[k]) != DEFAULTS[k] for k in DEFAULTS):
        conn.execute(PA.insert().values(port_id=port_id, **{**DEFAULTS, **values}))


def _created(conn, ctx, body: dict, view: dict) -> None:
    values = {k: body[k] for k in ("numa_affinity_policy", "device_profile",
                                   "propagate_uplink_status") if k in body}
    if body.get("fixed_ips") == []:     # asked for no address at all
        values["ip_allocation"] = NONE
    elif (body.get("fixed_ips") is None and not body.get("binding:host_id")
          and not view["fixed_ips"] and _routed(conn, view["network_id"])):
        values["ip_allocation"] = DEFERRED   # routed network: addresses come with the host
    _write(conn, view["id"], values, existing=False)
    _show(view, {**DEFAULTS, **values})
    view["resource_request"] = resource_request.requests(conn, [view]).get(view["id"])


def _updated(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    changed = False
    if {"qos_policy_id", "binding:vnic_type"} & set(body):
        view["resource_request"] = resource_request.requests(conn, [view]).get(view["id"])
    if "mac_address" in body and body["mac_address"] is None:
        _regenerate_mac(conn, current, view)
        changed = True
    values = {k: body[k] for k in ("numa_affinity_policy", "data_plane_status") if k in body}
    if (body.get("binding:host_id") and current.get("ip_allocation") == DEFERRED
            and view["fixed_ips"]):
        values["ip_allocation"] = IMMEDIATE   # bound: its host's segment gave it addresses
    if values:
        row = _rows(conn, [view["id"]]).get(view["id"])
        _write(conn, view["id"], values, existing=row is not None)
        _show(view, {**DEFAULTS, **(row or {}), **values})
        changed = True
    return changed


def _routed(conn, network_id: str) -> bool:
    """A routed network (subnets on segments, neutrino.plugins.segments)."""
    try:
        from neutrino.plugins.segments.ipam import is_routed
    except ImportError:
        return False
    return is_routed(conn, network_id)


def _regenerate_mac(conn, current: dict, view: dict) -> None:
    """port-mac-address-regenerate: a new random MAC, refused where a MAC
    change is (network-owned or bound ports), unique on its network."""
    from neutrino.plugins.ipam import allocator as ipam
    from neutrino.plugins.trunk import binding
    if current["device_owner"].startswith("network:"):
        raise UnsupportedPortDeviceOwner(op="mac address update", port_id=view["id"],
                                         device_owner=current["device_owner"])
    if view["binding:vif_type"] not in ("unbound", "binding_failed"):
        raise faults.Conflict(f"Port {view['id']} is bound: its MAC cannot change")
    core = binding.core_for(conn)
    base = core.cfg.DEFAULT.base_mac if core is not None else "fa:16:3e:00:00:00"
    for _ in range(16):
        mac = ipam.random_mac(base)
        if not conn.execute(select(P.c.id).where(P.c.network_id == view["network_id"],
                                                 P.c.mac_address == mac)).first():
            break
    conn.execute(update(P).where(P.c.id == view["id"]).values(mac_address=mac))
    view["mac_address"] = mac


def _filters(table, filters: dict) -> list:
    out = []
    wanted = filters.get("ip_allocation")
    if wanted:
        row = exists().where(PA.c.port_id == table.c.id)
        clauses = [exists().where(PA.c.port_id == table.c.id, PA.c.ip_allocation == w)
                   for w in wanted if w != IMMEDIATE]
        if IMMEDIATE in wanted:
            clauses.append(or_(not_(row), exists().where(and_(
                PA.c.port_id == table.c.id, PA.c.ip_allocation == IMMEDIATE))))
        out.append(or_(*clauses))
    return out


RESOURCE_EXTENSIONS = [ResourceExtension(
    "ports", "port-attributes", attrs=ATTRS, views=_views, create=_created, update=_updated,
    filters=_filters)]
