"""Address groups reach the firewalls: the server's get_firewall_state
gives a rule naming an address group as a remote set whose members are the
group's CIDRs, and changing the group's addresses tells the hosts whose
ports are in groups with such rules (they refetch and rewrite the set)."""
from __future__ import annotations

from neutrino.agent.l2.firewall.model import FwDesired
from neutrino.rpc.client import ServerClient, host_topic
from tests.unit.test_agent_server_rpc import Inbox, _port, _state, env  # noqa: F401
from tests.unit.test_firewall_server_rpc import _fw


def test_address_group_rule_is_a_remote_set(env):  # noqa: F811
    core, client, bus, prefix = env
    inbox = {h: Inbox() for h in ("h1", "h2")}
    for h in ("h1", "h2"):
        bus.subscribe(host_topic(h, prefix), inbox[h])
        ServerClient(bus, h, prefix).report_state(_state(h), wait=True)
    net = client.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
    client.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                  "cidr": "10.0.0.0/24", "enable_dhcp": False}})
    ag = client.post("/v2.0/address-groups", json={"address_group": {
        "name": "admins", "addresses": ["10.0.0.7/32", "192.168.5.0/24"]}}).json()
    ag = ag["address_group"]
    web = client.post("/v2.0/security-groups",
                      json={"security_group": {"name": "web"}}).json()["security_group"]
    r = client.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": web["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22, "remote_address_group_id": ag["id"]}})
    assert r.status_code == 201, r.text
    p1 = client.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:host_id": "h1",
        "security_groups": [web["id"]]}}).json()["port"]
    _port(client, net["id"], "h2")                      # default group only

    state = _fw(bus, prefix, "h1")
    [ssh] = [x for x in state["security_groups"][web["id"]] if x["direction"] == "ingress"]
    assert ssh["remote_group_id"] == ag["id"] and ssh["port_range_min"] == 22
    assert state["members"] == {ag["id"]: ["10.0.0.7/32", "192.168.5.0/24"]}
    desired = FwDesired.from_wire(state)                 # what the agent builds from it
    assert desired.ports[p1["id"]].security_groups == (web["id"],)
    assert sorted(desired.members[ag["id"]]) == ["10.0.0.7/32", "192.168.5.0/24"]

    # new addresses: h1 (a port in `web`) hears of it, h2 does not
    for box in inbox.values():
        box.items.clear()
    r = client.put(f"/v2.0/address-groups/{ag['id']}/add_addresses",
                   json={"addresses": ["10.0.0.8/32"]})
    assert r.status_code == 200, r.text
    inbox["h1"].wait(lambda m: m["resource"] == "security_group" and m["id"] == web["id"])
    core.notifier.flush()
    assert not [m for m in inbox["h2"].items if m["resource"] == "security_group"]
    assert _fw(bus, prefix, "h1")["members"][ag["id"]] == [
        "10.0.0.7/32", "10.0.0.8/32", "192.168.5.0/24"]
