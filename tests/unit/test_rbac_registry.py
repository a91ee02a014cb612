"""The RBAC registry's clauses on a real (SQLite) schema: what a project
sees through grants, the wildcard as `shared`, and refused removals."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, insert, select

from neutrino.db import models
from neutrino.db import rbac_models  # noqa: F401  (tables on the metadata)
from neutrino.plugins.rbac import registry

N = models.networks


@pytest.fixture
def conn():
    engine = create_engine("sqlite://")
    models.metadata.create_all(engine)
    with engine.begin() as c:
        ts = __import__("datetime").datetime(2026, 1, 1)
        for nid, owner in (("n1", "owner"), ("n2", "owner"), ("n3", "other")):
            c.execute(insert(N).values(id=nid, project_id=owner, name="", description="",
                                       status="ACTIVE", admin_state_up=True, shared=False,
                                       external=False, mtu=1500, created_at=ts, updated_at=ts,
                                       revision_number=0))
        yield c
    engine.dispose()


def visible(conn, project, actions=(registry.SHARED,)):
    stmt = select(N.c.id).where(registry.visible_clause("unit_net", N, project, actions))
    return sorted(r[0] for r in conn.execute(stmt))


def test_grants_to_one_project_and_to_all(conn):
    used: set[tuple[str, str]] = set()
    registry.register_object_type("unit_net", N, ("access_as_shared", "access_as_external"),
                                  in_use=lambda c, oid, target: (oid, target) in used)
    assert visible(conn, "p2") == []
    pid = registry.grant(conn, "unit_net", "n1", "owner", "p2")
    assert pid and registry.grant(conn, "unit_net", "n1", "owner", "p2") is None
    assert visible(conn, "p2") == ["n1"]
    assert visible(conn, "p3") == []
    assert registry.is_shared_with(conn, "unit_net", "n1", "p2")
    assert not registry.is_shared_with(conn, "unit_net", "n1", "p3")
    assert not registry.is_shared_with(conn, "unit_net", "n1", "p2", registry.EXTERNAL)
    assert visible(conn, "p2", (registry.EXTERNAL,)) == []
    # the wildcard: everyone, and `shared` as its view
    assert registry.set_shared(conn, "unit_net", "n2", "owner", True)
    assert visible(conn, "p3") == ["n2"]
    assert visible(conn, "other") == ["n2", "n3"]
    assert registry.shared_ids(conn, "unit_net", ["n1", "n2", "n3"]) == {"n2"}
    # removal refused while the target uses it, unless another grant covers it
    used.add(("n1", "p2"))
    assert not registry.check_removable(conn, "unit_net", "n1", registry.SHARED, "p2", pid)
    registry.set_shared(conn, "unit_net", "n1", "owner", True)
    assert registry.check_removable(conn, "unit_net", "n1", registry.SHARED, "p2", pid)
    used.add(("n2", "*"))
    assert not registry.set_shared(conn, "unit_net", "n2", "owner", False)
    assert registry.shared_ids(conn, "unit_net", ["n2"]) == {"n2"}
    used.discard(("n2", "*"))
    assert registry.set_shared(conn, "unit_net", "n2", "owner", False)
    assert registry.shared_ids(conn, "unit_net", ["n2"]) == set()
    registry.delete_object(conn, "unit_net", "n1")
    assert visible(conn, "p2") == []
