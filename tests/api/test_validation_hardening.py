"""Issue 11, bad input: every attribute is checked by type and range before
anything is stored, as neutron-lib's converters and validators do (same
status, fault type and message), and input no database can hold (NUL
characters, integers beyond its columns, thousands of filter values) is a
400, never a 500. Each case also shows that nothing was stored."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


def post(persona, collection, **attrs):
    singular = collection.replace("-", "_")[:-1]
    return persona.post(collection, {singular: attrs})


def names(persona, collection, name):
    return [x["id"] for x in persona.list(collection, params={"name": name})]


def rules_of(persona, group_id):
    return persona.list("security-group-rules", params={"security_group_id": group_id})


@pytest.fixture
def ext_net(api):
    net = api.admin.network(**{"router:external": True})
    api.admin.subnet(net["id"], "198.51.100.0/24")
    return net


# --- security group rules ----------------------------------------------------------

@pytest.mark.parametrize("prefix, shown", [(5, "5"), (True, "True"), (0, "0"),
                                           (False, "False"), (["10.0.0.0/8"], "['10.0.0.0/8']"),
                                           ("10.0.0.1/99", "10.0.0.1/99"),
                                           ("10.0.0.0 /8", "10.0.0.0 /8")])
def test_remote_ip_prefix_not_a_cidr_400_and_no_rule(api, prefix, shown):
    sg = api.member_a.create("security-groups", name=rand("sg"))
    before = rules_of(api.member_a, sg["id"])
    expect(post(api.member_a, "security-group-rules", security_group_id=sg["id"],
                direction="ingress", protocol="tcp", remote_ip_prefix=prefix), 400,
           "InvalidCIDR", f"Invalid CIDR {shown} given as IP prefix.")
    assert rules_of(api.member_a, sg["id"]) == before


def test_remote_ip_prefix_stored_as_upstream(api):
    """convert_ip_prefix_to_cidr: an address gets its length, "" is none."""
    sg = api.member_a.create("security-groups", name=rand("sg"))
    rule = expect(post(api.member_a, "security-group-rules", security_group_id=sg["id"],
                       direction="ingress", protocol="udp", remote_ip_prefix="10.1.2.3"),
                  201)["security_group_rule"]
    assert (rule["remote_ip_prefix"], rule["normalized_cidr"]) == ("10.1.2.3/32", "10.1.2.3/32")
    rule = expect(post(api.member_a, "security-group-rules", security_group_id=sg["id"],
                       direction="ingress", protocol="tcp", remote_ip_prefix=""),
                  201)["security_group_rule"]
    assert rule["remote_ip_prefix"] is None


def test_remote_group_id_empty_400(api):
    sg = api.member_a.create("security-groups", name=rand("sg"))
    before = rules_of(api.member_a, sg["id"])
    expect(post(api.member_a, "security-group-rules", security_group_id=sg["id"],
                direction="ingress", remote_group_id=""), 400, "HTTPBadRequest",
           "Invalid input for remote_group_id. Reason: '' is not a valid UUID.")
    expect(post(api.member_a, "security-group-rules", security_group_id=sg["id"],
                direction="ingress", remote_group_id=7), 400, "HTTPBadRequest",
           "Invalid input for remote_group_id. Reason: '7' is not a valid string.")
    assert rules_of(api.member_a, sg["id"]) == before


@pytest.mark.parametrize("attrs, status, kind, message", [
    ({"protocol": "tcp", "port_range_min": 2**31, "port_range_max": 2**31}, 400,
     "SecurityGroupInvalidPortValue", f"Invalid value for port {2**31}"),
    ({"protocol": "tcp", "port_range_min": -1, "port_range_max": 80}, 400,
     "SecurityGroupInvalidPortValue", "Invalid value for port -1"),
    ({"protocol": "tcp", "port_range_min": "abc", "port_range_max": 80}, 400,
     "SecurityGroupInvalidPortValue", "Invalid value for port abc"),
    ({"ethertype": "ipv5"}, 400, "SecurityGroupRuleInvalidEtherType",
     "Security group rule for ethertype 'ipv5' not supported. Allowed values are "
     "['IPv4', 'IPv6']."),
])
def test_rule_ports_and_ethertype_checked_before_storing(api, attrs, status, kind, message):
    sg = api.member_a.create("security-groups", name=rand("sg"))
    before = rules_of(api.member_a, sg["id"])
    expect(post(api.member_a, "security-group-rules", security_group_id=sg["id"],
                direction="ingress", **attrs), status, kind, message)
    assert rules_of(api.member_a, sg["id"]) == before


def test_ethertype_case_insensitive(api):
    sg = api.member_a.create("security-groups", name=rand("sg"))
    rule = expect(post(api.member_a, "security-group-rules", security_group_id=sg["id"],
                       direction="egress", protocol="tcp", ethertype="ipv6"),
                  201)["security_group_rule"]
    assert rule["ethertype"] == "IPv6"


# --- ports ---------------------------------------------------------------------------

@pytest.mark.parametrize("address, message", [
    ("10.0.0.1/99", "'10.0.0.1/99' is not a valid IP subnet"),
    ("10.0.0.1/-1", "'10.0.0.1/-1' is not a valid IP subnet"),
    ("10.0.0.1/abc", "'10.0.0.1/abc' is not a valid IP subnet"),
    ("2001:db8::/129", "'2001:db8::/129' is not a valid IP subnet"),
    ("10.0.0.01", "'10.0.0.01' is not an accepted IP address, '10.0.0.1' is recommended"),
    (5, "'5' is not a valid IP address"),
    ("224.0.0.5", "IP 224.0.0.5 is a multicast address, which is not supported."),
])
def test_allowed_address_pair_bad_ip_400_nothing_stored(api, address, message):
    net, _ = api.member_a.net_with_subnet("10.201.0.0/24")
    name = rand("port")
    expect(post(api.member_a, "ports", network_id=net["id"], name=name,
                allowed_address_pairs=[{"ip_address": address}]), 400, "HTTPBadRequest",
           message)
    assert names(api.member_a, "ports", name) == []
    port = api.member_a.port(net["id"], allowed_address_pairs=[{"ip_address": "10.201.0.99"}])
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {
        "allowed_address_pairs": [{"ip_address": address}]}}), 400, "HTTPBadRequest", message)
    assert api.member_a.show("ports", port["id"])["allowed_address_pairs"] == \
        port["allowed_address_pairs"]


@pytest.mark.parametrize("pairs, status, kind, message", [
    ("10.0.0.1", 400, "HTTPBadRequest", "Allowed address pairs must be a list."),
    ([{"mac_address": "fa:16:3e:00:00:01"}], 400, "AllowedAddressPairsMissingIP",
     "AllowedAddressPair must contain ip_address"),
    ([{"ip_address": "10.0.0.9", "mac_address": "01:00:5e:00:00:01"}], 400, "HTTPBadRequest",
     "'01:00:5e:00:00:01' is not a valid MAC address"),
    ([{"ip_address": "10.0.0.9"}, {"ip_address": "10.0.0.9"}], 400,
     "DuplicateAddressPairInRequest",
     "Request contains duplicate address pair: mac_address None ip_address 10.0.0.9."),
    ([{"ip_address": "10.0.0.9", "foo": 1}], 400, "HTTPBadRequest",
     "Unrecognized attribute(s) 'foo'"),
    ([{"ip_address": f"10.0.1.{i}"} for i in range(11)], 400, "AllowedAddressPairExhausted",
     "Bad request: The number of allowed address pair exceeds the maximum 10."),
])
def test_allowed_address_pairs_shape(api, pairs, status, kind, message):
    net, _ = api.member_a.net_with_subnet("10.202.0.0/24")
    name = rand("port")
    err = expect(post(api.member_a, "ports", network_id=net["id"], name=name,
                      allowed_address_pairs=pairs), status, kind)
    # AllowedAddressPairExhausted is a BadRequest: upstream words it without the "Bad x"
    assert err["message"] == message.removeprefix("Bad request: ")
    assert names(api.member_a, "ports", name) == []


def test_port_security_enabled_null_400(api):
    net, _ = api.member_a.net_with_subnet("10.203.0.0/24")
    name = rand("port")
    expect(post(api.member_a, "ports", network_id=net["id"], name=name,
                port_security_enabled=None), 400, "InvalidInput",
           "Invalid input for operation: 'None' cannot be converted to boolean.")
    assert names(api.member_a, "ports", name) == []
    port = api.member_a.port(net["id"])
    expect(api.member_a.put(f"ports/{port['id']}", {"port": {"port_security_enabled": None}}),
           400, "InvalidInput")
    after = api.member_a.show("ports", port["id"])
    assert after["port_security_enabled"] is True and after["revision_number"] == \
        port["revision_number"]


@pytest.mark.parametrize("attrs, message", [
    ({"fixed_ips": "10.204.0.5"}, "Invalid input for fixed_ips. Reason: Invalid data format "
                                  "for fixed IP: '10.204.0.5'."),
    ({"fixed_ips": [{"ip_address": 5}]}, "Invalid input for fixed_ips. Reason: '5' is not a "
                                         "valid IP address."),
    ({"security_groups": "default"}, "Invalid input for security_groups. Reason: 'default' "
                                     "is not a list."),
    ({"binding:profile": "x"}, "Invalid input for binding:profile. Reason: 'x' is not a "
                               "dictionary."),
    ({"name": "a\nb"}, "Invalid input for name. Reason: 'a\nb' is not a valid string."),
    ({"name": " lead"}, "Invalid input for name. Reason: ' lead' is not a valid string."),
    ({"device_owner": 5}, "Invalid input for device_owner. Reason: '5' is not a valid string."),
])
def test_port_attribute_types(api, attrs, message):
    net, _ = api.member_a.net_with_subnet("10.204.0.0/24")
    before = api.member_a.list("ports", params={"network_id": net["id"]})
    expect(post(api.member_a, "ports", network_id=net["id"], **attrs), 400, "HTTPBadRequest",
           message)
    assert api.member_a.list("ports", params={"network_id": net["id"]}) == before


def test_port_mac_address_null_is_generated(api):
    """port-mac-address-regenerate makes mac_address nullable (upstream's
    mac_address_or_none): null on create is a generated MAC, not a 400."""
    net, _ = api.member_a.net_with_subnet("10.204.0.0/24")
    port = expect(post(api.member_a, "ports", network_id=net["id"], mac_address=None), 201)
    assert port["port"]["mac_address"].startswith("fa:16:3e:")


# --- networks and subnets --------------------------------------------------------------

@pytest.mark.parametrize("attrs, kind, message", [
    ({"mtu": -1}, "HTTPBadRequest", "Invalid input for mtu. Reason: '-1' should be "
                                    "non-negative."),
    ({"mtu": "abc"}, "InvalidInput", "Invalid input for operation: 'abc' is not an integer."),
    ({"mtu": None}, "InvalidInput", "Invalid input for operation: 'None' is not an integer."),
    ({"mtu": 2**31}, "HTTPBadRequest", f"Invalid input for mtu. Reason: '{2**31}' is too "
                                       f"large - must be no larger than '{2**31 - 1}'."),
    ({"availability_zone_hints": "nova"}, "HTTPBadRequest",
     "Invalid input for availability_zone_hints. Reason: 'nova' is not a list."),
    ({"availability_zone_hints": [5]}, "HTTPBadRequest",
     "Invalid input for availability_zone_hints. Reason: '5' is not a valid string."),
    ({"availability_zone_hints": ["a", "a"]}, "HTTPBadRequest",
     "Invalid input for availability_zone_hints. Reason: Duplicate items in the list: 'a'."),
    ({"availability_zone_hints": [f"zone-{i:03d}" for i in range(40)]}, "InvalidInput",
     "Invalid input for operation: Too many availability_zone_hints specified."),
    ({"admin_state_up": "maybe"}, "InvalidInput",
     "Invalid input for operation: 'maybe' cannot be converted to boolean."),
    ({"shared": None}, "InvalidInput",
     "Invalid input for operation: 'None' cannot be converted to boolean."),
])
def test_network_attribute_types(api, attrs, kind, message):
    name = rand("net")
    expect(post(api.admin, "networks", name=name, **attrs), 400, kind, message)
    assert names(api.admin, "networks", name) == []


def test_network_mtu_update_negative_leaves_it(api):
    net = api.member_a.network()
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {"mtu": -1}}), 400,
           "HTTPBadRequest", "Invalid input for mtu. Reason: '-1' should be non-negative.")
    assert api.member_a.show("networks", net["id"])["mtu"] == net["mtu"]


def test_segmentation_id_beyond_the_column_400(api):
    name = rand("net")
    for kind in ("vxlan", "local"):
        expect(post(api.admin, "networks", name=name, **{
            "provider:network_type": kind, "provider:segmentation_id": 2**40}), 400,
               "HTTPBadRequest", f"Invalid input for provider:segmentation_id. Reason: "
                                 f"'{2**40}' is too large - must be no larger than '{2**31 - 1}'.")
    assert names(api.admin, "networks", name) == []


@pytest.mark.parametrize("attrs, status, kind, message", [
    ({"gateway_ip": 5}, 400, "HTTPBadRequest",
     "Invalid input for gateway_ip. Reason: '5' is not a valid IP address."),
    ({"gateway_ip": "10.205.0.1 "}, 400, "HTTPBadRequest",
     "Invalid input for gateway_ip. Reason: '10.205.0.1 ' is not a valid IP address."),
    ({"service_types": "network:dhcp"}, 400, "HTTPBadRequest",
     "Subnet service types must be a list."),
    ({"service_types": [5]}, 400, "InvalidInputSubnetServiceType",
     "Subnet service type 5 is not a string."),
    ({"service_types": ["foo:bar"]}, 400, "InvalidSubnetServiceType",
     "Subnet service type foo:bar does not correspond to a valid device owner."),
    ({"segment_id": "abc"}, 400, "HTTPBadRequest",
     "Invalid input for segment_id. Reason: 'abc' is not a valid UUID."),
    ({"segment_id": 5}, 400, "HTTPBadRequest",
     "Invalid input for segment_id. Reason: '5' is not a valid UUID."),
    ({"prefixlen": "abc"}, 400, "InvalidInput",
     "Invalid input for operation: 'abc' is not an integer."),
    ({"prefixlen": -5}, 400, "HTTPBadRequest",
     "Invalid input for prefixlen. Reason: '-5' should be non-negative."),
    ({"dns_nameservers": "8.8.8.8"}, 400, "HTTPBadRequest",
     "Invalid input for dns_nameservers. Reason: Invalid data format for nameserver: "
     "'8.8.8.8'."),
    ({"allocation_pools": [{"start": "10.205.0.10"}]}, 400, "HTTPBadRequest",
     "Invalid input for allocation_pools. Reason: Validation of dictionary's keys failed. "
     "Expected keys: {'start', 'end'} Provided keys: {'start'}."),
    ({"host_routes": [{"destination": "127.0.0.0/8", "nexthop": "10.205.0.1"}]}, 400,
     "HTTPBadRequest", "Invalid input for host_routes. Reason: '127.0.0.0/8' is not a "
                       "routable CIDR."),
    ({"enable_dhcp": "sometimes"}, 400, "InvalidInput",
     "Invalid input for operation: 'sometimes' cannot be converted to boolean."),
    ({"cidr": 5}, 400, "HTTPBadRequest",
     "Invalid input for cidr. Reason: '5' is not a valid IP subnet."),
])
def test_subnet_attribute_types(api, attrs, status, kind, message):
    net = api.member_a.network()
    err = expect(post(api.member_a, "subnets", network_id=net["id"], ip_version=4,
                      **{"cidr": "10.205.0.0/24", **attrs}), status, kind)
    if "Expected keys" in message:     # a set's order is not fixed
        assert err["message"].startswith(message.split("{")[0]) and "'start'" in err["message"]
    else:
        assert err["message"] == message
    assert api.member_a.list("subnets", params={"network_id": net["id"]}) == []


def test_subnet_gateway_number_on_update_leaves_it(api):
    net, sub = api.member_a.net_with_subnet("10.206.0.0/24")
    expect(api.member_a.put(f"subnets/{sub['id']}", {"subnet": {"gateway_ip": 167772161}}),
           400, "HTTPBadRequest",
           "Invalid input for gateway_ip. Reason: '167772161' is not a valid IP address.")
    assert api.member_a.show("subnets", sub["id"])["gateway_ip"] == sub["gateway_ip"]


# --- routers ------------------------------------------------------------------------------

@pytest.mark.parametrize("info, kind, message", [
    (lambda net: {"network_id": net, "enable_snat": "maybe"}, "InvalidInput",
     "Invalid input for operation: 'maybe' cannot be converted to boolean."),
    (lambda net: {"network_id": net, "external_fixed_ips": "198.51.100.7"}, "HTTPBadRequest",
     "Invalid input for external_gateway_info. Reason: Invalid data format for fixed IP: "
     "'198.51.100.7'."),
    (lambda net: {"network_id": net, "external_fixed_ips": [{"ip_address": "x"}]},
     "HTTPBadRequest",
     "Invalid input for external_gateway_info. Reason: 'x' is not a valid IP address."),
    (lambda net: {"network_id": "abc"}, "HTTPBadRequest",
     "Invalid input for external_gateway_info. Reason: 'abc' is not a valid UUID."),
    (lambda net: {"network_id": net, "snat": True}, "HTTPBadRequest",
     "Invalid input for external_gateway_info. Reason: Unexpected keys supplied: snat."),
    (lambda net: "public", "HTTPBadRequest",
     "Invalid input for external_gateway_info. Reason: 'public' is not a dictionary."),
])
def test_router_gateway_info_checked(api, ext_net, info, kind, message):
    name = rand("router")
    expect(post(api.admin, "routers", name=name, external_gateway_info=info(ext_net["id"])),
           400, kind, message)
    assert names(api.admin, "routers", name) == []
    router = api.admin.create("routers", name=rand("router"))
    expect(api.admin.put(f"routers/{router['id']}", {"router": {
        "external_gateway_info": info(ext_net["id"])}}), 400, kind, message)
    after = api.admin.show("routers", router["id"])
    assert after["external_gateway_info"] is None
    assert after["revision_number"] == router["revision_number"]


def test_router_gateway_enable_snat_string_false_converted(api, ext_net):
    router = api.admin.create("routers", name=rand("router"), external_gateway_info={
        "network_id": ext_net["id"], "enable_snat": "false"})
    assert router["external_gateway_info"]["enable_snat"] is False


@pytest.mark.parametrize("routes, message", [
    ("x", "Invalid input for routes. Reason: Invalid data format for hostroute: 'x'."),
    ([{"destination": "10.9.0.0/16", "nexthop": 5}],
     "Invalid input for routes. Reason: '5' is not a valid IP address."),
    ([{"destination": "10.9.0.1/16", "nexthop": "10.0.0.1"}],
     "Invalid input for routes. Reason: '10.9.0.1/16' is not a valid CIDR."),
])
def test_router_routes_checked(api, routes, message):
    router = api.member_a.create("routers", name=rand("router"))
    expect(api.member_a.put(f"routers/{router['id']}", {"router": {"routes": routes}}), 400,
           "HTTPBadRequest", message)
    assert api.member_a.show("routers", router["id"])["routes"] == []


def test_router_az_hints_checked(api):
    name = rand("router")
    expect(post(api.member_a, "routers", name=name, availability_zone_hints="nova"), 400,
           "HTTPBadRequest",
           "Invalid input for availability_zone_hints. Reason: 'nova' is not a list.")
    assert names(api.member_a, "routers", name) == []


def test_floatingip_addresses_checked(api, ext_net):
    before = api.admin.list("floatingips", params={"floating_network_id": ext_net["id"]})
    expect(post(api.admin, "floatingips", floating_network_id=ext_net["id"],
                floating_ip_address=3325256709), 400, "HTTPBadRequest",
           "Invalid input for floating_ip_address. Reason: '3325256709' is not a valid IP "
           "address.")
    assert api.admin.list("floatingips", params={"floating_network_id": ext_net["id"]}) == \
        before


# --- NUL characters ------------------------------------------------------------------------

NUL_MSG = "NUL characters are not allowed."


def test_nul_in_body_400_nothing_stored(api):
    name = rand("net")
    expect(post(api.member_a, "networks", name=name + "\x00x"), 400, "HTTPBadRequest",
           f"Invalid input for name. Reason: {NUL_MSG}")
    expect(post(api.member_a, "networks", name=name, description="a\x00"), 400,
           "HTTPBadRequest", f"Invalid input for description. Reason: {NUL_MSG}")
    expect(post(api.member_a, "networks", name=name, tags=["t\x00"]), 400, "HTTPBadRequest")
    assert names(api.member_a, "networks", name) == []
    net = api.member_a.network()
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {"name": "x\x00"}}), 400,
           "HTTPBadRequest", f"Invalid input for name. Reason: {NUL_MSG}")
    assert api.member_a.show("networks", net["id"])["name"] == net["name"]


@pytest.mark.parametrize("method, path", [
    ("GET", "networks/abc%00"), ("DELETE", "ports/abc%00def"),
    ("PUT", "networks/x%00/tags/y"), ("GET", "security-groups/%00"),
    ("GET", "quotas/proj%00"), ("PUT", "routers/r%00/add_router_interface"),
])
def test_nul_in_path_400(api, method, path):
    body = {"subnet_id": "x"} if "router" in path else None
    resp = api.admin.request(method, path, json=body)
    expect(resp, 400, "HTTPBadRequest")
    assert NUL_MSG in resp.json()["NeutronError"]["message"]


@pytest.mark.parametrize("params", [{"name": "a\x00"}, {"id": "\x00"}, {"marker": "m\x00"},
                                    {"tags": "a\x00"}, {"fields": "id\x00"},
                                    {"sort_key": "name\x00"}])
def test_nul_in_query_400(api, params):
    expect(api.member_a.get("networks", params=params), 400, "HTTPBadRequest")


# --- integers beyond the database, limits, many filter values -------------------------------

@pytest.mark.parametrize("params", [
    {"mtu": str(2**31)}, {"mtu": str(2**63)}, {"revision_number": str(2**70)},
    {"mtu": ""}, {"mtu": "1e3"}, {"ip_version": str(-2**63 - 1)},
])
def test_integer_filters_beyond_the_column_400(api, params):
    collection = "subnets" if "ip_version" in params else "networks"
    expect(api.member_a.get(collection, params=params), 400, "InvalidInput")


def test_integer_filter_within_range_still_works(api):
    net = api.member_a.network()
    got = api.member_a.list("networks", params={"mtu": str(net["mtu"]), "name": net["name"]})
    assert [n["id"] for n in got] == [net["id"]]


@pytest.mark.parametrize("limit", [str(2**63), str(2**64 + 5), "-1"])
def test_limit_beyond_any_sql_limit_400(api, limit):
    expect(api.member_a.get("networks", params={"limit": limit}), 400, "BadRequest",
           f"Bad limit request: Limit must be an integer 0 or greater and not '{limit}'.")


def test_large_limit_within_range_is_fine(api):
    net = api.member_a.network()
    got = api.member_a.list("networks", params={"limit": str(2**62), "name": net["name"]})
    assert [n["id"] for n in got] == [net["id"]]


def test_too_many_filter_values_400(api):
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(1001)]
    expect(api.member_a.get("ports", params=[("id", i) for i in ids]), 400, "HTTPBadRequest",
           "Too many values for filter 'id': 1001, at most 1000 are allowed "
           "(max_filter_values)")
    expect(api.member_a.get("networks", params={"tags": ",".join(f"t{i}" for i in range(1001))}),
           400, "HTTPBadRequest",
           "Too many values for filter 'tags': 1001, at most 1000 are allowed "
           "(max_filter_values)")
    assert api.member_a.list("ports", params=[("id", i) for i in ids[:1000]]) == []


@pytest.mark.parametrize("kind", ["tags", "tags-any", "not-tags", "not-tags-any"])
def test_many_tag_values_filter_correctly(api, kind):
    """The tag filters with hundreds of values: right answers (and, with the
    grouped subquery, quickly on PostgreSQL: benchmarks/tag_filters.py)."""
    owner = api.project()
    many = [f"tag-{i}" for i in range(300)]
    full = owner.network(tags=many[:50])        # upstream's most tags per resource
    some = owner.network(tags=["tag-7"])
    none = owner.network()
    mine = {full["id"], some["id"], none["id"]}    # (shared networks of others are listed too)
    got = {n["id"] for n in owner.list("networks", params={kind: ",".join(many)})} & mine
    want = {"tags": set(),                      # no network has all 300
            "tags-any": {full["id"], some["id"]},
            "not-tags": {full["id"], some["id"], none["id"]},
            "not-tags-any": {none["id"]}}[kind]
    assert got == want
    got = {n["id"] for n in owner.list("networks", params={kind: ",".join(many[:50])})} & mine
    want = {"tags": {full["id"]}, "tags-any": {full["id"], some["id"]},
            "not-tags": {some["id"], none["id"]}, "not-tags-any": {none["id"]}}[kind]
    assert got == want


def test_tags_per_resource_capped_as_upstream(api):
    name = rand("net")
    msg = "Bad network request: The number of tags exceed the per-resource limit of 50."
    expect(post(api.member_a, "networks", name=name, tags=[f"t{i}" for i in range(51)]), 400,
           "BadRequest", msg)
    assert names(api.member_a, "networks", name) == []
    net = api.member_a.network(tags=[f"t{i}" for i in range(50)])
    expect(api.member_a.put(f"networks/{net['id']}/tags/t50"), 400, "BadRequest", msg)
    expect(api.member_a.put(f"networks/{net['id']}/tags", {"tags": [f"u{i}" for i in range(51)]}),
           400, "BadRequest", msg)
    assert sorted(api.member_a.show("networks", net["id"])["tags"]) == \
        sorted(f"t{i}" for i in range(50))
    expect(api.member_a.put(f"networks/{net['id']}/tags/t7"), 201)   # already there: fine
