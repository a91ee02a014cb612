"""neutrino.plugins.ipam.pools: pure subnet arithmetic and Neutron's checks."""
from __future__ import annotations

import ipaddress

import pytest

from neutrino.api import faults
from neutrino.plugins.ipam import pools as P

N4 = ipaddress.ip_network("10.0.0.0/24")
N6 = ipaddress.ip_network("2001:db8::/64")


def ip(text):
    return int(ipaddress.ip_address(text))


def test_parse_cidr():
    assert P.parse_cidr("10.0.0.0/24", 4) == N4
    assert P.parse_cidr("2001:DB8::/64", 6) == N6
    for bad in ("10.0.0.0/33", "not-a-cidr", "10.0.0.0", "300.0.0.0/8"):
        with pytest.raises(faults.InvalidInput, match="is not in a CIDR format"):
            P.parse_cidr(bad, 4)
    with pytest.raises(faults.InvalidInput):
        P.parse_cidr(None, 4)
    with pytest.raises(faults.HTTPBadRequest, match="'10.0.0.0/24' is recommended"):
        P.parse_cidr("10.0.0.7/24", 4)
    with pytest.raises(faults.InvalidInput, match="does not match ip_version"):
        P.parse_cidr("10.0.0.0/24", 6)
    with pytest.raises(faults.InvalidInput):
        P.parse_cidr("0.0.0.0/0", 4)


@pytest.mark.parametrize("cidr,first,last", [
    ("10.0.0.0/24", "10.0.0.1", "10.0.0.254"),
    ("10.0.0.0/30", "10.0.0.1", "10.0.0.2"),
    ("10.0.0.0/31", "10.0.0.0", "10.0.0.1"),
    ("10.0.0.5/32", "10.0.0.5", "10.0.0.5"),
    ("2001:db8::/64", "2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff"),
    ("2001:db8::1/128", "2001:db8::1", "2001:db8::1"),
])
def test_usable_range(cidr, first, last):
    assert P.usable_range(ipaddress.ip_network(cidr)) == (ip(first), ip(last))


def test_default_gateway_and_pools():
    assert P.default_gateway(N4) == "10.0.0.1"
    assert P.default_gateway(N6) == "2001:db8::1"
    assert P.as_dicts(N4, P.default_pools(N4, "10.0.0.1")) == [
        {"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert P.as_dicts(N4, P.default_pools(N4, None)) == [
        {"start": "10.0.0.1", "end": "10.0.0.254"}]
    assert P.as_dicts(N4, P.default_pools(N4, "10.0.0.100")) == [
        {"start": "10.0.0.1", "end": "10.0.0.99"}, {"start": "10.0.0.101", "end": "10.0.0.254"}]
    # A gateway outside the subnet does not cut the pool.
    assert P.as_dicts(N4, P.default_pools(N4, "192.168.0.1")) == [
        {"start": "10.0.0.1", "end": "10.0.0.254"}]
    assert P.as_dicts(N6, P.default_pools(N6, "2001:db8::1")) == [
        {"start": "2001:db8::2", "end": "2001:db8::ffff:ffff:ffff:ffff"}]
    n29 = ipaddress.ip_network("10.0.0.0/29")
    assert P.as_dicts(n29, P.default_pools(n29, "10.0.0.1")) == [
        {"start": "10.0.0.2", "end": "10.0.0.6"}]


def test_subtract():
    assert P.subtract([(1, 10)], 1) == [(2, 10)]
    assert P.subtract([(1, 10)], 10) == [(1, 9)]
    assert P.subtract([(1, 10)], 5) == [(1, 4), (6, 10)]
    assert P.subtract([(1, 1)], 1) == []
    assert P.subtract([(1, 3), (7, 9)], 8) == [(1, 3), (7, 7), (9, 9)]
    assert P.subtract([(1, 3)], 5) == [(1, 3)]


def test_check_gateway():
    assert P.check_gateway(N4, None) is None
    assert P.check_gateway(N4, "10.0.0.254") == "10.0.0.254"
    assert P.check_gateway(N4, "10.9.9.9") == "10.9.9.9"  # outside: allowed upstream
    assert P.check_gateway(N6, "2001:DB8::1") == "2001:db8::1"
    for bad in ("10.0.0.0", "10.0.0.255"):
        with pytest.raises(faults.InvalidInput, match="Gateway is not valid on subnet"):
            P.check_gateway(N4, bad)
    with pytest.raises(faults.InvalidInput):
        P.check_gateway(N6, "2001:db8::")
    with pytest.raises(faults.InvalidInput):
        P.check_gateway(N4, "2001:db8::1")
    with pytest.raises(faults.HTTPBadRequest, match="not a valid IP address"):
        P.check_gateway(N4, "gw")
    # /31: both addresses are hosts.
    assert P.check_gateway(ipaddress.ip_network("10.0.0.0/31"), "10.0.0.0") == "10.0.0.0"


def test_check_pools_ok_and_sorted():
    pools = [{"start": "10.0.0.100", "end": "10.0.0.110"}, {"start": "10.0.0.2",
                                                            "end": "10.0.0.9"}]
    assert P.check_pools(N4, pools, "10.0.0.1") == [(ip("10.0.0.2"), ip("10.0.0.9")),
                                                    (ip("10.0.0.100"), ip("10.0.0.110"))]
    assert P.check_pools(N4, [{"start": "10.0.0.5", "end": "10.0.0.5"}], None) == [
        (ip("10.0.0.5"), ip("10.0.0.5"))]
    assert P.check_pools(N4, [], "10.0.0.1") == []


@pytest.mark.parametrize("pools,gateway,error,message", [
    ([{"start": "10.0.0.20", "end": "10.0.0.10"}], None, faults.InvalidAllocationPool,
     "The allocation pool 10.0.0.20-10.0.0.10 is not valid."),
    ([{"start": "x", "end": "10.0.0.10"}], None, faults.InvalidAllocationPool, None),
    ([{"start": "10.0.0.1"}], None, faults.InvalidAllocationPool, None),
    ([{"start": "2001:db8::1", "end": "2001:db8::2"}], None, faults.InvalidAllocationPool,
     None),
    ([{"start": "10.0.0.200", "end": "10.0.1.5"}], None, faults.OutOfBoundsAllocationPool,
     "The allocation pool 10.0.0.200-10.0.1.5 spans beyond the subnet cidr 10.0.0.0/24."),
    ([{"start": "10.0.0.0", "end": "10.0.0.5"}], None, faults.OutOfBoundsAllocationPool, None),
    ([{"start": "10.0.0.250", "end": "10.0.0.255"}], None, faults.OutOfBoundsAllocationPool,
     None),
    ([{"start": "10.0.0.2", "end": "10.0.0.20"}, {"start": "10.0.0.20", "end": "10.0.0.30"}],
     None, faults.OverlappingAllocationPools,
     "Found overlapping allocation pools: 10.0.0.2-10.0.0.20 10.0.0.20-10.0.0.30 for subnet "
     "10.0.0.0/24."),
    ([{"start": "10.0.0.2", "end": "10.0.0.20"}], "10.0.0.10",
     faults.GatewayConflictWithAllocationPools,
     "Gateway ip 10.0.0.10 conflicts with allocation pool 10.0.0.2-10.0.0.20"),
])
def test_check_pools_errors(pools, gateway, error, message):
    with pytest.raises(error) as exc:
        P.check_pools(N4, pools, gateway)
    if message:
        assert exc.value.text == message
    assert exc.value.status in (400, 409)


def test_check_pools_statuses():
    assert faults.OverlappingAllocationPools.status == 409
    assert faults.GatewayConflictWithAllocationPools.status == 409
    assert faults.OutOfBoundsAllocationPool.status == 400


def test_check_host_routes():
    routes = [{"destination": "192.168.0.0/16", "nexthop": "10.0.0.254"}]
    assert P.check_host_routes(N4, routes, 20) == routes
    assert P.check_host_routes(N4, [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.1"}],
                               1) == [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.1"}]
    with pytest.raises(faults.HostRoutesExhausted) as exc:
        P.check_host_routes(N4, routes * 3, 2)
    assert exc.value.text == ("Unable to complete operation for new subnet. The number of "
                              "host routes exceeds the limit 2.")
    with pytest.raises(faults.HostRoutesExhausted, match="for abc"):
        P.check_host_routes(N4, routes * 3, 2, "abc")
    for bad in ({"destination": "x", "nexthop": "10.0.0.1"},
                {"destination": "10.1.0.0/16", "nexthop": "x"},
                {"destination": "10.1.0.1/16", "nexthop": "10.0.0.1"},  # host bits
                {"destination": "2001:db8::/64", "nexthop": "10.0.0.1"}):
        with pytest.raises(faults.InvalidInput):
            P.check_host_routes(N4, [bad], 20)
    with pytest.raises(faults.InvalidInput, match="Duplicate"):
        P.check_host_routes(N4, routes * 2, 20)


def test_check_ipv6_modes():
    P.check_ipv6_modes(4, None, None, N4)
    P.check_ipv6_modes(6, "slaac", "slaac", N6)
    P.check_ipv6_modes(6, None, "dhcpv6-stateful", ipaddress.ip_network("2001:db8::/80"))
    P.check_ipv6_modes(6, "dhcpv6-stateless", None, N6)
    with pytest.raises(faults.InvalidInput) as exc:
        P.check_ipv6_modes(4, "slaac", None, N4)
    assert exc.value.text == ("Invalid input for operation: ipv6_ra_mode is not valid when "
                              "ip_version is 4.")
    with pytest.raises(faults.InvalidInput, match="ipv6_address_mode is not valid"):
        P.check_ipv6_modes(4, None, "slaac", N4)
    with pytest.raises(faults.InvalidInput, match="cannot be set when enable_dhcp is set to "
                                                  "False"):
        P.check_ipv6_modes(6, "slaac", "slaac", N6, enable_dhcp=False)
    with pytest.raises(faults.InvalidInput, match="must be the same value"):
        P.check_ipv6_modes(6, "slaac", "dhcpv6-stateful", N6)
    with pytest.raises(faults.InvalidInput, match="requires the prefix to be /64"):
        P.check_ipv6_modes(6, "slaac", "slaac", ipaddress.ip_network("2001:db8::/80"))


def test_auto_address_and_eui64():
    assert P.is_auto_address({"ip_version": 6, "ipv6_address_mode": "slaac"})
    assert P.is_auto_address({"ip_version": 6, "ipv6_address_mode": "dhcpv6-stateless"})
    assert not P.is_auto_address({"ip_version": 6, "ipv6_address_mode": "dhcpv6-stateful"})
    assert not P.is_auto_address({"ip_version": 4, "ipv6_address_mode": None})
    assert P.eui64("2001:db8::/64", "fa:16:3e:12:34:56") == "2001:db8::f816:3eff:fe12:3456"
    assert P.eui64("fd00:1:2:3::/64", "00:00:00:00:00:01") == "fd00:1:2:3:200:ff:fe00:1"


def test_generated_macs_do_not_repeat_within_a_process():
    """20,000 independent random picks in 2^24 would repeat one almost
    surely (birthday bound); the walk repeats none, and keeps the prefix."""
    from neutrino.plugins.ipam.allocator import random_mac
    macs = [random_mac("fa:16:3e:00:00:00") for _ in range(20000)]
    assert len(set(macs)) == len(macs)
    assert all(m.startswith("fa:16:3e:") for m in macs)
    longer = [random_mac("fa:16:3e:12:00:00") for _ in range(1000)]
    assert len(set(longer)) == 1000 and all(m.startswith("fa:16:3e:12:") for m in longer)
