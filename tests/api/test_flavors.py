"""Service flavors and profiles (flavors) and router flavors (l3-flavors)
through the API: admin CRUD, readers see flavors, upstream's checks and
conflicts (profile without driver nor metainfo, unknown driver, in-use
deletes, bindings), and a router made with a flavor."""
from __future__ import annotations

from tests.api.helpers import expect, rand

SINGLE = "neutron.services.l3_router.service_providers.single_node.SingleNodeDriver"
UNKNOWN = "neutron.services.l3_router.service_providers.nope.NopeDriver"


def flavor(persona, status=201, **attrs):
    body = expect(persona.post("flavors", {"flavor": attrs}), status)
    return body["flavor"] if status == 201 else body["NeutronError"]


def profile(persona, status=201, **attrs):
    body = expect(persona.post("service_profiles", {"service_profile": attrs}), status)
    return body["service_profile"] if status == 201 else body["NeutronError"]


def test_flavor_and_profile_crud(api):
    a = api.admin
    f = flavor(a, name=rand("fl"), description="d", service_type="FLAVORS")
    assert {k: f[k] for k in ("description", "service_type", "enabled", "service_profiles")} \
        == {"description": "d", "service_type": "FLAVORS", "enabled": True,
            "service_profiles": []}
    assert expect(a.put(f"flavors/{f['id']}", {"flavor": {"enabled": False}}), 200)[
        "flavor"]["enabled"] is False
    assert expect(a.get("flavors", params={"id": "33"}), 200)["flavors"] == []
    sp = profile(a, description="p", driver="", metainfo='{"data": "value"}')
    assert (sp["metainfo"], sp["enabled"], sp["driver"]) == ('{"data": "value"}', True, "")
    assert expect(a.get(f"service_profiles/{sp['id']}"), 200)["service_profile"] == sp
    # bind, list, conflicts both ways, unbind
    expect(a.post(f"flavors/{f['id']}/service_profiles",
                  {"service_profile": {"id": sp["id"]}}), 201)
    assert expect(a.get(f"flavors/{f['id']}"), 200)["flavor"]["service_profiles"] == [sp["id"]]
    expect(a.post(f"flavors/{f['id']}/service_profiles",
                  {"service_profile": {"id": sp["id"]}}), 409,
           "FlavorServiceProfileBindingExists")
    expect(a.delete(f"service_profiles/{sp['id']}"), 409, "ServiceProfileInUse")
    expect(a.delete(f"flavors/{f['id']}/service_profiles/{sp['id']}"), 204)
    expect(a.delete(f"flavors/{f['id']}/service_profiles/{sp['id']}"), 404,
           "FlavorServiceProfileBindingNotFound")
    expect(a.delete(f"service_profiles/{sp['id']}"), 204)
    expect(a.delete(f"flavors/{f['id']}"), 204)
    expect(a.get(f"flavors/{f['id']}"), 404, "FlavorNotFound",
           f"Flavor {f['id']} could not be found.")


def test_refusals_and_policy(api):
    a = api.admin
    flavor(a, 400, name="x", service_type="NOPE")
    err = profile(a, 400, driver="", metainfo="")
    assert err["type"] == "ServiceProfileEmpty"
    err = profile(a, 404, driver=UNKNOWN)
    assert err["type"] == "ServiceProfileDriverNotFound"
    m = api.project()
    expect(m.post("flavors", {"flavor": {"name": "x", "service_type": "L3_ROUTER_NAT"}}), 403)
    expect(m.get("service_profiles"), 200)
    f = flavor(a, name=rand("fl"), service_type="L3_ROUTER_NAT")
    assert any(x["id"] == f["id"] for x in expect(m.get("flavors"), 200)["flavors"])
    assert expect(m.get("service_profiles"), 200)["service_profiles"] == []


def test_router_with_flavor(api):
    a = api.admin
    sp = profile(a, driver=SINGLE)
    f = flavor(a, name=rand("fl"), service_type="L3_ROUTER_NAT", service_profiles=[sp["id"]])
    m = api.project()
    r = m.create("routers", name=rand("r"), flavor_id=f["id"])
    assert r["flavor_id"] == f["id"] and m.show("routers", r["id"])["flavor_id"] == f["id"]
    assert m.create("routers", name=rand("r"))["flavor_id"] is None
    expect(a.delete(f"flavors/{f['id']}"), 409, "FlavorInUse")
    expect(a.post("routers", {"router": {"name": "x", "flavor_id": f["id"],
                                         "distributed": True}}), 400)
    other = flavor(a, name=rand("fl"), service_type="FLAVORS")
    expect(m.post("routers", {"router": {"name": "x", "flavor_id": other["id"]}}), 400,
           "InvalidFlavorServiceType")
    off = flavor(a, name=rand("fl"), service_type="L3_ROUTER_NAT", enabled=False)
    expect(m.post("routers", {"router": {"name": "x", "flavor_id": off["id"]}}), 400,
           "FlavorDisabled")
    expect(m.post("routers", {"router": {"name": "x",
                                         "flavor_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12}}),
           404, "FlavorNotFound")
    m.remove("routers", r["id"])
    expect(a.delete(f"flavors/{f['id']}"), 204)
