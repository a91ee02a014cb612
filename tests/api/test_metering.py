"""Metering labels and rules through the API (metering,
metering_source_and_destination_fields): admin-only CRUD, upstream's rule
checks (prefix forms, overlaps) with nothing written, filters, and the
labels' rules in the routers' wire form the L3 agent meters by."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand

LABELS, RULES = "metering/metering-labels", "metering/metering-label-rules"


def label(persona, status=201, **attrs):
    body = expect(persona.post(LABELS, {"metering_label": attrs}), status)
    return body["metering_label"] if status == 201 else body["NeutronError"]


def rule(persona, status=201, **attrs):
    body = expect(persona.post(RULES, {"metering_label_rule": attrs}), status)
    return body["metering_label_rule"] if status == 201 else body["NeutronError"]


def test_label_and_rule_crud(api):
    a = api.admin
    lab = label(a, name=rand("ml"), description="d", shared=True)
    assert {k: lab[k] for k in ("description", "shared", "project_id")} == {
        "description": "d", "shared": True, "project_id": a.project_id}
    assert expect(a.get(f"{LABELS}/{lab['id']}"), 200)["metering_label"] == lab
    got = expect(a.get(LABELS, params={"id": lab["id"]}), 200)["metering_labels"]
    assert got == [lab]
    assert expect(a.get(LABELS, params={"id": "33"}), 200)["metering_labels"] == []
    r = rule(a, metering_label_id=lab["id"], direction="ingress", remote_ip_prefix="10.0.0.0/24")
    assert r == {"id": r["id"], "metering_label_id": lab["id"], "direction": "ingress",
                 "excluded": False, "remote_ip_prefix": "10.0.0.0/24",
                 "source_ip_prefix": None, "destination_ip_prefix": None,
                 "project_id": a.project_id, "tenant_id": a.project_id}
    r2 = rule(a, metering_label_id=lab["id"], direction="egress", excluded=True,
              source_ip_prefix="10.1.0.0/16", destination_ip_prefix="0.0.0.0/0")
    assert (r2["excluded"], r2["source_ip_prefix"]) == (True, "10.1.0.0/16")
    got = expect(a.get(RULES, params={"metering_label_id": lab["id"], "direction": "egress"}),
                 200)["metering_label_rules"]
    assert got == [r2]
    expect(a.put(f"{LABELS}/{lab['id']}", {"metering_label": {"name": "x"}}), 400)
    expect(a.delete(f"{RULES}/{r['id']}"), 204)
    expect(a.get(f"{RULES}/{r['id']}"), 404, "MeteringLabelRuleNotFound",
           f"Metering label rule {r['id']} does not exist")
    expect(a.delete(f"{LABELS}/{lab['id']}"), 204)       # its rules go with it
    expect(a.get(f"{RULES}/{r2['id']}"), 404)
    expect(a.get(f"{LABELS}/{lab['id']}"), 404, "MeteringLabelNotFound",
           f"Metering label {lab['id']} does not exist")


@pytest.mark.parametrize("attrs, kind, contains", [
    ({"remote_ip_prefix": "10.0.0.0/24", "source_ip_prefix": "10.1.0.0/24"}, "BadRequest",
     "Cannot use 'remote-ip-prefix' in conjunction"),
    ({}, "BadRequest", "You must define at least one of the following parameters"),
    ({"remote_ip_prefix": "not-a-net"}, "HTTPBadRequest", "remote_ip_prefix"),
    ({"remote_ip_prefix": "10.0.0.0/24", "direction": "sideways"}, "HTTPBadRequest",
     "direction"),
])
def test_rule_refusals(api, attrs, kind, contains):
    a = api.admin
    lab = label(a, name=rand("ml"))
    err = rule(a, 400, **{"metering_label_id": lab["id"], "direction": "ingress", **attrs})
    assert err["type"] == kind and contains in err["message"]
    assert expect(a.get(RULES, params={"metering_label_id": lab["id"]}), 200)[
        "metering_label_rules"] == []


def test_overlaps_names_and_policy(api):
    a = api.admin
    lab = label(a, name="x" * 255)
    label(a, 400, name="x" * 256)
    rule(a, metering_label_id=lab["id"], direction="ingress", remote_ip_prefix="10.0.0.0/16")
    err = rule(a, 409, metering_label_id=lab["id"], direction="ingress",
               remote_ip_prefix="10.0.1.0/24")
    assert err["type"] == "MeteringLabelRuleOverlaps"
    rule(a, metering_label_id=lab["id"], direction="egress", remote_ip_prefix="10.0.1.0/24")
    rule(a, metering_label_id=lab["id"], direction="ingress", excluded=True,
         remote_ip_prefix="10.0.1.0/24")
    rule(a, 404, metering_label_id="0" * 8 + "-0000-0000-0000-" + "0" * 12,
         direction="ingress", remote_ip_prefix="10.0.0.0/24")
    m = api.project()
    expect(m.post(LABELS, {"metering_label": {"name": "mine"}}), 403)
    expect(m.get(f"{LABELS}/{lab['id']}"), 404)
    expect(m.get(LABELS), 200)


def test_labels_reach_the_routers_wire_form(api):
    from neutrino.rpc.l3_handlers import routers_state
    ext = api.admin.network(**{"router:external": True})
    api.admin.subnet(ext["id"], "198.51.100.0/24")
    api.agents.report_state({"agent_type": "L3 agent", "host": rand("l3host"),
                             "binary": "neutrino-l3-agent", "topic": "l3_agent",
                             "configurations": {}, "start_flag": True})
    m = api.project()
    r = m.create("routers", name=rand("r"), external_gateway_info={"network_id": ext["id"]})
    own = label(api.admin, name=rand("ml"), project_id=m.project_id)
    shared = label(api.admin, name=rand("ml"), shared=True)
    other = label(api.admin, name=rand("ml"), project_id=api.project().project_id)
    for lab in (own, shared, other):
        rule(api.admin, metering_label_id=lab["id"], direction="egress",
             destination_ip_prefix="0.0.0.0/0")
    host = api.core.db.read(lambda conn: conn.exec_driver_sql(
        "SELECT a.host FROM agents a JOIN router_agent_bindings b ON b.agent_id = a.id "
        f"WHERE b.router_id = '{r['id']}'").scalar())
    assert host is not None
    state = api.core.db.read(lambda conn: routers_state(conn, host))
    wire = next(x for x in state["routers"] if x["id"] == r["id"])
    ids = {lab["id"] for lab in wire["metering_labels"]}
    assert own["id"] in ids and shared["id"] in ids and other["id"] not in ids
