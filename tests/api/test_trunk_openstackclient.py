"""`openstack network trunk ...` / `network subport list` and the port
options of the attribute extensions (python-openstackclient 10.5 over
openstacksdk) against a real `neutrino-server` subprocess. OSC prints its
own column names; each call costs ~2.5 s of CPU, so setup goes straight to
the API."""
from __future__ import annotations

import secrets
import shutil
import tempfile

import httpx
import pytest

from tests.api.test_openstackclient import OPENSTACK, Osc

pytestmark = pytest.mark.missing(not OPENSTACK.exists(),
                                reason=f"python-openstackclient not installed ({OPENSTACK})")


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory({
        "ml2": {"tenant_network_types": "vxlan", "type_drivers": "local,flat,vlan,vxlan"},
        "ml2_type_vxlan": {"vni_ranges": "1000:1999"},
        "DEFAULT": {"api_workers": "1"},
    })


@pytest.fixture(scope="module")
def osc(server):
    home = tempfile.mkdtemp(prefix="osc-trunk-home-")
    yield Osc(server.url, home)
    shutil.rmtree(home, ignore_errors=True)


def post(server, collection, **attrs) -> dict:
    singular = collection[:-1]
    resp = httpx.post(f"{server.url}/v2.0/{collection}", json={singular: attrs}, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.json()[singular]


def test_trunk_commands(osc, server):
    net = post(server, "networks", name="osc-" + secrets.token_hex(3))
    parent, sub1, sub2 = (post(server, "ports", network_id=net["id"], name=n)
                          for n in ("parent", "sub1", "sub2"))
    name = "trunk-" + secrets.token_hex(3)
    trunk = osc.json("network", "trunk", "create", name, "--parent-port", parent["id"],
                     "--subport", f"port={sub1['id']},segmentation-type=vlan,"
                                  "segmentation-id=100")
    assert trunk["port_id"] == parent["id"] and trunk["status"] == "DOWN"
    osc.run("network", "trunk", "set", "--subport",
            f"port={sub2['id']},segmentation-type=vlan,segmentation-id=200", name)
    subports = osc.json("network", "subport", "list", "--trunk", name)
    assert sorted((s["Port"], s["Segmentation ID"]) for s in subports) == sorted([
        (sub1["id"], 100), (sub2["id"], 200)])
    osc.run("network", "trunk", "unset", "--subport", sub1["id"], name)
    assert [s["Port"] for s in osc.json("network", "subport", "list", "--trunk", name)] == [
        sub2["id"]]
    # the parent cannot go while the trunk holds it: OSC shows neutrino's 409
    proc = osc.run("port", "delete", parent["id"], check=False)
    assert proc.returncode != 0
    assert f"currently a parent port for trunk {trunk['id']}" in proc.stderr, proc.stderr
    osc.run("network", "trunk", "delete", name)
    assert httpx.get(f"{server.url}/v2.0/trunks/{trunk['id']}", timeout=30).status_code == 404


def test_port_numa_policy_and_uplink_status(osc, server):
    net = post(server, "networks", name="osc-" + secrets.token_hex(3))
    port = osc.json("port", "create", "p-" + secrets.token_hex(3), "--network", net["id"],
                    "--numa-policy-preferred", "--disable-uplink-status-propagation")
    assert port["numa_affinity_policy"] == "preferred"
    assert port["propagate_uplink_status"] is False
    osc.run("port", "set", "--numa-policy-required", port["id"])
    shown = httpx.get(f"{server.url}/v2.0/ports/{port['id']}", timeout=30).json()["port"]
    assert shown["numa_affinity_policy"] == "required"
