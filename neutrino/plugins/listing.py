"""Turns a Query into SQL over one table: column filters, tag filters,
sorting and keyset pagination. Plugins add their own clauses for attributes
that are not plain columns (fixed_ips, provider:*, …)."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Callable, Iterable

from sqlalchemy import and_, bindparam, false, func, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from neutrino.api.query import Query
from neutrino.api.resources import Resource
from neutrino.db import models

CHUNK = 500


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def new_id() -> str:
    return str(uuid.uuid4())


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


class ChildQuery:
    """Rows of a child table for one or many parent ids, with both
    statements prebuilt (an expanding IN for a single id is needlessly slow)."""

    def __init__(self, key, *columns, order_by=()):
        self.one = select(key, *columns).where(key == bindparam("id")).order_by(*order_by)
        self.many = select(key, *columns).where(
            key.in_(bindparam("ids", expanding=True))).order_by(*order_by)

    def rows(self, conn: Connection, ids: list[str]):
        if len(ids) == 1:
            yield from conn.execute(self.one, {"id": ids[0]})
            return
        for part in chunks(ids):
            yield from conn.execute(self.many, {"ids": part})


_TAGS = ChildQuery(models.tags.c.resource_id, models.tags.c.tag)


def tags_for(conn: Connection, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not ids:
        return out
    for rid, tag in _TAGS.rows(conn, ids):
        out.setdefault(rid, []).append(tag)
    for tags in out.values():
        tags.sort()
    return out


def tag_clauses(table, tag_filters: dict[str, list[str]]) -> list[ColumnElement]:
    """One subquery per filter, whatever the number of tags: ids tagged with
    any of them, or (tags, not-tags) with all of them by count. (One EXISTS
    per tag made PostgreSQL plan for seconds past ~100 tags.)"""
    t = models.tags
    clauses = []
    for kind, tags in tag_filters.items():
        wanted = sorted(set(tags))
        if not wanted or kind not in ("tags", "tags-any", "not-tags", "not-tags-any"):
            continue
        tagged = select(t.c.resource_id).where(t.c.tag.in_(wanted))
        if kind in ("tags", "not-tags"):     # (resource_id, tag) is the primary key
            tagged = tagged.group_by(t.c.resource_id).having(func.count() == len(wanted))
        clause = table.c.id.in_(tagged)
        clauses.append(~clause if kind.startswith("not-") else clause)
    return clauses


def column_clauses(resource: Resource, table, filters: dict[str, list[Any]],
                   skip: Iterable[str] = ()) -> list[ColumnElement]:
    clauses = []
    skip = set(skip)
    for name, values in filters.items():
        if name in skip:
            continue
        attr = resource.attr(name)
        if attr is None or attr.column is None:
            continue
        column = table.c[attr.column]
        clauses.append(column.in_(values) if len(values) > 1 else column == values[0])
    return clauses


def run_list(conn: Connection, resource: Resource, table, query: Query,
             where: list[ColumnElement], sort_column: Callable[[str], Any] | None = None,
             columns: tuple = ()):
    """Rows of `table` matching `where`, sorted and paginated per `query`."""
    order = []
    for key, asc in query.sorts:
        attr = resource.attr(key)
        col = sort_column(key) if sort_column else None
        if col is None and attr is not None and attr.column:
            col = table.c[attr.column]
        if col is not None:
            order.append((col, asc))
    if query.limit is not None or query.marker or not order:
        order.append((table.c.id, order[-1][1] if order else True))
    clauses = list(where)
    if query.marker:
        # The marker is looked up among the rows this caller may list (with
        # the same filters): another project's id is as unknown as a random
        # one (ignored), so its sort keys cannot be probed page by page.
        marker = conn.execute(select(*[c for c, _ in order]).where(
            table.c.id == query.marker, *where)).first()
        if marker is not None:
            clauses.append(_after(order, tuple(marker), query.page_reverse))
    stmt = select(*(columns or (table,))).where(and_(true(), *clauses))
    reverse = query.page_reverse
    stmt = stmt.order_by(*[(c.asc() if asc != reverse else c.desc()) for c, asc in order])
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    result = conn.execute(stmt)
    rows = result.all() if columns else result.mappings().all()
    if reverse:
        rows = list(reversed(rows))
    return rows


_SIMPLE: dict[tuple, Any] = {}


def simple_list(conn: Connection, resource: Resource, table, query: Query, columns: tuple,
                scope: Callable[[], ColumnElement] | None = None, scope_params: dict = {}):
    """The common list — equality filters on plain columns, no tags, sorting
    or paging — with a statement built once per shape and reused with new
    bind values. Returns None when the query is not of that shape."""
    if query.sorts or query.limit is not None or query.marker or query.tags:
        return None
    names = sorted(query.filters)
    for name in names:
        attr = resource.attr(name)
        if attr is None or attr.column is None or len(query.filters[name]) != 1:
            return None
    key = (table.name, tuple(names), scope is not None, columns)
    stmt = _SIMPLE.get(key)
    if stmt is None:
        clauses = [table.c[resource.attr(n).column] == bindparam(f"f{i}")
                   for i, n in enumerate(names)]
        if scope is not None:
            clauses.append(scope())
        stmt = select(*columns).where(and_(true(), *clauses)).order_by(table.c.id)
        _SIMPLE[key] = stmt
    params = {f"f{i}": query.filters[n][0] for i, n in enumerate(names)}
    params.update(scope_params)
    return conn.execute(stmt, params).all()


def _after(order, values, reverse: bool) -> ColumnElement:
    """Keyset condition: rows strictly after the marker in sort order."""
    ors = []
    for i, (col, asc) in enumerate(order):
        forward = asc != reverse
        eqs = [order[j][0] == values[j] for j in range(i)]
        value = values[i]
        if value is None:
            cmp = col.is_not(None) if forward else false()
        elif isinstance(value, bool):  # booleans have no ordering operators in SQL
            after = (not value) if forward else value
            cmp = (col == (not value)) if after else false()
        else:
            cmp = col > value if forward else col < value
        ors.append(and_(*eqs, cmp))
    return or_(*ors)
