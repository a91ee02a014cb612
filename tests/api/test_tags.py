"""The tag sub-resource (standard-attr-tag), tags on create (tag-creation)
and the tags / tags-any / not-tags / not-tags-any filters."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


def test_tags_endpoints(api):
    net = api.member_a.network()
    base = f"networks/{net['id']}/tags"
    assert expect(api.member_a.get(base), 200) == {"tags": []}
    body = expect(api.member_a.put(base, {"tags": ["red", "blue"]}), 200)
    assert sorted(body["tags"]) == ["blue", "red"]
    assert sorted(expect(api.member_a.get(base), 200)["tags"]) == ["blue", "red"]
    expect(api.member_a.put(f"{base}/green"), 201)
    expect(api.member_a.put(f"{base}/green"), 201)  # idempotent
    expect(api.member_a.get(f"{base}/green"), 204)
    expect(api.member_a.get(f"{base}/black"), 404, "TagNotFound")
    assert sorted(api.member_a.show("networks", net["id"])["tags"]) == ["blue", "green", "red"]
    expect(api.member_a.delete(f"{base}/red"), 204)
    expect(api.member_a.delete(f"{base}/red"), 404, "TagNotFound")
    assert sorted(expect(api.member_a.get(base), 200)["tags"]) == ["blue", "green"]
    # Replace.
    assert expect(api.member_a.put(base, {"tags": ["only"]}), 200)["tags"] == ["only"]
    expect(api.member_a.delete(base), 204)
    assert expect(api.member_a.get(base), 200) == {"tags": []}


def test_tag_changes_bump_revision(api):
    net = api.member_a.network()
    rev = net["revision_number"]
    expect(api.member_a.put(f"networks/{net['id']}/tags/x"), 201)
    assert api.member_a.show("networks", net["id"])["revision_number"] == rev + 1


@pytest.mark.parametrize("collection", ["subnets", "ports", "security-groups"])
def test_tags_on_other_resources(api, collection):
    net, sub = api.member_a.net_with_subnet("10.130.0.0/24")
    if collection == "subnets":
        rid = sub["id"]
    elif collection == "ports":
        rid = api.member_a.port(net["id"])["id"]
    else:
        rid = api.member_a.create("security-groups", name=rand("sg"))["id"]
    tag = rand("tag")
    expect(api.member_a.put(f"{collection}/{rid}/tags/{tag}"), 201)
    assert api.member_a.show(collection, rid)["tags"] == [tag]
    listed = api.member_a.list(collection, params={"tags": tag})
    assert [r["id"] for r in listed] == [rid]


def test_tags_on_create(api):
    tag = rand("tag")
    net = api.member_a.network(tags=[tag, "b"])
    assert sorted(net["tags"]) == sorted([tag, "b"])
    sub = api.member_a.subnet(net["id"], "10.131.0.0/24", tags=[tag])
    assert sub["tags"] == [tag]
    port = api.member_a.port(net["id"], tags=[tag])
    assert port["tags"] == [tag]
    expect(api.member_a.post("networks", {"network": {"tags": "notalist"}}), 400)
    expect(api.member_a.post("networks", {"network": {"tags": ["a,b"]}}), 400)
    expect(api.member_a.post("networks", {"network": {"tags": [""]}}), 400)


def test_tag_validation(api):
    net = api.member_a.network()
    base = f"networks/{net['id']}/tags"
    expect(api.member_a.put(base, {"tags": "x"}), 400, "HTTPBadRequest")
    expect(api.member_a.put(base, {"tags": ["x" * 256]}), 400, "HTTPBadRequest")
    expect(api.member_a.put(base, {"nope": []}), 400, "HTTPBadRequest")
    expect(api.member_a.put(base + "/a,b"), 400, "HTTPBadRequest")
    expect(api.member_a.put(f"networks/6bdecb4b-429a-4947-8190-10abc831ed83/tags/x"), 404,
           "NetworkNotFound")


def test_tag_filters(api):
    t = rand("tf")
    a, b, c, d = f"{t}-a", f"{t}-b", f"{t}-c", f"{t}-d"
    member = api.project()
    n_ab = member.network(name="ab", tags=[a, b])
    n_a = member.network(name="a", tags=[a])
    n_bc = member.network(name="bc", tags=[b, c])
    n_none = member.network(name="none")
    own = [("project_id", member.project_id)]

    def q(*params):
        return sorted(n["name"] for n in member.list("networks", params=own + list(params)))
    assert q(("tags", f"{a},{b}")) == ["ab"]
    assert q(("tags", a), ("tags", b)) == ["ab"]
    assert q(("tags", a)) == ["a", "ab"]
    assert q(("tags-any", f"{a},{c}")) == ["a", "ab", "bc"]
    assert q(("not-tags", f"{a},{b}")) == ["a", "bc", "none"]
    assert q(("not-tags-any", f"{a},{c}")) == ["none"]
    assert q(("tags", b), ("not-tags", c)) == ["ab"]
    assert q(("tags", d)) == []
    assert q(("tags-any", d)) == []
    assert q(("not-tags", d)) == ["a", "ab", "bc", "none"]
    del n_ab, n_a, n_bc, n_none


def test_tags_need_update_rights(api):
    shared = api.admin.network(shared=True)
    expect(api.member_b.put(f"networks/{shared['id']}/tags/x"), 403, "PolicyNotAuthorized")
    expect(api.member_b.put(f"networks/{shared['id']}/tags", {"tags": ["x"]}), 403,
           "PolicyNotAuthorized")
    expect(api.member_b.delete(f"networks/{shared['id']}/tags"), 403, "PolicyNotAuthorized")
    # Reading them is fine.
    assert expect(api.member_b.get(f"networks/{shared['id']}/tags"), 200) == {"tags": []}
