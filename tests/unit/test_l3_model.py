"""The router model: names, addresses, routes and the NAT table of SEED-SPEC §6-7."""
from __future__ import annotations

from neutrino.agent.l3.model import Router, nat_tables

GW = "aaaaaaaaaaaa-gw"
IF1 = "bbbbbbbbbbbb-if"


def wire(snat=True, fips=True, gw=True):
    return {
        "id": "r1", "admin_state_up": True, "enable_snat": snat,
        "gw_port": {"id": GW, "mac_address": "fa:16:3e:00:00:01", "mtu": 1500,
                    "fixed_ips": [{"ip_address": "203.0.113.10", "prefixlen": 24,
                                   "gateway_ip": "203.0.113.1"}]} if gw else None,
        "interfaces": [{"id": IF1, "mac_address": "fa:16:3e:00:00:02", "mtu": 1450,
                        "fixed_ips": [{"ip_address": "10.0.0.1", "prefixlen": 24}]}],
        "routes": [{"destination": "10.9.0.0/16", "nexthop": "10.0.0.5"}],
        "floating_ips": [{"id": "f1", "floating_ip_address": "203.0.113.20",
                          "fixed_ip_address": "10.0.0.7", "status": "DOWN"},
                         {"id": "f2", "floating_ip_address": "203.0.113.21",
                          "fixed_ip_address": "10.5.0.7", "status": "DOWN"}] if fips else [],
    }


def rules(router) -> list[str]:
    nat = nat_tables(router)[0]
    return [line for lines in nat.lines().values() for line in lines]


def test_devices_addresses_and_routes():
    r = Router.from_wire(wire())
    assert set(r.devices()) == {"qg-aaaaaaaaaaa", "qr-bbbbbbbbbbb"}
    assert r.devices()["qr-bbbbbbbbbbb"].tap == "tapbbbbbbbbbbb"
    assert r.addresses()["qg-aaaaaaaaaaa"] == {"203.0.113.10/24", "203.0.113.20/32"}
    assert r.desired_routes() == {"0.0.0.0/0": "203.0.113.1", "10.9.0.0/16": "10.0.0.5"}
    # f2's fixed address is on no interface of the router: not served
    assert set(r.active_fips()) == {"f1"}


def test_nat_table_is_the_seeds():
    got = rules(Router.from_wire(wire(fips=False)))
    qg = "qg-aaaaaaaaaaa"
    assert got == [
        "-A PREROUTING -j neutron-l3-agent-PREROUTING",
        "-A OUTPUT -j neutron-l3-agent-OUTPUT",
        "-A POSTROUTING -j neutron-l3-agent-POSTROUTING",
        "-A POSTROUTING -j neutron-postrouting-bottom",
        f"-A neutron-l3-agent-POSTROUTING ! -i {qg} ! -o {qg} -m conntrack ! --ctstate DNAT -j ACCEPT",
        "-A neutron-l3-agent-PREROUTING -d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 9697",
        "-A neutron-l3-agent-snat -j neutron-l3-agent-float-snat",
        f"-A neutron-l3-agent-snat -o {qg} -j SNAT --to-source 203.0.113.10",
        "-A neutron-l3-agent-snat -m mark ! --mark 0x2/0xffff -m conntrack --ctstate DNAT -j SNAT --to-source 203.0.113.10",
        '-A neutron-postrouting-bottom -m comment --comment "Perform source NAT on outgoing traffic." -j neutron-l3-agent-snat',
    ]


def test_floating_ip_rules():
    got = rules(Router.from_wire(wire()))
    assert "-A neutron-l3-agent-PREROUTING -d 203.0.113.20/32 -j DNAT --to-destination 10.0.0.7" in got
    assert "-A neutron-l3-agent-OUTPUT -d 203.0.113.20/32 -j DNAT --to-destination 10.0.0.7" in got
    assert "-A neutron-l3-agent-float-snat -s 10.0.0.7/32 -j SNAT --to-source 203.0.113.20" in got
    assert not any("203.0.113.21" in line for line in got)


def test_no_snat_rules_without_enable_snat_or_gateway():
    for router in (Router.from_wire(wire(snat=False, fips=False)),
                   Router.from_wire(wire(gw=False))):
        got = rules(router)
        assert not any("-j SNAT" in line or "ACCEPT" in line for line in got)
        assert "-A neutron-l3-agent-snat -j neutron-l3-agent-float-snat" in got
    assert Router.from_wire(wire(gw=False)).desired_routes() == {"10.9.0.0/16": "10.0.0.5"}


def test_mangle_marks_traffic_from_the_gateway():
    mangle = nat_tables(Router.from_wire(wire()))[1]
    assert mangle.chains["neutron-l3-agent-mark"] == ["-i qg-aaaaaaaaaaa -j MARK --set-xmark 0x2/0xffff"]


def test_admin_down_router_keeps_devices_serves_nothing():
    """Its ports stay wired (so they are ACTIVE, as tempest expects of a
    router made with admin_state_up=False); no floating IP, no route."""
    r = Router.from_wire(dict(wire(), admin_state_up=False))
    assert set(r.devices()) == {"qg-aaaaaaaaaaa", "qr-bbbbbbbbbbb"}
    assert r.addresses()["qg-aaaaaaaaaaa"] == {"203.0.113.10/24"}
    assert r.active_fips() == {} and r.desired_routes() == {}
    assert not any("-j DNAT" in line for line in rules(r))


def test_ipv6_interfaces_get_addresses_nat_stays_ipv4():
    d = wire()
    d["interfaces"].append({"id": "cccccccccccc-v6", "mac_address": "fa:16:3e:00:00:03",
                            "mtu": 1450, "fixed_ips": [{"ip_address": "2001:db8::1",
                                                        "prefixlen": 64}]})
    d["gw_port"]["fixed_ips"].insert(0, {"ip_address": "2001:db8:f::5", "prefixlen": 64,
                                         "gateway_ip": "2001:db8:f::1"})
    d["routes"].append({"destination": "2001:db8:9::/48", "nexthop": "2001:db8::5"})
    r = Router.from_wire(d)
    assert r.addresses()["qr-ccccccccccc"] == {"2001:db8::1/64"} and r.has_ipv6
    assert r.gw_ip == "203.0.113.10"
    assert r.desired_routes() == {"0.0.0.0/0": "203.0.113.1", "10.9.0.0/16": "10.0.0.5"}
    assert "-A neutron-l3-agent-snat -o qg-aaaaaaaaaaa -j SNAT --to-source 203.0.113.10" \
        in rules(r)


def test_metadata_rules_as_upstream():
    """REDIRECT of 169.254.169.254:80 to the proxy, the access mark on
    those requests, and the filter table that lets only them reach it."""
    nat, mangle, filt = nat_tables(Router.from_wire(wire()))
    assert ("-d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 -j REDIRECT "
            "--to-ports 9697") in nat.chains["neutron-l3-agent-PREROUTING"]
    assert ("-d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 -j MARK --set-xmark "
            "0x1/0xffff") in mangle.chains["neutron-l3-agent-PREROUTING"]
    assert filt.chains["INPUT"] == ["-j neutron-l3-agent-INPUT"]
    assert filt.chains["neutron-l3-agent-INPUT"] == [
        "-m mark --mark 0x1/0xffff -j ACCEPT", "-p tcp -m tcp --dport 9697 -j DROP"]
    # another port; and with enable_metadata_proxy = false no metadata rule at all
    nat, _, filt = nat_tables(Router.from_wire(wire()), metadata_port=8775)
    assert any("--to-ports 8775" in r for r in nat.chains["neutron-l3-agent-PREROUTING"])
    assert "-p tcp -m tcp --dport 8775 -j DROP" in filt.chains["neutron-l3-agent-INPUT"]
    tables = nat_tables(Router.from_wire(wire()), metadata_port=None)
    assert [t.name for t in tables] == ["nat", "mangle"]
    assert not any("169.254.169.254" in r for t in tables for rs in t.chains.values()
                   for r in rs)
