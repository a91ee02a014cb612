"""The pure validators (neutrino.validators, wording as neutron-lib's), the
list-query guards (NUL, limit, integer ranges, number of values) and the
firewall's check of what it reads back (checks.py, and the renderer's own
per-port guard)."""
from __future__ import annotations

import pytest

from neutrino import validators as v
from neutrino.agent.l2.firewall import checks
from neutrino.agent.l2.firewall.model import FwConf, FwDesired, FwPort, SgRule
from neutrino.agent.l2.firewall.plan import assign_zones, render
from neutrino.api import attributes as a
from neutrino.api import faults
from neutrino.api.query import parse
from neutrino.api.resources import NETWORK, PORT, SECURITY_GROUP_RULE


@pytest.mark.parametrize("value, reason", [
    ("10.0.0.1", None), ("2001:db8::1", None), ("::ffff:10.0.0.1", None),
    ("10.0.0.01", "'10.0.0.01' is not an accepted IP address, '10.0.0.1' is recommended"),
    ("10.1", "'10.1' is not a valid IP address"), (" 10.0.0.1", "' 10.0.0.1' is not a valid IP "
                                                               "address"),
    ("fe80::1%eth0", "'fe80::1%eth0' is not a valid IP address"),
    (167772161, "'167772161' is not a valid IP address"), (None, "'None' is not a valid IP "
                                                                 "address"),
    ("256.0.0.1", "'256.0.0.1' is not a valid IP address"),
])
def test_ip_address(value, reason):
    assert v.validate_ip_address(value) == reason


@pytest.mark.parametrize("value, ok", [
    ("10.0.0.1/24", True), ("10.0.0.0/8", True), ("2001:db8::/64", True),
    ("10.0.0.1/99", False), ("10.0.0.1/-1", False), ("10.0.0.1/abc", False),
    ("10.0.0.1/024", False), ("10.0.0.1", False), ("10.0.0.1/ 24", False), (5, False),
    ("010.0.0.1/24", False), ("2001:db8::/129", False),
])
def test_subnet(value, ok):
    assert (v.validate_subnet(value) is None) is ok


def test_address_pair_ip_rejects_multicast():
    assert v.validate_ip_or_subnet("224.0.0.5") == \
        "IP 224.0.0.5 is a multicast address, which is not supported."
    assert "overlaps with multicast range 224.0.0.0/4" in v.validate_ip_or_subnet("224.0.0.0/8")
    assert v.validate_ip_or_subnet("0.0.0.0/0") is None
    assert v.validate_ip_or_subnet("10.0.0.0/8") is None


@pytest.mark.parametrize("value, result", [
    ("yes", True), ("ON", True), (1, True), ("0", False), (False, False), ("n", False),
    ("maybe", None), (None, None), (2, None), ("", None),
])
def test_boolean_as_oslo_strict(value, result):
    assert v.boolean_value(value) is result


def test_name_string():
    assert v.validate_name_string("web server") is None
    assert v.validate_name_string("") is None
    assert v.validate_name_string("é ü") is None
    assert v.validate_name_string(" x") == "' x' is not a valid string"
    assert v.validate_name_string("x\t") == "'x\t' is not a valid string"
    assert v.validate_name_string("a\u200bb") == "'a\u200bb' is not a valid string"  # Cf
    assert v.validate_name_string("x" * 256, 255).endswith("exceeds maximum length of 255")
    assert v.validate_string("a\x00") == "'a\\x00' contains a NUL character"


def test_hostroutes_and_pools():
    assert v.validate_hostroutes([{"destination": "10.0.0.0/8", "nexthop": "10.1.0.1"}]) is None
    assert v.validate_hostroutes([{"destination": "10.0.0.1/8", "nexthop": "10.1.0.1"}]) == \
        "'10.0.0.1/8' is not a valid CIDR"
    route = {"destination": "10.0.0.0/8", "nexthop": "10.1.0.1"}
    assert v.validate_hostroutes([route, dict(route)]).startswith("Duplicate hostroute")
    assert v.validate_ip_pools([{"start": "10.0.0.2", "end": "10.0.0.9"}]) is None
    assert v.validate_ip_pools("x") == "Invalid data format for IP pool: 'x'"


def test_nul_path_names_the_innermost_key():
    assert v.nul_path({"port": {"name": "a\x00"}}) == "name"
    assert v.nul_path({"port": {"fixed_ips": [{"ip_address": "\x00"}]}}) == "ip_address"
    assert v.nul_path({"port": {"na\x00me": 1}}) == "na\x00me"
    assert v.nul_path({"port": {"name": "ok"}}) is None


def test_integers_bounded_by_the_columns():
    assert a.to_int("42") == 42 and a.to_int(2**40) == 2**40    # convert_to_int itself: any
    assert a.db_int_or_none(2**31) == "'2147483648' is too large - must be no larger than " \
                                      "'2147483647'"
    assert a.db_int_or_none(-2**31) is None and a.db_int_or_none(None) is None
    with pytest.raises(faults.InvalidInput, match="too small"):
        a.in_db_int(-2**31 - 1)
    with pytest.raises(faults.InvalidInput, match="is not an integer"):
        a.to_int(float("inf"))
    with pytest.raises(faults.InvalidInput, match="is not an integer"):
        a.to_int(True)


def test_gateway_info_converts_enable_snat():
    net = "5e000000-0000-4000-8000-00000000000a"
    assert a.gateway_info({"network_id": net, "enable_snat": "0"}) == {
        "network_id": net, "enable_snat": False}
    assert a.gateway_info({}) is None and a.gateway_info(None) is None
    with pytest.raises(faults.HTTPBadRequest, match="Expected keys: {'network_id'}"):
        a.gateway_info({"enable_snat": True})


# --- list queries ---------------------------------------------------------------------

def test_query_nul_limit_and_ranges():
    with pytest.raises(faults.HTTPBadRequest, match="NUL"):
        parse(NETWORK, [("name", "a\x00")])
    with pytest.raises(faults.BadRequest):
        parse(NETWORK, [("limit", str(2**63))])
    assert parse(NETWORK, [("limit", str(2**63 - 1))]).limit == 2**63 - 1
    assert parse(NETWORK, [("limit", "500")], max_limit=100).limit == 100
    with pytest.raises(faults.InvalidInput):
        parse(NETWORK, [("mtu", str(2**31))])
    with pytest.raises(faults.InvalidInput):
        parse(NETWORK, [("mtu", "")])
    assert parse(NETWORK, [("mtu", "1450")]).filters == {"mtu": [1450]}
    assert parse(SECURITY_GROUP_RULE, [("ethertype", "ipv6")]).filters == {
        "ethertype": ["IPv6"]}


def test_query_filter_value_cap():
    ok = parse(PORT, [("id", str(i)) for i in range(3)], max_values=3)
    assert len(ok.filters["id"]) == 3
    with pytest.raises(faults.HTTPBadRequest, match="Too many values for filter 'id': 4"):
        parse(PORT, [("id", str(i)) for i in range(4)], max_values=3)
    with pytest.raises(faults.HTTPBadRequest, match="'tags': 4"):
        parse(NETWORK, [("tags", "a,b"), ("tags", "c,d")], max_values=3)
    assert len(parse(PORT, [("id", str(i)) for i in range(5000)]).filters["id"]) == 5000


# --- the firewall's checks ---------------------------------------------------------------

NET = "fe000000-0000-4000-8000-000000000001"
G = "5e000000-0000-4000-8000-00000000000a"


def wire_port(n, **over):
    port = {"id": f"{n:08x}-1111-4000-8000-000000000000", "network_id": NET,
            "mac_address": f"fa:16:3e:00:00:{n:02x}", "device_owner": "compute:x",
            "port_security_enabled": True, "fixed_ips": [f"10.90.0.{n}"],
            "allowed_address_pairs": [], "security_groups": [G]}
    port.update(over)
    return port


def state(*ports, rules=None, members=None):
    return {"ports": list(ports), "security_groups": rules or {G: [
        {"direction": "ingress", "ethertype": "IPv4", "protocol": None, "port_range_min": None,
         "port_range_max": None, "remote_ip_prefix": None, "remote_group_id": G}]},
        "members": members or {G: ["10.90.0.1", "10.90.0.2"]}}


@pytest.mark.parametrize("over, why", [
    ({"allowed_address_pairs": [{"ip_address": "10.0.0.1/99", "mac_address": None}]},
     "'10.0.0.1/99' is not a valid IP subnet"),
    ({"allowed_address_pairs": [{"ip_address": "10.0.0.9", "mac_address": "zz"}]},
     "'zz' is not a valid MAC address"),
    ({"fixed_ips": ["10.90.0.300"]}, "'10.90.0.300' is not a valid IP address"),
    ({"mac_address": None}, "'None' is not a valid MAC address"),
    ({"port_security_enabled": "true"}, "is not a valid boolean value"),
])
def test_bad_port_is_isolated_others_kept(over, why):
    clean, bad, _ = checks.check(state(wire_port(1), wire_port(2, **over)))
    second = clean["ports"][1]
    assert list(bad) == [second["id"]] and why in bad[second["id"]]
    assert second["isolated"] and second["fixed_ips"] == [] and second["security_groups"] == []
    assert clean["ports"][0] == wire_port(1)


def test_unfiltered_ports_are_not_judged_on_what_is_not_rendered():
    trusted = wire_port(3, device_owner="network:dhcp", mac_address=None)
    open_port = wire_port(4, port_security_enabled=False, fixed_ips=["x"])
    _, bad, _ = checks.check(state(trusted, open_port))
    assert bad == {}


@pytest.mark.parametrize("rule_over", [
    {"remote_ip_prefix": "true"}, {"remote_ip_prefix": "2001:db8::/64"},
    {"protocol": "tcp", "port_range_min": 70000, "port_range_max": 70001},
    {"protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
    {"protocol": "icmp", "port_range_min": 300}, {"protocol": "bogus"},
    {"direction": "sideways"}, {"ethertype": "IPv5"}, {"remote_group_id": ""},
])
def test_bad_rule_dropped_and_its_ports_isolated(rule_over):
    rule = {"direction": "ingress", "ethertype": "IPv4", "protocol": None,
            "port_range_min": None, "port_range_max": None, "remote_ip_prefix": None,
            "remote_group_id": None, **rule_over}
    other = "5e000000-0000-4000-8000-00000000000b"
    good = {"direction": "egress", "ethertype": "IPv4", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8",
            "remote_group_id": None}
    clean, bad, dropped = checks.check(state(
        wire_port(1), wire_port(2, security_groups=[other]),
        rules={G: [good], other: [good, rule]}))
    assert list(bad) == [wire_port(2)["id"]] and dropped
    assert clean["security_groups"] == {G: [good], other: [good]}


def test_bad_members_dropped():
    clean, bad, dropped = checks.check(state(wire_port(1), members={
        G: ["10.90.0.1", "10.0.0.1/99", None, "10.9.0.0/16"]}))
    assert clean["members"] == {G: ["10.90.0.1", "10.9.0.0/16"]} and bad == {}
    assert len(dropped) == 2


def test_render_isolates_a_port_the_checks_missed():
    """Defence in depth: whatever still makes the renderer raise costs that
    port only (here a rule's prefix built past the checks)."""
    good = FwPort("00000001-1111-4000-8000-000000000000", NET, "fa:16:3e:00:00:01",
                  "compute:x", True, ("10.90.0.1",), (), (G,))
    worse = FwPort("00000002-1111-4000-8000-000000000000", NET, "fa:16:3e:00:00:02",
                   "compute:x", True, ("10.90.0.2",), (("10.0.0.1/99", "fa:16:3e:00:00:02"),),
                   (G,))
    desired = FwDesired(ports={p.id: p for p in (good, worse)},
                        rules={G: (SgRule("ingress", "IPv4", remote_ip_prefix="10.0.0.0/8"),)},
                        members={G: ("10.90.0.1", "bogus")})
    out = render(desired, FwConf(), assign_zones({NET}, {}))
    assert list(out.bad) == [worse.id]
    f = out.tables[4]["filter"]
    assert f["neutron-linuxbri-i00000002-1"] == [
        '-A neutron-linuxbri-i00000002-1 -m comment --comment "Send unmatched traffic to the '
        'fallback chain." -j neutron-linuxbri-sg-fallback']
    # the good port still reaches its group's rule (in the shared chain its ingress chain jumps to)
    shared = [line.split()[-1] for line in f["neutron-linuxbri-i00000001-1"]
              if line.split()[-1].startswith("neutron-linuxbri-gi")]
    assert any("-s 10.0.0.0/8 -j RETURN" in line for c in shared for line in f[c])
    assert out.eb["neutronMAC-tap00000002-11"] == []           # every frame of it dropped
    assert out.eb["neutronMAC-tap00000001-11"] != []


# --- the L2 plan keeps a blocked port's tap off the bridge ---------------------------------

def test_l2_plan_keeps_blocked_taps_off_the_bridge():
    from neutrino.agent.l2.model import (RELEASE, Desired, L2Conf, NetworkSpec, PortSpec,
                                         SetLink, bridge_name, tap_name)
    from neutrino.agent.l2.plan import plan as l2_plan
    from neutrino.dataplane.netlink_model import Link
    net = "aaaaaaaa-1111-4111-8111-000000000001"
    good, bad = "11111111-aaaa-4aaa-8aaa-000000000001", "22222222-bbbb-4bbb-8bbb-000000000002"
    desired = Desired(ports={p: PortSpec(p, net, "fa:16:3e:00:00:01") for p in (good, bad)},
                      networks={net: NetworkSpec(net, "local", None, None, 1500)})
    br = bridge_name(net)
    observed = {br: Link(name=br, index=2, kind="bridge", mtu=1500, mac=None, up=True)}
    for n, p in enumerate((good, bad)):
        observed[tap_name(p)] = Link(name=tap_name(p), index=10 + n, kind="veth", mtu=1500,
                                     mac=None, up=True, master=br)
    result = l2_plan(desired, observed, L2Conf(), blocked={bad: "bad address pair"})
    assert result.wired == {good} and result.failed == {bad} and bad not in result.unwired
    assert SetLink(tap_name(bad), master=RELEASE, port_id=bad) in result.ops
    assert not any(getattr(op, "name", "") == tap_name(good) for op in result.ops)


def test_duplicates_hashable_or_not():
    assert v.duplicates(["a", "b", "a", "a", "c", "b"]) == ["a", "b"]
    assert v.duplicates([{"k": 1}, [1], {"k": 1}, [1], 3]) == [{"k": 1}, [1]]
    assert v.validate_uuid_list(["5e000000-0000-4000-8000-00000000000a"] * 2) == \
        "Duplicate items in the list: '5e000000-0000-4000-8000-00000000000a'"
    assert v.validate_nameservers(["10.0.0.1", "10.0.0.1"]) == "Duplicate nameserver '10.0.0.1'"
