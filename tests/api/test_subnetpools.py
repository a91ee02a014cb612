"""Subnet pools and address scopes: CRUD and upstream's validation (status,
Neutron-format error, nothing written), subnets allocated from pools (by
prefix length, default length, a given CIDR), quotas in prefix space, the
default pool, prefix operations, onboarding, address scope association and
networks' address scopes, sharing, and network IP availability."""
from __future__ import annotations

import pytest

from tests.api.helpers import UUID_RE, expect, rand

POOLS, SCOPES = "subnetpools", "address-scopes"


def pool(persona, prefixes=("10.100.0.0/16",), **attrs) -> dict:
    attrs.setdefault("name", rand("sp"))
    return persona.create(POOLS, prefixes=list(prefixes), **attrs)


def scope(persona, ip_version=4, **attrs) -> dict:
    attrs.setdefault("name", rand("as"))
    return persona.create(SCOPES, ip_version=ip_version, **attrs)


def pool_subnet(persona, network_id, pool_id, status=201, ip_version=4, **attrs):
    body = {"subnet": {"network_id": network_id, "subnetpool_id": pool_id,
                       "ip_version": ip_version, **attrs}}
    resp = persona.post("subnets", body)
    return expect(resp, status)["subnet"] if status == 201 else resp


def test_pool_crud_and_defaults(api):
    m = api.project()
    p = pool(m, prefixes=["10.1.0.0/24", "10.1.1.0/24", "10.1.0.0/25"], description="d")
    assert UUID_RE.fullmatch(p["id"])
    # prefixes compacted; lengths shown as strings, as upstream
    assert {k: p[k] for k in ("prefixes", "ip_version", "min_prefixlen", "max_prefixlen",
                              "default_prefixlen", "default_quota", "is_default", "shared",
                              "address_scope_id", "description", "project_id")} == {
        "prefixes": ["10.1.0.0/23"], "ip_version": 4, "min_prefixlen": "8",
        "max_prefixlen": "32", "default_prefixlen": "8", "default_quota": None,
        "is_default": False, "shared": False, "address_scope_id": None,
        "description": "d", "project_id": m.project_id}
    assert m.show(POOLS, p["id"]) == p
    up = m.update(POOLS, p["id"], name="new", min_prefixlen=24, default_prefixlen=26,
                  prefixes=["10.1.0.0/23", "10.9.0.0/24"])
    assert (up["name"], up["min_prefixlen"], up["default_prefixlen"], up["prefixes"]) == (
        "new", "24", "26", ["10.1.0.0/23", "10.9.0.0/24"])
    assert up["revision_number"] > p["revision_number"]
    v6 = pool(m, prefixes=["2001:db8::/48"])
    assert (v6["ip_version"], v6["min_prefixlen"], v6["max_prefixlen"]) == (6, "64", "128")
    assert {x["id"] for x in m.list(POOLS)} >= {p["id"], v6["id"]}
    m.remove(POOLS, p["id"])
    expect(m.get(f"{POOLS}/{p['id']}"), 404, "SubnetPoolNotFound",
           f"Subnet pool {p['id']} could not be found.")


BAD_POOLS = [
    ({"prefixes": []}, "EmptySubnetPoolPrefixList", "Empty subnet pool prefix list."),
    ({"prefixes": ["10.0.0.0/8", "2001:db8::/32"]}, "PrefixVersionMismatch",
     "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."),
    ({"prefixes": ["10.0.0.0/8"], "min_prefixlen": 24, "max_prefixlen": 16},
     "IllegalSubnetPoolPrefixBounds",
     "Illegal prefix bounds: min_prefixlen=24, max_prefixlen=16."),
    ({"prefixes": ["10.0.0.0/8"], "max_prefixlen": 33}, "IllegalSubnetPoolPrefixBounds",
     "Illegal prefix bounds: max_prefixlen=33, ip_version_max=32."),
    ({"prefixes": ["10.0.0.0/8"], "min_prefixlen": 16, "default_prefixlen": 12},
     "IllegalSubnetPoolPrefixBounds",
     "Illegal prefix bounds: default_prefixlen=12, min_prefixlen=16."),
    ({"prefixes": ["10.0.0.0/8"], "max_prefixlen": 20, "default_prefixlen": 24},
     "IllegalSubnetPoolPrefixBounds",
     "Illegal prefix bounds: default_prefixlen=24, max_prefixlen=20."),
    ({"prefixes": ["10.0.0.300/8"]}, "HTTPBadRequest",
     "Invalid input for prefixes. Reason: '10.0.0.300/8' is not a valid IP subnet."),
    ({"prefixes": "10.0.0.0/8"}, "HTTPBadRequest",
     "Invalid input for prefixes. Reason: '10.0.0.0/8' is not a list."),
    ({"prefixes": ["10.0.0.0/8"], "default_quota": -1}, "HTTPBadRequest",
     "Invalid input for default_quota. Reason: '-1' should be non-negative."),
    ({"prefixes": ["10.0.0.0/8"], "address_scope_id": "x"}, "HTTPBadRequest",
     "Invalid input for address_scope_id. Reason: 'x' is not a valid UUID."),
]


@pytest.mark.parametrize("attrs,error,message", BAD_POOLS)
def test_pool_validation(api, attrs, error, message):
    m = api.project()
    name = rand("bad")
    expect(m.post(POOLS, {"subnetpool": {"name": name, **attrs}}), 400, error, message)
    assert m.list(POOLS, params={"name": name}) == []


def test_prefixes_only_grow_and_prefix_actions(api):
    m = api.project()
    p = pool(m, prefixes=["10.2.0.0/24"], min_prefixlen=26)
    expect(m.put(f"{POOLS}/{p['id']}", {"subnetpool": {"prefixes": ["10.2.0.0/25"]}}), 400,
           "IllegalSubnetPoolPrefixUpdate",
           "Illegal update to prefixes: Existing prefixes must be a subset of the new "
           "prefixes.")
    got = expect(m.put(f"{POOLS}/{p['id']}/add_prefixes",
                       {"prefixes": ["10.2.1.0/24", "10.3.0.0/24"]}), 200)
    assert got == {"prefixes": ["10.2.0.0/23", "10.3.0.0/24"]}
    net = m.network()
    sub = pool_subnet(m, net["id"], p["id"], prefixlen=26)
    assert sub["cidr"] == "10.3.0.0/26"      # the smallest free block first
    expect(m.put(f"{POOLS}/{p['id']}/remove_prefixes", {"prefixes": ["10.3.0.0/24"]}), 400,
           "IllegalSubnetPoolPrefixUpdate",
           "Illegal update to prefixes: One or more the prefixes to be removed is in use by "
           "a subnet..")
    got = expect(m.put(f"{POOLS}/{p['id']}/remove_prefixes", {"prefixes": ["10.2.1.0/24"]}),
                 200)
    assert got == {"prefixes": ["10.2.0.0/24", "10.3.0.0/24"]}
    assert m.show(POOLS, p["id"])["prefixes"] == ["10.2.0.0/24", "10.3.0.0/24"]
    expect(m.put(f"{POOLS}/{p['id']}/add_prefixes", {"prefixes": []}), 400,
           "HTTPBadRequest", "Request body contains invalid data")
    other = api.project()
    expect(other.put(f"{POOLS}/{p['id']}/add_prefixes", {"prefixes": ["10.9.0.0/24"]}), 404,
           "SubnetPoolNotFound")


def test_subnets_from_a_pool(api):
    m = api.project()
    p = pool(m, prefixes=["10.4.0.0/24"], min_prefixlen=25, max_prefixlen=28,
             default_prefixlen=26)
    net = m.network()
    first = pool_subnet(m, net["id"], p["id"])
    assert (first["cidr"], first["subnetpool_id"], first["gateway_ip"]) == (
        "10.4.0.0/26", p["id"], "10.4.0.1")
    assert first["allocation_pools"] == [{"start": "10.4.0.2", "end": "10.4.0.62"}]
    second = pool_subnet(m, net["id"], p["id"], prefixlen=28)
    assert second["cidr"] == "10.4.0.64/28"
    given = pool_subnet(m, net["id"], p["id"], cidr="10.4.0.128/25")
    assert given["cidr"] == "10.4.0.128/25"
    expect(pool_subnet(m, net["id"], p["id"], 409, cidr="10.4.0.0/28"), 409,
           "SubnetAllocationError",
           "Failed to allocate subnet: Cannot allocate requested subnet from the available "
           "set of prefixes.")
    expect(pool_subnet(m, net["id"], p["id"], 400, prefixlen=24), 400,
           "MinPrefixSubnetAllocationError",
           "Unable to allocate subnet with prefix length 24, minimum allowed prefix is 25.")
    expect(pool_subnet(m, net["id"], p["id"], 400, prefixlen=29), 400,
           "MaxPrefixSubnetAllocationError",
           "Unable to allocate subnet with prefix length 29, maximum allowed prefix is 28.")
    expect(pool_subnet(m, net["id"], p["id"], 400, prefixlen=28, cidr="10.4.0.80/28"), 400,
           "BadRequest", "Bad subnets request: cidr and prefixlen must not be supplied "
           "together.")
    pool_subnet(m, net["id"], p["id"], prefixlen=27)          # 10.4.0.96/27
    pool_subnet(m, net["id"], p["id"], prefixlen=28)          # 10.4.0.80/28: last space
    expect(pool_subnet(m, net["id"], p["id"], 409, prefixlen=28), 409,
           "SubnetAllocationError",
           "Failed to allocate subnet: Insufficient prefix space to allocate subnet size /28.")
    expect(m.delete(f"{POOLS}/{p['id']}"), 400, "SubnetPoolDeleteError",
           "Unable to delete subnet pool: Subnet pool has existing allocations.")
    # a subnet without the pool on a network whose subnets come from one
    expect(m.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                         "cidr": "192.168.50.0/24"}}), 400,
           "NetworkSubnetPoolAffinityError")
    expect(m.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4}}), 400,
           "BadRequest", "Bad subnets request: a subnetpool must be specified in the absence "
           "of a cidr.")
    # freed space is allocated again
    m.remove("subnets", first["id"])
    assert pool_subnet(m, net["id"], p["id"], prefixlen=26)["cidr"] == "10.4.0.0/26"
    expect(pool_subnet(m, net["id"], rand("x"), 400), 400)
    expect(pool_subnet(m, net["id"], "6a9e3c67-1bd2-4e49-9a6a-9c6c28a2b7aa", 404), 404,
           "SubnetPoolNotFound")


def test_quota_in_prefix_space(api):
    admin, m = api.admin, api.project()
    p = pool(admin, prefixes=["10.5.0.0/16"], default_quota=96, shared=True,
             default_prefixlen=26)
    net = m.network()
    pool_subnet(m, net["id"], p["id"])              # 64 addresses
    pool_subnet(m, net["id"], p["id"], prefixlen=27)  # 32: 96 in all
    expect(pool_subnet(m, net["id"], p["id"], 409, prefixlen=32), 409,
           "SubnetPoolQuotaExceeded", "Per-tenant subnet pool prefix quota exceeded.")
    # another project has a quota of its own
    other = api.project()
    pool_subnet(other, other.network()["id"], p["id"])


def test_default_pool(api):
    admin, m = api.admin, api.project()
    expect(m.post(POOLS, {"subnetpool": {"name": rand("sp"), "prefixes": ["10.6.0.0/16"],
                                         "is_default": True}}), 403)
    p = pool(admin, prefixes=["10.6.0.0/16"], is_default=True, shared=True,
             default_prefixlen=24)
    try:
        expect(admin.post(POOLS, {"subnetpool": {"prefixes": ["10.7.0.0/16"],
                                                 "is_default": True}}), 400, "InvalidInput",
               "Invalid input for operation: A default subnetpool for this IP family has "
               "already been set. Only one default may exist per IP family.")
        net = m.network()
        sub = expect(m.post("subnets", {"subnet": {
            "network_id": net["id"], "ip_version": 4, "use_default_subnetpool": True}}),
            201)["subnet"]
        assert (sub["subnetpool_id"], sub["cidr"]) == (p["id"], "10.6.0.0/24")
        assert "use_default_subnetpool" not in sub
        expect(m.post("subnets", {"subnet": {
            "network_id": net["id"], "ip_version": 4, "use_default_subnetpool": True,
            "subnetpool_id": p["id"]}}), 400, "BadRequest",
            "Bad subnets request: subnetpool_id and use_default_subnetpool cannot both be "
            "specified.")
        expect(m.post("subnets", {"subnet": {
            "network_id": m.network()["id"], "ip_version": 6,
            "use_default_subnetpool": True}}), 400, "BadRequest")
        m.remove("subnets", sub["id"])
    finally:
        admin.remove(POOLS, p["id"])


def test_sharing_and_visibility(api):
    admin, m, other = api.admin, api.project(), api.project()
    expect(m.post(POOLS, {"subnetpool": {"prefixes": ["10.8.0.0/16"], "shared": True}}), 403)
    mine = pool(m, prefixes=["10.8.0.0/16"])
    shared = pool(admin, prefixes=["10.8.0.0/16"], shared=True)
    assert shared["shared"] is True
    ids = {x["id"] for x in other.list(POOLS)}
    assert shared["id"] in ids and mine["id"] not in ids
    expect(other.get(f"{POOLS}/{mine['id']}"), 404, "SubnetPoolNotFound")
    expect(other.delete(f"{POOLS}/{shared['id']}"), 403)
    expect(m.put(f"{POOLS}/{mine['id']}", {"subnetpool": {"shared": True}}), 400,
           "HTTPBadRequest", "Cannot update read-only attribute shared")
    net = other.network()
    assert pool_subnet(other, net["id"], shared["id"], prefixlen=24)["cidr"] == "10.8.0.0/24"
    expect(pool_subnet(other, net["id"], mine["id"], 404, prefixlen=24), 404,
           "SubnetPoolNotFound")


def test_address_scope_crud_and_rules(api):
    admin, m = api.admin, api.project()
    s = scope(m)
    assert {k: s[k] for k in ("ip_version", "shared", "project_id")} == (
        {"ip_version": 4, "shared": False, "project_id": m.project_id})
    assert m.update(SCOPES, s["id"], name="renamed")["name"] == "renamed"
    expect(m.put(f"{SCOPES}/{s['id']}", {"address_scope": {"ip_version": 6}}), 400,
           "HTTPBadRequest")
    expect(m.post(SCOPES, {"address_scope": {"ip_version": 4, "shared": True}}), 403)
    expect(m.post(SCOPES, {"address_scope": {"ip_version": 5}}), 400, "HTTPBadRequest")
    expect(m.post(SCOPES, {"address_scope": {"name": "x"}}), 400, "HTTPBadRequest",
           "Failed to parse request. Required attribute 'ip_version' not specified")
    sh = scope(admin, shared=True)
    expect(admin.put(f"{SCOPES}/{sh['id']}", {"address_scope": {"shared": False}}), 400,
           "AddressScopeUpdateError",
           f"Unable to update address scope {sh['id']} : Shared address scope can't be "
           "unshared")
    p = pool(m, prefixes=["10.10.0.0/16"], address_scope_id=s["id"])
    assert p["address_scope_id"] == s["id"]
    expect(m.delete(f"{SCOPES}/{s['id']}"), 409, "AddressScopeInUse")
    # prefixes unique within a scope
    expect(m.post(POOLS, {"subnetpool": {"prefixes": ["10.10.5.0/24"],
                                         "address_scope_id": s["id"]}}), 409,
           "AddressScopePrefixConflict")
    v6 = scope(m, ip_version=6)
    expect(m.put(f"{POOLS}/{p['id']}", {"subnetpool": {"address_scope_id": v6["id"]}}), 400,
           "IllegalSubnetPoolIpVersionAssociationToAddressScope",
           f"Illegal subnetpool association: subnetpool {p['id']} cannot associate with "
           f"address scope {v6['id']} because subnetpool ip_version is not 6.")
    hidden = scope(admin)
    expect(m.put(f"{POOLS}/{p['id']}", {"subnetpool": {"address_scope_id": hidden["id"]}}),
           404, "AddressScopeNotFound")
    m.update(POOLS, p["id"], address_scope_id=None)
    m.remove(SCOPES, s["id"])
    expect(m.get(f"{SCOPES}/{s['id']}"), 404, "AddressScopeNotFound")


def test_network_address_scopes_and_onboarding(api):
    m = api.project()
    s = scope(m)
    scoped = pool(m, prefixes=["10.11.0.0/16"], address_scope_id=s["id"],
                  default_prefixlen=24)
    net = m.network()
    assert (net["ipv4_address_scope"], net["ipv6_address_scope"]) == (None, None)
    pool_subnet(m, net["id"], scoped["id"])
    shown = m.show("networks", net["id"])
    assert (shown["ipv4_address_scope"], shown["ipv6_address_scope"]) == (s["id"], None)
    # a subnet of another pool (another scope, or none) cannot join the network
    other = pool(m, prefixes=["10.12.0.0/16"], default_prefixlen=24)
    expect(pool_subnet(m, net["id"], other["id"], 400), 400,
           "NetworkAddressScopeAffinityError")
    # onboarding: a network's subnets move into a pool with their prefixes
    net2 = m.network()
    sub = m.subnet(net2["id"], "10.13.1.0/24")
    got = expect(m.put(f"{POOLS}/{other['id']}/onboard_network_subnets",
                       {"network_id": net2["id"]}), 200)
    assert got == [{"id": sub["id"], "cidr": "10.13.1.0/24"}]
    assert m.show("subnets", sub["id"])["subnetpool_id"] == other["id"]
    assert m.show(POOLS, other["id"])["prefixes"] == ["10.12.0.0/16", "10.13.1.0/24"]
    expect(m.put(f"{POOLS}/{other['id']}/onboard_network_subnets", {}), 400, "InvalidInput",
           "Invalid input for operation: network_id must be specified..")
    # the scope follows the pool: net2 joins s when its pool does
    m.update(POOLS, other["id"], address_scope_id=s["id"])
    assert m.show("networks", net2["id"])["ipv4_address_scope"] == s["id"]


def test_network_ip_availability(api):
    admin, m = api.admin, api.project()
    net = m.network()
    sub = m.subnet(net["id"], "10.14.0.0/28")
    m.port(net["id"])
    m.port(net["id"])
    got = expect(admin.get(f"network-ip-availabilities/{net['id']}"), 200)[
        "network_ip_availability"]
    assert {k: got[k] for k in ("network_id", "network_name", "project_id", "total_ips",
                                "used_ips")} == {
        "network_id": net["id"], "network_name": net["name"], "project_id": m.project_id,
        "total_ips": 13, "used_ips": 2}
    assert got["subnet_ip_availability"] == [{
        "subnet_id": sub["id"], "subnet_name": sub["name"], "cidr": "10.14.0.0/28",
        "ip_version": 4, "total_ips": 13, "used_ips": 2}]
    listed = expect(admin.get("network-ip-availabilities",
                              params={"network_id": net["id"]}), 200)[
        "network_ip_availabilities"]
    assert [x["network_id"] for x in listed] == [net["id"]]
    assert expect(admin.get("network-ip-availabilities",
                            params={"network_id": net["id"], "ip_version": 6}), 200)[
        "network_ip_availabilities"] == []
    # admin only, as upstream's default policy
    expect(m.get(f"network-ip-availabilities/{net['id']}"), 404)
    assert expect(m.get("network-ip-availabilities"), 200)["network_ip_availabilities"] == []
    expect(admin.get("network-ip-availabilities/6a9e3c67-1bd2-4e49-9a6a-9c6c28a2b7aa"), 404,
           "NetworkNotFound")


def test_rbac_sharing_of_pools_and_scopes(api):
    admin, m, other = api.admin, api.project(), api.project()
    p = pool(admin, prefixes=["10.15.0.0/16"], default_prefixlen=24)
    expect(m.get(f"{POOLS}/{p['id']}"), 404)
    expect(admin.post("rbac-policies", {"rbac_policy": {
        "object_type": "subnetpool", "object_id": p["id"], "action": "access_as_shared",
        "target_tenant": m.project_id}}), 201)
    seen = m.show(POOLS, p["id"])
    assert seen["shared"] is False            # shared with one project, not with all
    # the shared filter means "shared with me", as upstream's RBAC objects
    assert p["id"] in {x["id"] for x in m.list(POOLS, params={"shared": "true"})}
    assert p["id"] not in {x["id"] for x in m.list(POOLS, params={"shared": "false"})}
    sub = pool_subnet(m, m.network()["id"], p["id"])
    assert sub["cidr"] == "10.15.0.0/24"
    expect(other.get(f"{POOLS}/{p['id']}"), 404)
    # a pool in a scope the target cannot see is not shared with it
    s = scope(m)
    scoped = pool(m, prefixes=["10.16.0.0/16"], address_scope_id=s["id"])
    expect(m.post("rbac-policies", {"rbac_policy": {
        "object_type": "subnetpool", "object_id": scoped["id"], "action": "access_as_shared",
        "target_tenant": other.project_id}}), 400,
        "IllegalSubnetPoolAssociationToAddressScope")
    expect(m.post("rbac-policies", {"rbac_policy": {
        "object_type": "address_scope", "object_id": s["id"], "action": "access_as_shared",
        "target_tenant": other.project_id}}), 201)
    assert other.show(SCOPES, s["id"])["id"] == s["id"]
    expect(m.post("rbac-policies", {"rbac_policy": {
        "object_type": "subnetpool", "object_id": scoped["id"], "action": "access_as_shared",
        "target_tenant": other.project_id}}), 201)


def test_ip_availability_of_ipv6_counts_past_64_bits(api):
    admin, m = api.admin, api.project()
    net = m.network()
    m.subnet(net["id"], "2001:db8:77::/64", ip_version=6)
    got = expect(admin.get(f"network-ip-availabilities/{net['id']}"), 200)[
        "network_ip_availability"]
    assert got["total_ips"] == 2 ** 64 - 2     # the pool: ::2 to the last address (exact)


def test_subnetpool_quota(api):
    """Quota `subnetpool`, as upstream's tracked resource (default_quota: -1)."""
    admin, m = api.admin, api.project()
    assert expect(m.get(f"quotas/{m.project_id}"), 200)["quota"]["subnetpool"] == -1
    expect(admin.put(f"quotas/{m.project_id}", {"quota": {"subnetpool": 1}}), 200)
    pool(m, prefixes=["10.17.0.0/16"])
    name = rand("sp")
    expect(m.post(POOLS, {"subnetpool": {"name": name, "prefixes": ["10.18.0.0/16"]}}), 409,
           "OverQuota", "Quota exceeded for resources: ['subnetpool'].")
    assert m.list(POOLS, params={"name": name}) == []


def test_router_wire_carries_address_scopes(api):
    """What the L3 agent reads: each router port's scope per IP family; a
    pool's scope change tells the router's agent."""
    from neutrino.plugins.l3 import scheduling
    from neutrino.rpc.l3_handlers import routers_state
    host = rand("l3host")
    api.agents.report_state({"agent_type": "L3 agent", "host": host,
                             "binary": "neutrino-l3-agent", "topic": "l3_agent",
                             "configurations": {}, "start_flag": True})
    m = api.project()
    s = scope(m)
    p = pool(m, prefixes=["10.19.0.0/16"], default_prefixlen=24)
    router = m.create("routers", name=rand("r"))
    scoped = pool_subnet(m, m.network()["id"], p["id"])
    _, plain = m.net_with_subnet("10.20.0.0/24")
    ports = {}
    for sub in (scoped, plain):
        ports[sub["id"]] = expect(m.put(f"routers/{router['id']}/add_router_interface",
                                        {"subnet_id": sub["id"]}), 200)["port_id"]
    host = api.core.db.read(lambda conn: scheduling.router_host(conn, router["id"]))

    def wire() -> dict[str, dict]:
        state = api.core.db.read(lambda conn: routers_state(conn, host))
        mine = next(r for r in state["routers"] if r["id"] == router["id"])
        return {q["id"]: q["address_scopes"] for q in mine["interfaces"]}
    assert wire() == {ports[scoped["id"]]: {"4": None, "6": None},
                      ports[plain["id"]]: {"4": None, "6": None}}
    told = []

    class Recorder:
        def resource_changed(self, *args, **kw):
            told.append((*args, kw.get("hosts")))
    real, api.core.notifier = api.core.notifier, Recorder()
    try:
        m.update(POOLS, p["id"], address_scope_id=s["id"])
    finally:
        api.core.notifier = real
    assert told == [("router", router["id"], -1, (host,))]
    assert wire() == {ports[scoped["id"]]: {"4": s["id"], "6": None},
                      ports[plain["id"]]: {"4": None, "6": None}}
