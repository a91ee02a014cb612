"""Network segment ranges (/v2.0/network_segment_ranges): the configured
ranges as read-only defaults, per-project and shared ranges, tenant
networks allocating from their project's range first, and the in-use,
overlap and bad-input refusals."""
from __future__ import annotations

from tests.api.helpers import expect, new_project, next_vni, rand

NSR = "network-segment-ranges"


def vni_block(n: int) -> tuple[int, int]:
    ids = [next_vni() for _ in range(n)]
    return ids[0], ids[-1]


def create(api, **attrs) -> dict:
    attrs.setdefault("name", rand("nsr"))
    return expect(api.admin.post(NSR, {"network_segment_range": attrs}),
                  201)["network_segment_range"]


def test_default_ranges_are_the_configuration(api):
    ranges = api.admin.list(NSR, {"default": "true"})
    got = {(r["network_type"], r["physical_network"], r["minimum"], r["maximum"])
           for r in ranges}
    # conftest.BASE_OVERRIDES: vni_ranges 1000:99999, physnet1 1000:1500
    assert ("vxlan", None, 1000, 99999) in got and ("vlan", "physnet1", 1000, 1500) in got
    vx = next(r for r in ranges if r["network_type"] == "vxlan")
    assert (vx["shared"], vx["project_id"], vx["name"]) == (True, None, "")
    expect(api.admin.put(f"{NSR}/{vx['id']}", {"network_segment_range": {"name": "x"}}), 400,
           "NetworkSegmentRangeDefaultReadOnly")
    expect(api.admin.delete(f"{NSR}/{vx['id']}"), 400, "NetworkSegmentRangeDefaultReadOnly")


def test_range_crud(api):
    lo, hi = vni_block(6)
    project = new_project()
    r = create(api, network_type="vxlan", minimum=lo, maximum=hi, shared=False,
               project_id=project, description="for one project")
    assert {k: r[k] for k in ("default", "shared", "project_id", "network_type",
                              "physical_network", "minimum", "maximum", "description")} == {
        "default": False, "shared": False, "project_id": project, "network_type": "vxlan",
        "physical_network": None, "minimum": lo, "maximum": hi,
        "description": "for one project"}
    assert r["used"] == {} and r["available"] == list(range(lo, hi + 1))
    assert api.admin.show(NSR, r["id"]) == r
    assert api.admin.show("network_segment_ranges", r["id"]) == r   # openstacksdk's spelling
    assert [x["id"] for x in api.admin.list(NSR, {"id": r["id"]})] == [r["id"]]
    up = api.admin.update(NSR, r["id"], name="renamed", maximum=hi + 1)
    assert (up["name"], up["maximum"]) == ("renamed", hi + 1)
    api.admin.remove(NSR, r["id"])
    expect(api.admin.get(f"{NSR}/{r['id']}"), 404, "NetworkSegmentRangeNotFound")


def test_project_networks_allocate_from_their_range(api):
    lo, hi = vni_block(3)
    project = new_project()
    r = create(api, network_type="vxlan", minimum=lo, maximum=hi, shared=False,
               project_id=project)
    member = api.project(project_id=project)
    nets = [member.network() for _ in range(3)]
    vnis = sorted(api.admin.show("networks", n["id"])["provider:segmentation_id"]
                  for n in nets)
    assert vnis == [lo, lo + 1, hi]
    # the range is full: the next network takes a shared (default) id
    extra = api.admin.show("networks", member.network()["id"])["provider:segmentation_id"]
    assert 1000 <= extra <= 99999 and extra not in vnis
    # other projects never get the range's ids
    other = api.admin.show("networks", api.member_a.network()["id"])
    assert not lo <= other["provider:segmentation_id"] <= hi
    seen = api.admin.show(NSR, r["id"])
    assert seen["used"] == {str(v): project for v in vnis} and seen["available"] == []
    # in use: no deletion, no bound reaching an allocated id
    expect(api.admin.delete(f"{NSR}/{r['id']}"), 409, "NetworkSegmentRangeReferencedByProject")
    expect(api.admin.put(f"{NSR}/{r['id']}", {"network_segment_range": {"minimum": lo + 1}}),
           409, "NetworkSegmentRangeReferencedByProject")
    expect(api.admin.put(f"{NSR}/{r['id']}", {"network_segment_range": {"maximum": hi - 1}}),
           409, "NetworkSegmentRangeReferencedByProject")
    # bounds on the allocated ids themselves keep them all
    assert api.admin.update(NSR, r["id"], minimum=lo, maximum=hi + 1)["maximum"] == hi + 1
    for n in nets:
        member.remove("networks", n["id"])
    api.admin.remove(NSR, r["id"])


def test_admin_given_type_uses_the_project_range(api):
    lo, hi = vni_block(2)
    project = new_project()
    create(api, network_type="vxlan", minimum=lo, maximum=hi, shared=False, project_id=project)
    net = api.admin.network(project_id=project, **{"provider:network_type": "vxlan"})
    assert lo <= net["provider:segmentation_id"] <= hi


def test_range_refusals(api):
    lo, hi = vni_block(4)
    r = create(api, network_type="vxlan", minimum=lo, maximum=hi)
    assert r["shared"] is True and r["project_id"] is None
    expect(api.admin.post(NSR, {"network_segment_range": {
        "network_type": "vxlan", "minimum": hi, "maximum": hi + 5}}), 409,
        "NetworkSegmentRangeOverlaps")
    expect(api.admin.post(NSR, {"network_segment_range": {
        "network_type": "vlan", "minimum": 5, "maximum": 10}}), 400, "BadRequest")
    expect(api.admin.post(NSR, {"network_segment_range": {
        "network_type": "vlan", "physical_network": "physnet9", "minimum": 10,
        "maximum": 5}}), 400, "NetworkVlanRangeError")
    expect(api.admin.post(NSR, {"network_segment_range": {
        "network_type": "vlan", "physical_network": "physnet9", "minimum": 10,
        "maximum": 5000}}), 400, "NetworkVlanRangeError")
    expect(api.admin.post(NSR, {"network_segment_range": {
        "network_type": "geneve", "minimum": 1, "maximum": 5}}), 400,
        "NetworkSegmentRangeNetTypeNotSupported")
    expect(api.admin.post(NSR, {"network_segment_range": {
        "network_type": "flat", "minimum": 1, "maximum": 5}}), 400)
    expect(api.admin.post(NSR, {"network_segment_range": {
        "network_type": "vxlan", "minimum": "x", "maximum": 5}}), 400)
    expect(api.admin.post(NSR, {"network_segment_range": {
        "network_type": "vxlan", "shared": False, "minimum": 1, "maximum": 5}}), 400)
    # admin only
    m = api.member_a
    assert m.list(NSR) == []
    expect(m.get(f"{NSR}/{r['id']}"), 404)
    expect(m.post(NSR, {"network_segment_range": {"network_type": "vxlan", "minimum": 1,
                                                  "maximum": 2}}), 403)
    vlan = create(api, network_type="vlan", physical_network="physnet9", minimum=10,
                  maximum=20)
    assert vlan["physical_network"] == "physnet9" and len(vlan["available"]) == 11
    api.admin.remove(NSR, vlan["id"])
    api.admin.remove(NSR, r["id"])
