"""The seed's double-DHCP trap: another DHCP server on the physical segment
of a flat network. `neutrino lab dhcp-check` must find it, and must not
mistake neutrino's own dnsmasq for one."""
from __future__ import annotations

import pytest

from neutrino.dataplane.process import Daemon
from tests.e2e.test_dhcp_agent import dhcp_port, serving

pytestmark = pytest.mark.root


def wired(world, lab, net_id: str) -> None:
    """dnsmasq runs before the L2 agent has put its tap on the network's
    bridge (the probe plugs into that bridge): wait for the DHCP port to be
    ACTIVE, i.e. wired."""
    serving(lab, net_id)
    lab.wait_port_status(dhcp_port(world, net_id)["id"], "ACTIVE")


@pytest.fixture
def rogue_dhcp(lab, tmp_path):
    """A dnsmasq handing out dynamic leases in the lab's outside namespace,
    on the `external` physical segment; stopped by its PID afterwards."""
    topo = lab.state.topology()
    pidfile = tmp_path / "rogue.pid"
    daemon = Daemon(["dnsmasq", "--keep-in-foreground", "--no-hosts", "--no-resolv",
                     "--port=0", "--conf-file=", f"--pid-file={pidfile}", "--interface=eth0",
                     "--bind-interfaces", "--user=root", "--group=root",
                     f"--dhcp-leasefile={tmp_path / 'rogue.leases'}",
                     "--dhcp-range=203.0.113.50,203.0.113.60,255.255.255.0,120s",
                     "--dhcp-option=option:router,203.0.113.254"],
                    pidfile, netns=topo.outside_netns, cmdline_match=f"--pid-file={pidfile}")
    daemon.start(wait=10)
    try:
        yield topo.outside_ip
    finally:
        daemon.stop()


def test_clean_flat_network_passes(world, lab):
    net = world.network("fc", cidr=None, network_type="flat", physical_network="external")
    world.subnet(net["id"], "203.0.113.0/24", gateway_ip="203.0.113.254",
                 allocation_pools=[{"start": "203.0.113.100", "end": "203.0.113.150"}])
    wired(world, lab, net["id"])
    report = lab.dhcp_check(net["id"])
    assert report["ok"] and report["dhcp_ports"], report


def test_rogue_dhcp_server_on_flat_segment_is_reported(world, lab, rogue_dhcp):
    net = world.network("fr", cidr=None, network_type="flat", physical_network="external")
    world.subnet(net["id"], "203.0.113.0/24", gateway_ip="203.0.113.254",
                 allocation_pools=[{"start": "203.0.113.100", "end": "203.0.113.150"}])
    wired(world, lab, net["id"])
    report = lab.dhcp_check(net["id"])
    assert not report["ok"]
    rogue = report["rogue_servers"]
    assert [r["server_id"] for r in rogue] == [rogue_dhcp]
    assert rogue[0]["offered_ip"].startswith("203.0.113.")
    assert not set(report["dhcp_ports"]) & {r["server_id"] for r in rogue}
