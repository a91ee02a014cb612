"""Floating IP port forwardings on a real kernel: the router namespace built
by RouterNamespace exactly as the L3 agent converges it (World of
test_fwaas_router: instances "a" and "b" behind the router running echo
servers, an outside host on the external network), with port forwardings
in the router's wire form. What is asserted is what the outside host sees:
outside -> FIP:2222 reaches a's :22, ranges keep their offset, nothing else
of the floating IP answers, and a removed forwarding stops at once."""
from __future__ import annotations

import pytest

from neutrino.agent.l3.model import PortForward
from neutrino.dataplane import netns as ns
from tests.dataplane.test_fwaas_router import EXT, World, tcp, udp

pytestmark = pytest.mark.root

PF_FIP = f"{EXT}.30"


def forward(pf_id, protocol, ext, ip, internal) -> dict:
    ext = ext if isinstance(ext, tuple) else (ext, ext)
    internal = internal if isinstance(internal, tuple) else (internal, internal)
    return {"id": pf_id, "floating_ip_address": PF_FIP, "protocol": protocol,
            "external_port_start": ext[0], "external_port_end": ext[1],
            "internal_ip_address": ip, "internal_port_start": internal[0],
            "internal_port_end": internal[1]}


class ForwardingWorld(World):
    forwards: list[dict] = []

    def router(self):
        router = super().router()
        router.port_forwards = [PortForward.from_wire(f) for f in self.forwards]
        return router


@pytest.fixture
def world_pf(netns, tmp_path):
    w = ForwardingWorld(netns, tmp_path, gateway=True)
    try:
        yield w
    finally:
        w.close()


def test_outside_2222_reaches_an_instance_22(world_pf):
    w = world_pf
    out = w.outside
    assert tcp(out, PF_FIP, 2222) == "timeout"       # no forwarding: nobody has the FIP
    w.forwards = [forward("pf-ssh", "tcp", 2222, w.ip("a"), 22),
                  forward("pf-dns", "udp", 5353, w.ip("b"), 53),
                  forward("pf-range", "tcp", (6021, 6022), w.ip("b"), (21, 22))]
    assert w.converge() is not None
    assert tcp(out, PF_FIP, 2222) == "ok"            # a's :22
    assert udp(out, PF_FIP, 5353) == "ok"            # b's :53 over UDP
    assert tcp(out, PF_FIP, 6022) == "ok"            # the range keeps its offset: b's :22
    assert tcp(out, PF_FIP, 6021) == "refused"       # ... and 6021 is b's :21 (closed)
    # only what is forwarded: a's :80 is not reachable through the FIP's :80,
    # nor TCP 5353, nor UDP 2222 (the router itself answers: closed)
    assert tcp(out, PF_FIP, 80) == "refused"
    assert tcp(out, PF_FIP, 5353) == "refused"
    assert udp(out, PF_FIP, 2222) == "refused"
    rules = ns.run(["iptables", "-t", "nat", "-S"], netns=w.ns.name).splitlines()
    assert (f"-A neutron-l3-agent-fip-pf -d {PF_FIP}/32 -p tcp -m tcp --dport 2222 "
            f"-j DNAT --to-destination {w.ip('a')}:22") in rules
    assert "-A neutron-l3-agent-PREROUTING -j neutron-l3-agent-fip-pf" in rules
    # converging again changes nothing
    assert w.ns.converge(w.router()) is False

    # one forwarding goes: it stops, the others stay
    w.forwards = w.forwards[1:]
    w.converge()
    assert tcp(out, PF_FIP, 2222) == "refused"
    assert udp(out, PF_FIP, 5353) == "ok"
    # the last one goes: the floating IP leaves the router
    w.forwards = []
    w.converge()
    assert tcp(out, PF_FIP, 6022) == "timeout"
    rules = ns.run(["iptables", "-t", "nat", "-S"], netns=w.ns.name)
    assert "fip-pf" not in rules and PF_FIP not in rules
