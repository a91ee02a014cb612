"""ML2: tenant segment allocation, exhaustion and fallback, admin provider
networks, conflicts, release and reuse."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, next_vlan, next_vni, rand

PT, PP, PS = "provider:network_type", "provider:physical_network", "provider:segmentation_id"


def post_net(persona, **attrs):
    attrs.setdefault("name", rand("net"))
    return persona.post("networks", {"network": attrs})


def segment(net):
    return net[PT], net[PP], net[PS]


def test_tenant_networks_get_distinct_vnis(api):
    member = api.project()
    vnis = []
    for _ in range(5):
        net = member.network()
        seen = api.admin.show("networks", net["id"])
        assert seen[PT] == "vxlan" and seen[PP] is None
        assert 1000 <= seen[PS] <= 99999
        vnis.append(seen[PS])
    assert len(set(vnis)) == 5


@pytest.fixture
def tiny_ml2(make_api):
    """An app whose tenant ranges hold 2 VNIs then 2 VLANs (used by no one else)."""
    return make_api({"ml2": {"tenant_network_types": "vxlan,vlan"},
                     "ml2_type_vxlan": {"vni_ranges": "7000000:7000001"},
                     "ml2_type_vlan": {"network_vlan_ranges": "physexh:10:11"}})


def test_exhaustion_falls_back_then_503(tiny_ml2):
    api = tiny_ml2
    member = api.project()
    nets = [member.network() for _ in range(4)]
    segs = [segment(api.admin.show("networks", n["id"])) for n in nets]
    assert sorted(segs[:2]) == [("vxlan", None, 7000000), ("vxlan", None, 7000001)]
    assert sorted(segs[2:]) == [("vlan", "physexh", 10), ("vlan", "physexh", 11)]
    # vlan networks have the physical MTU, vxlan 50 bytes less.
    assert [n["mtu"] for n in nets] == [1450, 1450, 1500, 1500]
    expect(post_net(member), 503, "NoNetworkAvailable",
           "Unable to create the network. No tenant network is available for allocation.")
    # Releasing a VNI makes it available again, and vxlan is preferred.
    freed = segs[0]
    member.remove("networks", nets[0]["id"])
    again = api.admin.show("networks", member.network()["id"])
    assert segment(again) == freed
    expect(post_net(member), 503, "NoNetworkAvailable")
    # Admin provider requests still work (outside the tenant ranges).
    vni = next_vni()
    net = api.admin.network(**{PT: "vxlan", PS: vni})
    assert segment(net) == ("vxlan", None, vni)
    # And a partial request for the exhausted type is 503 too.
    expect(post_net(api.admin, **{PT: "vxlan"}), 503, "NoNetworkAvailable")
    expect(post_net(api.admin, **{PT: "vlan", PP: "physexh"}), 503, "NoNetworkAvailable")


def test_single_type_exhaustion_503(make_api):
    api = make_api({"ml2_type_vxlan": {"vni_ranges": "7000010:7000010"}})
    member = api.project()
    member.network()
    expect(post_net(member), 503, "NoNetworkAvailable")


def test_admin_provider_networks(api):
    vlan_id, vni, phys = next_vlan(), next_vni(), rand("phys")
    vlan = api.admin.network(**{PT: "vlan", PP: "physnet1", PS: vlan_id})
    assert segment(vlan) == ("vlan", "physnet1", vlan_id)
    assert vlan["mtu"] == 1500
    assert segment(api.admin.show("networks", vlan["id"])) == ("vlan", "physnet1", vlan_id)
    # A bare label in network_vlan_ranges: admin-only, any id.
    vlan2 = api.admin.network(**{PT: "vlan", PP: "physnet2", PS: vlan_id})
    assert segment(vlan2) == ("vlan", "physnet2", vlan_id)
    # Partial vlan request: an id from physnet1's range.
    partial = api.admin.network(**{PT: "vlan", PP: "physnet1"})
    assert partial[PP] == "physnet1" and 1000 <= partial[PS] <= 1500
    flat = api.admin.network(**{PT: "flat", PP: phys})
    assert segment(flat) == ("flat", phys, None)
    vx = api.admin.network(**{PT: "vxlan", PS: vni})
    assert segment(vx) == ("vxlan", None, vni)
    assert vx["mtu"] == 1450
    vx_partial = api.admin.network(**{PT: "vxlan"})
    assert 1000 <= vx_partial[PS] <= 99999
    local = api.admin.network(**{PT: "local"})
    assert segment(local) == ("local", None, None)
    # Filters on provider attributes (admin).
    listed = api.admin.list("networks", params={PT: "vlan", PS: str(vlan_id)})
    assert {n["id"] for n in listed} == {vlan["id"], vlan2["id"]}
    listed = api.admin.list("networks", params={PP: phys})
    assert [n["id"] for n in listed] == [flat["id"]]
    # The tenant persona of the owner still does not see provider:*.
    owner = api.admin.network(**{PT: "vxlan", PS: next_vni()}, project_id=api.project_a)
    assert PT not in api.member_a.show("networks", owner["id"])


def test_segment_conflicts_409(api):
    vlan_id, vni, phys = next_vlan(), next_vni(), rand("phys")
    api.admin.network(**{PT: "vlan", PP: "physnet1", PS: vlan_id})
    expect(post_net(api.admin, **{PT: "vlan", PP: "physnet1", PS: vlan_id}), 409,
           "VlanIdInUse", f"Unable to create the network. The VLAN {vlan_id} on physical "
           "network physnet1 is in use.")
    api.admin.network(**{PT: "vxlan", PS: vni})
    expect(post_net(api.admin, **{PT: "vxlan", PS: vni}), 409, "TunnelIdInUse",
           f"Unable to create the network. The tunnel ID {vni} is in use.")
    api.admin.network(**{PT: "flat", PP: phys})
    expect(post_net(api.admin, **{PT: "flat", PP: phys}), 409, "FlatNetworkInUse",
           f"Unable to create the flat network. Physical network {phys} is in use.")
    # A failed create leaves no network behind.
    assert api.admin.list("networks", params={PP: phys}).__len__() == 1


def test_segment_freed_on_delete_and_reusable(api):
    vlan_id, vni, phys = next_vlan(), next_vni(), rand("phys")
    for _ in range(2):
        nets = [api.admin.network(**{PT: "vlan", PP: "physnet1", PS: vlan_id}),
                api.admin.network(**{PT: "vxlan", PS: vni}),
                api.admin.network(**{PT: "flat", PP: phys})]
        for net in nets:
            api.admin.remove("networks", net["id"])


@pytest.mark.parametrize("attrs,message", [
    ({PT: "gre"}, "Invalid input for operation: network_type value 'gre' not supported."),
    ({PT: "geneve"}, "Invalid input for operation: network_type value 'geneve' not supported."),
    ({PT: "vlan", PP: "physnet1", PS: 4095},
     "Invalid input for operation: segmentation_id out of range (1 through 4094)."),
    ({PT: "vlan", PP: "physnet1", PS: 0},
     "Invalid input for operation: segmentation_id out of range (1 through 4094)."),
    ({PT: "vlan", PP: "nosuch", PS: 100},
     "Invalid input for operation: physical_network 'nosuch' unknown for VLAN provider "
     "network."),
    ({PT: "vxlan", PP: "physnet1"},
     "Invalid input for operation: provider:physical_network specified for vxlan network."),
    ({PT: "vxlan", PS: "abc"}, "Invalid input for operation: 'abc' is not an integer."),
    ({PT: "flat"},
     "Invalid input for operation: physical_network required for flat provider network."),
])
def test_provider_validation_400(api, attrs, message):
    expect(post_net(api.admin, **attrs), 400, "InvalidInput", message)


@pytest.mark.parametrize("vni", [16777216, -1, 0])
def test_vni_outside_24_bits_400(api, vni):
    # Documented deviation: upstream accepts 16777216 and -1 (201).
    expect(post_net(api.admin, **{PT: "vxlan", PS: vni}), 400, "InvalidInput",
           "Invalid input for operation: segmentation_id out of range (1 through 16777215).")


def test_vni_outside_configured_range_is_fine_for_admin(api):
    net = api.admin.network(**{PT: "vxlan", PS: 16777215})
    assert net[PS] == 16777215


def test_flat_with_segmentation_id_message(api):
    expect(post_net(api.admin, **{PT: "flat", PP: rand("phys"), PS: 5}), 400, "InvalidInput",
           "Invalid input for operation: segmentation_id prohibited for flat provider "
           "network.")


def test_vlan_id_without_physnet_message(api):
    expect(post_net(api.admin, **{PT: "vlan", PS: 100}), 400, "InvalidInput",
           "Invalid input for operation: segmentation_id requires physical_network for VLAN "
           "provider network.")


def test_vlan_physnet_without_range_needs_id_503(api):
    # physnet2 is a bare label: no tenant range, so a partial request has nothing to pick.
    expect(post_net(api.admin, **{PT: "vlan", PP: "physnet2"}), 503, "NoNetworkAvailable")


def test_type_not_in_type_drivers_400(make_api):
    api = make_api({"ml2": {"type_drivers": "vxlan,vlan", "tenant_network_types": "vxlan"}})
    expect(post_net(api.admin, **{PT: "flat", PP: rand("phys")}), 400, "InvalidInput",
           "Invalid input for operation: network_type value 'flat' not supported.")
    expect(post_net(api.admin, **{PT: "local"}), 400, "InvalidInput")


def test_local_tenant_networks(make_api):
    api = make_api({"ml2": {"tenant_network_types": "local"}})
    net = api.member_a.network()
    assert net["mtu"] == 1500
    assert segment(api.admin.show("networks", net["id"])) == ("local", None, None)


def test_member_cannot_set_provider_attributes_403(api):
    for attrs, rule in (({PT: "vxlan"}, "provider:network_type"),
                        ({PT: "vlan", PP: "physnet1"}, None),
                        ({PS: 5}, "provider:segmentation_id")):
        resp = post_net(api.member_a, **attrs)
        err = expect(resp, 403, "PolicyNotAuthorized")
        if rule:
            assert f"rule:create_network:{rule}" in err["message"]
    err = expect(post_net(api.member_a, **{PT: "vxlan"}), 403, "PolicyNotAuthorized",
                 "(rule:create_network and rule:create_network:provider:network_type) is "
                 "disallowed by policy")
    net = api.member_a.network()
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {PS: 7}}), 403,
           "PolicyNotAuthorized",
           "(rule:update_network and rule:update_network:provider:segmentation_id) is "
           "disallowed by policy")
