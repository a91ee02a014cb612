"""Resource extensions: what a feature adds to a core resource (networks,
subnets, ports, routers, floatingips, security-groups) — attributes in the
attribute map, keys in every view, rows written with the resource in its one
transaction, list filters — registered here instead of edited into the core
plugins (upstream's extension drivers and resource_extend, by composition).

A feature registers its ResourceExtension objects when its module is
imported; neutrino.plugins.features imports every feature before the first
attribute map is read (Core.build and resources.attrs_of).

Contracts for hook writers:
- every hook runs inside the caller's transaction; raising a NeutronError
  rolls the whole call back (no half-written state);
- `views` sets this extension's keys in every given view (batch: one query
  for all of them, never one per view);
- `create`/`update` write the extension's rows from `body` (already
  converted and validated by its Attrs) and set its keys in `view`. An
  extension without `create` gets `views` called on each new resource: a
  query per create for rows that cannot exist yet, so an extension whose
  keys a new resource shows without reading (no rows of its own yet, or
  rows it can derive from `body`) gives a `create` that sets them;
  `update` returns True when it changed something, so the core bumps the
  revision even if no core column changed. Port views are cached by
  (id, revision_number): anything that changes what a port shows outside a
  port update must bump the port's revision (core.bump_revision);
- `delete` may refuse (409) before the core deletes the resource; rows
  with ON DELETE CASCADE need nothing;
- `filters` returns SQL clauses on the resource's table for the filters of
  its attributes (attributes without a `column` are not filtered by the core).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.engine import Connection

from neutrino.api.attributes import Attr

Views = Callable[[Connection, list], None]
Create = Callable[[Connection, Any, dict, dict], None]
Update = Callable[[Connection, Any, dict, dict, dict], bool]
Delete = Callable[[Connection, Any, dict], None]
Filters = Callable[[Any, dict], list]


@dataclass(frozen=True)
class ResourceExtension:
    collection: str                 # "networks", "subnets", "ports", "routers", ...
    name: str                       # for errors and logs: the feature's alias
    attrs: tuple[Attr, ...] = ()
    views: Views | None = None      # (conn, views)
    create: Create | None = None    # (conn, ctx, body, view)
    update: Update | None = None    # (conn, ctx, body, current, view) -> changed
    delete: Delete | None = None    # (conn, ctx, view)
    filters: Filters | None = None  # (table, filters) -> [clause]

    def keys(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attrs)


_REGISTRY: dict[str, list[ResourceExtension]] = {}


def register(*extensions: ResourceExtension) -> None:
    for ext in extensions:
        known = _REGISTRY.setdefault(ext.collection, [])
        if any(e.name == ext.name for e in known):
            continue                  # imported twice (tests reload modules)
        known.append(ext)


def of(collection: str) -> tuple[ResourceExtension, ...]:
    from neutrino.plugins import features
    features.load()
    return tuple(_REGISTRY.get(collection, ()))


def extra_attrs(collection: str) -> tuple[Attr, ...]:
    return tuple(a for ext in of(collection) for a in ext.attrs)


# --- what the core plugins call ---------------------------------------------------------

def views(collection: str, conn: Connection, views_: list[dict]) -> list[dict]:
    if views_:
        for ext in of(collection):
            if ext.views is not None:
                ext.views(conn, views_)
    return views_


def created(collection: str, conn: Connection, ctx, body: dict, view: dict) -> dict:
    for ext in of(collection):
        if ext.create is not None:
            ext.create(conn, ctx, body, view)
        elif ext.views is not None:
            ext.views(conn, [view])
    return view


def updated(collection: str, conn: Connection, ctx, body: dict, current: dict,
            view: dict) -> bool:
    """Carry every extension key over from `current`, then let each
    extension apply `body`; True when one of them changed something."""
    changed = False
    for ext in of(collection):
        for key in ext.keys():
            if key in current and key not in view:
                view[key] = current[key]
        if ext.update is not None:
            changed = bool(ext.update(conn, ctx, body, current, view)) or changed
    return changed


def deleting(collection: str, conn: Connection, ctx, view: dict) -> None:
    for ext in of(collection):
        if ext.delete is not None:
            ext.delete(conn, ctx, view)


def filter_clauses(collection: str, table, filters: dict) -> list:
    out: list = []
    for ext in of(collection):
        if ext.filters is not None and any(k in filters for k in ext.keys()):
            out += ext.filters(table, filters)
    return out


def filter_keys(collection: str) -> set[str]:
    return {k for ext in of(collection) if ext.filters is not None for k in ext.keys()}
