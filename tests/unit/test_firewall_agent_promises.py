"""neutrino.agent.l2.firewall.agent, without a kernel: which ports lack
their filter (so the L2 agent reports them DOWN before a restore), and the
conntrack filters handed to the cleaner when a filtered port leaves."""
from __future__ import annotations

from neutrino.agent.l2.firewall.agent import Firewall, as_observed, unfiltered
from neutrino.agent.l2.firewall.model import FwConf, FwDesired, FwPort, SgRule
from neutrino.agent.l2.firewall.plan import assign_zones, render

P1 = "11111111-aaaa-bbbb-cccc-000000000001"
P2 = "22222222-aaaa-bbbb-cccc-000000000002"
P3 = "33333333-aaaa-bbbb-cccc-000000000003"   # port security off: never filtered
NET = "99999999-0000-0000-0000-000000000009"
G = "gggggggg-0000-0000-0000-00000000000g"
W = "neutron-linuxbri"


def desired(*ids) -> FwDesired:
    ports = {
        P1: FwPort(P1, NET, "fa:16:3e:00:00:01", "compute:nova", True,
                   ("10.0.0.5", "fd00::5"), (), (G,)),
        P2: FwPort(P2, NET, "fa:16:3e:00:00:02", "compute:nova", True, ("10.0.0.6",), (), (G,)),
        P3: FwPort(P3, NET, "fa:16:3e:00:00:03", "compute:nova", False, ("10.0.0.7",)),
    }
    return FwDesired(ports={i: ports[i] for i in ids},
                     rules={G: (SgRule("egress", "IPv4"), SgRule("ingress", "IPv4"))},
                     members={G: ("10.0.0.5", "10.0.0.6")})


def rendered(d: FwDesired):
    return render(d, FwConf(), assign_zones({NET}, {}))


def test_no_port_lacks_a_filter_when_the_kernel_matches():
    d = desired(P1, P2, P3)
    r = rendered(d)
    assert unfiltered(d, as_observed(r), r) == set()


def test_a_flushed_kernel_lacks_every_filtered_port():
    d = desired(P1, P2, P3)
    r = rendered(d)
    empty = as_observed(rendered(FwDesired()))
    assert unfiltered(d, empty, r) == {P1, P2}


def test_a_missing_chain_or_jump_names_its_port_only():
    d = desired(P1, P2)
    r = rendered(d)
    obs = as_observed(r)
    del obs.iptables[6]["filter"][f"{W}-s{P2[:10]}"]
    assert unfiltered(d, obs, r) == {P2}
    obs = as_observed(r)
    sg = obs.iptables[4]["filter"][f"{W}-sg-chain"]
    obs.iptables[4]["filter"][f"{W}-sg-chain"] = [line for line in sg
                                                  if f"-j {W}-i{P1[:10]}" not in line]
    assert unfiltered(d, obs, r) == {P1}


class _Cleaner:
    def __init__(self):
        self.batches = []

    def submit(self, filters):
        self.batches.append(sorted(filters, key=str))


class _Kernel:
    def __init__(self):
        self.conntrack = _Cleaner()


def test_a_port_that_leaves_takes_its_flows_in_its_zone():
    kernel = _Kernel()
    fw = Firewall(FwConf(), transport=None, host="h", prefix="p", netns=None, kernel=kernel)
    before = desired(P1, P2, P3)
    fw._forget_flows_of_removed(before, rendered(before))
    assert kernel.conntrack.batches == []           # nothing left yet
    after = desired(P2, P3)
    fw._forget_flows_of_removed(after, rendered(after))
    zone = rendered(after).zones[NET]
    assert kernel.conntrack.batches == [sorted([
        (4, zone, "10.0.0.5", None), (4, zone, None, "10.0.0.5"),
        (6, zone, "fd00::5", None), (6, zone, None, "fd00::5")], key=str)]
    fw._forget_flows_of_removed(desired(P2), rendered(desired(P2)))   # P3 was never filtered
    assert len(kernel.conntrack.batches) == 1
