"""List queries: filters (repeated = OR), fields, sorting and pagination,
validated as upstream's filter-validation extension does."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neutrino import validators as v
from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.resources import Resource

CONTROL_PARAMS = {"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"}
TAG_PARAMS = ("tags", "tags-any", "not-tags", "not-tags-any")


@dataclass
class Query:
    filters: dict[str, list[Any]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sorts: list[tuple[str, bool]] = field(default_factory=list)   # (attr, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    tags: dict[str, list[str]] = field(default_factory=dict)


def _convert_filter(resource: Resource, name: str, raw: str) -> Any:
    attr = resource.attr(name)
    if attr is None or attr.convert is None:
        return raw
    # Every value is converted, "" too: an integer or timestamp column
    # compared with text is a database error, not a match.
    value = attr.convert(raw)
    a.in_db_int(value)
    # A list converter (security_groups) would wrap the one value of a filter.
    return raw if isinstance(value, (list, dict)) or value is None else value


def _too_many(name: str, count: int, cap: int) -> None:
    if cap > 0 and count > cap:
        raise faults.HTTPBadRequest(
            f"Too many values for filter '{name}': {count}, at most {cap} are allowed "
            "(max_filter_values)")


def parse(resource: Resource, items: list[tuple[str, str]], max_limit: int = -1,
          max_values: int = -1) -> Query:
    """`max_limit`: pagination_max_limit; `max_values`: max_filter_values
    (-1 or 0: no cap)."""
    q = Query()
    unknown = []
    sort_keys, sort_dirs = [], []
    for key, value in items:
        if "\x00" in key or "\x00" in value:
            raise faults.HTTPBadRequest(
                f"Invalid input for {v.shown(key)}. Reason: "
                f"'{v.shown(value)}' contains a NUL character.")
        if key == "fields":
            q.fields.append(value)
        elif key == "limit":
            try:
                limit = int(value)
                if not 0 <= limit <= v.INT64_MAX:   # beyond any SQL LIMIT
                    raise ValueError
            except ValueError:
                raise faults.BadRequest(
                    resource="limit",
                    msg=f"Limit must be an integer 0 or greater and not '{value}'") from None
            q.limit = limit or None
        elif key == "marker":
            q.marker = value
        elif key == "page_reverse":
            q.page_reverse = value.strip().lower() in ("true", "1")
        elif key == "sort_key":
            sort_keys.append(value)
        elif key == "sort_dir":
            sort_dirs.append(value)
        elif key in TAG_PARAMS and resource.tags:
            tags = q.tags.setdefault(key, [])
            tags.extend(t for t in value.split(",") if t)
            _too_many(key, len(tags), max_values)
        else:
            attr = resource.attr(key)
            base = key.split(":", 1)[0] if attr is None else key
            if attr is None or not attr.filter:
                if base not in unknown:
                    unknown.append(key)
                continue
            wanted = q.filters.setdefault(key, [])
            wanted.append(_convert_filter(resource, key, value))
            _too_many(key, len(wanted), max_values)
    if unknown:
        raise faults.HTTPBadRequest(f"{unknown!r} is invalid attribute for filtering")
    if sort_dirs and len(sort_dirs) != len(sort_keys):
        raise faults.BadRequest(resource="sort",
                                msg="The number of sort_keys and sort_dirs must be same")
    for i, key in enumerate(sort_keys):
        attr = resource.attr(key)
        if attr is None or not attr.sort or not attr.visible:
            raise faults.HTTPBadRequest(f"{key} is invalid attribute for sort_keys")
        direction = sort_dirs[i] if sort_dirs else "asc"
        if direction not in ("asc", "desc"):
            raise faults.HTTPBadRequest(
                f"{direction} is invalid value for sort_dirs, valid value is 'asc' and 'desc'")
        q.sorts.append((key, direction == "asc"))
    if max_limit > 0 and (q.limit is None or q.limit > max_limit):
        q.limit = max_limit
    return q
