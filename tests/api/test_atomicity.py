"""A failed request leaves nothing behind; bulk creates are all or nothing."""
from __future__ import annotations

from tests.api.helpers import expect, next_vlan, rand


def port_ids(persona, network_id):
    return {p["id"] for p in persona.list("ports", params={"network_id": network_id})}


def test_port_with_one_good_one_taken_ip(api):
    net, sub = api.member_a.net_with_subnet("10.160.0.0/24")
    holder = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.160.0.20"}])
    resp = api.member_a.post("ports", {"port": {"network_id": net["id"], "name": "bad",
                                                "fixed_ips": [{"ip_address": "10.160.0.10"},
                                                              {"ip_address": "10.160.0.20"}]}})
    expect(resp, 409, "IpAddressAlreadyAllocated")
    assert port_ids(api.member_a, net["id"]) == {holder["id"]}
    assert api.member_a.list("ports", params={"name": "bad", "network_id": net["id"]}) == []
    # The good address was not kept.
    again = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.160.0.10"}])
    assert again["fixed_ips"][0]["ip_address"] == "10.160.0.10"


def test_port_with_bad_security_group_leaves_nothing(api):
    net, sub = api.member_a.net_with_subnet("10.161.0.0/24")
    resp = api.member_a.post("ports", {"port": {
        "network_id": net["id"], "fixed_ips": [{"ip_address": "10.161.0.10"}],
        "security_groups": ["6bdecb4b-429a-4947-8190-10abc831ed83"]}})
    expect(resp, 404, "SecurityGroupNotFound")
    assert port_ids(api.member_a, net["id"]) == set()
    api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.161.0.10"}])


def test_port_with_bad_address_pair_leaves_nothing(api):
    net, sub = api.member_a.net_with_subnet("10.162.0.0/24")
    resp = api.member_a.post("ports", {"port": {
        "network_id": net["id"], "fixed_ips": [{"ip_address": "10.162.0.10"}],
        "allowed_address_pairs": [{"ip_address": "10.0.0.1"}, {"ip_address": "10.0.0.1"}]}})
    expect(resp, 400)
    assert port_ids(api.member_a, net["id"]) == set()
    api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.162.0.10"}])


def test_bulk_ports_second_fails_none_created(api):
    net, sub = api.member_a.net_with_subnet("10.163.0.0/24")
    holder = api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.163.0.20"}])
    resp = api.member_a.post("ports", {"ports": [
        {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.163.0.10"}]},
        {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.163.0.20"}]},
        {"network_id": net["id"]}]})
    expect(resp, 409, "IpAddressAlreadyAllocated")
    assert port_ids(api.member_a, net["id"]) == {holder["id"]}
    api.member_a.port(net["id"], fixed_ips=[{"ip_address": "10.163.0.10"}])


def test_bulk_networks_second_fails_none_created(api):
    vlan = next_vlan()
    taken = api.admin.network(**{"provider:network_type": "vlan",
                                 "provider:physical_network": "physnet1",
                                 "provider:segmentation_id": vlan})
    project = api.project().project_id
    resp = api.admin.post("networks", {"networks": [
        {"name": rand(), "project_id": project},
        {"name": rand(), "project_id": project, "provider:network_type": "vlan",
         "provider:physical_network": "physnet1", "provider:segmentation_id": vlan},
    ]})
    expect(resp, 409, "VlanIdInUse")
    assert api.admin.list("networks", params={"project_id": project}) == []
    del taken


def test_bulk_invalid_item_none_created(api):
    member = api.project()
    resp = member.post("networks", {"networks": [{"name": "ok"}, {"admin_state_up": "x"}]})
    expect(resp, 400, "InvalidInput")
    assert member.list("networks", params={"project_id": member.project_id}) == []
    resp = member.post("networks", {"networks": [{"name": "ok"}, {"shared": True}]})
    expect(resp, 403, "PolicyNotAuthorized")
    assert member.list("networks", params={"project_id": member.project_id}) == []


def test_bulk_success(api):
    member = api.project()
    body = expect(member.post("networks", {"networks": [{"name": "b1"}, {"name": "b2"}]}), 201)
    assert [n["name"] for n in body["networks"]] == ["b1", "b2"]
    net = body["networks"][0]
    subs = expect(member.post("subnets", {"subnets": [
        {"network_id": net["id"], "ip_version": 4, "cidr": "10.164.0.0/24"},
        {"network_id": net["id"], "ip_version": 4, "cidr": "10.165.0.0/24"}]}), 201)
    assert len(subs["subnets"]) == 2
    ports = expect(member.post("ports", {"ports": [{"network_id": net["id"]}] * 3}), 201)
    ips = {p["fixed_ips"][0]["ip_address"] for p in ports["ports"]}
    assert len(ips) == 3


def test_bulk_over_quota_none_created(api):
    member = api.project()
    expect(api.admin.put(f"quotas/{member.project_id}", {"quota": {"network": 2}}), 200)
    resp = member.post("networks", {"networks": [{"name": "q1"}, {"name": "q2"},
                                                 {"name": "q3"}]})
    expect(resp, 409, "OverQuota")
    assert member.list("networks", params={"project_id": member.project_id}) == []


def test_failed_subnet_create_leaves_nothing(api):
    net = api.member_a.network()
    resp = api.member_a.post("subnets", {"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": "10.166.0.0/24",
        "allocation_pools": [{"start": "10.166.0.10", "end": "10.166.1.10"}]}})
    expect(resp, 400, "OutOfBoundsAllocationPool")
    assert api.member_a.show("networks", net["id"])["subnets"] == []
    assert api.member_a.list("subnets", params={"network_id": net["id"]}) == []
    # The revision did not move either.
    assert api.member_a.show("networks", net["id"])["revision_number"] == net["revision_number"]


def test_failed_update_changes_nothing(api):
    net, sub = api.member_a.net_with_subnet("10.167.0.0/24")
    port = api.member_a.port(net["id"], name="before")
    other = api.member_a.port(net["id"])
    resp = api.member_a.put(f"ports/{port['id']}", {"port": {
        "name": "after", "fixed_ips": [{"ip_address": other["fixed_ips"][0]["ip_address"]}]}})
    expect(resp, 409, "IpAddressAlreadyAllocated")
    now = api.member_a.show("ports", port["id"])
    assert now["name"] == "before"
    assert now["fixed_ips"] == port["fixed_ips"]
    assert now["revision_number"] == port["revision_number"]
    resp = api.member_a.put(f"subnets/{sub['id']}", {"subnet": {
        "name": "after", "allocation_pools": [{"start": "10.167.0.1", "end": "10.167.0.9"}]}})
    expect(resp, 409, "GatewayConflictWithAllocationPools")
    assert api.member_a.show("subnets", sub["id"]) == api.member_a.show("subnets", sub["id"])
    assert api.member_a.show("subnets", sub["id"])["name"] == sub["name"]
