"""The production shape in one machine (issue #8): a 3-host lab over
RabbitMQ and a PostgreSQL database made for it, two API servers, the
l2population driver with ARP responder, and the L3 agent on host3 only
(the "network node"). The seed's cross-host experiments (SEED-SPEC §8-9):

* same network across hosts, flat (physnet1 through the underlay) and
  vxlan (tunnel between the hosts' VTEPs);
* with l2population, each host's `bridge fdb` holds exactly the remote
  VTEPs that have ACTIVE ports on the network and their MACs; an ARP
  request from an instance is answered on its own host (a capture of the
  underlay shows no ARP inside VXLAN); moving and deleting a port removes
  its entries on every host;
* two networks joined by a router on a third host; SNAT and a floating IP
  for an instance on a compute host.
VLAN across hosts needs an 802.1Q kernel: see test_l2_vlan_vm.py (vm-run).
"""
from __future__ import annotations

import os
import secrets
import subprocess
import time

import pytest

from neutrino.dataplane import netns as ns
from tests.e2e.conftest import NOT_ROOT, RABBIT_URL, _postgres_unreachable, _rabbit_unreachable
from tests.e2e.helpers import links, wait_for
from tests.machine import missing

pytestmark = pytest.mark.root

FLOOD = "00:00:00:00:00:00"
OUTSIDE = "203.0.113.254"


@pytest.fixture(scope="module")
def mlab(tmp_path_factory):
    """3 hosts, RabbitMQ, PostgreSQL, 2 API servers, l2population, L3 on host3."""
    if os.geteuid() != 0:
        missing(NOT_ROOT)
    reason = _rabbit_unreachable() or _postgres_unreachable()
    if reason:
        missing(reason)
    from neutrino.lab.control import LabControl
    ctl = LabControl.up(hosts=3, transport="rabbit", rabbit_url=RABBIT_URL, db="postgresql",
                        servers=2, l2pop=True, l3_hosts=["host3"],
                        lab_dir=tmp_path_factory.mktemp("lab-multihost") / "lab")
    try:
        wait_for(lambda: {"host3"} <= {a["host"] for a in ctl.api.list(
            "agents", agent_type="L3 agent") if a["alive"]}, timeout=60, what="L3 agent")
        yield ctl
    finally:
        ctl.down()


@pytest.fixture
def world(mlab):
    from tests.e2e.l3_helpers import L3World
    w = L3World(mlab, tag=secrets.token_hex(2))
    try:
        yield w
    finally:
        w.cleanup()
        time.sleep(0.3)


# ------------------------------------------------------------------ helpers

def vteps(lab) -> dict[str, str]:
    return {a["host"]: a["configurations"]["tunneling_ip"]
            for a in lab.api.list("agents", agent_type="Linux bridge agent")}


def expected_fdb(lab, net_id: str, host: str) -> set[tuple[str, str]]:
    """What l2population should put on `host`: flood entries for the VTEPs
    of other hosts with ACTIVE ports on the network, one entry per MAC."""
    where = vteps(lab)
    out = set()
    for p in lab.api.list("ports", network_id=net_id):
        h = p["binding:host_id"]
        if p["status"] == "ACTIVE" and h and h != host and p["binding:vif_type"] == "bridge":
            out |= {(FLOOD, where[h]), (p["mac_address"], where[h])}
    return out


def kernel_fdb(lab, host: str, vni: int) -> set[tuple[str, str]] | None:
    """`bridge fdb show dev vxlan-<vni>` on `host`: its remote entries (None:
    no such device)."""
    dev = f"vxlan-{vni}"
    if dev not in links(lab.state.host_netns(host)):
        return None
    out = ns.run(["bridge", "fdb", "show", "dev", dev], netns=lab.state.host_netns(host))
    entries = set()
    for line in out.splitlines():
        words = line.split()
        if "dst" in words and "self" in words:
            entries.add((words[0], words[words.index("dst") + 1]))
    return entries


def kernel_neigh(lab, host: str, vni: int) -> set[tuple[str, str]]:
    out = ns.run(["ip", "neigh", "show", "dev", f"vxlan-{vni}"],
                 netns=lab.state.host_netns(host), check=False)
    return {(w[0], w[2]) for w in (line.split() for line in out.splitlines())
            if len(w) >= 3 and w[1] == "lladdr" and "PERMANENT" in w}


def fdb_converged(lab, net_id: str, vni: int, hosts_without: set[str] = frozenset()) -> bool:
    for host in lab.state.host_names():
        have = kernel_fdb(lab, host, vni)
        if host in hosts_without:
            if have is not None:
                return False
            continue
        if have != expected_fdb(lab, net_id, host):
            return False
    return True


def assert_fdb_exact(lab, net, hosts_without=frozenset()):
    vni = net["provider:segmentation_id"]
    wait_for(lambda: fdb_converged(lab, net["id"], vni, set(hosts_without)), timeout=30,
             what="every host's fdb to match the network's ACTIVE remote ports")


class Capture:
    """tcpdump on every underlay interface, decoding VXLAN (UDP 8472)."""

    def __init__(self, lab):
        with ns.in_netns(lab.lab.underlay_ns):
            self.proc = subprocess.Popen(
                ["tcpdump", "-l", "-nn", "-e", "-i", "any", "-T", "vxlan", "udp", "port", "8472"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(1.0)   # tcpdump attaches

    def stop(self) -> str:
        time.sleep(0.5)
        self.proc.terminate()
        return self.proc.communicate(timeout=10)[0]


# ------------------------------------------------------------------ tests

def test_vxlan_l2pop_fdb_arp_responder_move_and_delete(world, mlab):
    lab = mlab
    net = world.network("vx", cidr="10.91.0.0/24", network_type="vxlan")
    vni = net["provider:segmentation_id"]
    a = world.instance("a", net, host="host1")
    b = world.instance("b", net, host="host2")
    where = vteps(lab)
    # exact tables: host1 has host2's VTEP and b's MAC, host2 has host1's
    # (a, and the DHCP port on host1), host3 serves nothing on this network
    assert_fdb_exact(lab, net, hosts_without={"host3"})
    assert (b.mac, where["host2"]) in kernel_fdb(lab, "host1", vni)
    assert (FLOOD, where["host3"]) not in kernel_fdb(lab, "host1", vni)
    assert (b.ip, b.mac) in kernel_neigh(lab, "host1", vni)           # ARP responder
    assert (a.ip, a.mac) in kernel_neigh(lab, "host2", vni)
    details = next(line for line in ns.run(["ip", "-d", "link", "show", f"vxlan-{vni}"],
                                           netns=world.host_ns("host1")).splitlines()
                   if "vxlan id" in line)
    assert " nolearning " in details and " proxy " in details and " group " not in details

    # ARP is answered on the instance's own host: none crosses the tunnel
    lab.instances.run(a.name, ["ip", "neigh", "flush", "all"])
    lab.instances.run(b.name, ["ip", "neigh", "flush", "all"])
    cap = Capture(lab)
    try:
        assert wait_for(lambda: world.ping(a, b.ip), timeout=15, what="a -> b over vxlan")
    finally:
        captured = cap.stop()
    assert "ICMP echo request" in captured, captured[-2000:]
    assert "ARP" not in captured, captured[-2000:]
    assert b.mac in lab.instances.run(a.name, ["ip", "neigh", "show", b.ip]).stdout

    # `neutrino show network` shows each host's fdb and neighbour entries
    from neutrino.cli.show import network_view, render_hosts
    shown = "\n".join(render_hosts(network_view(lab.api, [(h, lab.state.host_netns(h))
                                                          for h in lab.state.host_names()],
                                                lab.instances.list(), net["id"])["hosts"]))
    assert f"fdb   flood             dst {where['host2']}" in shown
    assert f"fdb   {b.mac:<17} dst {where['host2']}" in shown
    assert f"neigh {b.ip:<17} lladdr {b.mac} PERMANENT" in shown

    # move b to host3 (as a migration: same port, rebound, plugged there)
    port = lab.api.show("ports", b.port_id)
    lab.instances.delete(b.name, keep_port=True)
    world.instance_names.remove(b.name)
    port = lab.api.update("ports", port["id"], {"binding:host_id": "host3"})
    b = world.instance("b3", net, host="host3", port=port)
    assert_fdb_exact(lab, net, hosts_without={"host2"})
    assert (b.mac, where["host3"]) in kernel_fdb(lab, "host1", vni)
    assert not {e for e in kernel_fdb(lab, "host1", vni) if e[1] == where["host2"]}
    assert wait_for(lambda: world.ping(a, b.ip), timeout=15, what="a -> moved b")

    # delete b: its entries go from every host; host3 keeps nothing for the network
    lab.instances.delete(b.name)
    world.instance_names.remove(b.name)
    assert_fdb_exact(lab, net, hosts_without={"host2", "host3"})
    assert not {e for e in kernel_fdb(lab, "host1", vni) if e[1] == where["host3"]}
    assert (b.ip, b.mac) not in kernel_neigh(lab, "host1", vni)


def test_flat_and_vxlan_same_network_across_hosts(world, mlab):
    flat = world.network("fl", cidr="10.92.0.0/24", network_type="flat",
                         physical_network="physnet1")
    f1 = world.instance("f1", flat, host="host1")
    f3 = world.instance("f3", flat, host="host3")
    assert wait_for(lambda: world.ping(f1, f3.ip), timeout=15, what="flat host1 -> host3")
    assert world.ping(f3, f1.ip)
    vx = world.network("vx2", cidr="10.93.0.0/24", network_type="vxlan")
    v2 = world.instance("v2", vx, host="host2")
    v3 = world.instance("v3", vx, host="host3")
    assert wait_for(lambda: world.ping(v2, v3.ip), timeout=15, what="vxlan host2 -> host3")
    # the two networks are isolated from each other
    assert not world.ping(f1, v2.ip)


def test_router_on_network_node_snat_and_floating_ip(world, mlab):
    from tests.e2e.l3_helpers import outside_ping, router_ready, whoami
    lab = mlab
    ext = world.external()
    net_a, sub_a = world.tenant("ra", "10.94.1.0/24", network_type="vxlan")
    net_b, sub_b = world.tenant("rb", "10.94.2.0/24", network_type="vxlan")
    router = world.router("r", ext=ext)
    world.add_interface(router, sub_a)
    world.add_interface(router, sub_b)
    assert world.router_host(router) == "host3"          # the only L3 agent
    router = lab.api.show("routers", router["id"])
    gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    a = world.instance("a", net_a, host="host1")
    b = world.instance("b", net_b, host="host2")
    router_ready(world, router, "10.94.1.1", "10.94.2.1", gw_ip)
    # inter-network through host3, both ways
    assert wait_for(lambda: world.ping(a, b.ip), timeout=20, what="a -> b via the router")
    assert world.ping(b, a.ip)
    # the router's ports are remote ports too: host1 floods to host3 only
    where = vteps(lab)
    vni_a = net_a["provider:segmentation_id"]
    wait_for(lambda: kernel_fdb(lab, "host1", vni_a) == expected_fdb(lab, net_a["id"], "host1"),
             timeout=20, what="host1 fdb for net a")
    assert {dst for _, dst in kernel_fdb(lab, "host1", vni_a)} == {where["host3"]}
    # SNAT from a compute host, then a floating IP
    assert wait_for(lambda: whoami(world, a) == gw_ip, timeout=20, what="SNAT to gateway IP")
    fip = world.fip(ext, a.port_id)
    fip_ip = fip["floating_ip_address"]
    wait_for(lambda: lab.api.show("floatingips", fip["id"])["status"] == "ACTIVE",
             timeout=20, what="FIP ACTIVE (its NAT rules are in)")
    assert not outside_ping(lab, fip_ip)     # a's default group lets nothing in from outside
    world.allow_ingress(a, {"protocol": "icmp"})
    assert wait_for(lambda: outside_ping(lab, fip_ip), timeout=20, what="outside -> FIP")
    assert wait_for(lambda: whoami(world, a) == fip_ip, timeout=15, what="SNAT to the FIP")
    assert whoami(world, b) == gw_ip


def test_second_api_server_shares_the_database(mlab):
    from neutrino.lab.api import NeutronApi
    urls = mlab.state.server_urls()
    assert len(urls) == 2
    other = NeutronApi(urls[1])
    try:
        net = other.create_network(f"s2-{secrets.token_hex(2)}")
        try:
            assert mlab.api.show("networks", net["id"])["name"] == net["name"]
        finally:
            other.delete("networks", net["id"], missing_ok=True)
    finally:
        other.close()
