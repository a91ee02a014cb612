"""A port's filter follows its tap, as upstream's agent does with a
vanished device: on a real kernel, a real server core and a real L2 agent
(both firewall drivers). A bound port whose tap has not appeared yet has
its filter ready (so its tap is filtered before it joins the bridge); when
its tap goes (the instance destroyed or stopped) its chains and its
tracked flows go at once, while the port still exists (DOWN), not when the
port is deleted later; when the tap comes back, the filter is back and
the port ACTIVE again."""
from __future__ import annotations

import pytest

from neutrino.dataplane import conntrack
from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink
from tests.dataplane.helpers import server_with_l2_agent
from tests.dataplane.test_firewall_agent import _until
from tests.dataplane.test_firewall_agent_status import (HOST, _filtered, _network, _plug,
                                                        _port, _status, _wait_status)

pytestmark = pytest.mark.root

@pytest.fixture(params=["iptables", "nftables"])
def server(request, tmp_path, netns):
    with server_with_l2_agent(tmp_path, netns, "tl", HOST, request.param) as (
            client, _core, host_ns, start):
        yield client, host_ns, start, netns, request.param


def _flows_to(host_ns, ip: str) -> list[str]:
    return [line for line in conntrack.entries(host_ns) if f"dst={ip} " in line]


def test_filter_goes_with_the_tap_and_comes_back_with_it(server):
    client, host_ns, start_agent, make_ns, driver = server
    net = _network(client)
    a, waiting = _port(client, net), _port(client, net)    # `waiting`: no tap yet
    _plug(host_ns, make_ns, a)
    agent = start_agent()
    _wait_status(client, [a["id"]], "ACTIVE")
    assert {a["id"][:10], waiting["id"][:10]} <= _filtered(host_ns, driver)
    ip = a["fixed_ips"][0]["ip_address"]
    zone = agent.firewall.last.zones[net["id"]]
    ns.run(["conntrack", "-I", "-p", "tcp", "-s", "192.0.2.10", "-d", ip, "--sport", "40001",
            "--dport", "22", "--state", "ESTABLISHED", "-t", "300", "-u", "SEEN_REPLY",
            "-w", str(zone)], netns=host_ns)
    assert _flows_to(host_ns, ip)

    with Netlink(host_ns) as nl:               # the instance is destroyed: its tap goes
        nl.delete_link("tap" + a["id"][:11])
    _until("a's chains to leave with its tap",
           lambda: a["id"][:10] not in _filtered(host_ns, driver), timeout=20.0)
    _until("a's flows to leave with its tap", lambda: not _flows_to(host_ns, ip), timeout=20.0)
    assert client.get(f"/v2.0/ports/{a['id']}").status_code == 200     # the port stays
    _wait_status(client, [a["id"]], "DOWN")
    assert waiting["id"][:10] in _filtered(host_ns, driver)   # never had a tap: still ready

    again = make_ns("again")                   # started again: the same port, a new tap
    with Netlink(host_ns) as nl:
        nl.create_veth("tap" + a["id"][:11], "eth0", peer_netns=again,
                       peer_mac=a["mac_address"])
    _wait_status(client, [a["id"]], "ACTIVE")
    assert a["id"][:10] in _filtered(host_ns, driver)
    assert _status(client, waiting["id"]) == "DOWN"
