"""QoS on a real kernel: the L2 agent, fed by a real server core over the
in-process bus, enforces a port's bandwidth limits and DSCP mark on its tap.
Instances are namespaces on veth taps the agent wires into the bridge;
traffic is measured with iperf3 and seen with tcpdump."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink
from tests.dataplane.conftest import have
from tests.dataplane.helpers import server_with_l2_agent
from tests.machine import missing

pytestmark = pytest.mark.root

HOST = "qoshost"
CIDR = "10.97.0.0/24"


@pytest.fixture
def server(tmp_path, netns):
    with server_with_l2_agent(tmp_path, netns, "qos", HOST) as (client, _core, host_ns, start):
        yield client, host_ns, start, netns


def _post(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _put(client, path, body):
    r = client.put(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _policy(client, rtype: str, **rule) -> str:
    pol = _post(client, "/v2.0/qos/policies", {"policy": {"name": "p"}})["policy"]
    _post(client, f"/v2.0/qos/policies/{pol['id']}/{rtype}_rules", {f"{rtype}_rule": rule})
    return pol["id"]


def _instances(client, host_ns, make_ns, *port_attrs: dict):
    """Ports on one network bound to HOST (one per dict of extra
    attributes), each with an instance namespace on its tap."""
    net = _post(client, "/v2.0/networks", {"network": {"name": "n"}})["network"]
    _post(client, "/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                               "cidr": CIDR, "enable_dhcp": False}})
    sg = _post(client, "/v2.0/security-groups", {"security_group": {"name": "open"}})
    sg_id = sg["security_group"]["id"]
    _post(client, "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": sg_id, "direction": "ingress", "ethertype": "IPv4"}})
    out = []
    for attrs in port_attrs:
        port = _post(client, "/v2.0/ports", {"port": {
            "network_id": net["id"], "binding:host_id": HOST, "device_owner": "compute:x",
            "security_groups": [sg_id], **attrs}})["port"]
        inst = make_ns("i" + port["id"][:4])
        with Netlink(host_ns) as nl:
            nl.create_veth("tap" + port["id"][:11], "eth0", peer_netns=inst,
                           peer_mac=port["mac_address"])
        ip = port["fixed_ips"][0]["ip_address"]
        ns.run(["ip", "addr", "add", f"{ip}/24", "dev", "eth0"], netns=inst)
        ns.run(["ip", "link", "set", "eth0", "up"], netns=inst)
        out.append((port, inst, ip))
    return out


def _wait(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _active(client, port_id: str) -> bool:
    return client.get(f"/v2.0/ports/{port_id}").json()["port"]["status"] == "ACTIVE"


def _qdiscs(host_ns: str, dev: str) -> str:
    return ns.run(["tc", "qdisc", "show", "dev", dev], netns=host_ns, check=False)


def _iperf(client_ns: str, server_ns: str, server_ip: str, reverse: bool = False) -> float:
    """Mbit/s received over 4 s of TCP (the first second, where the bucket's
    burst passes, left out)."""
    server = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        argv = ["iperf3", "-c", server_ip, "-t", "5", "-O", "1", "-J"]
        if reverse:
            argv.append("-R")
        out = json.loads(ns.run(argv, netns=client_ns, timeout=30))
        assert "error" not in out, out["error"]
        return out["end"]["sum_received"]["bits_per_second"] / 1e6
    finally:
        server.kill()
        server.wait()


def test_bandwidth_limit_holds_under_iperf3(server):
    if not have("iperf3"):
        missing("iperf3 is not installed (./bootstrap installs it)")
    client, host_ns, start_agent, make_ns = server
    egress = _policy(client, "bandwidth_limit", max_kbps=10000, direction="egress")
    (limited, inst_a, _ip_a), (_free, inst_b, ip_b) = _instances(
        client, host_ns, make_ns, {"qos_policy_id": egress}, {})
    agent = start_agent()
    _wait(lambda: _active(client, limited["id"]) and _active(client, _free["id"]),
          "the ports to be ACTIVE")
    tap = "tap" + limited["id"][:11]
    _wait(lambda: "ingress" in _qdiscs(host_ns, tap), "the egress limit on the tap")
    # a 10 Mbit/s egress limit holds within 10 %
    sent = _iperf(inst_a, inst_b, ip_b)
    assert 9.0 <= sent <= 11.0, f"{sent:.2f} Mbit/s from the limited instance"
    # what it receives is not limited by its egress rule
    received = _iperf(inst_a, inst_b, ip_b, reverse=True)
    assert received > 30, f"{received:.2f} Mbit/s to the instance"

    # the rule turned into an ingress limit: the direction follows
    rules = client.get(f"/v2.0/qos/policies/{egress}/bandwidth_limit_rules").json()
    rule_id = rules["bandwidth_limit_rules"][0]["id"]
    _put(client, f"/v2.0/qos/policies/{egress}/bandwidth_limit_rules/{rule_id}",
         {"bandwidth_limit_rule": {"direction": "ingress", "max_kbps": 10000}})
    _wait(lambda: "tbf" in _qdiscs(host_ns, tap) and "ingress" not in _qdiscs(host_ns, tap),
          "the ingress limit on the tap")
    received = _iperf(inst_a, inst_b, ip_b, reverse=True)
    assert 9.0 <= received <= 11.0, f"{received:.2f} Mbit/s to the limited instance"

    # the port's policy removed: no limit left
    _put(client, f"/v2.0/ports/{limited['id']}", {"port": {"qos_policy_id": None}})
    _wait(lambda: "tbf" not in _qdiscs(host_ns, tap), "the limit removed")
    assert agent.qos.problems == {}


def test_dscp_mark_seen_by_tcpdump(server):
    if not have("tcpdump"):
        missing("tcpdump is not installed (./bootstrap installs it)")
    client, host_ns, start_agent, make_ns = server
    mark = _policy(client, "dscp_marking", dscp_mark=26)
    # with an egress limit too: the mark survives the trip through the ifb
    _post(client, f"/v2.0/qos/policies/{mark}/bandwidth_limit_rules",
          {"bandwidth_limit_rule": {"max_kbps": 50000, "direction": "egress"}})
    (sender, inst_a, _ip_a), (_other, inst_b, ip_b) = _instances(client, host_ns, make_ns, {}, {})
    # the network's policy applies to its ports
    _put(client, f"/v2.0/networks/{sender['network_id']}", {"network": {"qos_policy_id": mark}})
    # ... but a port's own policy overrides it: no mark for the receiver
    plain = _post(client, "/v2.0/qos/policies", {"policy": {"name": "plain"}})["policy"]
    _put(client, f"/v2.0/ports/{_other['id']}", {"port": {"qos_policy_id": plain["id"]}})
    start_agent()
    _wait(lambda: _active(client, sender["id"]) and _active(client, _other["id"]),
          "the ports to be ACTIVE")
    _wait(lambda: "tap" + sender["id"][:11] in ns.run(
        ["nft", "list", "table", "bridge", "neutrino-qos"], netns=host_ns, check=False),
        "the DSCP rule of the sender's tap")
    # echo requests as each receiver sees them (replies copy the request's TOS)
    a_to_b = _requests_seen(inst_b, inst_a, ip_b)
    b_to_a = _requests_seen(inst_a, inst_b, sender["fixed_ips"][0]["ip_address"])
    # DSCP 26 (AF31) is the TOS byte 0x68
    assert a_to_b and all("tos 0x68" in line for line in a_to_b), a_to_b
    assert b_to_a and all("tos 0x0," in line for line in b_to_a), b_to_a


def _requests_seen(at_ns: str, from_ns: str, to_ip: str) -> list[str]:
    dump = subprocess.Popen(["ip", "netns", "exec", at_ns, "tcpdump", "-l", "-n", "-v", "-c",
                             "3", "-i", "eth0", "icmp[icmptype] == 8 and dst host " + to_ip],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(1)
        ns.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", to_ip], netns=from_ns, check=False)
        out, _ = dump.communicate(timeout=10)
    finally:
        if dump.poll() is None:
            dump.kill()
            dump.wait()
    return [line for line in out.splitlines() if "tos 0x" in line]
