"""Status is a promise about the dataplane, on a real kernel with a real
server core and a real L2 agent (taps wired into the bridge):

* cold start: netfilter flushed behind the agent's back (a host reboot, an
  `iptables -F`), then the agent restarts: every port it had reported
  ACTIVE is reported DOWN before anything is restored, all filters come back
  in one iptables-restore per IP version, and a port is reported ACTIVE
  again only when its chains are in the kernel;
* a rule removal's conntrack cleanup runs beside the work loop: with the
  cleaner held up, a port plugged right after the removal is still wired
  and ACTIVE; once released, the flows the rule had allowed are gone.
Both firewall drivers (nftables: its tables deleted for the cold start, one
transaction to restore them)."""
from __future__ import annotations

import threading
import time

import pytest

from neutrino.dataplane import conntrack
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink
from neutrino.rpc.client import ServerClient
from tests.dataplane.helpers import server_with_l2_agent

pytestmark = pytest.mark.root

HOST = "sthost"
W = "neutron-linuxbri"


@pytest.fixture(params=["iptables", "nftables"])
def server(request, tmp_path, netns):
    with server_with_l2_agent(tmp_path, netns, "st", HOST, request.param) as (
            client, _core, host_ns, start):
        yield client, host_ns, start, netns, request.param


def _post(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _network(client):
    net = _post(client, "/v2.0/networks", {"network": {"name": "n"}})["network"]
    _post(client, "/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                               "cidr": "10.93.0.0/24", "enable_dhcp": False}})
    return net


def _port(client, net):
    return _post(client, "/v2.0/ports", {"port": {
        "network_id": net["id"], "binding:host_id": HOST, "device_owner": "compute:x"}})["port"]


def _plug(host_ns, make_ns, port):
    inst = make_ns("i" + port["id"][:4])
    with Netlink(host_ns) as nl:
        nl.create_veth("tap" + port["id"][:11], "eth0", peer_netns=inst,
                       peer_mac=port["mac_address"])


def _status(client, port_id):
    return client.get(f"/v2.0/ports/{port_id}").json()["port"]["status"]


def _wait_status(client, port_ids, status, timeout=30.0):
    deadline = time.monotonic() + timeout
    while any(_status(client, p) != status for p in port_ids):
        assert time.monotonic() < deadline, {p: _status(client, p) for p in port_ids}
        time.sleep(0.05)


def _flush_netfilter(host_ns, driver="iptables"):
    if driver == "nftables":
        for family in ("inet", "bridge"):
            ns.run(["nft", "delete", "table", family, "neutrino"], netns=host_ns)
        return
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "raw"):
            ns.run([tool, "-t", table, "-F"], netns=host_ns)
            ns.run([tool, "-t", table, "-X"], netns=host_ns)
    ns.run(["ebtables", "-t", "nat", "-F"], netns=host_ns)
    ns.run(["ebtables", "-t", "nat", "-X"], netns=host_ns)


def _filtered(host_ns, driver) -> set[str]:
    """Ports whose ingress chain the kernel has (by port id prefix)."""
    if driver == "nftables":
        text = ns.run(["nft", "list", "chains", "inet"], netns=host_ns, check=False)
        return {w[3:13] for w in text.split() if w.startswith("in-")}
    save = ns.run(["iptables-save", "-t", "filter"], netns=host_ns)
    return {line[len(W) + 3:len(W) + 13] for line in save.splitlines()
            if line.startswith(f":{W}-i")}


def test_cold_start_reports_down_until_every_filter_is_back(server, monkeypatch):
    client, host_ns, start_agent, make_ns, driver = server
    net = _network(client)
    ports = [_port(client, net) for _ in range(3)]
    for p in ports:
        _plug(host_ns, make_ns, p)
    ids = [p["id"] for p in ports]
    agent = start_agent()
    _wait_status(client, ids, "ACTIVE")
    agent.stop()

    _flush_netfilter(host_ns, driver)   # a reboot's empty netfilter, taps still on the bridge
    assert not _filtered(host_ns, driver)

    reports = []          # (kind, port, its ingress chain in the kernel right then)
    original = ServerClient.update_device_status

    def recording(self, up=(), down=(), build=(), error=()):
        have = _filtered(host_ns, driver)
        for kind, which in (("up", up), ("down", down), ("build", build)):
            for pid in which:
                reports.append((kind, pid, pid[:10] in have))
        return original(self, up=up, down=down, build=build, error=error)

    monkeypatch.setattr(ServerClient, "update_device_status", recording)
    again = start_agent()
    _wait_status(client, ids, "ACTIVE")
    # one atomic restore per IP version; nftables: one transaction per table
    # (each written from nothing: nothing is filtered until both are in)
    assert again.firewall.kernel.restores == 2
    for pid in ids:
        mine = [(kind, filtered) for kind, p, filtered in reports if p == pid]
        assert mine[0] == ("down", False), mine     # reported before anything was restored
        assert ("up", True) in mine and ("up", False) not in mine, mine
    assert {pid[:10] for pid in ids} <= _filtered(host_ns, driver)


def test_port_plugged_after_a_rule_delete_does_not_wait_for_conntrack(server):
    client, host_ns, start_agent, make_ns, _driver = server
    net = _network(client)
    a = _port(client, net)
    _plug(host_ns, make_ns, a)
    gid = a["security_groups"][0]
    rule = _post(client, "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": gid, "direction": "ingress", "ethertype": "IPv4",
        "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
        "remote_ip_prefix": "0.0.0.0/0"}})["security_group_rule"]
    agent = start_agent()
    _wait_status(client, [a["id"]], "ACTIVE")
    ip = a["fixed_ips"][0]["ip_address"]
    zone = agent.firewall.last.zones[net["id"]]
    # a session the rule let in (tracked in the network's zone)
    ns.run(["conntrack", "-I", "-p", "tcp", "-s", "192.0.2.10", "-d", ip, "--sport", "40000",
            "--dport", "22", "--state", "ESTABLISHED", "-t", "300", "-u", "SEEN_REPLY",
            "-w", str(zone)], netns=host_ns)

    cleaner = agent.firewall.kernel.conntrack
    gate, held = threading.Event(), threading.Event()
    run = cleaner._run

    def held_up(filters):
        held.set()
        gate.wait(60)
        run(filters)

    cleaner._run = held_up
    try:
        assert client.delete(f"/v2.0/security-group-rules/{rule['id']}").status_code == 204
        assert held.wait(30), "the rule removal queued no conntrack cleanup"
        b = _port(client, net)               # plugged while the cleanup is still pending
        _plug(host_ns, make_ns, b)
        _wait_status(client, [b["id"]], "ACTIVE")
        assert any(ip in line for line in conntrack.entries(host_ns))   # not cut yet
    finally:
        gate.set()
    assert cleaner.wait_idle(30)
    assert not any(ip in line and "dport=22" in line for line in conntrack.entries(host_ns))
