"""The L2 agent's QoS plan: what the server's wire form becomes on a tap
(tbf arguments, ifb redirect, the nftables DSCP table) and which taps a
cycle reprograms."""
from __future__ import annotations

from neutrino.agent.l2.qos.agent import QosAgent
from neutrino.agent.l2.qos.plan import (Limit, QosSpec, clear_commands, nft_script, plan,
                                        set_commands)

PORT = "11111111-2222-3333-4444-555555555555"
TAP, IFB = "tap11111111-22", "qos11111111-22"


def test_wire_form_to_spec():
    assert QosSpec.from_wire(None) is None
    assert QosSpec.from_wire({"policy_id": "p", "egress": None, "ingress": None,
                              "dscp_mark": None}) is None
    spec = QosSpec.from_wire({"policy_id": "p", "egress": {"max_kbps": 10000,
                                                           "max_burst_kbps": 0},
                              "ingress": None, "dscp_mark": 26})
    assert spec == QosSpec(egress=Limit(10000, 0), dscp_mark=26)
    assert spec.qdiscs() == {"ingress"}


def test_burst_defaults_to_80_percent_and_never_below_two_frames():
    assert Limit(10000, 0).tbf() == ["tbf", "rate", "10000kbit", "burst", "1000000b",
                                     "latency", "50ms"]
    assert Limit(10000, 100).tbf()[4] == "12500b"
    assert Limit(1, 0).tbf()[4] == "3000b"


def test_commands_per_direction():
    ingress = set_commands(TAP, IFB, QosSpec(ingress=Limit(1000, 0)))
    assert [argv[:6] for argv, _ in ingress] == [["tc", "qdisc", "replace", "dev", TAP,
                                                  "root"]]
    egress = [argv for argv, must in set_commands(TAP, IFB, QosSpec(egress=Limit(1000, 0)))]
    assert ["ip", "link", "add", IFB, "type", "ifb"] in egress
    assert egress[-1][-5:] == ["mirred", "egress", "redirect", "dev", IFB]
    # a DSCP-only spec needs no qdisc: the mark is an nftables chain
    assert set_commands(TAP, IFB, QosSpec(dscp_mark=10)) == []
    assert all(not must for _argv, must in clear_commands(TAP, IFB))


def test_nft_table_marks_both_families():
    script = nft_script({TAP: 26})
    assert "type filter hook prerouting priority filter;" in script
    assert f'iifname "{TAP}" ip dscp set 26' in script
    assert f'iifname "{TAP}" ip6 dscp set 26' in script
    assert script.startswith("table bridge neutrino-qos {}\ndelete table bridge neutrino-qos\n")


def test_plan_reprograms_only_what_changed():
    a, b = QosSpec(egress=Limit(1, 0)), QosSpec(ingress=Limit(2, 0))
    assert plan({"t1": a, "t2": None}, {"t1": a}) == {}
    assert plan({"t1": b}, {"t1": a}) == {"t1": b}
    assert plan({"t1": None}, {"t1": a}) == {"t1": None}      # policy removed
    assert plan({}, {"t1": a}) == {"t1": None}                # port unwired
    assert plan({"t1": a}, {"t1": a}, broken={"t1"}) == {"t1": a}
    assert plan({"t2": None}, {}) == {}                       # never ours: untouched


def test_learn_merges_partial_answers():
    agent = QosAgent(None)
    wire = {"policy_id": "p", "egress": None, "ingress": {"max_kbps": 5, "max_burst_kbps": 0},
            "dscp_mark": None}
    agent.learn({"ports": [{"id": "a", "network_id": "n1", "qos": wire},
                           {"id": "b", "network_id": "n2", "qos": None}]}, True)
    assert agent.wanted == {"a": QosSpec(ingress=Limit(5, 0)), "b": None}
    # the network of "a" changed: its ports come again (here: "a" is gone)
    agent.learn({"ports": []}, False, set(), {"n1"})
    assert agent.wanted == {"b": None}
    agent.learn({"ports": [{"id": "b", "network_id": "n2", "qos": wire}]}, False, {"b"}, set())
    assert agent.wanted == {"b": QosSpec(ingress=Limit(5, 0))}


def test_router_gateway_shaping_commands():
    from neutrino.agent.l3.fip_qos import commands, ifb_of, spec_of
    wire = [{"ip": "203.0.113.20", "egress": {"max_kbps": 1000, "max_burst_kbps": 0},
             "ingress": None},
            {"ip": "203.0.113.10", "egress": None, "ingress": {"max_kbps": 2000,
                                                               "max_burst_kbps": 0}},
            {"ip": "2001:db8::5", "egress": {"max_kbps": 1, "max_burst_kbps": 0},
             "ingress": None},                                   # IPv4 only: NAT'd addresses
            {"ip": "203.0.113.30", "egress": None, "ingress": None}]
    spec = spec_of(wire)
    assert [ip for ip, _e, _i in spec] == ["203.0.113.10", "203.0.113.20"]
    qg = "qg-aaaaaaaa-bb"
    cmds = [" ".join(argv) for argv in commands(qg, spec)]
    assert f"tc filter add dev {qg} parent 1: protocol ip prio 1 u32 match ip src " \
           "203.0.113.20/32 flowid 1:10" in cmds
    assert f"tc filter add dev {ifb_of(qg)} parent 1: protocol ip prio 1 u32 match ip dst " \
           "203.0.113.10/32 flowid 1:10" in cmds
    assert cmds[-1].endswith(f"mirred egress redirect dev {ifb_of(qg)}")
    assert commands(qg, spec_of([])) == []
