"""Address groups and stateless groups in the lab, with packets, through the
whole path (API, server, agents' firewalls; iptables and nftables): an
address-group rule lets exactly the listed addresses in, and follows the
group's address changes; a stateless group passes return traffic only
through its own rules."""
from __future__ import annotations

import os
import secrets
import time

import pytest

from tests.e2e.test_security_groups import SgWorld, eventually, ping, vxlan_net
from tests.machine import missing

pytestmark = pytest.mark.root


@pytest.fixture(scope="module", params=["iptables", "nftables"])
def aglab(request, tmp_path_factory):
    if os.geteuid() != 0:
        missing("needs root: network namespaces")
    from neutrino.lab.control import LabControl
    ctl = LabControl.up(hosts=2, transport="inproc", firewall=True,
                        lab_dir=tmp_path_factory.mktemp(f"lab-ag-{request.param}") / "lab",
                        firewall_driver=request.param)
    try:
        yield ctl
    finally:
        ctl.down()


@pytest.fixture
def w(aglab):
    world = SgWorld(aglab, secrets.token_hex(2))
    try:
        yield world
    finally:
        world.cleanup()
        time.sleep(0.2)


def _only(w, inst, *groups):
    w.api.update("ports", inst.port_id, {"security_groups": list(groups)})


def test_an_address_group_rule_lets_exactly_the_listed_addresses_in(w):
    net = vxlan_net(w, "ag", cidr="10.83.0.0/24")
    a = w.vm("a", net, host="host1")
    b = w.vm("b", net, host="host2")
    c = w.vm("c", net, host="host1")
    ag = w.api.request("POST", "/v2.0/address-groups", {"address_group": {
        "name": f"ag-{w.tag}", "addresses": [f"{b.ip}/32"]}})["address_group"]
    try:
        g = w.group("from-ag")
        w.rule(g["id"], protocol="icmp", remote_address_group_id=ag["id"])
        _only(w, a, g["id"])
        # Until the agent applies the new groups, a's default group still
        # lets c (a member of it) in: wait for c to be cut off, then check
        # that b (listed) passes and c stays refused.
        assert eventually(lambda: not ping(w, c, a.ip, count=1), "c (not listed) cut off")
        assert ping(w, b, a.ip), "b (listed) to reach a"
        assert not ping(w, c, a.ip, count=2)                    # not listed
        w.api.request("PUT", f"/v2.0/address-groups/{ag['id']}/add_addresses",
                      {"addresses": [f"{c.ip}/32"]})
        assert eventually(lambda: ping(w, c, a.ip), "c (added) to reach a")
        w.api.request("PUT", f"/v2.0/address-groups/{ag['id']}/remove_addresses",
                      {"addresses": [f"{b.ip}/32"]})
        assert eventually(lambda: not ping(w, b, a.ip), "b (removed) to be cut off")
        assert ping(w, c, a.ip)
    finally:
        for inst in (a,):
            _only(w, inst)
        for gid in list(w.groups):
            w.api.request("DELETE", f"/v2.0/security-groups/{gid}")
            w.groups.remove(gid)
        w.api.request("DELETE", f"/v2.0/address-groups/{ag['id']}")


def test_a_stateless_group_passes_return_traffic_only_through_its_own_rules(w):
    net = vxlan_net(w, "sl", cidr="10.84.0.0/24")
    a = w.vm("a", net, host="host1")
    b = w.vm("b", net, host="host2")
    w.allow_ingress(b, {"protocol": "icmp"})                    # b answers pings (stateful)
    groups = {}
    for name, stateful in (("sf", True), ("sl", False)):
        groups[name] = w.api.request("POST", "/v2.0/security-groups", {"security_group": {
            "name": f"{name}-{w.tag}", "stateful": stateful}})["security_group"]
        w.groups.append(groups[name]["id"])
        assert {r["direction"] for r in groups[name]["security_group_rules"]} == {"egress"}
    # the control: egress only, stateful: the reply is a known session
    _only(w, a, groups["sf"]["id"])
    assert eventually(lambda: ping(w, a, b.ip), "a to reach b (stateful)")
    # the same rules, stateless: the echo request leaves, the reply has no rule in
    _only(w, a, groups["sl"]["id"])
    assert eventually(lambda: not ping(w, a, b.ip, count=2), "a's replies to be dropped")
    time.sleep(1)
    assert not ping(w, a, b.ip, count=2)
    w.rule(groups["sl"]["id"], protocol="icmp")                 # ingress ICMP: the replies
    assert eventually(lambda: ping(w, a, b.ip), "a's replies to pass its own rule")
    _only(w, a)
