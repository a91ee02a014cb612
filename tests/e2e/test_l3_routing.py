"""Routers end to end (SEED-SPEC §5-8, access matrix rows 3-5): routing
between tenant networks, SNAT to the outside host, floating IPs both ways,
overlapping CIDRs behind separate routers, the seed's NAT table, and an L3
agent SIGKILL + restart that loses no ping and duplicates no rule.

Every lab host runs an L3 agent; a router lands on the least loaded one,
found through GET /v2.0/routers/<id>/l3-agents. Each test removes what it
made (floating IPs, interfaces, gateways, routers, networks) in a finally.
"""
from __future__ import annotations

import secrets
import signal
import subprocess
import time

import pytest

from neutrino.dataplane import netns as ns
from tests.e2e.helpers import PingCounter, links, wait_for
from tests.e2e.l3_helpers import OUTSIDE, nat_rules, outside, outside_ping, router_ready, whoami

pytestmark = pytest.mark.root

SEED_RULES = [   # SEED-SPEC §6, in the seed's order (qg-X and the gateway IP filled in)
    "-A PREROUTING -j neutron-l3-agent-PREROUTING",
    "-A OUTPUT -j neutron-l3-agent-OUTPUT",
    "-A POSTROUTING -j neutron-l3-agent-POSTROUTING",
    "-A POSTROUTING -j neutron-postrouting-bottom",
    "-A neutron-l3-agent-POSTROUTING ! -i {qg} ! -o {qg} -m conntrack ! --ctstate DNAT -j ACCEPT",
    "-A neutron-l3-agent-PREROUTING -d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 "
    "-j REDIRECT --to-ports 9697",
    "-A neutron-l3-agent-snat -j neutron-l3-agent-float-snat",
    "-A neutron-l3-agent-snat -o {qg} -j SNAT --to-source {gw}",
    "-A neutron-l3-agent-snat -m mark ! --mark 0x2/0xffff -m conntrack --ctstate DNAT "
    "-j SNAT --to-source {gw}",
    '-A neutron-postrouting-bottom -m comment --comment "Perform source NAT on outgoing '
    'traffic." -j neutron-l3-agent-snat',
]


def test_router_snat_floating_ip_and_nat_table(l3, lab):
    ext = l3.external()
    net_a, sub_a = l3.tenant("ra", "10.81.1.0/24", network_type="vxlan")
    net_b, sub_b = l3.tenant("rb", "10.81.2.0/24", network_type="local")
    router = l3.router("r", ext=ext)
    l3.add_interface(router, sub_a)
    l3.add_interface(router, sub_b)
    router = lab.api.show("routers", router["id"])
    gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    host = l3.router_host(router)
    other = next(h for h in lab.state.host_names() if h != host)
    a = l3.instance("a", net_a, host=other)          # vxlan: across hosts
    b = l3.instance("b", net_b, host=host)           # local: on the router's host
    rns = router_ready(l3, router, "10.81.1.1", "10.81.2.1", gw_ip)

    # two tenant networks joined by the router
    assert wait_for(lambda: l3.ping(a, b.ip), timeout=20, what="a -> b through the router")
    assert l3.ping(b, a.ip)
    # tenant -> outside, SNAT to the gateway IP
    assert wait_for(lambda: whoami(l3, a) == gw_ip, timeout=20, what="SNAT to gateway IP")
    assert whoami(l3, b) == gw_ip
    # the seed's NAT table, in order
    gw_port = lab.api.list("ports", device_id=router["id"],
                           device_owner="network:router_gateway")[0]
    qg = "qg-" + gw_port["id"][:11]
    rules = nat_rules(rns)
    expected = [r.format(qg=qg, gw=gw_ip) for r in SEED_RULES]
    assert [r for r in rules if r in expected] == expected
    assert len(rules) == len(set(rules))
    # `neutrino show router` prints the namespace, its devices, routes and NAT table
    from neutrino.cli.show import render_router, router_view
    shown = "\n".join(render_router(router_view(lab.api, router["id"])))
    assert f"namespace {rns}" in shown and qg in shown and f"default via {OUTSIDE}" in shown
    assert all(rule in shown for rule in expected)

    # floating IP: outside reaches the instance (ping, TCP), sees the FIP as source
    # -- once a's security groups let the outside host in, as a tenant opens them
    l3.allow_ingress(a, {"protocol": "icmp"},
                     {"protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080})
    fip = l3.fip(ext, a.port_id)
    fip_ip = fip["floating_ip_address"]
    with ns.in_netns(a.netns):
        server = subprocess.Popen(["python3", "-m", "http.server", "8080", "--bind",
                                   "0.0.0.0"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: outside_ping(lab, fip_ip), timeout=20, what="ping FIP")
        assert wait_for(lambda: outside(lab, [
            "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}",
            f"http://{fip_ip}:8080/"]).stdout == "200", timeout=15, what="TCP to the FIP")
        assert wait_for(lambda: whoami(l3, a) == fip_ip, timeout=10, what="SNAT to the FIP")
        assert whoami(l3, b) == gw_ip                  # b has none: still the gateway IP
        rules = nat_rules(rns)
        for rule in (f"-A neutron-l3-agent-PREROUTING -d {fip_ip}/32 -j DNAT "
                     f"--to-destination {a.ip}",
                     f"-A neutron-l3-agent-OUTPUT -d {fip_ip}/32 -j DNAT --to-destination {a.ip}",
                     f"-A neutron-l3-agent-float-snat -s {a.ip}/32 -j SNAT --to-source {fip_ip}"):
            assert rule in rules
        wait_for(lambda: lab.api.show("floatingips", fip["id"])["status"] == "ACTIVE",
                 timeout=15, what="FIP ACTIVE")

        # disassociate: unreachable again, rules gone -- for a running ping
        # too (its conntrack entry is deleted with the floating IP)
        pinger = PingCounter(lab.lab.outside_ns, fip_ip, count=150, interval=0.02)  # ~3 s
        try:
            time.sleep(0.5)
            lab.api.update("floatingips", fip["id"], {"port_id": None})
            transmitted, received = pinger.result(timeout=30)
        finally:
            pinger.kill()
        assert 0 < received < transmitted - 50, (transmitted, received)
        assert lab.api.show("floatingips", fip["id"])["status"] == "DOWN"
        wait_for(lambda: not any(fip_ip in r for r in nat_rules(rns)), timeout=15,
                 what="FIP rules removed")
        assert not outside_ping(lab, fip_ip)
        assert whoami(l3, a) == gw_ip
    finally:
        server.kill()
        server.wait()

    # removing an interface removes exactly its device (and tap), others stay
    host_ns = lab.state.host_netns(host)
    qr_b = "qr-" + next(p["id"] for p in lab.api.list("ports", device_id=router["id"],
                                                      network_id=net_b["id"]))[:11]
    before = links(rns)
    l3.remove_interface(router, sub_b)
    wait_for(lambda: qr_b not in links(rns), timeout=15, what="qr- of b removed")
    assert "tap" + qr_b[3:] not in links(host_ns)
    after = links(rns)
    assert {n: l.index for n, l in after.items()} == {
        n: l.index for n, l in before.items() if n != qr_b}
    assert nat_rules(rns) == rules_without_fip(rules, fip_ip)

    # removing the gateway removes qg-, its routes and the rules naming it or
    # its address; the rest of the table and the qr- device stay as they were
    before = {n: l.index for n, l in links(rns).items()}
    kept = [r for r in nat_rules(rns) if qg not in r and gw_ip not in r]
    lab.api.update("routers", router["id"], {"external_gateway_info": {}})
    wait_for(lambda: qg not in links(rns) and not any(
        "SNAT" in r or qg in r for r in nat_rules(rns)), timeout=15, what="qg- and SNAT removed")
    assert nat_rules(rns) == kept
    assert [r for r in expected if r in kept] == [
        r for r in expected if "SNAT" not in r and qg not in r]      # seed order kept
    assert {n: l.index for n, l in links(rns).items()} == {
        n: i for n, i in before.items() if n != qg}
    assert "default" not in ns.run(["ip", "route"], netns=rns)
    assert "tap" + qg[3:] not in links(host_ns)
    assert l3.ping(a, "10.81.1.1")

    # administratively down: the devices stay (ports ACTIVE), nothing answers
    qr_a = next(p for p in lab.api.list("ports", device_id=router["id"],
                                        network_id=net_a["id"]))
    lab.api.update("routers", router["id"], {"admin_state_up": False})
    wait_for(lambda: not l3.ping(a, "10.81.1.1"), timeout=15, what="router down")
    assert lab.api.show("ports", qr_a["id"])["status"] == "ACTIVE"
    lab.api.update("routers", router["id"], {"admin_state_up": True})
    assert wait_for(lambda: l3.ping(a, "10.81.1.1"), timeout=15, what="router up again")


def rules_without_fip(rules, fip_ip):
    return [r for r in rules if fip_ip not in r and "float-snat -s" not in r]


def test_overlapping_cidrs_behind_two_routers(l3, lab):
    ext = l3.external()
    seen = {}
    for n, project in enumerate((secrets.token_hex(16), secrets.token_hex(16))):
        net, sub = l3.tenant(f"ov{n}", "10.82.0.0/24", project=project, network_type="vxlan")
        router = l3.router(f"ov{n}", ext=ext, project=project)
        l3.add_interface(router, sub)
        router = lab.api.show("routers", router["id"])
        gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        inst = l3.instance(f"ov{n}", net, host=lab.state.host_names()[n % 2])
        router_ready(l3, router, "10.82.0.1", gw_ip)
        seen[inst.name] = (inst, gw_ip, router, sub)
    for inst, gw_ip, _, _ in seen.values():
        assert wait_for(lambda i=inst, g=gw_ip: whoami(l3, i) == g, timeout=20,
                        what=f"{inst.name} behind its own router")
        assert l3.ping(inst, OUTSIDE)
    # deleting a router removes its namespace; the other router is untouched
    (inst0, _, r0, sub0), (inst1, gw1, r1, _) = seen.values()
    rns0, rns1 = l3.router_ns(r0), l3.router_ns(r1)
    rules1 = nat_rules(rns1)
    l3.remove_interface(r0, sub0)
    lab.api.delete("routers", r0["id"])
    wait_for(lambda: not ns.exists(rns0), timeout=15, what="router namespace removed")
    assert not l3.ping(inst0, OUTSIDE)
    assert nat_rules(rns1) == rules1 and whoami(l3, inst1) == gw1


def test_l3_agent_sigkill_restart_loses_no_ping(l3, lab):
    ext = l3.external()
    net, sub = l3.tenant("rs", "10.83.0.0/24", network_type="vxlan")
    router = l3.router("rs", ext=ext)
    l3.add_interface(router, sub)
    router = lab.api.show("routers", router["id"])
    gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    host = l3.router_host(router)
    a = l3.instance("rs", net, host=host)
    fip = l3.fip(ext, a.port_id)
    rns = router_ready(l3, router, "10.83.0.1", gw_ip, fip["floating_ip_address"])
    assert wait_for(lambda: l3.ping(a, OUTSIDE), timeout=20, what="a -> outside")
    wait_for(lambda: lab.api.show("floatingips", fip["id"])["status"] == "ACTIVE",
             timeout=15, what="FIP ACTIVE (its rules are in)")
    rules_before = nat_rules(rns)
    mangle_before = ns.run(["iptables", "-t", "mangle", "-S"], netns=rns)
    devices_before = {n: link.index for n, link in links(rns).items()}

    started_before = next(x for x in lab.api.list("agents", agent_type="L3 agent")
                          if x["host"] == host)["started_at"]
    pinger = PingCounter(a.netns, OUTSIDE, count=500, interval=0.02)     # ~10 s
    try:
        time.sleep(1.0)
        if lab.state.transport == "inproc":
            lab.kill_runtime(signal.SIGKILL)
            lab.start_runtime()
        else:
            lab.kill_l3_agent(host, signal.SIGKILL)
            lab.start_l3_agent(host)
        transmitted, received = pinger.result(timeout=60)
    finally:
        pinger.kill()
    assert transmitted == 500
    assert received == transmitted, f"{transmitted - received} ping(s) lost"
    # the restarted agent has converged (it re-registers and syncs) and
    # rewrote nothing: same rules, once each, same devices
    def converged_again():
        agent = next(x for x in lab.api.list("agents", agent_type="L3 agent")
                     if x["host"] == host)
        return (agent["alive"] and agent["started_at"] > started_before
                and agent["configurations"].get("routers", 0) >= 1)
    wait_for(converged_again, timeout=30, what="restarted L3 agent synced")
    time.sleep(2.0)
    assert nat_rules(rns) == rules_before
    assert ns.run(["iptables", "-t", "mangle", "-S"], netns=rns) == mangle_before
    assert {n: link.index for n, link in links(rns).items()} == devices_before
    assert l3.ping(a, OUTSIDE)
