"""Router conntrack helpers through the API: life cycle, the router's
`conntrack_helpers` view, upstream's refusals (unknown helper, protocol the
helper does not track, duplicates, bad port/protocol) with nothing written,
and the parent-owner policy."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


@pytest.fixture
def router(api):
    m = api.project()
    return m, m.create("routers", name=rand("r"))


def cths(router_id: str) -> str:
    return f"routers/{router_id}/conntrack_helpers"


def make(m, router_id, status=201, **attrs):
    body = expect(m.post(cths(router_id), {"conntrack_helper": attrs}), status)
    return body["conntrack_helper"] if status == 201 else body["NeutronError"]


def test_life_cycle_and_router_view(api, router):
    m, r = router
    assert m.show("routers", r["id"])["conntrack_helpers"] == []
    c = make(m, r["id"], helper="tftp", protocol="udp", port=69)
    assert {k: c[k] for k in ("helper", "protocol", "port")} == {
        "helper": "tftp", "protocol": "udp", "port": 69}
    assert set(c) == {"id", "helper", "protocol", "port"}
    assert expect(m.get(f"{cths(r['id'])}/{c['id']}"), 200)["conntrack_helper"] == c
    assert expect(m.get(cths(r["id"])), 200)["conntrack_helpers"] == [c]
    assert m.show("routers", r["id"])["conntrack_helpers"] == [
        {"helper": "tftp", "protocol": "udp", "port": 69}]
    up = expect(m.put(f"{cths(r['id'])}/{c['id']}", {"conntrack_helper": {"port": 6969}}),
                200)["conntrack_helper"]
    assert up["port"] == 6969
    ftp = make(m, r["id"], helper="ftp", protocol="TCP", port="21")
    assert (ftp["protocol"], ftp["port"]) == ("tcp", 21)
    got = expect(m.get(cths(r["id"]), params={"helper": "ftp"}), 200)["conntrack_helpers"]
    assert got == [ftp]
    expect(m.delete(f"{cths(r['id'])}/{c['id']}"), 204)
    expect(m.get(f"{cths(r['id'])}/{c['id']}"), 404, "ConntrackHelperNotFound",
           f"Conntrack Helper {c['id']} could not be found.")
    assert len(m.show("routers", r["id"])["conntrack_helpers"]) == 1
    # the router's deletion takes its helpers
    m.remove("routers", r["id"])
    expect(m.get(cths(r["id"])), 404, "RouterNotFound")


@pytest.mark.parametrize("attrs, status, kind", [
    ({"helper": "nope", "protocol": "tcp", "port": 1}, 400, "ConntrackHelperNotAllowed"),
    ({"helper": "ftp", "protocol": "udp", "port": 21}, 400, "InvalidProtocolForHelper"),
    ({"helper": "ftp", "protocol": "tcp", "port": 0}, 400, "HTTPBadRequest"),
    ({"helper": "ftp", "protocol": "tcp", "port": 65536}, 400, "HTTPBadRequest"),
    ({"helper": "ftp", "protocol": "bogus", "port": 21}, 400, "HTTPBadRequest"),
    ({"helper": "ftp", "protocol": "tcp"}, 400, "HTTPBadRequest"),
])
def test_refusals_write_nothing(api, router, attrs, status, kind):
    m, r = router
    err = make(m, r["id"], status, **attrs)
    assert err["type"] == kind
    assert expect(m.get(cths(r["id"])), 200)["conntrack_helpers"] == []


def test_duplicate_and_policy(api, router):
    m, r = router
    c = make(m, r["id"], helper="sip", protocol="udp", port=5060)
    err = make(m, r["id"], 400, helper="sip", protocol="udp", port=5060)
    assert "duplicate conntrack helper" in err["message"]
    make(m, r["id"], helper="sip", protocol="tcp", port=5060)       # another protocol
    other = api.project()
    expect(other.get(cths(r["id"])), 404, "RouterNotFound")
    expect(other.post(cths(r["id"]), {"conntrack_helper": {
        "helper": "ftp", "protocol": "tcp", "port": 21}}), 404, "RouterNotFound")
    reader = api.project("reader", project_id=m.project_id)
    assert len(expect(reader.get(cths(r["id"])), 200)["conntrack_helpers"]) == 2
    expect(reader.delete(f"{cths(r['id'])}/{c['id']}"), 403)
    assert expect(api.admin.get(f"{cths(r['id'])}/{c['id']}"), 200)["conntrack_helper"] == c
