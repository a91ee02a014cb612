"""Floating IP port forwarding end to end (issue #16): a lab with the
server and real agents; a port forwarding made through the API makes the
outside host's connection to FIP:2222 reach an instance's :22 (a TCP server
listening in the instance's namespace), and deleting it stops that."""
from __future__ import annotations

import subprocess

import pytest

from neutrino.dataplane import netns as ns
from tests.e2e.helpers import wait_for
from tests.e2e.l3_helpers import nat_rules, outside, router_ready

pytestmark = pytest.mark.root

BANNER = "SSH-2.0-neutrino-test"
# a one-line "ssh server": every connection gets the banner
SERVER = ("import socket\n"
          "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind(('0.0.0.0', 22)); s.listen(8)\n"
          "while True:\n"
          "    c, _ = s.accept(); c.sendall(b'" + BANNER + "\\r\\n'); c.close()\n")


def banner(lab, ip: str, port: int) -> str:
    code = ("import socket,sys\n"
            "try:\n"
            f"    c = socket.create_connection(('{ip}', {port}), timeout=2)\n"
            "    print(c.recv(100).decode().strip())\n"
            "except OSError as e:\n"
            "    print('error', type(e).__name__)\n")
    return outside(lab, ["python3", "-c", code]).stdout.strip()


def test_port_forwarding_outside_2222_reaches_instance_22(l3, lab):
    ext = l3.external()
    net, sub = l3.tenant("pf", "10.84.1.0/24", network_type="vxlan")
    router = l3.router("r", ext=ext)
    l3.add_interface(router, sub)
    host = l3.router_host(router)
    other = next(h for h in lab.state.host_names() if h != host)
    inst = l3.instance("a", net, host=other)
    l3.allow_ingress(inst, {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22})
    fip = l3.fip(ext)
    fip_ip = fip["floating_ip_address"]
    with ns.in_netns(inst.netns):
        server = subprocess.Popen(["python3", "-c", SERVER], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    try:
        rns = router_ready(l3, router, "10.84.1.1")
        assert banner(lab, fip_ip, 2222).startswith("error")
        pf = lab.api.request("POST", f"/v2.0/floatingips/{fip['id']}/port_forwardings", {
            "port_forwarding": {"internal_port_id": inst.port_id, "internal_port": 22,
                                "external_port": 2222, "protocol": "tcp",
                                "description": "ssh"}})["port_forwarding"]
        assert pf["internal_ip_address"] == inst.ip
        assert wait_for(lambda: banner(lab, fip_ip, 2222) == BANNER, timeout=30,
                        what="outside -> FIP:2222 -> instance:22")
        assert (f"-A neutron-l3-agent-fip-pf -d {fip_ip}/32 -p tcp -m tcp --dport 2222 "
                f"-j DNAT --to-destination {inst.ip}:22") in nat_rules(rns)
        assert banner(lab, fip_ip, 22).startswith("error")     # only what is forwarded
        wait_for(lambda: lab.api.show("floatingips", fip["id"])["status"] == "ACTIVE",
                 timeout=15, what="FIP ACTIVE (its forwarding in effect)")
        shown = lab.api.show("floatingips", fip["id"])
        assert shown["port_forwardings"][0]["external_port"] == 2222
        assert shown["router_id"] == router["id"]
        lab.api.request("DELETE", f"/v2.0/floatingips/{fip['id']}/port_forwardings/{pf['id']}")
        wait_for(lambda: not any(fip_ip in r for r in nat_rules(rns)), timeout=20,
                 what="port forwarding rules removed")
        assert banner(lab, fip_ip, 2222).startswith("error")
        assert lab.api.show("floatingips", fip["id"])["status"] == "DOWN"
    finally:
        server.kill()
        server.wait()
