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


def _ports(client, cidr: str, hosts) -> list[dict]:
    """A network with a subnet of `cidr` and an instance port bound to each of `hosts`."""
    net = _post(client, "/v2.0/networks", {"network": {"name": "n"}})["network"]
    _post(client, "/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                               "cidr": cidr, "enable_dhcp": False}})
    return [_post(client, "/v2.0/ports", {"port": {
        "network_id": net["id"], "binding:host_id": host, "device_owner": "compute:x"}})["port"]
        for host in hosts]


def test_restart_adopts_and_full_resync_repairs(server):
    client, host_ns, start_agent, driver = server
    ports = _ports(client, "10.91.0.0/24", (HOST, HOST, HOST))
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


def test_jumps_leave_the_bridge_prerouting_chain_by_position_others_stay(tmp_path, netns):
    """iptables driver: ports' ebtables jumps leave nat PREROUTING by rule
    number, from the kernel's list: a rule someone else put ahead of them
    after the agent started stays, so do the other ports' jumps, and the
    apply needs no whole-state resync to get there."""
    with server_with_l2_agent(tmp_path, netns, "fweb", HOST, "iptables") as (
            client, _core, host_ns, start_agent):
        ports = _ports(client, "10.94.0.0/24", (HOST,) * 4)
        agent = start_agent()
        foreign = "-A PREROUTING -i foreign0 -j ACCEPT"
        ns.run(["ebtables", "-t", "nat", "-I", "PREROUTING", "1", "-i", "foreign0", "-j",
                "ACCEPT"], netns=host_ns)
        before = _quiet(agent.firewall.server.fetches)
        taps = ["tap" + p["id"][:11] for p in ports]
        for p in ports[1:3]:
            assert client.delete(f"/v2.0/ports/{p['id']}").status_code == 204
        _until("the deleted ports' jumps and chains stayed", lambda: not any(
            t in ns.run(["ebtables-save"], netns=host_ns) for t in taps[1:3]))
        prerouting = [line for line in ns.run(["ebtables-save"], netns=host_ns).splitlines()
                      if line.startswith("-A PREROUTING")]
        assert prerouting[0] == foreign
        for t in (taps[0], taps[3]):
            assert sum(f"-i {t} " in line for line in prerouting) == 2, prerouting
        assert len(prerouting) == 5
        assert agent.firewall.server.fetches["state"] == before["state"]


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
    again.stop()

    # netfilter flushed under a stopped agent, the host's own table written:
    # the cold start writes each of our tables in its own transaction, side
    # by side; the same tables as one would, and the host's table stays
    plain = {f: ns.run(["nft", "list", "table", f, "neutrino"], netns=host_ns)
             for f in ("inet", "bridge")}
    ns.run(["nft", "-f", "-"], netns=host_ns, input=(
        "flush ruleset\nadd table ip host\nadd chain ip host c { type filter hook forward "
        "priority 10; }\nadd rule ip host c ip saddr 192.0.2.1 accept\n"))
    again = start_agent()
    assert again.firewall.kernel.transactions == 2
    assert {f: ns.run(["nft", "list", "table", f, "neutrino"], netns=host_ns)
            for f in ("inet", "bridge")} == plain
    assert "ip saddr 192.0.2.1 accept" in ns.run(["nft", "list", "table", "ip", "host"],
                                                 netns=host_ns)

    # someone deletes one of our rules: the next full resync puts it back
    chain = f"eg-{ports[0]['id']}"
    handle = [line for line in _nft(host_ns).split(f"chain {chain} {{")[1].split("}")[0]
              .splitlines() if line.strip().startswith("drop")][0].split("handle ")[1]
    ns.run(["nft", "delete", "rule", "inet", "neutrino", chain, "handle", handle.strip()],
           netns=host_ns)
    again.sync(True)
    assert again.firewall.kernel.transactions == 3      # one: our tables were there
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


def _set_members(host_ns: str, driver: str, group: str) -> str:
    if driver == "iptables":
        return ns.run(["ipset", "list", "NIPv4" + group[:26]], netns=host_ns)
    return _nft(host_ns).split(f"set rg4-{group} {{")[1].split("}")[0]


def _quiet(counters: dict, still: float = 1.0, timeout: float = 15.0) -> dict:
    """`counters` once they stayed unchanged for `still` seconds."""
    seen, since, deadline = dict(counters), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() - since < still:
        assert time.monotonic() < deadline, f"the agent kept fetching: {counters}"
        time.sleep(0.05)
        if dict(counters) != seen:
            seen, since = dict(counters), time.monotonic()
    return seen


def _until(what: str, done, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_deletes_drop_ports_and_refetch_members_alone(server):
    """A port deleted here loses its chains and its address leaves the
    remote-group set; a member deleted on another host leaves it too. Neither
    makes the agent fetch the host's whole firewall state again (a burst of
    deletes on a host of 5,000 ports): only the group's members."""
    client, host_ns, start_agent, driver = server
    ports = _ports(client, "10.92.0.0/24", (HOST, HOST, HOST, "elsewhere"))
    group = ports[0]["security_groups"][0]
    ip = [p["fixed_ips"][0]["ip_address"] for p in ports]
    agent = start_agent()
    assert all(a in _set_members(host_ns, driver, group) for a in ip)
    # notices of the start (ports bound, ACTIVE) may still come: counted once quiet
    before = _quiet(agent.firewall.server.fetches)

    assert client.delete(f"/v2.0/ports/{ports[2]['id']}").status_code == 204
    chain = f"{W}-i{ports[2]['id'][:10]}" if driver == "iptables" else f"in-{ports[2]['id']}"
    kernel = (lambda: ns.run(["iptables-save"], netns=host_ns)) if driver == "iptables" \
        else (lambda: _nft(host_ns))
    _until("the deleted port's chain stayed", lambda: chain not in kernel())
    _until("its address stayed in the group's set",
           lambda: ip[2] not in _set_members(host_ns, driver, group))
    assert client.delete(f"/v2.0/ports/{ports[3]['id']}").status_code == 204
    _until("the other host's member stayed in the set",
           lambda: ip[3] not in _set_members(host_ns, driver, group))
    members = _set_members(host_ns, driver, group)
    assert ip[0] in members and ip[1] in members
    assert agent.firewall.server.fetches["state"] == before["state"]
    assert agent.firewall.server.fetches["members"] >= before["members"] + 2


@pytest.mark.parametrize("driver", ["iptables", "nftables"])
def test_the_dhcp_hosts_agent_takes_another_hosts_member_without_a_whole_fetch(
        tmp_path, netns, driver):
    """This host serves the network's DHCP, so it is told of every port of
    the network. A member of its port's group created, then given an
    allowed address pair, on another host: both addresses reach this
    host's set, by the group's members alone; the host's whole firewall
    state is not fetched again for a port that is not its own."""
    from neutrino.rpc.client import ServerClient
    from tests.dataplane.helpers import server_with_l2_agent
    from tests.unit.test_dhcp_server_rpc import dhcp_state
    with server_with_l2_agent(tmp_path, netns, "fwd", HOST, driver) as (
            client, core, host_ns, start_agent):
        ServerClient(core.notifier.transport, HOST, core.notifier.prefix).report_state(
            dhcp_state(HOST), wait=True)
        net = _post(client, "/v2.0/networks", {"network": {"name": "n"}})["network"]
        _post(client, "/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                                   "cidr": "10.93.0.0/24"}})
        core.notifier.flush()
        agents = client.get(f"/v2.0/networks/{net['id']}/dhcp-agents").json()["agents"]
        assert [a["host"] for a in agents] == [HOST]
        mine = _post(client, "/v2.0/ports", {"port": {
            "network_id": net["id"], "binding:host_id": HOST, "device_owner": "compute:x"}})
        group = mine["port"]["security_groups"][0]
        agent = start_agent()
        before = _quiet(agent.firewall.server.fetches)

        other = _post(client, "/v2.0/ports", {"port": {
            "network_id": net["id"], "binding:host_id": "elsewhere",
            "device_owner": "compute:x"}})["port"]
        ip = other["fixed_ips"][0]["ip_address"]
        _until("the other host's new member stayed out of the set",
               lambda: ip in _set_members(host_ns, driver, group))
        r = client.put(f"/v2.0/ports/{other['id']}", json={"port": {
            "allowed_address_pairs": [{"ip_address": "10.93.0.250"}]}})
        assert r.status_code == 200, r.text
        _until("its allowed address pair stayed out of the set",
               lambda: "10.93.0.250" in _set_members(host_ns, driver, group))
        after = _quiet(agent.firewall.server.fetches)
        assert after["state"] == before["state"]
        assert after["members"] >= before["members"] + 2


def test_a_rule_change_reaches_the_kernel_by_its_groups_rules_alone(server):
    """A rule added to the ports' group (naming another group as remote)
    reaches the kernel, and leaves it when that other group is deleted (it
    takes the rules naming it): each by the group's rules alone, without
    the host's whole firewall state (5,000 ports' worth on a big host)."""
    client, host_ns, start_agent, driver = server
    ports = _ports(client, "10.94.0.0/24", (HOST, HOST))
    group = ports[0]["security_groups"][0]
    agent = start_agent()
    kernel = (lambda: ns.run(["iptables-save"], netns=host_ns)) if driver == "iptables" \
        else (lambda: _nft(host_ns))
    assert "2345" not in kernel()
    before = _quiet(agent.firewall.server.fetches)

    other = _post(client, "/v2.0/security-groups", {"security_group": {"name": "o"}})
    other = other["security_group"]["id"]
    _post(client, "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": group, "direction": "ingress", "protocol": "tcp",
        "port_range_min": 2345, "port_range_max": 2345, "remote_group_id": other}})
    _until("the new rule stayed out of the kernel", lambda: "2345" in kernel())
    assert client.delete(f"/v2.0/security-groups/{other}").status_code == 204
    _until("the rule naming the deleted group stayed", lambda: "2345" not in kernel())
    after = _quiet(agent.firewall.server.fetches)
    assert after["state"] == before["state"]
    assert after["rules"] >= before["rules"] + 2


def test_a_port_created_or_changed_here_is_fetched_alone(server):
    """A port created on this host gets its chains, and its address joins
    its group's set (the group names itself as remote); its address
    changed, the set follows. The host's whole firewall state is not
    fetched again: only that port."""
    client, host_ns, start_agent, driver = server
    ports = _ports(client, "10.95.0.0/24", (HOST,))
    group = ports[0]["security_groups"][0]
    agent = start_agent()
    kernel = (lambda: ns.run(["iptables-save"], netns=host_ns)) if driver == "iptables" \
        else (lambda: _nft(host_ns))
    before = _quiet(agent.firewall.server.fetches)

    new = _post(client, "/v2.0/ports", {"port": {
        "network_id": ports[0]["network_id"], "binding:host_id": HOST,
        "device_owner": "compute:x"}})["port"]
    chain = f"{W}-i{new['id'][:10]}" if driver == "iptables" else f"in-{new['id']}"
    _until("the new port's chain stayed out", lambda: chain in kernel())
    ip = new["fixed_ips"][0]["ip_address"]
    _until("its address stayed out of its group's set",
           lambda: ip in _set_members(host_ns, driver, group))
    r = client.put(f"/v2.0/ports/{new['id']}", json={"port": {"fixed_ips": [
        {"subnet_id": new["fixed_ips"][0]["subnet_id"], "ip_address": "10.95.0.77"}]}})
    assert r.status_code == 200, r.text
    _until("its new address stayed out of the set",
           lambda: "10.95.0.77" in _set_members(host_ns, driver, group))
    assert ip not in _set_members(host_ns, driver, group)
    after = _quiet(agent.firewall.server.fetches)
    assert after["state"] == before["state"]
    assert after["ports"] >= before["ports"] + 2
