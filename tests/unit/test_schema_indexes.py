"""Every foreign key column leads an index, in the models and in the schema
the migrations build: deleting a parent row looks its children up by that
column, and neither SQLite nor PostgreSQL indexes it by itself (a port
delete scanned every floating IP for floating_port_id)."""
from __future__ import annotations

import importlib
import pkgutil

import sqlalchemy as sa

import neutrino.db
from neutrino.db import migrate, models
from neutrino.db.engine import Database

# every module of tables (they share models.metadata once imported)
for _mod in pkgutil.iter_modules(neutrino.db.__path__):
    if _mod.name.endswith("models"):
        importlib.import_module(f"neutrino.db.{_mod.name}")


def _unindexed(tables) -> list[str]:
    """table.column of each foreign key no index, primary key or unique
    constraint starts with; tables: name -> (foreign keys' columns, each
    index's/constraint's columns)."""
    out = []
    for name, (fks, leads) in sorted(tables.items()):
        for cols in fks:
            if not any(lead[:len(cols)] == cols for lead in leads):
                out.append(f"{name}.{','.join(cols)}")
    return out


def test_the_models_index_every_foreign_key():
    tables = {}
    for t in models.metadata.sorted_tables:
        fks = [tuple(c.name for c in fk.columns) for fk in t.foreign_key_constraints]
        leads = [tuple(c.name for c in t.primary_key.columns)]
        leads += [tuple(c.name for c in ix.columns) for ix in t.indexes]
        leads += [tuple(c.name for c in u.columns) for u in t.constraints
                  if isinstance(u, sa.UniqueConstraint)]
        tables[t.name] = (fks, leads)
    assert len(tables) > 50
    assert _unindexed(tables) == []


def test_the_migrations_index_every_foreign_key(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/n.db", str(tmp_path))
    try:
        migrate.upgrade(db)
        insp = sa.inspect(db.engine)
        tables = {}
        for name in insp.get_table_names():
            fks = [tuple(fk["constrained_columns"]) for fk in insp.get_foreign_keys(name)]
            leads = [tuple(insp.get_pk_constraint(name)["constrained_columns"])]
            leads += [tuple(ix["column_names"]) for ix in insp.get_indexes(name)]
            leads += [tuple(u["column_names"]) for u in insp.get_unique_constraints(name)]
            tables[name] = (fks, leads)
    finally:
        db.dispose()
    assert "floatingips" in tables and "security_group_rules" in tables
    assert _unindexed(tables) == []
