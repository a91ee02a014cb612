"""The server's side of the metadata agent protocol (get_ports, upstream's
MetadataRpcCallback) over the in-process bus, and the agent's lookup on
top of it: a router's networks, then the port with the address."""
from __future__ import annotations

from neutrino.agent.metadata.agent import PortLookup
from neutrino.rpc.client import server_target
from tests.unit.test_agent_server_rpc import env  # noqa: F401 - fixture
from tests.unit.test_l3_server_rpc import post


def test_get_ports_and_the_agents_lookup(env):  # noqa: F811
    core, client, bus, prefix = env
    nets, subs = [], []
    for i in (1, 2, 3):
        nets.append(post(client, "networks", {"name": f"n{i}"}))
        # the same CIDR on n3: an address that exists on two networks
        cidr = "10.0.3.0/24" if i == 3 else f"10.0.{i}.0/24"
        subs.append(post(client, "subnets", {"network_id": nets[-1]["id"], "cidr": cidr,
                                             "ip_version": 4}))
    router = post(client, "routers", {"name": "r"})
    for sub in subs[:2]:
        r = client.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                       json={"subnet_id": sub["id"]})
        assert r.status_code == 200, r.text
    vm = post(client, "ports", {"network_id": nets[1]["id"], "device_id": "vm-uuid",
                                "device_owner": "compute:nova", "project_id": "demo",
                                "fixed_ips": [{"ip_address": "10.0.2.5"}]})
    twin = post(client, "ports", {"network_id": nets[2]["id"], "device_id": "other-vm",
                                  "fixed_ips": [{"ip_address": "10.0.3.5"}]})

    def get_ports(filters):
        return bus.call(server_target(prefix), "get_ports", {"filters": filters},
                        timeout=10)["ports"]
    interfaces = get_ports({"device_id": [router["id"]],
                            "device_owner": ["network:router_interface"]})
    assert sorted(p["network_id"] for p in interfaces) == sorted(n["id"] for n in nets[:2])
    found = get_ports({"network_id": [nets[1]["id"]],
                       "fixed_ips": {"ip_address": ["10.0.2.5"]}})
    assert [(p["id"], p["device_id"], p["tenant_id"], p["project_id"]) for p in found] == [
        (vm["id"], "vm-uuid", "demo", "demo")]
    assert found[0]["fixed_ips"] == [{"subnet_id": subs[1]["id"], "ip_address": "10.0.2.5"}]
    assert get_ports({}) == []                    # no filter: nothing, not every port

    lookup = PortLookup(get_ports)
    assert lookup.instance("10.0.2.5", router["id"], None) == ("vm-uuid", "demo")
    # 10.0.3.5 is on n3, which is not on the router; by network it is found
    assert lookup.instance("10.0.3.5", router["id"], None) is None
    assert lookup.instance("10.0.3.5", None, nets[2]["id"]) == ("other-vm", twin["project_id"])
