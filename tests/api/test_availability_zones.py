"""availability_zone, availability_zone_filter, network_availability_zone:
zones from the agents' reports, their state and filters, networks' hints
(checked) and zones (from the DHCP agents hosting them)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from neutrino.db import models
from tests.api.helpers import expect, rand


def _agent(api, kind: str, zone: str) -> str:
    """A registered DHCP or L3 agent in `zone`, then made dead, so that the
    scheduler gives it nothing of the other tests (zones ignore liveness)."""
    binary = {"DHCP agent": "neutron-dhcp-agent", "L3 agent": "neutron-l3-agent"}[kind]
    view, _ = api.agents.report_state({"agent_type": kind, "host": rand("az-host"),
                                       "binary": binary, "topic": "x", "configurations": {},
                                       "availability_zone": zone, "start_flag": True})
    a = models.agents
    api.core.db.write(lambda conn: conn.execute(
        update(a).where(a.c.id == view["id"]).values(
            heartbeat_timestamp=dt.datetime(2020, 1, 1))))
    return view["id"]


def _zones(persona, **params) -> list[dict]:
    return expect(persona.get("availability_zones", params=params),
                  200)["availability_zones"]


def test_zones_from_agents(api):
    net_zone, both_zone = rand("az"), rand("az")
    dhcp = _agent(api, "DHCP agent", net_zone)
    _agent(api, "DHCP agent", both_zone)
    l3 = _agent(api, "L3 agent", both_zone)
    mine = [z for z in _zones(api.admin) if z["name"] in (net_zone, both_zone)]
    assert sorted(mine, key=lambda z: (z["name"], z["resource"])) == sorted([
        {"name": net_zone, "resource": "network", "state": "available"},
        {"name": both_zone, "resource": "network", "state": "available"},
        {"name": both_zone, "resource": "router", "state": "available"},
    ], key=lambda z: (z["name"], z["resource"]))
    # filters (availability_zone_filter)
    assert _zones(api.admin, name=both_zone, resource="router") == [
        {"name": both_zone, "resource": "router", "state": "available"}]
    # a zone whose agents are all administratively down is unavailable
    expect(api.admin.put(f"agents/{dhcp}", {"agent": {"admin_state_up": False}}), 200)
    assert _zones(api.admin, name=net_zone) == [
        {"name": net_zone, "resource": "network", "state": "unavailable"}]
    assert _zones(api.admin, name=net_zone, state="available") == []
    assert [z["name"] for z in _zones(api.admin, name=net_zone, state="unavailable")] == [
        net_zone]
    assert _zones(api.admin, name=both_zone, fields="name") == [{"name": both_zone}] * 2
    expect(api.admin.get("availability_zones", params={"bogus": "1"}), 400)
    # deleting the agents removes the zones
    expect(api.admin.delete(f"agents/{l3}"), 204)
    assert [z["resource"] for z in _zones(api.admin, name=both_zone)] == ["network"]


def test_zones_are_admin_only_and_read_only(api):
    """As upstream's default policy (admin): a project sees an empty list."""
    zone = rand("az")
    _agent(api, "DHCP agent", zone)
    assert _zones(api.admin, name=zone) == [
        {"name": zone, "resource": "network", "state": "available"}]
    assert _zones(api.member_a) == [] and _zones(api.reader_a, name=zone) == []
    expect(api.member_a.post("availability_zones", {"availability_zone": {"name": "x"}}), 405)


def test_network_hints_and_zones(api):
    zone, other = rand("az"), rand("az")
    agent = _agent(api, "DHCP agent", zone)
    _agent(api, "L3 agent", other)      # a router zone is no network zone
    m = api.project()
    net = expect(m.post("networks", {"network": {"name": rand("n"),
                                                 "availability_zone_hints": [zone]}}),
                 201)["network"]
    assert net["availability_zone_hints"] == [zone] and net["availability_zones"] == []
    shown = expect(m.get(f"networks/{net['id']}"), 200)["network"]
    assert shown["availability_zone_hints"] == [zone] and shown["availability_zones"] == []
    for bad in (other, "nowhere"):
        expect(m.post("networks", {"network": {"name": rand("n"),
                                               "availability_zone_hints": [bad]}}),
               404, "AvailabilityZoneNotFound", f"AvailabilityZone {bad} could not be found.")
    expect(api.admin.post(f"agents/{agent}/dhcp-networks", {"network_id": net["id"]}), 201)
    assert expect(m.get(f"networks/{net['id']}"), 200)["network"]["availability_zones"] == [
        zone]
    listed = {n["id"]: n for n in expect(m.get("networks"), 200)["networks"]}
    assert listed[net["id"]]["availability_zones"] == [zone]
    expect(m.put(f"networks/{net['id']}", {"network": {"availability_zone_hints": []}}), 400)
    expect(m.delete(f"networks/{net['id']}"), 204)


def test_network_ha_flag_is_create_only_and_hidden(api):
    m = api.project()
    net = expect(m.post("networks", {"network": {"name": rand("n"), "ha": True}}),
                 201)["network"]
    assert "ha" not in net
    expect(m.post("networks", {"network": {"name": rand("n"), "ha": "maybe"}}), 400,
           "InvalidInput")
    expect(m.put(f"networks/{net['id']}", {"network": {"ha": False}}), 400)
