"""Small leaks between projects: nothing a member sends may tell whether
another project's resource exists or what it holds (remote_group_id,
pagination markers), nor reveal attributes hidden from it by policy through
filters or sorting."""
from __future__ import annotations

import uuid

from tests.api.helpers import expect, next_vni, rand


def rule_ids(api, group_id: str) -> list[str]:
    return sorted(r["id"] for r in api.admin.list("security-group-rules",
                                                   params={"security_group_id": group_id}))


def test_remote_group_of_another_project_is_not_found(api):
    mine = api.member_a.create("security-groups", name=rand("sg"))
    theirs = api.member_b.create("security-groups", name=rand("sg"))
    before = rule_ids(api, mine["id"])
    answers = {}
    for label, remote in (("theirs", theirs["id"]), ("random", str(uuid.uuid4()))):
        resp = api.member_a.post("security-group-rules", {"security_group_rule": {
            "security_group_id": mine["id"], "direction": "ingress",
            "remote_group_id": remote}})
        answers[label] = expect(resp, 404, "SecurityGroupNotFound",
                                f"Security group {remote} does not exist")
    assert rule_ids(api, mine["id"]) == before
    # An admin may point at any group.
    rule = api.admin.create("security-group-rules", security_group_id=mine["id"],
                            direction="ingress", remote_group_id=theirs["id"])
    assert rule["remote_group_id"] == theirs["id"]


def test_marker_of_another_project_is_ignored(api):
    tag = rand("tag")
    ours = [api.member_b.network(name=f"{tag}-{c}", tags=[tag]) for c in "ac"]
    hidden = api.member_a.network(name=f"{tag}-b", tags=[tag])
    params = {"tags": tag, "sort_key": "name", "sort_dir": "asc", "limit": 10}

    def names(marker):
        body = expect(api.member_b.get("networks", params={**params, "marker": marker}), 200)
        return [n["name"] for n in body["networks"]]
    assert names(hidden["id"]) == names(str(uuid.uuid4())) == [n["name"] for n in ours]
    # Its own marker works as before; an admin may page from anyone's.
    assert names(ours[0]["id"]) == [f"{tag}-c"]
    body = expect(api.admin.get("networks", params={**params, "marker": hidden["id"]}), 200)
    assert [n["name"] for n in body["networks"]] == [f"{tag}-c"]


def test_member_filters_on_hidden_attributes_are_dropped(api):
    vni = next_vni()
    shared = api.admin.network(shared=True, **{"provider:network_type": "vxlan",
                                               "provider:segmentation_id": vni})
    mine = api.member_b.network()

    def ids(persona, collection, params):
        return sorted(i["id"] for i in persona.list(collection, params=params))
    everything = ids(api.member_b, "networks", {})
    assert shared["id"] in everything and mine["id"] in everything
    # The same answer whether a network matches or not: the filter is dropped.
    for params in ({"provider:segmentation_id": vni}, {"provider:segmentation_id": vni + 1},
                   {"provider:network_type": "vlan"}, {"provider:physical_network": "x"}):
        assert ids(api.member_b, "networks", params) == everything, params
    # Visible filters still apply beside it.
    assert ids(api.member_b, "networks", {"provider:segmentation_id": vni + 1,
                                          "id": mine["id"]}) == [mine["id"]]
    assert ids(api.admin, "networks", {"provider:segmentation_id": vni}) == [shared["id"]]
    assert ids(api.admin, "networks", {"provider:segmentation_id": vni + 1}) == []

    net, _ = api.member_a.net_with_subnet("10.238.0.0/24")
    host = rand("host")
    bound = api.admin.port(net["id"], project_id=api.project_a, **{"binding:host_id": host})
    unbound = api.member_a.port(net["id"])
    own = sorted([bound["id"], unbound["id"]])
    for value in (host, rand("host")):
        assert ids(api.member_a, "ports", {"network_id": net["id"],
                                           "binding:host_id": value}) == own
    # Sorting by it is dropped too (the default order, by id).
    listed = api.member_a.list("ports", params={"network_id": net["id"],
                                                "sort_key": "binding:host_id",
                                                "sort_dir": "desc"})
    assert [p["id"] for p in listed] == own
    assert ids(api.admin, "ports", {"binding:host_id": host}) == [bound["id"]]


def test_floating_ip_on_anothers_private_network_is_not_found(api):
    private = api.member_b.network()
    before = api.member_a.list("floatingips")
    for net_id in (private["id"], str(uuid.uuid4())):
        expect(api.member_a.post("floatingips", {"floatingip": {"floating_network_id": net_id}}),
               404, "NetworkNotFound", f"Network {net_id} could not be found.")
    own = api.member_a.network()
    expect(api.member_a.post("floatingips", {"floatingip": {"floating_network_id": own["id"]}}),
           400, "BadRequest",
           f"Bad floatingip request: Network {own['id']} is not a valid external network.")
    assert api.member_a.list("floatingips") == before
