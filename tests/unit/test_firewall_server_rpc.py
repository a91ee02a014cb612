"""The server's side of the firewall protocol against a real core (SQLite),
over the in-process bus: what get_firewall_state gives a host, and which
hosts hear of rule and membership changes."""
from __future__ import annotations

from neutrino.rpc.client import host_topic, server_target
from tests.unit.test_agent_server_rpc import Inbox, _port, _state, env  # noqa: F401
from neutrino.rpc.client import ServerClient


def _fw(bus, prefix, host):
    return bus.call(server_target(prefix), "get_firewall_state", {"host": host}, timeout=10)


def _group(client, name: str, **extra) -> dict:
    return client.post("/v2.0/security-groups", json={"security_group": {
        "name": name, **extra}}).json()["security_group"]


def _network(client) -> dict:
    """A network with a 10.0.0.0/24 subnet without DHCP."""
    net = client.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
    client.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                  "cidr": "10.0.0.0/24", "enable_dhcp": False}})
    return net


def test_firewall_state_and_notifications(env):  # noqa: F811
    core, client, bus, prefix = env
    inbox = {h: Inbox() for h in ("h1", "h2")}
    for h in ("h1", "h2"):
        bus.subscribe(host_topic(h, prefix), inbox[h])
        ServerClient(bus, h, prefix).report_state(_state(h), wait=True)
    net = _network(client)
    p1 = _port(client, net["id"], "h1")
    default = p1["security_groups"][0]
    web = _group(client, "web")
    r = client.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:host_id": "h2", "security_groups": [web["id"]],
        "allowed_address_pairs": [{"ip_address": "10.0.0.200"}]}})
    p2 = r.json()["port"]

    state = _fw(bus, prefix, "h1")
    (port,) = state["ports"]
    assert port["id"] == p1["id"] and port["security_groups"] == [default]
    assert port["fixed_ips"] == [p1["fixed_ips"][0]["ip_address"]]
    assert port["port_security_enabled"] is True and port["device_owner"] == ""
    rules = state["security_groups"][default]
    assert {(r["direction"], r["ethertype"], r["remote_group_id"]) for r in rules} == {
        ("egress", "IPv4", None), ("egress", "IPv6", None),
        ("ingress", "IPv4", default), ("ingress", "IPv6", default)}
    assert state["members"] == {default: [p1["fixed_ips"][0]["ip_address"]]}
    s2 = _fw(bus, prefix, "h2")
    assert s2["ports"][0]["allowed_address_pairs"] == [
        {"ip_address": "10.0.0.200", "mac_address": p2["mac_address"]}]
    assert set(s2["security_groups"]) == {web["id"]} and s2["members"] == {}

    # a rule of `web` reaches h2 (its port is in web), not h1
    for box in inbox.values():
        box.items.clear()
    rule = client.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": web["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22, "remote_group_id": default}}).json()
    inbox["h2"].wait(lambda m: m["resource"] == "security_group" and m["id"] == web["id"])
    core.notifier.flush()
    assert not [m for m in inbox["h1"].items if m["resource"] == "security_group"]
    assert _fw(bus, prefix, "h2")["members"] == {default: [p1["fixed_ips"][0]["ip_address"]]}

    # a new member of `default` (on h1): h2 hears membership changed, its set grows
    inbox["h2"].items.clear()
    p3 = _port(client, net["id"], "h1")
    inbox["h2"].wait(lambda m: m["resource"] == "security_group"
                     and m.get("members_of_port") == p3["id"])
    assert sorted(_fw(bus, prefix, "h2")["members"][default]) == sorted(
        [p1["fixed_ips"][0]["ip_address"], p3["fixed_ips"][0]["ip_address"]])
    # and it leaves
    inbox["h2"].items.clear()
    client.delete(f"/v2.0/ports/{p3['id']}")
    inbox["h2"].wait(lambda m: m.get("members_of_port") == p3["id"])
    assert _fw(bus, prefix, "h2")["members"][default] == [p1["fixed_ips"][0]["ip_address"]]
    assert rule["security_group_rule"]["remote_group_id"] == default

    # a port joining `web`, which no rule names as remote group: no other host
    # hears of it (its own host refetches the port anyway)
    inbox["h2"].items.clear()
    p4 = client.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:host_id": "h1",
        "security_groups": [web["id"]]}}).json()["port"]
    client.delete(f"/v2.0/ports/{p4['id']}")
    core.notifier.flush()
    assert not [m for m in inbox["h2"].items if m.get("members_of_port") == p4["id"]]
    # while a member of `default` moving to `web` is heard by h2 (it left default)
    p5 = _port(client, net["id"], "h1")
    inbox["h2"].wait(lambda m: m.get("members_of_port") == p5["id"])
    inbox["h2"].items.clear()
    client.put(f"/v2.0/ports/{p5['id']}", json={"port": {"security_groups": [web["id"]]}})
    inbox["h2"].wait(lambda m: m.get("members_of_port") == p5["id"])
    assert _fw(bus, prefix, "h2")["members"][default] == [p1["fixed_ips"][0]["ip_address"]]


def _members(bus, prefix, groups):
    return bus.call(server_target(prefix), "get_group_members", {"groups": groups},
                    timeout=10)["members"]


def test_membership_notice_names_groups_and_members_come_alone(env):  # noqa: F811
    """A port joining or leaving tells the other hosts which groups changed;
    they ask for those groups' members only (not the host's whole state)."""
    core, client, bus, prefix = env
    inbox = Inbox()
    for h in ("h1", "h2"):
        ServerClient(bus, h, prefix).report_state(_state(h), wait=True)
    bus.subscribe(host_topic("h2", prefix), inbox)
    net = _network(client)
    _port(client, net["id"], "h2")
    p1 = _port(client, net["id"], "h1")
    default = p1["security_groups"][0]
    inbox.wait(lambda m: m.get("members_of_port") == p1["id"])
    [notice] = [m for m in inbox.items if m.get("members_of_port") == p1["id"]]
    assert notice["groups"] == [default] and notice["id"] is None
    ag = client.post("/v2.0/address-groups", json={"address_group": {
        "name": "a", "addresses": ["192.168.5.0/24"]}}).json()["address_group"]
    unknown = "00000000-0000-4000-8000-000000000000"
    got = _members(bus, prefix, [default, ag["id"], unknown])
    assert set(got) == {default, ag["id"], unknown}
    assert p1["fixed_ips"][0]["ip_address"] in got[default] and len(got[default]) == 2
    assert got[ag["id"]] == ["192.168.5.0/24"] and got[unknown] == []

    inbox.items.clear()
    client.delete(f"/v2.0/ports/{p1['id']}")
    inbox.wait(lambda m: m.get("members_of_port") == p1["id"])
    [notice] = [m for m in inbox.items if m.get("members_of_port") == p1["id"]]
    assert notice["groups"] == [default]
    assert p1["fixed_ips"][0]["ip_address"] not in _members(bus, prefix, [default])[default]


def test_membership_changes_are_for_hosts_with_an_l2_agent(env):  # noqa: F811
    """The hosts told that a remote group's members changed: those with an
    L2 agent and a port in a group whose rules name it; a host with ports
    but no agent has no one to tell (its agent, when it starts, syncs)."""
    from neutrino.rpc.sg_handlers import hosts_referencing_members
    core, client, bus, prefix = env
    ServerClient(bus, "h1", prefix).report_state(_state("h1"), wait=True)
    net = _network(client)
    default = _port(client, net["id"], "h1")["security_groups"][0]
    _port(client, net["id"], "no-agent-here")
    web = _group(client, "web")

    def hosts(groups):
        return core.db.read(lambda conn: hosts_referencing_members(conn, groups))
    assert hosts([default]) == hosts(None) == ["h1"]    # the default group names itself
    assert hosts([web["id"]]) == []                     # no rule names web
    ServerClient(bus, "h2", prefix).report_state(_state("h2"), wait=True)
    assert hosts([default]) == ["h1"]                   # h2's agent has no port here
    _port(client, net["id"], "h2")
    assert hosts([default]) == ["h1", "h2"]


def _h2_serves_dhcp(env):  # noqa: F811
    """h1 and h2 with L2 agents, h2 with the DHCP agent of a new network and
    a port on it; returns (h2's inbox, the network)."""
    from tests.unit.test_dhcp_server_rpc import dhcp_state
    core, client, bus, prefix = env
    inbox = Inbox()
    for h in ("h1", "h2"):
        ServerClient(bus, h, prefix).report_state(_state(h), wait=True)
    ServerClient(bus, "h2", prefix).report_state(dhcp_state("h2"), wait=True)
    bus.subscribe(host_topic("h2", prefix), inbox)
    net = client.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
    client.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                  "cidr": "10.0.0.0/24"}})
    core.notifier.flush()           # scheduled as the network's notice goes out
    agents = client.get(f"/v2.0/networks/{net['id']}/dhcp-agents").json()["agents"]
    assert [a["host"] for a in agents] == ["h2"]
    _port(client, net["id"], "h2")
    return inbox, net


def test_a_deleted_member_leaves_the_sets_of_its_networks_dhcp_host(env):  # noqa: F811
    """h2 serves the network's DHCP and holds a port whose group names
    `default` as remote group. A member of `default` on h1 deleted: h2 is
    told of the port (it serves its network) and must hear that the
    members changed too. Its L2 agent drops a deleted port unasked and
    refetches members only for a port it held, so without the membership
    notice the deleted member's address stayed in h2's set."""
    core, client, bus, prefix = env
    inbox, net = _h2_serves_dhcp(env)
    member = _port(client, net["id"], "h1")
    default = member["security_groups"][0]
    # the new member's own notices delivered first (the bus delivers after
    # the notifier's flush: one could land after the clear below)
    inbox.wait(lambda m: m.get("members_of_port") == member["id"])

    inbox.items.clear()
    assert client.delete(f"/v2.0/ports/{member['id']}").status_code == 204
    # h2 serves the network's DHCP: told of the port
    inbox.wait(lambda m: m["resource"] == "port" and m["id"] == member["id"] and m["deleted"])
    inbox.wait(lambda m: m.get("members_of_port") == member["id"])
    notices = [m for m in inbox.items if m.get("members_of_port") == member["id"]]
    assert [n["groups"] for n in notices] == [[default]]


def test_a_new_or_changed_member_elsewhere_reaches_the_dhcp_host_as_a_members_notice(env):  # noqa: F811,E501
    """h2 serves the network's DHCP and holds a port whose group names
    `default` as remote group. A member of `default` created, then changed,
    on h1: h2 is told of the port (for DHCP) and hears that the members
    changed, as any host with such a rule: its L2 agent refetches those
    members alone, not its whole firewall state for another host's port."""
    core, client, bus, prefix = env
    inbox, net = _h2_serves_dhcp(env)
    core.notifier.flush()
    inbox.items.clear()
    member = _port(client, net["id"], "h1")
    default = member["security_groups"][0]
    inbox.wait(lambda m: m["resource"] == "port" and m["id"] == member["id"])
    inbox.wait(lambda m: m.get("members_of_port") == member["id"])
    inbox.items.clear()
    r = client.put(f"/v2.0/ports/{member['id']}", json={"port": {
        "allowed_address_pairs": [{"ip_address": "10.0.0.250"}]}})
    assert r.status_code == 200, r.text
    inbox.wait(lambda m: m.get("members_of_port") == member["id"])
    notices = [m for m in inbox.items if m.get("members_of_port") == member["id"]]
    assert [n["groups"] for n in notices] == [[default]]
    state = _fw(bus, prefix, "h2")
    assert "10.0.0.250" in state["members"][default]


def test_group_rules_come_alone_with_their_remote_groups_members(env):  # noqa: F811
    """get_group_rules: after a rule change the host asks for that group's
    rules, with the members of the remote groups (security or address
    groups) they name and whether it is stateless; as get_firewall_state
    has them, without the ports. An unknown group has no rules."""
    core, client, bus, prefix = env
    ServerClient(bus, "h1", prefix).report_state(_state("h1"), wait=True)
    net = _network(client)
    p1 = _port(client, net["id"], "h1")
    default = p1["security_groups"][0]
    web = _group(client, "web")
    bare = _group(client, "bare", stateful=False)
    ag = client.post("/v2.0/address-groups", json={"address_group": {
        "name": "a", "addresses": ["192.168.5.0/24"]}}).json()["address_group"]
    for remote in ({"remote_group_id": default}, {"remote_address_group_id": ag["id"]}):
        r = client.post("/v2.0/security-group-rules", json={"security_group_rule": {
            "security_group_id": web["id"], "direction": "ingress", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22, **remote}})
        assert r.status_code == 201, r.text
    unknown = "00000000-0000-4000-8000-000000000000"
    got = bus.call(server_target(prefix), "get_group_rules",
                   {"groups": [web["id"], bare["id"], unknown]}, timeout=10)
    assert set(got["security_groups"]) == {web["id"], bare["id"], unknown}
    assert got["security_groups"][unknown] == []
    ingress = [r for r in got["security_groups"][web["id"]] if r["direction"] == "ingress"]
    assert sorted(r["remote_group_id"] for r in ingress) == sorted([default, ag["id"]])
    assert got["members"] == {default: [p1["fixed_ips"][0]["ip_address"]],
                              ag["id"]: ["192.168.5.0/24"]}
    assert got["stateless"] == [bare["id"]]
    # the same rules as the whole state gives a host whose port is in web
    client.put(f"/v2.0/ports/{p1['id']}", json={"port": {"security_groups": [web["id"]]}})
    whole = _fw(bus, prefix, "h1")
    now = bus.call(server_target(prefix), "get_group_rules", {"groups": [web["id"]]},
                   timeout=10)
    assert whole["security_groups"] == now["security_groups"]
    assert whole["members"] == now["members"] == {default: [], ag["id"]: ["192.168.5.0/24"]}
    assert whole["stateless"] == now["stateless"] == []


def test_a_deleted_group_tells_the_hosts_of_the_groups_whose_rules_named_it(env):  # noqa: F811
    """Deleting a group deletes the rules of other groups that named it as
    remote group: the hosts of those groups' ports hear of those groups."""
    core, client, bus, prefix = env
    inbox = Inbox()
    ServerClient(bus, "h1", prefix).report_state(_state("h1"), wait=True)
    bus.subscribe(host_topic("h1", prefix), inbox)
    net = _network(client)
    p1 = _port(client, net["id"], "h1")
    default = p1["security_groups"][0]
    gone = _group(client, "gone")
    r = client.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": default, "direction": "ingress", "remote_group_id": gone["id"]}})
    assert r.status_code == 201, r.text
    inbox.wait(lambda m: m["resource"] == "security_group" and m["id"] == default)
    core.notifier.flush()
    inbox.items.clear()
    assert client.delete(f"/v2.0/security-groups/{gone['id']}").status_code == 204
    inbox.wait(lambda m: m["resource"] == "security_group" and m["id"] == default)
    assert all(r["remote_group_id"] != gone["id"]
               for r in _fw(bus, prefix, "h1")["security_groups"][default])


def test_firewall_state_of_some_ports(env):  # noqa: F811
    """get_firewall_state with `ports`: those of them bound to the host
    (another host's or an unknown one: absent), their groups' rules and
    the members those name, and `asked`; without: every port, no `asked`."""
    core, client, bus, prefix = env
    for h in ("h1", "h2"):
        ServerClient(bus, h, prefix).report_state(_state(h), wait=True)
    net = _network(client)
    p1, p2 = _port(client, net["id"], "h1"), _port(client, net["id"], "h1")
    elsewhere = _port(client, net["id"], "h2")
    default = p1["security_groups"][0]
    unknown = "00000000-0000-4000-8000-000000000000"
    asked = [p2["id"], elsewhere["id"], unknown]
    some = bus.call(server_target(prefix), "get_firewall_state",
                    {"host": "h1", "ports": asked}, timeout=10)
    assert [p["id"] for p in some["ports"]] == [p2["id"]] and some["asked"] == sorted(asked)
    whole = _fw(bus, prefix, "h1")
    assert "asked" not in whole and {p["id"] for p in whole["ports"]} == {p1["id"], p2["id"]}
    assert some["security_groups"] == whole["security_groups"]
    assert some["members"] == whole["members"] and len(some["members"][default]) == 3
