"""extra_dhcp_opt: per-port DHCP options (opt_name, opt_value, ip_version)
that the DHCP agents' dnsmasq sends to that port only (a tag per port).

Update semantics as upstream: the options listed are set (same name and IP
version: replaced), an option with opt_value null is removed, options not
listed stay."""
from __future__ import annotations

from sqlalchemy import delete, insert, update

from neutrino import validators as v
from neutrino.api import faults
from neutrino.api.attributes import Attr
from neutrino.db import dns_models as dm
from neutrino.plugins import listing
from neutrino.plugins.extend import ResourceExtension

NAME_MAX, VALUE_MAX = 64, 255
BLANK_ALLOWED = ("router", "classless-static-route")   # may carry an empty value
_KEYS = ("opt_name", "opt_value", "ip_version")


def _string_reason(value, max_len: int, blank_ok: bool, none_ok: bool) -> str | None:
    if value is None and none_ok:
        return None
    if not isinstance(value, str):
        return f"'{v.shown(value)}' is not a valid string"
    if len(value) > max_len:
        return f"'{value}' exceeds maximum length of {max_len}"
    if not blank_ok:
        if not value.strip():
            return f"'{value}' Blank strings are not permitted"
        if len(value.splitlines()) > 1:
            return f"Multi-line string is not allowed: '{value}'"
    return None


def _item(item) -> dict | None:
    """The option normalised (ip_version an int, 4 when absent), or None
    when it matches neither of upstream's two key specs."""
    if not isinstance(item, dict) or not {"opt_name", "opt_value"} <= set(item) \
            or set(item) - set(_KEYS):
        return None
    name, val = item["opt_name"], item["opt_value"]
    blank = name in BLANK_ALLOWED
    if blank:
        # one line per option in dnsmasq's opts file: no line breaks at all
        if isinstance(val, str) and len(val.splitlines()) > 1:
            return None
    elif _string_reason(name, NAME_MAX, False, False):
        return None
    if _string_reason(val, VALUE_MAX, blank, True):
        return None
    version = item.get("ip_version", 4)
    if isinstance(version, str):
        try:
            version = int(version.strip())
        except ValueError:
            return None
    if isinstance(version, bool) or version not in (4, 6):
        return None
    return {"opt_name": name, "opt_value": val, "ip_version": version}


def convert(value):
    """type:list_of_any_key_specs_or_none with upstream's key specs."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise faults.invalid_input(f"'{v.shown(value)}' is not a list")
    seen, dups = [], []
    for item in value:
        if item in seen and item not in dups:
            dups.append(item)
        seen.append(item)
    if dups:
        raise faults.invalid_input("Duplicate items in the list: '"
                                   + ", ".join(str(d) for d in dups) + "'")
    out = []
    for item in value:
        opt = _item(item)
        if opt is None:
            raise faults.invalid_input(f"No valid key specs matched for: {v.shown(item)}")
        out.append(opt)
    return out


def _storable(opt: dict) -> bool:
    if opt["opt_name"] in BLANK_ALLOWED:
        return opt["opt_value"] is not None
    return bool(opt["opt_value"])


_OPTS = listing.ChildQuery(dm.extra_dhcp_opts.c.port_id, dm.extra_dhcp_opts.c.opt_name,
                           dm.extra_dhcp_opts.c.opt_value, dm.extra_dhcp_opts.c.ip_version,
                           order_by=(dm.extra_dhcp_opts.c.ip_version,
                                     dm.extra_dhcp_opts.c.opt_name))


def opts_of(conn, port_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for pid, name, value, version in _OPTS.rows(conn, port_ids):
        out.setdefault(pid, []).append({"opt_name": name, "opt_value": value,
                                        "ip_version": version})
    return out


def _views(conn, views: list[dict]) -> None:
    found = opts_of(conn, [x["id"] for x in views])
    for x in views:
        x["extra_dhcp_opts"] = found.get(x["id"], [])


def _row(port_id: str, opt: dict) -> dict:
    return {"id": listing.new_id(), "port_id": port_id, **opt}


def _create(conn, ctx, body: dict, view: dict) -> None:
    wanted: dict[tuple[str, int], dict] = {}
    for opt in body.get("extra_dhcp_opts") or ():
        if _storable(opt):
            wanted[(opt["opt_name"], opt["ip_version"])] = opt
    if wanted:
        conn.execute(insert(dm.extra_dhcp_opts), [_row(view["id"], o) for o in wanted.values()])
    view["extra_dhcp_opts"] = sorted(wanted.values(),
                                     key=lambda o: (o["ip_version"], o["opt_name"]))


def _update(conn, ctx, body: dict, current: dict, view: dict) -> bool:
    given = body.get("extra_dhcp_opts")
    if not given:
        return False
    t = dm.extra_dhcp_opts
    have = {(o["opt_name"], o["ip_version"]): o for o in current.get("extra_dhcp_opts", [])}
    changed = False
    for opt in given:
        key = (opt["opt_name"], opt["ip_version"])
        where = (t.c.port_id == current["id"], t.c.opt_name == key[0], t.c.ip_version == key[1])
        if key in have:
            if opt["opt_value"] is None:
                conn.execute(delete(t).where(*where))
                del have[key]
                changed = True
            elif _storable(opt) and opt["opt_value"] != have[key]["opt_value"]:
                conn.execute(update(t).where(*where).values(opt_value=opt["opt_value"]))
                have[key] = opt
                changed = True
        elif _storable(opt):
            conn.execute(insert(t), _row(current["id"], opt))
            have[key] = opt
            changed = True
    view["extra_dhcp_opts"] = sorted(have.values(),
                                     key=lambda o: (o["ip_version"], o["opt_name"]))
    return changed


EXTRA_DHCP_OPTS = ResourceExtension(
    "ports", "extra_dhcp_opt",
    attrs=(Attr("extra_dhcp_opts", post=True, put=True, default=None, convert=convert,
                filter=False, sort=False),),
    views=_views, create=_create, update=_update)
