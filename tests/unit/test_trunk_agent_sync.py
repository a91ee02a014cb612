"""One Linux bridge agent cycle (LinuxBridgeAgent.sync) with a trunk,
against the fake server and kernel of test_agent_sync: the parent's
notification brings the subports it does not know yet (one extra fetch),
the subport's VLAN device is made on the parent's tap and wired, and the
subport is reported ACTIVE like any port; a removed subport's device goes."""
from __future__ import annotations

from neutrino.agent.l2.model import tap_name
from tests.unit.test_agent_plan import NET_A, PORT_1, PORT_2, link
from tests.unit.test_agent_sync import setup  # noqa: F401 (fixture)


def test_parent_update_brings_its_subports(setup):  # noqa: F811
    server, agent, kernel = setup
    server.bind(PORT_1)
    kernel.links[tap_name(PORT_1)] = link(tap_name(PORT_1))
    agent.sync(full=True)
    assert server.wait_reports(2)[-1] == ("ACTIVE", [PORT_1])
    # a subport joins the trunk; the server notifies the parent only
    server.bind(PORT_2)
    server.ports[PORT_1]["trunk_subports"] = [{"port_id": PORT_2, "segmentation_id": 101}]
    result = agent.sync(full=False, ports={PORT_1})
    assert server.fetches[1:] == [{"host": "h1", "ports": [PORT_1], "networks": []},
                                  {"host": "h1", "ports": [PORT_2], "networks": []}]
    sub = kernel.links[tap_name(PORT_2)]
    assert (sub.kind, sub.vlan_parent, sub.vlan_id, sub.master) == (
        "vlan", tap_name(PORT_1), 101, "brq" + NET_A[:11])
    assert PORT_2 in result.wired
    assert ("ACTIVE", [PORT_2]) in server.wait_reports(4)
    # nothing changed: no fetch, nothing to do
    assert agent.sync(full=False).ops == [] and len(server.fetches) == 3
    # the parent is unbound from this host, its subports with it in the
    # same transaction: only the parent is notified
    del server.ports[PORT_2], server.ports[PORT_1]
    agent.sync(full=False, ports={PORT_1})
    assert server.fetches[3:] == [{"host": "h1", "ports": [PORT_1], "networks": []},
                                  {"host": "h1", "ports": [PORT_2], "networks": []}]
    assert agent.desired.ports == {}
    assert tap_name(PORT_2) not in kernel.links
    assert kernel.links[tap_name(PORT_1)].master is None


def test_removed_subport_loses_its_device(setup):  # noqa: F811
    server, agent, kernel = setup
    server.bind(PORT_1)
    server.bind(PORT_2)
    server.ports[PORT_1]["trunk_subports"] = [{"port_id": PORT_2, "segmentation_id": 7}]
    kernel.links[tap_name(PORT_1)] = link(tap_name(PORT_1))
    agent.sync(full=True)
    assert kernel.links[tap_name(PORT_2)].vlan_id == 7
    del server.ports[PORT_2]                    # remove_subports unbinds it
    server.ports[PORT_1]["trunk_subports"] = []
    agent.sync(full=False, ports={PORT_1, PORT_2})
    assert tap_name(PORT_2) not in kernel.links and PORT_2 not in agent.desired.ports
    assert kernel.links[tap_name(PORT_1)].master == "brq" + NET_A[:11]
