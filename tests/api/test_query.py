"""The list query language: filters, fields, sorting, pagination and links."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


@pytest.fixture
def seven(api):
    """A fresh project with 7 networks named n0..n6 (+ a random suffix)."""
    member = api.project()
    tag = rand("q")
    nets = [member.network(name=f"{tag}-n{i}", admin_state_up=(i % 2 == 0),
                           description="" if i < 3 else f"d{i}") for i in range(7)]
    return member, tag, nets


def names(items):
    return [i["name"] for i in items]


def test_filters_and_repeated_or(api, seven):
    member, tag, nets = seven
    own = {"project_id": member.project_id}
    assert names(member.list("networks", params={**own, "name": f"{tag}-n3"})) == [f"{tag}-n3"]
    got = member.list("networks", params=[("project_id", member.project_id),
                                          ("name", f"{tag}-n1"), ("name", f"{tag}-n5")])
    assert sorted(names(got)) == [f"{tag}-n1", f"{tag}-n5"]
    # Different attributes AND.
    got = member.list("networks", params=[("project_id", member.project_id),
                                          ("name", f"{tag}-n1"), ("name", f"{tag}-n2"),
                                          ("admin_state_up", "False")])
    assert names(got) == [f"{tag}-n1"]
    got = member.list("networks", params={**own, "admin_state_up": "true"})
    assert sorted(names(got)) == [f"{tag}-n{i}" for i in (0, 2, 4, 6)]
    got = member.list("networks", params=[("id", nets[0]["id"]), ("id", nets[6]["id"])])
    assert sorted(n["id"] for n in got) == sorted([nets[0]["id"], nets[6]["id"]])
    assert member.list("networks", params={"name": "no-such-" + tag}) == []
    expect(member.get("networks", params={"admin_state_up": "maybe"}), 400, "InvalidInput")


def test_empty_string_filter(api, seven):
    member, tag, nets = seven
    got = member.list("networks", params={"project_id": member.project_id, "description": ""})
    assert sorted(names(got)) == [f"{tag}-n{i}" for i in range(3)]


def test_unknown_filter_400(api):
    expect(api.member_a.get("ports", params={"foo": "bar"}), 400, "HTTPBadRequest",
           "['foo'] is invalid attribute for filtering")
    expect(api.member_a.get("networks", params=[("foo", "1"), ("bar", "2")]), 400,
           "HTTPBadRequest", "['foo', 'bar'] is invalid attribute for filtering")
    # Attributes that exist but are not filterable.
    expect(api.member_a.get("subnets", params={"allocation_pools": "x"}), 400,
           "HTTPBadRequest", "['allocation_pools'] is invalid attribute for filtering")


def test_fields(api, seven):
    member, tag, nets = seven
    got = member.list("networks", params=[("project_id", member.project_id),
                                          ("fields", "id"), ("fields", "name")])
    assert len(got) == 7
    assert all(set(n) == {"id", "name"} for n in got)
    one = expect(member.get(f"networks/{nets[0]['id']}", params={"fields": "mtu"}), 200)
    assert one == {"network": {"mtu": 1450}}
    # Attributes the caller may not read stay hidden even when asked for.
    got = member.list("networks", params=[("id", nets[0]["id"]), ("fields", "id"),
                                          ("fields", "provider:network_type")])
    assert got == [{"id": nets[0]["id"]}]
    got = api.admin.list("networks", params=[("id", nets[0]["id"]),
                                             ("fields", "provider:network_type")])
    assert got == [{"provider:network_type": "vxlan"}]


def test_sorting(api, seven):
    member, tag, nets = seven
    own = [("project_id", member.project_id)]
    got = member.list("networks", params=own + [("sort_key", "name"), ("sort_dir", "desc")])
    assert names(got) == [f"{tag}-n{i}" for i in range(6, -1, -1)]
    got = member.list("networks", params=own + [("sort_key", "name"), ("sort_dir", "asc")])
    assert names(got) == [f"{tag}-n{i}" for i in range(7)]
    got = member.list("networks", params=own + [
        ("sort_key", "admin_state_up"), ("sort_dir", "desc"),
        ("sort_key", "name"), ("sort_dir", "asc")])
    assert names(got) == [f"{tag}-n{i}" for i in (0, 2, 4, 6, 1, 3, 5)]
    # sort_key without sort_dir: ascending.
    got = member.list("networks", params=own + [("sort_key", "name")])
    assert names(got) == [f"{tag}-n{i}" for i in range(7)]
    expect(member.get("networks", params={"sort_key": "nope"}), 400, "HTTPBadRequest")
    expect(member.get("networks", params={"sort_key": "name", "sort_dir": "up"}), 400,
           "HTTPBadRequest")
    expect(member.get("networks", params=[("sort_key", "name"), ("sort_key", "id"),
                                          ("sort_dir", "asc")]), 400, "BadRequest")


def walk(persona, first_url, params, rel="next"):
    """Follow `rel` links from the first page; return the pages."""
    pages = []
    resp = persona.get(first_url, params=params)
    while True:
        body = expect(resp, 200)
        pages.append(body)
        links = {link["rel"]: link["href"] for link in body.get("networks_links", [])}
        if rel not in links:
            return pages
        assert len(pages) < 50, "pagination does not end"
        resp = persona.get(links[rel])


def test_pagination_walks_all_pages(api, seven):
    member, tag, nets = seven
    params = [("project_id", member.project_id), ("limit", "3")]
    pages = walk(member, "networks", params)
    sizes = [len(p["networks"]) for p in pages]
    assert sizes == [3, 3, 1]
    ids = [n["id"] for p in pages for n in p["networks"]]
    assert len(ids) == len(set(ids)) == 7
    assert set(ids) == {n["id"] for n in nets}
    assert ids == sorted(ids)  # default order: id
    # Links keep the query and carry limit and marker.
    first_links = pages[0]["networks_links"]
    assert [link["rel"] for link in first_links] == ["next"]
    href = first_links[0]["href"]
    assert href.startswith("http://testserver/v2.0/networks?")
    assert f"project_id={member.project_id}" in href and "limit=3" in href
    assert f"marker={ids[2]}" in href
    # Middle pages link both ways; the last page only back.
    assert {link["rel"] for link in pages[1]["networks_links"]} == {"next", "previous"}
    assert [link["rel"] for link in pages[2]["networks_links"]] == ["previous"]
    # Walking back from the last page gives the same items in reverse page order.
    prev_href = pages[2]["networks_links"][0]["href"]
    back = walk(member, prev_href, None, rel="previous")
    back_ids = [n["id"] for p in reversed(back) for n in p["networks"]]
    assert back_ids == ids[:6]


def test_pagination_exact_multiple_and_sorted(api, seven):
    member, tag, nets = seven
    params = [("project_id", member.project_id), ("limit", "7")]
    pages = walk(member, "networks", params)
    assert [len(p["networks"]) for p in pages] == [7, 0]
    params = [("project_id", member.project_id), ("limit", "2"), ("sort_key", "name"),
              ("sort_dir", "desc")]
    pages = walk(member, "networks", params)
    got = [n["name"] for p in pages for n in p["networks"]]
    assert got == [f"{tag}-n{i}" for i in range(6, -1, -1)]


def test_pagination_sorted_by_boolean(api, seven):
    member, tag, nets = seven
    params = [("project_id", member.project_id), ("limit", "3"),
              ("sort_key", "admin_state_up"), ("sort_dir", "asc"),
              ("sort_key", "name"), ("sort_dir", "desc")]
    got = [n["name"] for p in walk(member, "networks", params) for n in p["networks"]]
    assert got == [f"{tag}-n{i}" for i in (5, 3, 1, 6, 4, 2, 0)]


def test_page_reverse(api, seven):
    member, tag, nets = seven
    ids = sorted(n["id"] for n in nets)
    got = member.list("networks", params=[("project_id", member.project_id),
                                          ("limit", "2"), ("marker", ids[4]),
                                          ("page_reverse", "True")])
    assert [n["id"] for n in got] == ids[2:4]


def test_limit_validation_and_zero(api, seven):
    member, tag, nets = seven
    expect(member.get("networks", params={"limit": "abc"}), 400, "BadRequest",
           "Bad limit request: Limit must be an integer 0 or greater and not 'abc'.")
    expect(member.get("networks", params={"limit": "-1"}), 400, "BadRequest")
    body = expect(member.get("networks", params={"project_id": member.project_id,
                                                 "limit": "0"}), 200)
    assert len(body["networks"]) == 7 and "networks_links" not in body


def test_pagination_max_limit(make_api):
    api = make_api({"DEFAULT": {"pagination_max_limit": "2"}})
    member = api.project()
    for _ in range(3):
        member.network()
    body = expect(member.get("networks", params={"project_id": member.project_id}), 200)
    assert len(body["networks"]) == 2
    assert body["networks_links"][0]["rel"] == "next"


def test_fixed_ips_filters(api):
    net = api.member_a.network()
    sub1 = api.member_a.subnet(net["id"], "10.110.0.0/24")
    sub2 = api.member_a.subnet(net["id"], "10.111.0.0/24")
    p1 = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.110.0.15"}])
    p2 = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.111.0.150"}])

    def ids(*values):
        return sorted(p["id"] for p in api.member_a.list(
            "ports", params=[("network_id", net["id"])] + [("fixed_ips", v) for v in values]))
    assert ids("ip_address=10.110.0.15") == [p1["id"]]
    assert ids(f"subnet_id={sub2['id']}") == [p2["id"]]
    assert ids("ip_address_substr=0.15") == sorted([p1["id"], p2["id"]])
    assert ids("ip_address_substr=10.111") == [p2["id"]]
    assert ids(f"subnet_id={sub1['id']}", "ip_address=10.110.0.15") == [p1["id"]]
    expect(api.member_a.get("ports", params={"fixed_ips": "mac=1"}), 400)


def test_port_filters(api):
    net, sub = api.member_a.net_with_subnet("10.112.0.0/24")
    sg = api.member_a.create("security-groups", name=rand("sg"))
    p1 = api.member_a.port(net["id"], device_owner="compute:nova", device_id="vm-x",
                           security_groups=[sg["id"]])
    p2 = api.member_a.port(net["id"], mac_address="fa:16:3e:12:34:56")
    assert [p["id"] for p in api.member_a.list("ports", params={"device_id": "vm-x"})] \
        == [p1["id"]]
    assert [p["id"] for p in api.member_a.list("ports", params={
        "network_id": net["id"], "device_owner": "compute:nova"})] == [p1["id"]]
    assert [p["id"] for p in api.member_a.list("ports", params={
        "network_id": net["id"], "mac_address": "fa:16:3e:12:34:56"})] == [p2["id"]]
    assert [p["id"] for p in api.member_a.list("ports", params={
        "security_groups": sg["id"]})] == [p1["id"]]


def test_subnet_and_sg_filters(api):
    net = api.member_a.network()
    s4 = api.member_a.subnet(net["id"], "10.113.0.0/24")
    s6 = api.member_a.subnet(net["id"], "2001:db8:113::/64")
    got = api.member_a.list("subnets", params={"network_id": net["id"], "ip_version": "6"})
    assert [s["id"] for s in got] == [s6["id"]]
    got = api.member_a.list("subnets", params={"cidr": "10.113.0.0/24",
                                               "network_id": net["id"]})
    assert [s["id"] for s in got] == [s4["id"]]
    sg = api.member_a.create("security-groups", name=rand("sg"))
    got = api.member_a.list("security-groups", params={"name": sg["name"]})
    assert [g["id"] for g in got] == [sg["id"]]
    rules = api.member_a.list("security-group-rules", params={
        "security_group_id": sg["id"], "direction": "egress"})
    assert {r["ethertype"] for r in rules} == {"IPv4", "IPv6"}
