"""The L3 agent's pure parts of port forwardings and conntrack helpers:
which rules a router's wire form gives, and when."""
from __future__ import annotations

from neutrino.agent.l3.conntrack_helpers import raw_table
from neutrino.agent.l3.model import Router, nat_tables

GW = {"id": "g" * 36, "mac_address": "fa:16:3e:00:00:01", "mtu": 1500,
      "fixed_ips": [{"ip_address": "203.0.113.10", "prefixlen": 24,
                     "gateway_ip": "203.0.113.1"}]}
IF = {"id": "i" * 36, "mac_address": "fa:16:3e:00:00:02", "mtu": 1500,
      "fixed_ips": [{"ip_address": "10.0.0.1", "prefixlen": 24}]}


def pf(ext, internal, ip="10.0.0.5", proto="tcp", pf_id="p1"):
    return {"id": pf_id, "floating_ip_address": "203.0.113.30", "protocol": proto,
            "external_port_start": ext[0], "external_port_end": ext[1],
            "internal_ip_address": ip, "internal_port_start": internal[0],
            "internal_port_end": internal[1]}


def router(**extra) -> Router:
    return Router.from_wire({"id": "r", "gw_port": GW, "interfaces": [IF], **extra})


def test_port_forward_rules_and_address():
    r = router(port_forwardings=[pf((2222, 2222), (22, 22)),
                                 pf((6000, 6010), (5000, 5010), proto="udp", pf_id="p2"),
                                 pf((8080, 8090), (80, 80), pf_id="p3"),
                                 pf((1, 1), (1, 1), ip="192.0.2.9", pf_id="away")])
    nat = nat_tables(r)[0].chains
    assert nat["neutron-l3-agent-fip-pf"] == [
        "-d 203.0.113.30/32 -p tcp -m tcp --dport 2222 -j DNAT --to-destination 10.0.0.5:22",
        "-d 203.0.113.30/32 -p udp -m udp --dport 6000:6010 "
        "-j DNAT --to-destination 10.0.0.5:5000-5010/6000",
        "-d 203.0.113.30/32 -p tcp -m tcp --dport 8080:8090 -j DNAT --to-destination 10.0.0.5:80"]
    assert nat["neutron-l3-agent-PREROUTING"][0] == "-j neutron-l3-agent-fip-pf"
    assert nat["neutron-l3-agent-OUTPUT"][0] == "-j neutron-l3-agent-fip-pf"
    assert "203.0.113.30/32" in r.addresses()[r.qg]


def test_no_forwarding_without_gateway_or_while_down():
    assert "neutron-l3-agent-fip-pf" not in nat_tables(router())[0].chains
    down = router(admin_state_up=False, port_forwardings=[pf((1, 1), (1, 1))])
    assert down.active_port_forwards() == []
    no_gw = Router.from_wire({"id": "r", "interfaces": [IF],
                              "port_forwardings": [pf((1, 1), (1, 1))]})
    assert no_gw.active_port_forwards() == []


def test_conntrack_helper_raw_table():
    r = router(conntrack_helpers=[{"protocol": "udp", "port": 69, "helper": "tftp"},
                                  {"protocol": "tcp", "port": 21, "helper": "ftp"}])
    raw = raw_table(r).chains
    assert raw["PREROUTING"] == ["-j neutron-l3-agent-PREROUTING"]
    assert raw["neutron-l3-agent-PREROUTING"] == ["-j neutron-l3-agent-cth"]
    assert raw["neutron-l3-agent-cth"] == [
        "-p tcp -m tcp --dport 21 -j CT --helper ftp",
        "-p udp -m udp --dport 69 -j CT --helper tftp"]
    empty = raw_table(router()).chains
    assert empty["neutron-l3-agent-cth"] == [] and empty["neutron-l3-agent-PREROUTING"] == []


def test_metering_chains():
    from neutrino.agent.l3.metering import MeterLabel, mangle_table
    lab = MeterLabel.from_wire({"id": "0123456789abcdef", "project_id": "p", "rules": [
        {"direction": "ingress", "excluded": False, "remote_ip_prefix": "10.0.0.1/24"},
        {"direction": "ingress", "excluded": True, "remote_ip_prefix": "10.0.0.7/32"},
        {"direction": "egress", "excluded": False, "source_ip_prefix": "10.1.0.0/16",
         "destination_ip_prefix": "0.0.0.0/0"},
        {"direction": "egress", "excluded": False, "remote_ip_prefix": "2001:db8::/64"}]})
    t = mangle_table([lab], "qg-x").chains
    assert t["FORWARD"] == ["-j neutron-meter-FORWARD"]
    assert t["neutron-meter-FORWARD"] == ["-j neutron-meter-r-0123456789a"]
    assert t["neutron-meter-r-0123456789a"] == [       # excluded first; IPv6 not counted
        "-i qg-x -s 10.0.0.7/32 -j RETURN",
        "-o qg-x -s 10.1.0.0/16 -d 0.0.0.0/0 -j neutron-meter-l-0123456789a",
        "-i qg-x -s 10.0.0.0/24 -j neutron-meter-l-0123456789a"]
    assert t["neutron-meter-l-0123456789a"] == ["-j RETURN"]
    # no gateway, router down or no labels: only the (empty) top chain
    for table in (mangle_table([lab], None), mangle_table([lab], "qg-x", up=False),
                  mangle_table([], "qg-x")):
        assert table.chains == {"FORWARD": [], "neutron-meter-FORWARD": []}
