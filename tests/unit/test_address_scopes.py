"""Pure parts of address scopes and subnet pools: the prefix arithmetic of
pools (compacting, free space, carving, quota units) and the router rules
of address scopes (marks per interface, isolation, no SNAT from the
gateway's scope, nothing at all for unscoped routers)."""
from __future__ import annotations

import ipaddress

from neutrino.agent.l3.model import Router, nat_tables
from neutrino.plugins.subnetpools import prefixes as px

N = ipaddress.ip_network


def test_compact_subtract_allocate():
    assert px.compact(["10.0.0.0/25", "10.0.0.128/25", "10.0.1.0/24", "2001:db8::/64"]) == [
        N("10.0.0.0/23"), N("2001:db8::/64")]
    assert px.subtract([N("10.0.0.0/24")], [N("10.0.0.0/26")]) == [
        N("10.0.0.64/26"), N("10.0.0.128/25")]
    # the smallest free block that holds the length is used first
    assert px.allocate_any([N("10.0.0.0/24")], [N("10.0.0.0/26")], 26) == N("10.0.0.64/26")
    assert px.allocate_any([N("10.0.0.0/24")], [N("10.0.0.0/25")], 24) is None
    assert px.is_free([N("10.0.0.0/24")], [N("10.0.0.0/26")], N("10.0.0.128/25"))
    assert not px.is_free([N("10.0.0.0/24")], [N("10.0.0.0/26")], N("10.0.0.0/25"))
    assert px.quota_units(N("10.0.0.0/26")) == 64
    assert px.quota_units(N("2001:db8::/60")) == 16
    assert px.covers_all([N("10.0.0.0/16")], [N("10.0.1.0/24")])
    assert not px.covers_all([N("10.0.0.0/24")], [N("10.0.0.0/23")])


def _router(scopes: dict[str, str | None], gw_scope: str | None):
    def port(i, scope):
        return {"id": f"{i}" * 8 + "-0000-4000-8000-000000000000",
                "mac_address": "fa:16:3e:00:00:01", "mtu": 1500,
                "fixed_ips": [{"ip_address": f"10.0.{i}.1", "prefixlen": 24}],
                "address_scopes": {"4": scope, "6": None}}
    gw = port(9, gw_scope)
    gw["fixed_ips"] = [{"ip_address": "203.0.113.10", "prefixlen": 24,
                        "gateway_ip": "203.0.113.254"}]
    return Router.from_wire({"id": "r", "gw_port": gw, "interfaces": [
        port(i + 1, s) for i, s in enumerate(scopes.values())]})


def test_unscoped_router_has_no_scope_rules():
    nat, mangle, _ = nat_tables(_router({"a": None, "b": None}, None))
    text = repr(nat.chains) + repr(mangle.chains)
    assert "0xffff0000" not in text and "scope" not in text


def test_scope_marks_isolation_and_no_snat_from_the_gateway_scope():
    nat, mangle, _ = nat_tables(_router({"a": "s1", "b": "s1", "c": "s2"}, "s1"))
    s1, s2, none = "0x4010000/0xffff0000", "0x4020000/0xffff0000", "0x4000000/0xffff0000"
    assert mangle.chains["PREROUTING"][0] == "-j neutron-l3-agent-scope"
    assert mangle.chains["neutron-l3-agent-scope"] == [
        f"-i qg-99999999-00 -j MARK --set-xmark {s1}",
        f"-i qr-11111111-00 -j MARK --set-xmark {s1}",
        f"-i qr-22222222-00 -j MARK --set-xmark {s1}",
        f"-i qr-33333333-00 -j MARK --set-xmark {s2}"]
    assert mangle.chains["neutron-l3-agent-scope-out"] == [
        "-m mark --mark 0x0/0xffff0000 -j RETURN",
        "-m conntrack --ctstate DNAT,SNAT -j RETURN",
        f"-o qr-11111111-00 -m mark ! --mark {s1} -j DROP",
        f"-o qr-22222222-00 -m mark ! --mark {s1} -j DROP",
        f"-o qr-33333333-00 -m mark ! --mark {s2} -j DROP"]
    snat = nat.chains["neutron-l3-agent-snat"]
    assert snat[:3] == ["-j neutron-l3-agent-float-snat",
                        f"-o qg-99999999-00 -m mark --mark {s1} -j ACCEPT",
                        "-o qg-99999999-00 -j SNAT --to-source 203.0.113.10"]
    # an unscoped interface is a scope of its own; an unscoped gateway: SNAT for all
    nat, mangle, _ = nat_tables(_router({"a": "s1", "b": None}, None))
    assert f"-i qr-22222222-00 -j MARK --set-xmark {none}" in mangle.chains[
        "neutron-l3-agent-scope"]
    assert not any("ACCEPT" in r for r in nat.chains["neutron-l3-agent-snat"])


def test_ipv6_scopes_isolated_in_ip6tables_mangle():
    from neutrino.agent.l3.address_scopes import ipv6_mangle
    router = _router({"a": "s1", "b": "s1"}, None)
    assert ipv6_mangle(router).chains == {}            # no IPv6 scope: nothing
    for port, scope in zip(router.interfaces, ("v6a", "v6b")):
        object.__setattr__(port, "address_scopes", (("4", None), ("6", scope)))
    table = ipv6_mangle(router)
    assert table.chains["neutron-l3-agent-scope-out"][-2:] == [
        "-o qr-11111111-00 -m mark ! --mark 0x4010000/0xffff0000 -j DROP",
        "-o qr-22222222-00 -m mark ! --mark 0x4020000/0xffff0000 -j DROP"]
    # the IPv4 tables are unchanged by IPv6 scopes
    nat, mangle, _ = nat_tables(router)
    assert "neutron-l3-agent-scope" not in mangle.chains
