"""Get-me-a-network: networks' is_default and
/v2.0/auto-allocated-topology/{project_id} (created once, idempotent,
dry-run, delete, the deployment errors as upstream)."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand

AAT = "auto-allocated-topology"
KEY = "auto_allocated_topology"


@pytest.fixture
def default_ext(api):
    """A default external network (the only one) with a subnet, removed after."""
    for net in api.admin.list("networks", {"is_default": "true"}):
        api.admin.update("networks", net["id"], is_default=False)
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    ext = api.admin.update("networks", ext["id"], is_default=True)
    yield ext
    api.admin.remove("networks", ext["id"])


@pytest.fixture
def default_pool(api):
    """The default IPv4 subnet pool (made for the test when there is none)."""
    found = api.admin.list("subnetpools", {"is_default": "true", "ip_version": "4"})
    if found:
        yield found[0]
        return
    pool = api.admin.create("subnetpools", name=rand("pool"), prefixes=["10.200.0.0/16"],
                            default_prefixlen=26, is_default=True, shared=True)
    yield pool
    api.admin.update("subnetpools", pool["id"], is_default=False)
    expect(api.admin.delete(f"subnetpools/{pool['id']}"), 204)


def auto_resources(persona) -> tuple[int, int, int]:
    def count(items):
        return len([i for i in items if i["name"].startswith("auto_allocated_")])
    return (count(persona.list("networks", {"admin_state_up": "true"})),
            count(persona.list("subnets")), count(persona.list("routers")))


def test_is_default_external_network(api, default_ext):
    assert default_ext["is_default"] is True
    # an update without is_default keeps it
    assert api.admin.update("networks", default_ext["id"], description="x")["is_default"]
    other = api.admin.network(**{"router:external": True})
    expect(api.admin.put(f"networks/{other['id']}", {"network": {"is_default": True}}), 409,
           "DefaultExternalNetworkExists")
    ids = [n["id"] for n in api.admin.list("networks", {"is_default": "true"})]
    assert ids == [default_ext["id"]]
    # only external networks are default; members may not set it
    internal = api.admin.network(is_default=True)
    assert internal["is_default"] is False
    expect(api.member_a.post("networks", {"network": {"is_default": True}}), 403)
    assert api.member_a.network()["is_default"] is False
    api.admin.remove("networks", other["id"])


def test_get_me_a_network(api, default_ext, default_pool):
    m = api.project()
    assert auto_resources(m) == (0, 0, 0)
    dry = expect(m.get(f"{AAT}/{m.project_id}", params={"fields": "dry-run"}), 200)
    assert dry[KEY]["id"] == "dry-run=pass"
    assert auto_resources(m) == (0, 0, 0)
    topo = expect(m.get(f"{AAT}/{m.project_id}"), 200)[KEY]
    assert topo["tenant_id"] == topo["project_id"] == m.project_id
    net = m.show("networks", topo["id"])
    assert net["name"] == "auto_allocated_network" and net["admin_state_up"] is True
    assert auto_resources(m) == (1, 1, 1)
    sub = m.list("subnets", {"network_id": net["id"]})[0]
    assert sub["subnetpool_id"] == default_pool["id"] and sub["name"] == "auto_allocated_subnet_v4"
    router = m.list("routers", {"name": "auto_allocated_router"})[0]
    assert router["external_gateway_info"]["network_id"] == default_ext["id"]
    ports = m.list("ports", {"device_id": router["id"],
                             "device_owner": "network:router_interface"})
    assert [p["fixed_ips"][0]["subnet_id"] for p in ports] == [sub["id"]]
    # the same topology after; "None" is the caller's project (as upstream)
    assert expect(m.get(f"{AAT}/{m.project_id}"), 200)[KEY]["id"] == topo["id"]
    assert expect(m.get(f"{AAT}/None"), 200)[KEY]["id"] == topo["id"]
    assert auto_resources(m) == (1, 1, 1)
    # other projects: theirs only; an admin may look at any
    expect(api.member_b.get(f"{AAT}/{m.project_id}"), 403)
    expect(api.member_b.delete(f"{AAT}/{m.project_id}"), 403)
    assert expect(api.admin.get(f"{AAT}/{m.project_id}"), 200)[KEY]["id"] == topo["id"]
    expect(m.get(f"{AAT}/{m.project_id}", params={"fields": "name"}), 400)
    expect(m.delete(f"{AAT}/{m.project_id}"), 204)
    assert auto_resources(m) == (0, 0, 0)
    expect(m.delete(f"{AAT}/{m.project_id}"), 204)


def test_deployment_errors(api, default_pool):
    for net in api.admin.list("networks", {"is_default": "true"}):
        api.admin.update("networks", net["id"], is_default=False)
    m = api.project()
    for params in (None, {"fields": "dry-run"}):
        expect(m.get(f"{AAT}/{m.project_id}", params=params), 409, "AutoAllocationFailure",
               "Deployment error: No default router:external network.")
    assert auto_resources(m) == (0, 0, 0)
