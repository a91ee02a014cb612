"""Metadata end to end (issue 12 point 4): an instance asks
http://169.254.169.254 as cloud-init does and gets its own answers.

Behind a router: qrouter- REDIRECT to 9697, haproxy there (X-Neutron-Router-ID),
the host's metadata agent, the lab's Nova stand-in. On a network without a
router (enable_isolated_metadata, the lab's default): the lease routes
169.254.169.254 via the DHCP port, where haproxy listens on port 80
(X-Neutron-Network-ID). User data given at create comes back byte for byte.
The lab's security groups may be on or off: metadata is egress from the
instance, which the default group allows.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from neutrino.dataplane import netns as ns
from neutrino.dataplane.process import pid_cmdline, read_pidfile
from tests.e2e.helpers import wait_for

pytestmark = pytest.mark.root

METADATA = "http://169.254.169.254"
USER_DATA = b"#cloud-config\n# every byte value, NUL and CR included:\n" + bytes(range(256))


@pytest.fixture
def world(l3, lab):
    """conftest's l3, once the metadata agents are alive too."""
    wait_for(lambda: {a["host"] for a in lab.api.list("agents", agent_type="Metadata agent")
                      if a["alive"]} >= set(lab.state.metadata_hosts()),
             timeout=60, what="metadata agents alive")
    return l3


def get(world, inst, path: str, *curl_args: str) -> tuple[int, bytes]:
    """(HTTP status, body bytes) of a GET from inside the instance."""
    with ns.in_netns(inst.netns):
        out = subprocess.run(["curl", "-sS", "-m", "10", "-o", "-", "-w", "\n%{http_code}",
                              *curl_args, METADATA + path], capture_output=True, timeout=20)
    body, _, code = out.stdout.rpartition(b"\n")
    return int(code or 0), body


def get_ok(world, inst, path: str, *curl_args: str) -> bytes:
    """The body of a 200, waiting (briefly) for the proxy to be up."""
    last = []

    def attempt():
        status, body = get(world, inst, path, *curl_args)
        last[:] = [status, body]
        return status == 200
    wait_for(attempt, timeout=20, interval=0.3, what=f"200 for {path} (last: {last})")
    return last[1]


def check_identity(world, inst, port) -> None:
    meta = json.loads(get_ok(world, inst, "/openstack/latest/meta_data.json"))
    assert meta["uuid"] == inst.uuid == port["device_id"]
    assert meta["name"] == inst.name
    assert meta["project_id"] == port["project_id"]
    assert meta["hostname"].startswith(inst.name.lower())
    assert meta["availability_zone"] == "nova"
    assert get_ok(world, inst, "/latest/meta-data/local-ipv4").decode() == inst.ip
    net = json.loads(get_ok(world, inst, "/openstack/latest/network_data.json"))
    assert net["links"][0]["ethernet_mac_address"] == port["mac_address"]
    assert net["networks"][0]["network_id"] == port["network_id"]


def test_instance_behind_a_router_reads_its_metadata(world, lab):
    ext = world.external()
    net = world.network("md-routed", cidr="10.61.0.0/24")
    sub = world.api.list("subnets", network_id=net["id"])[0]
    router = world.router("md", ext=ext)
    world.add_interface(router, sub)
    inst = world.instance("mdr", net, host="host2", dhcp=True, user_data=USER_DATA)
    port = world.api.show("ports", inst.port_id)
    check_identity(world, inst, port)
    # the lease routes 169.254.169.254 via the router (upstream's opts)
    assert f"169.254.169.254/32 {sub['gateway_ip']}" in inst.lease["staticroutes"]
    assert get_ok(world, inst, "/openstack/latest/user_data") == USER_DATA
    assert get_ok(world, inst, "/latest/user-data") == USER_DATA
    # no floating IP yet: public-ipv4 is empty; then it is the floating IP
    assert get_ok(world, inst, "/latest/meta-data/public-ipv4") == b""
    fip = world.fip(ext, port_id=inst.port_id)["floating_ip_address"]
    assert get_ok(world, inst, "/latest/meta-data/public-ipv4").decode() == fip
    # a spoofed network header is dropped by haproxy: still this instance's answer
    meta = json.loads(get_ok(world, inst, "/openstack/latest/meta_data.json",
                             "-H", f"X-Neutron-Network-ID: {net['id']}",
                             "-H", "X-Instance-ID: someone-else"))
    assert meta["uuid"] == inst.uuid
    # the proxy's port itself is closed to instances (only the REDIRECT reaches it)
    with ns.in_netns(inst.netns):
        direct = subprocess.run(["curl", "-sS", "-m", "2", f"http://{sub['gateway_ip']}:9697/"],
                                capture_output=True, timeout=10)
    assert direct.returncode != 0
    # the router's haproxy runs in its namespace, and goes with the router
    host = world.router_host(router)
    pidfile = lab.state.host_dir(host) / "external" / "pids" / f"{router['id']}.pid.haproxy"
    pid = read_pidfile(pidfile)
    assert pid and "haproxy" in pid_cmdline(pid)[0]
    world.api.delete("floatingips", world.fips.pop())
    world.remove_interface(router, sub)
    world.api.delete("routers", router["id"])
    world.routers.remove(router["id"])
    wait_for(lambda: pid_cmdline(pid) is None and not pidfile.exists(), timeout=30,
             what="router's haproxy stopped, its pid file removed")


def test_isolated_network_reads_metadata_through_the_dhcp_namespace(world, lab):
    net = world.network("md-isolated", cidr="10.62.0.0/24")
    inst = world.instance("mdi", net, host="host2", dhcp=True, user_data=USER_DATA)
    port = world.api.show("ports", inst.port_id)
    dhcp_ip = world.api.list("ports", network_id=net["id"], device_owner="network:dhcp"
                             )[0]["fixed_ips"][0]["ip_address"]
    # option 121: 169.254.169.254 via the DHCP port, applied in the instance
    assert f"169.254.169.254/32 {dhcp_ip}" in inst.lease["staticroutes"]
    with ns.in_netns(inst.netns):
        route = subprocess.run(["ip", "route", "get", "169.254.169.254"], capture_output=True,
                               text=True, timeout=10).stdout
    assert f"via {dhcp_ip}" in route
    check_identity(world, inst, port)
    assert get_ok(world, inst, "/openstack/latest/user_data") == USER_DATA
    # the DHCP namespace holds 169.254.169.254 and its haproxy listens there
    qdhcp = f"{lab.state.prefix}host1-qdhcp-{net['id']}"
    assert "169.254.169.254/32" in ns.run(["ip", "-4", "addr"], netns=qdhcp)
    assert ":80 " in ns.run(["ss", "-ltnH", "src", "169.254.169.254"], netns=qdhcp) + " "


def test_unknown_instance_gets_404(world, lab):
    """An address that is no port's fixed IP (here an allowed address pair,
    so the firewall lets it out when security groups are on): the agent
    finds no instance and answers 404, as upstream."""
    net = world.network("md-unknown", cidr="10.63.0.0/24")
    inst = world.instance("mdu", net, host="host2", dhcp=True)
    get_ok(world, inst, "/openstack/latest/meta_data.json")      # the path works
    world.api.update("ports", inst.port_id,
                     {"allowed_address_pairs": [{"ip_address": "10.63.0.250"}]})
    with ns.in_netns(inst.netns):                                  # now speak as .250
        subprocess.run(["ip", "addr", "add", "10.63.0.250/24", "dev", "eth0"], check=True)
    last = []

    def answered():
        last[:] = get(world, inst, "/openstack/latest/meta_data.json",
                      "--interface", "10.63.0.250")
        return last[0] != 0
    wait_for(answered, timeout=20, interval=0.3, what="an answer to 10.63.0.250")
    assert last[0] == 404, last
    assert b"404 Not Found" in last[1]
