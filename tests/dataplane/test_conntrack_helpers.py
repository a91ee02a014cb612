"""Router conntrack helpers on a real kernel: the router namespace built by
RouterNamespace as the L3 agent converges it (World of test_fwaas_router),
with conntrack helpers in the router's wire form. The proof is the kernel's
own: connections through the router to the helper's protocol and port are
tracked with that helper (conntrack shows helper=...), others are not, and
removing the helper removes its rules."""
from __future__ import annotations

import pytest

from neutrino.dataplane import netns as ns
from tests.dataplane.test_fwaas_router import World, tcp, udp

pytestmark = pytest.mark.root


class HelperWorld(World):
    helpers: list[tuple[str, int, str]] = []

    def router(self):
        router = super().router()
        router.conntrack_helpers = list(self.helpers)
        return router


@pytest.fixture
def world_cth(netns, tmp_path):
    w = HelperWorld(netns, tmp_path)
    try:
        yield w
    finally:
        w.close()


def tracked(router_ns: str, proto: str, dport: int) -> list[str]:
    out = ns.run(["conntrack", "-L", "-p", proto, "--dport", str(dport)], netns=router_ns,
                 check=False)
    return [line for line in out.splitlines() if f"dport={dport}" in line]


def test_helper_attached_to_matching_connections_only(world_cth):
    w = world_cth
    a, b = w.inst["a"], w.ip("b")
    w.helpers = [("udp", 53, "tftp"), ("tcp", 22, "ftp")]
    w.converge()
    raw = ns.run(["iptables", "-t", "raw", "-S"], netns=w.ns.name).splitlines()
    assert "-A neutron-l3-agent-cth -p udp -m udp --dport 53 -j CT --helper tftp" in raw
    assert "-A neutron-l3-agent-PREROUTING -j neutron-l3-agent-cth" in raw
    assert udp(a, b, 53) == "ok" and tcp(a, b, 22) == "ok"   # traffic still flows
    assert tcp(a, b, 80) == "ok"
    assert all("helper=tftp" in line for line in tracked(w.ns.name, "udp", 53))
    assert tracked(w.ns.name, "udp", 53)
    assert any("helper=ftp" in line for line in tracked(w.ns.name, "tcp", 22))
    assert tracked(w.ns.name, "tcp", 80) and not any(
        "helper=" in line for line in tracked(w.ns.name, "tcp", 80))
    assert w.ns.converge(w.router()) is False            # converged: nothing to change

    # removed: new connections get no helper, the rules are gone
    w.helpers = []
    w.converge()
    ns.run(["conntrack", "-F"], netns=w.ns.name, check=False)
    assert udp(a, b, 53) == "ok"
    assert tracked(w.ns.name, "udp", 53) and not any(
        "helper=" in line for line in tracked(w.ns.name, "udp", 53))
    assert "--helper" not in ns.run(["iptables", "-t", "raw", "-S"], netns=w.ns.name)
