"""Behaviours tempest checks (conformance/known_failures.yaml had them as
differences from upstream): each test states the upstream answer."""
from __future__ import annotations

from tests.api.helpers import expect, fault, rand


def test_subnets_filter_by_shared(api):
    shared = api.admin.network(shared=True)
    private = api.admin.network()
    s1 = api.admin.subnet(shared["id"], "10.71.0.0/24")
    s2 = api.admin.subnet(private["id"], "10.72.0.0/24")
    on = {s["id"] for s in api.admin.list("subnets", {"shared": "True"})}
    off = {s["id"] for s in api.admin.list("subnets", {"shared": "False"})}
    assert s1["id"] in on and s1["id"] not in off
    assert s2["id"] in off and s2["id"] not in on
    assert "shared" not in s1  # a filter, not an attribute


def test_previous_link_past_the_last_page(api):
    tag = rand("tag")
    nets = [api.member_a.network(tags=[tag]) for _ in range(2)]
    last = sorted(n["id"] for n in nets)[-1]
    body = expect(api.member_a.get("networks", params={"tags": tag, "limit": 2,
                                                        "marker": last}), 200)
    assert body["networks"] == []
    links = {link["rel"]: link["href"] for link in body["networks_links"]}
    assert set(links) == {"previous"}
    # Back from past the end: the collection's last page, as tempest walks it.
    back = expect(api.member_a.get(links["previous"]), 200)["networks"]
    assert [n["id"] for n in back] == sorted(n["id"] for n in nets)


def test_bulk_items_wrapped_in_the_singular_key(api):
    names = [rand("sg"), rand("sg")]
    body = expect(api.member_a.post("security-groups", {"security_groups": [
        {"security_group": {"name": n}} for n in names]}), 201)
    assert [g["name"] for g in body["security_groups"]] == names


def test_if_match_revision(api):
    net = api.member_a.network()
    stale = f"revision_number={net['revision_number'] - 1}"
    resp = api.member_a.put(f"networks/{net['id']}", {"network": {"name": "x"}},
                            headers={"If-Match": stale})
    expect(resp, 412, "RevisionNumberConstraintFailed")
    fresh = f"revision_number={net['revision_number']}"
    resp = api.member_a.put(f"networks/{net['id']}", {"network": {"name": "y"}},
                            headers={"If-Match": fresh})
    assert expect(resp, 200)["network"]["name"] == "y"


def test_subnet_needs_the_ip_versions_minimum_mtu(api):
    net = api.admin.network(mtu=67)
    expect(api.admin.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                                 "cidr": "10.73.0.0/24"}}), 409)
    net6 = api.admin.network(mtu=1279)
    expect(api.admin.post("subnets", {"subnet": {"network_id": net6["id"], "ip_version": 6,
                                                 "cidr": "2001:db8:73::/64"}}), 409)
    ok = api.admin.network(mtu=1280)
    api.admin.subnet(ok["id"], "10.74.0.0/24")
    expect(api.admin.put(f"networks/{ok['id']}", {"network": {"mtu": 67}}), 409)


def test_slaac_subnet_deleted_with_its_derived_addresses(api):
    net = api.member_a.network()
    v4 = api.member_a.subnet(net["id"], "10.75.0.0/24")
    v6 = api.member_a.subnet(net["id"], "2001:db8:75::/64", ipv6_ra_mode="slaac",
                             ipv6_address_mode="slaac")
    port = api.member_a.port(net["id"])
    assert {f["subnet_id"] for f in port["fixed_ips"]} == {v4["id"], v6["id"]}
    api.member_a.remove("subnets", v6["id"])
    after = api.member_a.show("ports", port["id"])
    assert [f["subnet_id"] for f in after["fixed_ips"]] == [v4["id"]]
    expect(api.member_a.delete(f"subnets/{v4['id']}"), 409, "SubnetInUse")


def test_allowed_address_pairs_need_the_network_owner(api):
    net = api.admin.network(shared=True)
    api.admin.subnet(net["id"], "10.76.0.0/24")
    resp = api.member_b.post("ports", {"port": {
        "network_id": net["id"], "allowed_address_pairs": [{"ip_address": "10.76.0.200"}]}})
    expect(resp, 403, "PolicyNotAuthorized")
    port = api.member_b.port(net["id"])
    resp = api.member_b.put(f"ports/{port['id']}", {"port": {
        "allowed_address_pairs": [{"ip_address": "10.76.0.200"}]}})
    expect(resp, 403, "PolicyNotAuthorized")


def test_security_group_rule_protocol_checks(api):
    group = api.member_a.create("security-groups", name=rand("sg"))

    def rule(**attrs):
        return api.member_a.post("security-group-rules", {"security_group_rule": {
            "security_group_id": group["id"], "direction": "ingress", **attrs}})
    expect(rule(protocol="bad_protocol_name"), 400, "SecurityGroupRuleInvalidProtocol")
    expect(rule(protocol="ipv6-frag", ethertype="IPv4"), 400)
    expect(rule(protocol="44", ethertype="IPv4"), 400)
    resp = rule(protocol="icmp", port_range_min=8, port_range_max=256)
    assert "Invalid value for ICMP code (port-range-max): 256" in fault(resp)["message"]
    expect(rule(protocol="tcp", remote_group_id="bad_group_id"), 404, "SecurityGroupNotFound")


def test_default_group_cannot_be_renamed(api):
    default = [g for g in api.member_a.list("security-groups") if g["name"] == "default"][0]
    resp = api.member_a.put(f"security-groups/{default['id']}",
                            {"security_group": {"name": rand("x")}})
    expect(resp, 409, "SecurityGroupCannotUpdateDefault")


def test_stateful_and_stateless_groups_do_not_mix(api):
    net, _ = api.member_a.net_with_subnet("10.77.0.0/24")
    stateful = api.member_a.create("security-groups", name=rand("sg"))
    stateless = api.member_a.create("security-groups", name=rand("sg"), stateful=False)
    resp = api.member_a.post("ports", {"port": {
        "network_id": net["id"], "security_groups": [stateful["id"], stateless["id"]]}})
    expect(resp, 409)
    port = api.member_a.port(net["id"], security_groups=[stateful["id"]])
    resp = api.member_a.put(f"security-groups/{stateful['id']}",
                            {"security_group": {"stateful": False}})
    expect(resp, 409, "SecurityGroupInUse")
    api.member_a.remove("ports", port["id"])


def test_quota_update_accepts_force(api):
    project = api.project().project_id
    resp = api.admin.put(f"quotas/{project}", {"quota": {"network": 7, "force": True}})
    assert expect(resp, 200)["quota"]["network"] == 7


def test_external_network_deleted_with_its_floating_ips(api):
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    fip = api.admin.create("floatingips", floating_network_id=ext["id"])
    api.admin.remove("networks", ext["id"])
    expect(api.admin.get(f"floatingips/{fip['id']}"), 404)
    expect(api.admin.get("ports", params={"network_id": ext["id"]}), 200)


def test_renaming_a_group_to_default_conflicts(api):
    group = api.member_a.create("security-groups", name=rand("sg"))
    resp = api.member_a.put(f"security-groups/{group['id']}",
                            {"security_group": {"name": "default"}})
    expect(resp, 409, "SecurityGroupDefaultAlreadyExists")


def test_quota_below_usage_needs_force(api):
    member = api.project()
    member.create("security-groups", name=rand("sg"))
    project = member.project_id
    resp = api.admin.put(f"quotas/{project}", {"quota": {"security_group": 1}})
    expect(resp, 400)  # the default group and one more are in use
    resp = api.admin.put(f"quotas/{project}", {"quota": {"security_group": 1, "force": True}})
    assert expect(resp, 200)["quota"]["security_group"] == 1


def test_group_creation_counts_its_default_rules(api):
    member = api.project()
    member.list("security-groups")  # the default group and its 4 rules
    expect(api.admin.put(f"quotas/{member.project_id}",
                         {"quota": {"security_group_rule": 5, "force": True}}), 200)
    resp = member.post("security-groups", {"security_group": {"name": rand("sg")}})
    expect(resp, 409, "OverQuota")


def test_quota_values_out_of_range(api):
    project = api.project().project_id
    for value in (-2, 2 ** 31, "value"):
        expect(api.admin.put(f"quotas/{project}", {"quota": {"security_group": value}}), 400)
