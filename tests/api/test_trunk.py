"""Trunks: CRUD, subports (add, remove, get, inherit), every upstream
refusal (status, type, nothing written), trunk_details on the parent,
ports in a trunk cannot go, the subports following the parent's binding,
the status derived from the ports, policy and visibility."""
from __future__ import annotations

from neutrino.rpc.server_handlers import ServerRpc, host_state
from tests.api.helpers import UUID_RE, expect, rand


def trunk(persona, port_id, **attrs) -> dict:
    return expect(persona.post("trunks", {"trunk": {"port_id": port_id, **attrs}}),
                  201)["trunk"]


def sub(port_id, vid, kind="vlan") -> dict:
    return {"port_id": port_id, "segmentation_type": kind, "segmentation_id": vid}


def add(persona, tid, subs, status=200, error=None):
    return expect(persona.put(f"trunks/{tid}/add_subports", {"sub_ports": subs}), status, error)


def remove(persona, tid, subs, status=200, error=None):
    return expect(persona.put(f"trunks/{tid}/remove_subports", {"sub_ports": subs}), status,
                  error)


def new_port(persona, **net_attrs) -> dict:
    return persona.port(persona.network(**net_attrs)["id"])


def test_trunk_crud_and_subports(api):
    m = api.project()
    parent, p1, p2 = new_port(m), new_port(m), new_port(m)
    t = trunk(m, parent["id"], name="t1", description="d", sub_ports=[sub(p1["id"], 2)])
    assert UUID_RE.fullmatch(t["id"])
    assert {k: t[k] for k in ("name", "description", "admin_state_up", "port_id", "status",
                              "sub_ports", "project_id", "tenant_id", "tags")} == {
        "name": "t1", "description": "d", "admin_state_up": True, "port_id": parent["id"],
        "status": "DOWN", "sub_ports": [sub(p1["id"], 2)], "project_id": m.project_id,
        "tenant_id": m.project_id, "tags": []}
    assert m.show("trunks", t["id"]) == t
    assert [x["id"] for x in m.list("trunks")] == [t["id"]]
    body = add(m, t["id"], [sub(p2["id"], 4)])
    assert "trunk" not in body and body["id"] == t["id"]
    assert body["sub_ports"] == [sub(p1["id"], 2), sub(p2["id"], 4)]
    assert body["revision_number"] > t["revision_number"]
    assert expect(m.get(f"trunks/{t['id']}/get_subports"), 200) == {
        "sub_ports": [sub(p1["id"], 2), sub(p2["id"], 4)]}
    assert remove(m, t["id"], [{"port_id": p1["id"]}])["sub_ports"] == [sub(p2["id"], 4)]
    up = m.update("trunks", t["id"], name="t2", admin_state_up=False)
    assert (up["name"], up["admin_state_up"]) == ("t2", False)
    # a disabled trunk: no subport changes and no delete
    add(m, t["id"], [sub(p1["id"], 5)], 409, "TrunkDisabled")
    remove(m, t["id"], [sub(p2["id"], 4)], 409, "TrunkDisabled")
    err = expect(m.delete(f"trunks/{t['id']}"), 409, "TrunkDisabled")
    assert err["message"] == f"Trunk {t['id']} is currently disabled."
    m.update("trunks", t["id"], admin_state_up=True)
    expect(m.delete(f"trunks/{t['id']}"), 204)
    expect(m.get(f"trunks/{t['id']}"), 404, "TrunkNotFound",
           f"Trunk {t['id']} could not be found.")
    # its ports are free again
    assert trunk(m, p2["id"], sub_ports=[sub(p1["id"], 2)])["port_id"] == p2["id"]


def test_trunk_details_and_ports_in_use(api):
    m = api.project()
    parent, p1 = new_port(m), new_port(m)
    assert "trunk_details" not in m.show("ports", parent["id"])
    t = trunk(m, parent["id"], sub_ports=[sub(p1["id"], 7)])
    details = m.show("ports", parent["id"])["trunk_details"]
    assert details == {"trunk_id": t["id"], "sub_ports": [
        {**sub(p1["id"], 7), "mac_address": p1["mac_address"]}]}
    listed = {p["id"]: p for p in m.list("ports")}
    assert listed[parent["id"]]["trunk_details"] == details
    assert "trunk_details" not in listed[p1["id"]]
    err = expect(m.delete(f"ports/{parent['id']}"), 409, "PortInUseAsTrunkParent")
    assert err["message"] == f"Port {parent['id']} is currently a parent port for trunk {t['id']}."
    expect(m.delete(f"ports/{p1['id']}"), 409, "PortInUseAsSubPort",
           f"Port {p1['id']} is currently a subport for trunk {t['id']}.")
    remove(m, t["id"], [sub(p1["id"], 7)])
    assert m.show("ports", parent["id"])["trunk_details"] == {"trunk_id": t["id"],
                                                               "sub_ports": []}
    expect(m.delete(f"ports/{p1['id']}"), 204)


def test_refusals_write_nothing(api):
    m = api.project()
    parent, p1, p2, other = new_port(m), new_port(m), new_port(m), new_port(m)
    missing = "00000000-0000-4000-8000-000000000000"
    expect(m.post("trunks", {"trunk": {"port_id": missing}}), 404, "PortNotFound")
    expect(m.post("trunks", {"trunk": {"port_id": parent["id"],
                                       "sub_ports": [sub(missing, 2)]}}), 404, "PortNotFound")
    for bad, reason in (([{"port_id": p1["id"], "segmentation_type": "vlan"}],
                         "missing segmentation"),
                        ([{"port_id": p1["id"], "segmentation_id": 3}], "missing segmentation"),
                        ([{"segmentation_type": "vlan", "segmentation_id": 3}],
                         "A valid port UUID must be specified"),
                        ([sub(p1["id"], 2), sub(p2["id"], 2)], "is not unique"),
                        ({"port_id": p1["id"]}, "is not a list"),
                        ([sub("nope", 2)], "Invalid UUID for subport")):
        err = expect(m.post("trunks", {"trunk": {"port_id": parent["id"], "sub_ports": bad}}),
                     400, "HTTPBadRequest")
        assert reason in err["message"], err
    for bad, error in (([sub(p1["id"], 0)], "InvalidInput"),
                       ([sub(p1["id"], 4095)], "InvalidInput"),
                       ([sub(p1["id"], 5, "gre")], "InvalidInput"),
                       ([sub(p1["id"], 5, "inherit")], "InvalidInput"),   # vxlan network
                       ([sub(parent["id"], 5)], "TrunkPortInUse")):
        expect(m.post("trunks", {"trunk": {"port_id": parent["id"], "sub_ports": bad}}),
               409 if error == "TrunkPortInUse" else 400, error)
    assert m.list("trunks") == []
    t = trunk(m, parent["id"], sub_ports=[sub(p1["id"], 2)])
    err = expect(m.post("trunks", {"trunk": {"port_id": parent["id"]}}), 409, "TrunkPortInUse")
    assert err["message"] == f"Port {parent['id']} is in use by another trunk."
    expect(m.post("trunks", {"trunk": {"port_id": p1["id"]}}), 409, "ParentPortInUse")
    add(m, t["id"], [sub(p2["id"], 2)], 409, "DuplicateSubPort")
    add(m, t["id"], [sub(p1["id"], 3)], 409, "TrunkPortInUse")
    add(m, t["id"], [sub(missing, 3)], 404, "PortNotFound")
    add(m, missing, [sub(p2["id"], 3)], 404, "TrunkNotFound")
    add(m, t["id"], sub(p2["id"], 3), 400)   # a dict, not a list
    expect(m.put(f"trunks/{t['id']}/add_subports", {"nope": []}), 400)
    remove(m, t["id"], [sub(other["id"], 2)], 404, "SubPortNotFound")
    # MTU: a subport's network may not have a larger MTU than the parent's
    big = new_port(api.admin, **{"provider:network_type": "vlan",
                                 "provider:physical_network": "physnet1", "mtu": 1500})
    small = new_port(api.admin, mtu=1400)
    expect(api.admin.post("trunks", {"trunk": {"port_id": small["id"],
                                                     "sub_ports": [sub(big["id"], 9)]}}),
           409, "SubPortMtuGreaterThanTrunkPortMtu")
    ts = trunk(api.admin, small["id"])
    add(api.admin, ts["id"], [sub(big["id"], 9)], 409, "SubPortMtuGreaterThanTrunkPortMtu")
    assert m.show("trunks", t["id"])["sub_ports"] == [sub(p1["id"], 2)]


VLAN = {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}


def test_inherit_takes_the_networks_vlan(api):
    admin = api.admin
    parent = new_port(admin, **VLAN)
    vnet = admin.network(**{"provider:network_type": "vlan",
                            "provider:physical_network": "physnet1"})
    p = admin.port(vnet["id"])
    t = trunk(admin, parent["id"], sub_ports=[{"port_id": p["id"],
                                               "segmentation_type": "inherit"}])
    assert t["sub_ports"] == [sub(p["id"], vnet["provider:segmentation_id"])]


def test_policy_and_visibility(api):
    a, b = api.project(), api.project()
    parent, p1 = new_port(a), new_port(a)
    t = trunk(a, parent["id"])
    expect(b.get(f"trunks/{t['id']}"), 404, "TrunkNotFound")
    assert b.list("trunks") == []
    add(b, t["id"], [sub(p1["id"], 2)], 404, "TrunkNotFound")
    expect(b.post("trunks", {"trunk": {"port_id": p1["id"]}}), 404, "PortNotFound")
    reader = api.as_project(a, "reader")
    assert reader.show("trunks", t["id"])["id"] == t["id"]
    expect(reader.get(f"trunks/{t['id']}/get_subports"), 200)
    add(reader, t["id"], [sub(p1["id"], 2)], 403)
    expect(reader.post("trunks", {"trunk": {"port_id": p1["id"]}}), 403)
    expect(reader.delete(f"trunks/{t['id']}"), 403)
    assert api.admin.show("trunks", t["id"])["id"] == t["id"]


def test_subports_follow_the_parent_binding_and_status(api):
    admin = api.admin
    host = api.register_agent()
    parent = new_port(admin, **VLAN)
    vnet = admin.network(**{"provider:network_type": "vlan",
                            "provider:physical_network": "physnet1"})
    p1 = admin.port(vnet["id"])
    t = trunk(admin, parent["id"], sub_ports=[sub(p1["id"], 10)])
    assert admin.show("ports", p1["id"])["binding:host_id"] == ""
    admin.update("ports", parent["id"], **{"binding:host_id": host})
    bound = admin.show("ports", p1["id"])
    assert (bound["binding:host_id"], bound["binding:vif_type"], bound["device_owner"]) == (
        host, "bridge", "trunk:subport")
    state = api.core.db.read(lambda conn: host_state(conn, host))
    wired = {p["id"]: p for p in state["ports"]}
    assert wired[parent["id"]]["trunk_subports"] == [{"port_id": p1["id"],
                                                      "segmentation_id": 10}]
    assert p1["id"] in wired and "trunk_subports" not in wired[p1["id"]]
    assert admin.show("trunks", t["id"])["status"] == "DOWN"
    rpc = ServerRpc(api.core, transport=None)
    rpc.update_device_status(host, up=[parent["id"]], down=(), build=())
    assert admin.show("trunks", t["id"])["status"] == "BUILD"
    rpc.update_device_status(host, up=[p1["id"]], down=(), build=())
    assert admin.show("trunks", t["id"])["status"] == "ACTIVE"
    rpc.update_device_status(host, up=(), down=(), build=(), error=[p1["id"]])
    assert admin.show("trunks", t["id"])["status"] == "DEGRADED"
    # a subport added to a bound trunk is bound at once; a removed one unbound
    p2 = admin.port(vnet["id"])
    add(admin, t["id"], [sub(p2["id"], 11)])
    assert admin.show("ports", p2["id"])["binding:host_id"] == host
    remove(admin, t["id"], [sub(p2["id"], 11)])
    gone = admin.show("ports", p2["id"])
    assert (gone["binding:host_id"], gone["device_owner"], gone["binding:vif_type"]) == (
        "", "", "unbound")
    admin.update("ports", parent["id"], **{"binding:host_id": ""})
    assert admin.show("ports", p1["id"])["binding:host_id"] == ""
    assert admin.show("trunks", t["id"])["status"] == "DOWN"


def test_trunks_sort_page_and_tags(api):
    m = api.project()
    names = [rand("t") for _ in range(3)]
    for name in names:
        trunk(m, new_port(m)["id"], name=name, tags=["x"])
    got = m.list("trunks", params={"sort_key": "name", "sort_dir": "desc"})
    assert [t["name"] for t in got] == sorted(names, reverse=True)
    page = expect(m.get("trunks", params={"limit": 2, "sort_key": "name"}), 200)
    assert len(page["trunks"]) == 2 and page["trunks_links"]
    assert len(m.list("trunks", params={"tags": "x"})) == 3
