"""The L2 agent's firewall reconciler on a real kernel, against a real
server core (SQLite) over the in-process bus: what a start programs, that a
restarted agent adopts it without rewriting anything (same conntrack zones,
no iptables-restore), and that a stale or tampered kernel is put right by
a full resync. The "host" is a per-test namespace; ports have no taps.
Both drivers: iptables, and nftables (its own checks, same story)."""
from __future__ import annotations

import time

import pytest

from neutrino.dataplane import netns as ns
from tests.dataplane.helpers import server_with_l2_agent

pytestmark = pytest.mark.root

HOST = "fwhost"
W = "neutron-linuxbri"


@pytest.fixture(params=["iptables", "nftables"])
def server(request, tmp_path, netns):
    with server_with_l2_agent(tmp_path, netns, "fw", HOST, request.param) as (
            client, _core, host_ns, start_agent):
        yield client, host_ns, start_agent, request.param


def _post(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_restart_adopts_and_full_resync_repairs(server):
    client, host_ns, start_agent, driver = server
    net = _post(client, "/v2.0/networks", {"network": {"name": "n"}})["network"]
    _post(client, "/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                               "cidr": "10.91.0.0/24", "enable_dhcp": False}})
    ports = [_post(client, "/v2.0/ports", {"port": {
        "network_id": net["id"], "binding:host_id": HOST, "device_owner": "compute:x"}})["port"]
        for _ in range(3)]
    agent = start_agent()
    if driver == "nftables":
        _nft_story(client, host_ns, start_agent, agent, ports)
        return
    save = ns.run(["iptables-save"], netns=host_ns)
    for p in ports:
        assert f":{W}-i{p['id'][:10]} - " in save and f":{W}-s{p['id'][:10]} - " in save
    raw = ns.run(["iptables-save", "-t", "raw"], netns=host_ns)
    assert "-j CT --zone 4097" in raw
    members = ns.run(["ipset", "list", "NIPv4" + ports[0]["security_groups"][0][:26]],
                     netns=host_ns)
    assert all(p["fixed_ips"][0]["ip_address"] in members for p in ports)
    agent.stop()

    again = start_agent()          # a restarted agent changes nothing
    assert again.firewall.kernel.restores == 0 and again.firewall.kernel.set_restores == 0
    assert ns.run(["iptables-save", "-t", "raw"], netns=host_ns).count("--zone 4097") == \
        raw.count("--zone 4097")

    # someone deletes one of our rules: the next full resync puts it back
    chain = f"{W}-s{ports[0]['id'][:10]}"
    ns.run(["iptables", "-D", chain, "-m", "comment", "--comment",
            "Drop traffic without an IP/MAC allow rule.", "-j", "DROP"], netns=host_ns)
    again.sync(True)
    assert again.firewall.kernel.restores == 1
    assert f"-A {chain} -m comment --comment \"Drop traffic without an IP/MAC allow rule.\" " \
           f"-j DROP" in ns.run(["iptables-save"], netns=host_ns)

    # a port deleted: its chains and ebtables chains go with it
    assert client.delete(f"/v2.0/ports/{ports[2]['id']}").status_code == 204
    tag = ports[2]["id"][:10]
    deadline = time.monotonic() + 10
    while (f"{W}-i{tag}" in ns.run(["iptables-save"], netns=host_ns)
           or "tap" + ports[2]["id"][:11] in ns.run(["ebtables-save"], netns=host_ns)):
        assert time.monotonic() < deadline, "stale iptables or ebtables chains stayed"
        time.sleep(0.1)
    assert f"{W}-i{ports[0]['id'][:10]}" in ns.run(["iptables-save"], netns=host_ns)


def _nft(host_ns: str, family: str = "inet") -> str:
    return ns.run(["nft", "-a", "list", "table", family, "neutrino"], netns=host_ns)


def _nft_story(client, host_ns, start_agent, agent, ports):
    inet, bridged = _nft(host_ns), _nft(host_ns, "bridge")
    for p in ports:
        assert f"chain in-{p['id']} {{" in inet and f"chain eg-{p['id']} {{" in inet
        assert f"chain pi-{p['id']} {{" in bridged
    assert ": 4097" in inet.split("map zones {")[1].split("}")[0]
    members = inet.split(f"set rg4-{ports[0]['security_groups'][0]} {{")[1].split("}")[0]
    assert all(p["fixed_ips"][0]["ip_address"] in members for p in ports)
    agent.stop()

    again = start_agent()          # a restarted agent changes nothing
    assert again.firewall.kernel.transactions == 0
    assert _nft(host_ns) == inet

    # someone deletes one of our rules: the next full resync puts it back
    chain = f"eg-{ports[0]['id']}"
    handle = [line for line in _nft(host_ns).split(f"chain {chain} {{")[1].split("}")[0]
              .splitlines() if line.strip().startswith("drop")][0].split("handle ")[1]
    ns.run(["nft", "delete", "rule", "inet", "neutrino", chain, "handle", handle.strip()],
           netns=host_ns)
    again.sync(True)
    assert again.firewall.kernel.transactions == 1
    body = _nft(host_ns).split(f"chain {chain} {{")[1].split("}")[0]
    assert [line.strip() for line in body.splitlines() if line.strip()][-1].startswith("drop")

    # a port deleted: its chains and map entries go with it
    assert client.delete(f"/v2.0/ports/{ports[2]['id']}").status_code == 204
    deadline = time.monotonic() + 10
    while ports[2]["id"] in _nft(host_ns) + _nft(host_ns, "bridge") or \
            "tap" + ports[2]["id"][:11] in _nft(host_ns, "bridge"):
        assert time.monotonic() < deadline, "stale nftables chains stayed"
        time.sleep(0.1)
    assert f"chain in-{ports[0]['id']} {{" in _nft(host_ns)
