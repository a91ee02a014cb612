"""Octavia's list semantics on views: filters on any attribute (several
values of one ORed), `fields`, `sort=key:dir,...` (or sort_key/sort_dir),
`limit`/`marker`/`page_reverse` with `<collection>_links`.

Lists are built from the rows a project may see and filtered here: the
collections stay small (load balancers of a project, members of a pool)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from neutrino.octavia import faults

_PAGING = {"limit", "marker", "page_reverse", "sort", "sort_key", "sort_dir", "fields"}
# Octavia's tag filters (comma-separated lists, as Neutron's).
_TAG_FILTERS = {"tags": lambda want, have: want <= have,
                "tags-any": lambda want, have: bool(want & have),
                "not-tags": lambda want, have: not want <= have,
                "not-tags-any": lambda want, have: not want & have}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _sort_keys(params: list[tuple[str, str]], sample: dict | None) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    sort = [v for k, v in params if k == "sort"]
    for spec in ",".join(sort).split(","):
        if not spec.strip():
            continue
        key, _, direction = spec.strip().partition(":")
        keys.append((key, (direction or "asc").lower()))
    skeys = [v for k, v in params if k == "sort_key"]
    sdirs = [v for k, v in params if k == "sort_dir"]
    for i, key in enumerate(skeys):
        keys.append((key, (sdirs[i] if i < len(sdirs) else "asc").lower()))
    out = []
    for key, direction in keys:
        if direction not in ("asc", "desc"):
            raise faults.InvalidSortDirection(key=direction)
        if sample is not None and key not in sample:
            raise faults.InvalidSortKey(key=key)
        out.append((key, direction == "desc"))
    return out or [("created_at", False), ("id", False)]


def paginate(views: list[dict], params: list[tuple[str, str]], collection: str,
             url: str, known: set[str] | None = None) -> dict:
    """The list body: {collection: [...], collection_links: [...]}."""
    filters: dict[str, list[str]] = {}
    for key, value in params:
        if key not in _PAGING:
            filters.setdefault(key, []).append(value)
    if views and known is None:
        known = set(views[0])
    for key, wanted in filters.items():
        if key in _TAG_FILTERS:
            tags = {t for w in wanted for t in w.split(",") if t}
            views = [v for v in views if _TAG_FILTERS[key](tags, set(v.get("tags") or []))]
            continue
        plural = key[:-3] + "s" if key.endswith("_id") else None
        if known is not None and key not in known and plural in known:
            # loadbalancer_id on pools and listeners, pool_id on health
            # monitors, listener_id on pools: Octavia filters on the model's
            # column, shown as a list of {"id"}.
            views = [v for v in views if {x["id"] for x in v.get(plural) or []} & set(wanted)]
            continue
        if known is not None and key not in known and views:
            continue   # Octavia ignores filters it does not know
        views = [v for v in views if _text(v.get(key)) in wanted
                 or (isinstance(v.get(key), bool) and _text(v.get(key)) in
                     [w.lower() for w in wanted])]
    keys = _sort_keys(params, views[0] if views else None)
    for key, desc in reversed(keys):
        views = sorted(views, key=lambda v: (v.get(key) is None, _text(v.get(key))),
                       reverse=desc)
    limit_raw = next((v for k, v in params if k == "limit"), None)
    marker = next((v for k, v in params if k == "marker"), None)
    reverse = next((v for k, v in params if k == "page_reverse"), "false").lower() == "true"
    if marker is not None:
        ids = [v["id"] for v in views]
        if marker not in ids:
            raise faults.InvalidMarker(key=marker)
        at = ids.index(marker)
        views = views[:at][::-1] if reverse else views[at + 1:]
    links: list[dict] = []
    if limit_raw is not None:
        try:
            limit = int(limit_raw)
        except ValueError:
            raise faults.InvalidLimit(key=limit_raw) from None
        if limit < 0:
            raise faults.InvalidLimit(key=limit_raw)
        if limit:
            more = len(views) > limit
            views = views[:limit]
            if reverse:
                views = views[::-1]
            base = [(k, v) for k, v in params if k not in ("marker", "page_reverse")]
            if views and more:
                links.append({"rel": "next", "href": url + "?" + urlencode(
                    base + [("marker", views[-1]["id"])])})
            if views and marker is not None:
                links.append({"rel": "previous", "href": url + "?" + urlencode(
                    base + [("marker", views[0]["id"]), ("page_reverse", "True")])})
    fields = [f for k, v in params if k == "fields" for f in v.split(",") if f]
    if fields:
        views = [{k: v[k] for k in fields if k in v} for v in views]
    return {collection: views, f"{collection}_links": links}
