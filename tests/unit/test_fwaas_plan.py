"""FWaaS v2 in the L3 agent, the pure part: the chains a router's firewall
groups render to (upstream's v2 iptables driver's names and layout), the
diff against what the kernel shows, and the conntrack matcher that picks
the established flows the new rules forbid."""
from __future__ import annotations

from neutrino.agent.l3.fwaas.model import FOREIGN_TO_L3, FirewallGroup, group_chain, is_ours
from neutrino.agent.l3.fwaas.plan import (Flow, parse_flows, plan, render, table_input,
                                          verdict)
from neutrino.agent.l3.model import Router
from neutrino.dataplane.iptables import Table, differs, restore_input

FWG = "1b2c3d4e-aaaa-bbbb-cccc-000000000001"
IN4 = "neutron-l3-agent-iv41b2c3d4e"
OUT4 = "neutron-l3-agent-ov41b2c3d4e"
IN6 = "neutron-l3-agent-iv61b2c3d4e"
QR_A = "qr-aaaaaaaa-aa"
QR_B = "qr-bbbbbbbb-bb"
QG = "qg-gggggggg-gg"


def rule(action="allow", **kw):
    base = {"id": kw.pop("id", "r"), "enabled": True, "protocol": None, "ip_version": 4,
            "source_ip_address": None, "destination_ip_address": None, "source_port": None,
            "destination_port": None, "action": action}
    base.update(kw)
    return base


def group(ingress=None, egress=None, admin=True, gid=FWG, version="v1"):
    return {"id": gid, "admin_state_up": admin, "version": version,
            "ingress": ingress, "egress": egress}


def router(fwg_a=None, fwg_b=None, fwg_gw=None) -> Router:
    def port(pid, cidrs, fwg):
        return {"id": pid, "mac_address": "fa:16:3e:00:00:01", "mtu": 1500,
                "fixed_ips": [{"ip_address": c.split("/")[0], "prefixlen": int(c.split("/")[1]),
                               "gateway_ip": "203.0.113.254"} for c in cidrs],
                "firewall_group": fwg}
    return Router.from_wire({
        "id": "r1", "admin_state_up": True, "enable_snat": True,
        "gw_port": port("gggggggg-gggg", ["203.0.113.10/24"], fwg_gw),
        "interfaces": [port("aaaaaaaa-aaaa", ["10.0.0.1/24", "2001:db8:a::1/64"], fwg_a),
                       port("bbbbbbbb-bbbb", ["10.0.1.1/24"], fwg_b)],
        "routes": [], "floating_ips": [
            {"id": "f1", "floating_ip_address": "203.0.113.20", "fixed_ip_address": "10.0.0.7",
             "status": "ACTIVE"}]})


# ---------------------------------------------------------------- render

def test_no_group_no_chains():
    r = render(router())
    assert r.chains == {4: {}, 6: {}} and r.jumps == ()


def test_allow_deny_reject_render_in_policy_order():
    g = group(ingress=[rule("deny", id="1", protocol="tcp", destination_port="80"),
                       rule("allow", id="2", protocol="tcp", destination_port="22"),
                       rule("reject", id="3", protocol="udp", destination_port="1000:2000"),
                       rule("allow", id="4", protocol="icmp")])
    c = render(router(fwg_a=g)).chains[4]
    assert c[IN4] == [
        f"-A {IN4} -m state --state INVALID -j neutron-l3-agent-dropped",
        f"-A {IN4} -m state --state RELATED,ESTABLISHED -j ACCEPT",
        f"-A {IN4} -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m state --state NEW "
        "-j neutron-l3-agent-dropped",
        f"-A {IN4} -p tcp -m tcp --dport 80 -j neutron-l3-agent-dropped",
        f"-A {IN4} -p tcp -m tcp --dport 22 -j neutron-l3-agent-accepted",
        f"-A {IN4} -p udp -m udp --dport 1000:2000 -j neutron-l3-agent-rejected",
        f"-A {IN4} -p icmp -j neutron-l3-agent-accepted"]
    assert c["neutron-l3-agent-accepted"] == ["-A neutron-l3-agent-accepted -j ACCEPT"]
    assert c["neutron-l3-agent-dropped"] == ["-A neutron-l3-agent-dropped -j DROP"]
    assert c["neutron-l3-agent-rejected"] == [
        "-A neutron-l3-agent-rejected -p tcp -j REJECT --reject-with tcp-reset",
        "-A neutron-l3-agent-rejected -j REJECT --reject-with icmp-port-unreachable"]
    assert render(router(fwg_a=g)).chains[6]["neutron-l3-agent-rejected"][1].endswith(
        "icmp6-port-unreachable")


def test_addresses_ports_and_their_iptables_save_spelling():
    g = group(egress=[rule(id="1", protocol="tcp", source_ip_address="10.0.0.5",
                           destination_ip_address="192.0.2.0/24", source_port="1024:65535",
                           destination_port="443:443"),
                      rule(id="2", protocol="udp", destination_port="0:65535"),
                      rule(id="3", protocol="47"),
                      rule(id="4", source_ip_address="0.0.0.0/0")])
    c = render(router(fwg_a=g)).chains[4][OUT4][3:]
    assert c == [
        f"-A {OUT4} -s 10.0.0.5/32 -d 192.0.2.0/24 -p tcp -m tcp --sport 1024:65535 "
        "--dport 443 -j neutron-l3-agent-accepted",
        f"-A {OUT4} -p udp -m udp -j neutron-l3-agent-accepted",
        f"-A {OUT4} -p gre -j neutron-l3-agent-accepted",
        f"-A {OUT4} -j neutron-l3-agent-accepted"]


def test_v4_and_v6_rules_go_to_their_table_and_icmp_of_v6_is_icmpv6():
    g = group(ingress=[rule(id="1", protocol="icmp", ip_version=6,
                            source_ip_address="2001:db8::/32"),
                       rule(id="2", protocol="tcp", destination_port="22")])
    chains = render(router(fwg_a=g)).chains
    assert chains[6][IN6][3:] == [
        f"-A {IN6} -s 2001:db8::/32 -p ipv6-icmp -j neutron-l3-agent-accepted"]
    assert chains[4][IN4][3:] == [
        f"-A {IN4} -p tcp -m tcp --dport 22 -j neutron-l3-agent-accepted"]


def test_disabled_rules_are_skipped():
    g = group(ingress=[rule(id="1", protocol="tcp", destination_port="22", enabled=False),
                       rule(id="2", protocol="tcp", destination_port="80")])
    assert render(router(fwg_a=g)).chains[4][IN4][3:] == [
        f"-A {IN4} -p tcp -m tcp --dport 80 -j neutron-l3-agent-accepted"]


def test_jumps_ingress_then_egress_then_default_drop_and_no_policy_direction_is_empty():
    g = group(ingress=[rule(protocol="tcp", destination_port="22")])     # no egress policy
    r = render(router(fwg_a=g, fwg_b=g))
    fwd = r.chains[4]["neutron-l3-agent-FORWARD"]
    assert fwd == [f"-A neutron-l3-agent-FORWARD -o {QR_A} -j {IN4}",
                   f"-A neutron-l3-agent-FORWARD -o {QR_B} -j {IN4}",
                   f"-A neutron-l3-agent-FORWARD -i {QR_A} -j {OUT4}",
                   f"-A neutron-l3-agent-FORWARD -i {QR_B} -j {OUT4}",
                   f"-A neutron-l3-agent-FORWARD -o {QR_A} -j neutron-l3-agent-fwaas-defau",
                   f"-A neutron-l3-agent-FORWARD -o {QR_B} -j neutron-l3-agent-fwaas-defau",
                   f"-A neutron-l3-agent-FORWARD -i {QR_A} -j neutron-l3-agent-fwaas-defau",
                   f"-A neutron-l3-agent-FORWARD -i {QR_B} -j neutron-l3-agent-fwaas-defau"]
    assert r.chains[4][OUT4] == [
        f"-A {OUT4} -m state --state INVALID -j neutron-l3-agent-dropped",
        f"-A {OUT4} -m state --state RELATED,ESTABLISHED -j ACCEPT",
        f"-A {OUT4} -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m state --state NEW "
        "-j neutron-l3-agent-dropped"]
    assert r.chains[4]["neutron-l3-agent-fwaas-defau"] == [
        "-A neutron-l3-agent-fwaas-defau -j neutron-l3-agent-dropped"]
    # the port in no group (the gateway) has no jump: not filtered
    assert not any(QG in line for line in fwd)


def test_admin_down_or_unusable_group_only_drops():
    for g in (group(ingress=[rule()], admin=False),
              group(ingress=[rule(protocol="tcp", destination_port="99999")])):
        r = render(router(fwg_a=g))
        assert r.chains[4]["neutron-l3-agent-FORWARD"] == [
            f"-A neutron-l3-agent-FORWARD -o {QR_A} -j neutron-l3-agent-fwaas-defau",
            f"-A neutron-l3-agent-FORWARD -i {QR_A} -j neutron-l3-agent-fwaas-defau"]
        assert not any(c.startswith("neutron-l3-agent-iv4") for c in r.chains[4])
    assert FirewallGroup.from_wire(group(ingress=[rule(action="bogus")])).error


def test_chain_names_are_upstreams_and_28_characters_at_most():
    assert group_chain("1b2c3d4e", 4, "ingress") == IN4
    assert len(IN4) == 28
    assert is_ours(IN4) and is_ours("neutron-l3-agent-fwaas-defau")
    assert not is_ours("neutron-l3-agent-INPUT") and not is_ours("neutron-l3-agent-snat")


# ---------------------------------------------------------------- diff

def save_of(chains: dict[str, list[str]], forward_extra=()) -> dict[str, list[str]]:
    """What iptables-save shows once the rendered chains are in."""
    out = {"INPUT": ["-A INPUT -j neutron-l3-agent-INPUT"], "OUTPUT": [],
           "neutron-l3-agent-INPUT": ["-A neutron-l3-agent-INPUT -j ACCEPT"]}
    out["FORWARD"] = (["-A FORWARD -j neutron-l3-agent-FORWARD"] if chains else []) + list(
        forward_extra)
    out.update(chains)
    return out


def test_empty_plan_when_the_kernel_matches():
    g = group(ingress=[rule(protocol="tcp", destination_port="22")])
    r = render(router(fwg_a=g))
    observed = {v: save_of(r.chains[v]) for v in (4, 6)}
    assert plan(r, observed).empty
    assert plan(render(router()), {4: save_of({}), 6: save_of({})}).empty


def test_first_apply_declares_chains_and_jumps_from_forward_leaving_input_alone():
    g = group(ingress=[rule(protocol="tcp", destination_port="22")])
    text = plan(render(router(fwg_a=g)), {4: save_of({}), 6: {}}).iptables[4]
    lines = text.splitlines()
    assert lines[0] == "*filter" and lines[-1] == "COMMIT"
    assert f":{IN4} - [0:0]" in lines and "-I FORWARD 1 -j neutron-l3-agent-FORWARD" in lines
    assert not any("INPUT" in line for line in lines)
    assert not any(line.startswith("-F FORWARD") for line in lines)


def test_inserted_rule_is_one_insert():
    g1 = group(ingress=[rule(id="2", protocol="tcp", destination_port="22")])
    g2 = group(ingress=[rule("deny", id="1", protocol="tcp", destination_port="22"),
                        rule(id="2", protocol="tcp", destination_port="22")], version="v2")
    before = render(router(fwg_a=g1)).chains[4]
    text = table_input(render(router(fwg_a=g2)).chains[4], save_of(before))
    body = text.splitlines()[1:-1]
    assert body == [f"-I {IN4} 4 -p tcp -m tcp --dport 22 -j neutron-l3-agent-dropped"]


def test_removing_the_last_group_deletes_our_chains_and_jump_only():
    g = group(ingress=[rule()])
    have = save_of(render(router(fwg_a=g)).chains[4],
                   forward_extra=["-A FORWARD -j someone-elses"])
    lines = table_input({}, have).splitlines()
    assert "-D FORWARD -j neutron-l3-agent-FORWARD" in lines
    assert f"-X {IN4}" in lines and "-X neutron-l3-agent-accepted" in lines
    assert not any("someone-elses" in line or "INPUT" in line for line in lines)


def test_l3_iptables_writer_leaves_fwaas_chains_and_forward_alone():
    """The metadata filter rules (INPUT) and FWaaS (FORWARD) share the table."""
    filt = Table("filter")
    filt.add("INPUT", "-j neutron-l3-agent-INPUT")
    filt.add("neutron-l3-agent-INPUT", "-j ACCEPT")
    g = group(ingress=[rule()])
    observed = save_of(render(router(fwg_a=g)).chains[4])
    assert not differs(filt, observed, ("neutron-",), FOREIGN_TO_L3)
    assert differs(filt, observed, ("neutron-",))          # without: it would flush them
    text = restore_input(filt, observed, ("neutron-",), FOREIGN_TO_L3)
    assert "-F FORWARD" not in text and IN4 not in text and "-F INPUT" in text


# ---------------------------------------------------------------- conntrack matcher

CT_LINES = [
    # outside -> floating IP 203.0.113.20 (DNAT to 10.0.0.7), tcp 22 and 80
    "tcp      6 431999 ESTABLISHED src=198.51.100.9 dst=203.0.113.20 sport=40000 dport=22 "
    "src=10.0.0.7 dst=198.51.100.9 sport=22 dport=40000 [ASSURED] mark=0 use=1",
    "tcp      6 431999 ESTABLISHED src=198.51.100.9 dst=203.0.113.20 sport=40001 dport=80 "
    "src=10.0.0.7 dst=198.51.100.9 sport=80 dport=40001 [ASSURED] mark=0 use=1",
    # instance -> outside, SNAT to the gateway address
    "udp      17 29 src=10.0.0.7 dst=198.51.100.53 sport=5000 dport=53 src=198.51.100.53 "
    "dst=203.0.113.10 sport=53 dport=5000 mark=0 use=1",
    # between the two subnets
    "icmp     1 29 src=10.0.1.5 dst=10.0.0.7 type=8 code=0 id=77 src=10.0.0.7 dst=10.0.1.5 "
    "type=0 code=0 id=77 mark=0 use=1",
    # to the router itself (metadata redirect): not forwarded, never judged
    "tcp      6 100 ESTABLISHED src=10.0.0.7 dst=169.254.169.254 sport=50000 dport=80 "
    "src=10.0.0.1 dst=10.0.0.7 sport=9697 dport=50000 [ASSURED] mark=1 use=1",
    "garbage line",
]


def test_parse_flows():
    flows = parse_flows(CT_LINES, 4)
    assert len(flows) == 5
    assert flows[0] == Flow(4, 6, "198.51.100.9", "203.0.113.20", "10.0.0.7", sport=40000,
                            dport=22, reply_sport=22)
    assert flows[3].icmp == (8, 0, 77)
    assert flows[0].delete_argv() == [
        "conntrack", "-D", "-f", "ipv4", "-p", "tcp", "-s", "198.51.100.9", "-d",
        "203.0.113.20", "--sport", "40000", "--dport", "22"]
    assert flows[3].delete_argv()[-6:] == ["--icmp-type", "8", "--icmp-code", "0",
                                           "--icmp-id", "77"]


def test_matcher_judges_each_flow_as_forward_sees_it():
    g = group(ingress=[rule("deny", id="1", protocol="tcp", destination_port="80"),
                       rule(id="2", protocol="tcp", destination_port="22",
                            source_ip_address="198.51.100.0/24")])
    r = router(fwg_a=g)
    rendered = render(r)
    flows = parse_flows(CT_LINES, 4)
    assert [verdict(f, rendered, r) for f in flows] == [
        "ACCEPT",     # 22 from outside: allowed (ingress of qr-a, after DNAT)
        "DROP",       # 80: denied
        "DROP",       # outbound DNS: the group has no egress policy
        "DROP",       # ping from the other subnet: not allowed in
        None]         # to the router itself


def test_matcher_reject_port_ranges_v6_and_unfiltered_ports():
    g = group(ingress=[rule("reject", id="1", protocol="udp", destination_port="50:60"),
                       rule(id="2", protocol="icmp", ip_version=6)],
              egress=[rule(id="3")])
    r = router(fwg_a=g)
    rendered = render(r)
    udp = Flow(4, 17, "10.0.1.5", "10.0.0.7", "10.0.0.7", sport=1, dport=55, reply_sport=55)
    assert verdict(udp, rendered, r) == "REJECT"
    other = Flow(4, 17, "10.0.1.5", "10.0.0.7", "10.0.0.7", sport=1, dport=61, reply_sport=61)
    assert verdict(other, rendered, r) == "DROP"
    ping6 = Flow(6, 58, "2001:db8:ff::1", "2001:db8:a::7", "2001:db8:a::7", icmp=(128, 0, 1))
    assert verdict(ping6, rendered, r) is None        # no route back to ::ff here
    # out of qr-a (egress allows all), into qr-b which is in no group
    out = Flow(4, 6, "10.0.0.7", "10.0.1.5", "10.0.1.5", sport=1, dport=2, reply_sport=2)
    assert verdict(out, rendered, r) == "ACCEPT"
    # with no group anywhere nothing is forbidden
    assert verdict(udp, render(router()), router()) == "ACCEPT"


def test_matcher_admin_down_drops_everything_through_the_port():
    r = router(fwg_a=group(ingress=[rule()], egress=[rule()], admin=False))
    flow = Flow(4, 6, "10.0.1.5", "10.0.0.7", "10.0.0.7", sport=1, dport=22, reply_sport=22)
    assert verdict(flow, render(r), r) == "DROP"


def test_protocol_names_of_this_machine_compare_equal_to_numbers():
    g = group(ingress=[rule(id="1", protocol="113"), rule(id="2", protocol="115")])
    r = render(router(fwg_a=g))
    saved = {c: [line.replace("-p pgm", "-p 113").replace("-p 115", "-p l2tp")
                 for line in lines] for c, lines in r.chains[4].items()}
    assert plan(r, {4: save_of(saved), 6: save_of(r.chains[6])}).empty


def test_restore_input_names_uncommon_protocols_by_number():
    g = group(ingress=[rule(id="1", protocol="113"), rule(id="2", protocol="tcp")])
    text = plan(render(router(fwg_a=g)), {4: {}, 6: {}}).iptables[4]
    assert f"-A {IN4} -p 113 -j neutron-l3-agent-accepted" in text
    assert f"-A {IN4} -p tcp -j neutron-l3-agent-accepted" in text
