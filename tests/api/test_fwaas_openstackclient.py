"""`openstack firewall group|group policy|group rule ...` (python-openstackclient
10.5, which carries the FWaaS v2 commands that used to live in
python-neutronclient's OSC plugin; they go through openstacksdk's
/v2.0/fwaas/... resources) against a real `neutrino-server` subprocess.

OSC prints its own column names with `-f json` ("Destination Port",
"Ingress Policy ID", ...): the tests assert what a user reads. Each OSC call
costs ~2.5 s of CPU (imports), so setup checks and cleanup go straight to
the API.
"""
from __future__ import annotations

import secrets
import shutil
import tempfile

import httpx
import pytest

from tests.api.test_openstackclient import OPENSTACK, HeaderProxy, Osc

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
    home = tempfile.mkdtemp(prefix="osc-fw-home-")
    yield Osc(server.url, home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def member_osc(server):
    """OSC as a member of a project of its own (headers a keystone-validated
    request would carry, added by a proxy: the none auth plugin sends none)."""
    home = tempfile.mkdtemp(prefix="osc-fw-member-")
    proxy = HeaderProxy(server.url, {"X-Project-Id": secrets.token_hex(16),
                                     "X-Roles": "member,reader", "X-User-Id": "osc-fw-member"})
    yield Osc(proxy.url, home)
    proxy.close()
    shutil.rmtree(home, ignore_errors=True)


class Rest:
    def __init__(self, url: str):
        self.url = url + "/v2.0/"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30)

    def post(self, path: str, body: dict) -> dict:
        resp = httpx.post(self.url + path, json=body, timeout=30)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def put(self, path: str, body: dict) -> dict:
        resp = httpx.put(self.url + path, json=body, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def delete(self, path: str) -> None:
        resp = httpx.delete(self.url + path, timeout=30)
        assert resp.status_code in (204, 404), resp.text


@pytest.fixture(scope="module")
def rest(server):
    return Rest(server.url)


@pytest.fixture
def router_port(rest):
    """A router interface port (what a firewall group is applied to)."""
    tag = secrets.token_hex(3)
    net = rest.post("networks", {"network": {"name": f"fw-{tag}"}})["network"]
    sub = rest.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                           "cidr": "10.66.0.0/24"}})["subnet"]
    router = rest.post("routers", {"router": {"name": f"fw-{tag}"}})["router"]
    port_id = rest.put(f"routers/{router['id']}/add_router_interface",
                       {"subnet_id": sub["id"]})["port_id"]
    yield port_id
    if rest.get(f"ports/{port_id}").status_code == 200:
        rest.put(f"routers/{router['id']}/remove_router_interface", {"port_id": port_id})
    rest.delete(f"routers/{router['id']}")
    rest.delete(f"networks/{net['id']}")


def test_rule_create_list_show_set_unset_delete(osc, rest):
    name = "ssh-" + secrets.token_hex(3)
    rule = osc.json("firewall", "group", "rule", "create", name, "--protocol", "tcp",
                    "--destination-port", "22", "--source-ip-address", "198.51.100.0/24",
                    "--action", "allow", "--description", "ssh from the office")
    assert (rule["Name"], rule["Protocol"], rule["Destination Port"], rule["Action"]) == (
        name, "tcp", "22", "allow")
    assert rule["Source IP Address"] == "198.51.100.0/24"
    assert rule["IP Version"] == 4 and rule["Enabled"] is True
    assert rule["Description"] == "ssh from the office"
    listed = {r["Name"]: r for r in osc.json("firewall", "group", "rule", "list")}
    assert listed[name]["ID"] == rule["ID"] and listed[name]["Enabled"] is True
    assert "TCP" in listed[name]["Summary"] and "(22)" in listed[name]["Summary"]

    osc.run("firewall", "group", "rule", "set", name, "--action", "deny",
            "--destination-port", "8000:8080", "--disable-rule")
    shown = osc.json("firewall", "group", "rule", "show", rule["ID"])
    assert (shown["Action"], shown["Destination Port"], shown["Enabled"]) == (
        "deny", "8000:8080", False)
    osc.run("firewall", "group", "rule", "unset", name, "--source-ip-address",
            "--destination-port")
    shown = osc.json("firewall", "group", "rule", "show", name)
    assert shown["Source IP Address"] is None and shown["Destination Port"] is None
    assert shown["Protocol"] == "tcp"
    # "any" protocol is null on the wire
    osc.run("firewall", "group", "rule", "set", name, "--protocol", "any")
    assert rest.get(f"fwaas/firewall_rules/{rule['ID']}").json()[
        "firewall_rule"]["protocol"] is None

    osc.run("firewall", "group", "rule", "delete", name)
    assert rest.get(f"fwaas/firewall_rules/{rule['ID']}").status_code == 404


def test_rule_bad_input_is_reported(osc, rest):
    name = "bad-" + secrets.token_hex(3)
    proc = osc.run("firewall", "group", "rule", "create", name, "--protocol", "icmp",
                   "--destination-port", "22", check=False)
    assert proc.returncode != 0
    assert "Source, destination port are not allowed when protocol is set to ICMP." \
        in proc.stderr, proc.stderr
    assert rest.get(f"fwaas/firewall_rules?name={name}").json()["firewall_rules"] == []


def test_policy_rules_in_order_insert_and_remove(osc, rest):
    tag = secrets.token_hex(3)
    r1 = rest.post("fwaas/firewall_rules", {"firewall_rule": {
        "name": f"r1-{tag}", "protocol": "tcp", "destination_port": "22",
        "action": "allow"}})["firewall_rule"]
    r2 = rest.post("fwaas/firewall_rules", {"firewall_rule": {
        "name": f"r2-{tag}", "protocol": "tcp", "destination_port": "22",
        "action": "deny"}})["firewall_rule"]
    name = "pol-" + tag
    policy = osc.json("firewall", "group", "policy", "create", name, "--firewall-rule",
                      f"r1-{tag}", "--description", "ssh in")
    assert policy["Firewall Rules"] == [r1["id"]] and policy["Audited"] is False
    assert policy["Description"] == "ssh in"

    # a deny inserted before the allow; then audited, which any change resets
    osc.run("firewall", "group", "policy", "add", "rule", name, f"r2-{tag}",
            "--insert-before", f"r1-{tag}")
    osc.run("firewall", "group", "policy", "set", name, "--audited")
    shown = osc.json("firewall", "group", "policy", "show", name)
    assert shown["Firewall Rules"] == [r2["id"], r1["id"]] and shown["Audited"] is True
    assert rest.get(f"fwaas/firewall_rules/{r2['id']}").json()[
        "firewall_rule"]["firewall_policy_id"] == [policy["ID"]]

    # a rule in use cannot be deleted
    proc = osc.run("firewall", "group", "rule", "delete", f"r2-{tag}", check=False)
    assert proc.returncode != 0 and f"Firewall rule {r2['id']} is being used." in proc.stderr, \
        proc.stderr

    osc.run("firewall", "group", "policy", "remove", "rule", name, f"r2-{tag}")
    listed = {p["Name"]: p for p in osc.json("firewall", "group", "policy", "list")}
    assert listed[name]["Firewall Rules"] == [r1["id"]]
    body = rest.get(f"fwaas/firewall_policies/{policy['ID']}").json()["firewall_policy"]
    assert body["audited"] is False                       # the change reset it

    osc.run("firewall", "group", "policy", "unset", name, "--all-firewall-rule")
    assert rest.get(f"fwaas/firewall_policies/{policy['ID']}").json()[
        "firewall_policy"]["firewall_rules"] == []
    osc.run("firewall", "group", "policy", "delete", name)
    assert rest.get(f"fwaas/firewall_policies/{policy['ID']}").status_code == 404
    for rule in (r1, r2):
        rest.delete(f"fwaas/firewall_rules/{rule['id']}")


def test_group_create_show_set_unset_delete(osc, rest, router_port):
    tag = secrets.token_hex(3)
    policy = rest.post("fwaas/firewall_policies", {"firewall_policy": {
        "name": f"in-{tag}"}})["firewall_policy"]
    name = "fwg-" + tag
    group = osc.json("firewall", "group", "create", name, "--ingress-firewall-policy",
                     f"in-{tag}", "--description", "edge")
    assert group["Ingress Policy ID"] == policy["id"] and group["Egress Policy ID"] is None
    assert group["Ports"] == [] and group["State"] is True and group["Description"] == "edge"
    assert group["Status"] == "INACTIVE"                          # no ports

    osc.run("firewall", "group", "set", name, "--egress-firewall-policy", f"in-{tag}",
            "--disable", "--name", name + "-x")
    shown = osc.json("firewall", "group", "show", name + "-x")
    assert (shown["Egress Policy ID"], shown["State"]) == (policy["id"], False)   # --disable
    osc.run("firewall", "group", "unset", name + "-x", "--ingress-firewall-policy")
    shown = osc.json("firewall", "group", "show", name + "-x")
    assert shown["Ingress Policy ID"] is None and shown["Egress Policy ID"] == policy["id"]

    # on the router's port: to be applied by the router's L3 agent (there is
    # none here, so it stays pending, and the API refuses changes meanwhile)
    osc.run("firewall", "group", "set", name + "-x", "--port", router_port)
    listed = {g["Name"]: g for g in osc.json("firewall", "group", "list", "--long")}
    assert listed[name + "-x"]["ID"] == group["ID"]
    assert listed[name + "-x"]["Ports"] == [router_port]
    assert listed[name + "-x"]["Status"] == "PENDING_UPDATE"
    proc = osc.run("firewall", "group", "unset", name + "-x", "--all-port", check=False)
    assert proc.returncode != 0
    assert (f"Operation cannot be performed since associated firewall group {group['ID']} "
            "is in PENDING_UPDATE") in proc.stderr, proc.stderr

    # a port is in at most one group
    other = osc.run("firewall", "group", "create", name + "-2", "--port", router_port,
                    check=False)
    assert other.returncode != 0
    assert (f"Port(s) ['{router_port}'] provided already associated with other firewall "
            "group(s).") in other.stderr, other.stderr             # upstream's wording

    # the router interface goes: the port leaves the group, which can go too
    rest.put(f"routers/{router_port_router(rest, router_port)}/remove_router_interface",
             {"port_id": router_port})
    shown = osc.json("firewall", "group", "show", group["ID"])
    assert shown["Ports"] == [] and shown["Status"] == "INACTIVE"
    osc.run("firewall", "group", "delete", name + "-x")
    assert rest.get(f"fwaas/firewall_groups/{group['ID']}").status_code == 404
    rest.delete(f"fwaas/firewall_policies/{policy['id']}")


def router_port_router(rest, port_id: str) -> str:
    return rest.get(f"ports/{port_id}").json()["port"]["device_id"]


def test_member_rules_are_its_own_and_only_admins_share(member_osc, osc, rest):
    name = "m-" + secrets.token_hex(3)
    rule = member_osc.json("firewall", "group", "rule", "create", name, "--protocol", "udp",
                           "--destination-port", "53", "--action", "allow")
    assert rule["Project"] != "00000000000000000000000000000000" and rule["Shared"] is False
    proc = member_osc.run("firewall", "group", "rule", "set", name, "--share", check=False)
    assert proc.returncode != 0
    assert ("(rule:update_firewall_rule and rule:update_firewall_rule:shared) is disallowed "
            "by policy") in proc.stderr, proc.stderr
    # the admin (another project) may share it; then the member still owns it
    osc.run("firewall", "group", "rule", "set", rule["ID"], "--share")
    shown = member_osc.json("firewall", "group", "rule", "show", name)
    assert shown["Shared"] is True and shown["Project"] == rule["Project"]
    rest.delete(f"fwaas/firewall_rules/{rule['ID']}")
