#!/usr/bin/env python3
"""What one firewall cycle of a delete burst costs in the agent's Python,
without a kernel: the pure render/plan of both drivers for a host of N
ports in one default-like group (a remote-group rule naming itself), over
C cycles that each delete D random ports and refetch the group's members,
as the L2 agent does in a burst. Prints milliseconds per cycle.

    .venv/bin/python benchmarks/fw_cycles.py [--ports 5000] [--cycles 10] [--deletes 100]
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from neutrino.agent.l2.firewall import plan as ipt  # noqa: E402
from neutrino.agent.l2.firewall.agent import as_observed  # noqa: E402
from neutrino.agent.l2.firewall.model import FwConf, FwDesired, FwPort, SgRule  # noqa: E402
from neutrino.agent.l2.firewall.nft import plan as nft_plan  # noqa: E402
from neutrino.agent.l2.firewall.nft import render as nft  # noqa: E402
from neutrino.agent.l2.firewall.source import removed_flows  # noqa: E402


def host(n: int) -> FwDesired:
    net, sg = str(uuid.uuid4()), str(uuid.uuid4())
    rules = (SgRule("ingress", "IPv4", remote_group_id=sg),
             SgRule("ingress", "IPv6", remote_group_id=sg),
             SgRule("egress", "IPv4"), SgRule("egress", "IPv6"),
             SgRule("ingress", "IPv4", "tcp", 22, 22, "0.0.0.0/0"))
    ports = {}
    for k in range(n):
        pid = str(uuid.uuid4())
        mac = "fa:16:3e:%02x:%02x:%02x" % (k >> 16, (k >> 8) & 255, k & 255)
        ports[pid] = FwPort(pid, net, mac, "compute:nova", True,
                            (f"10.{k // 250}.{k % 250}.5",), (), (sg,))
    return FwDesired(ports=ports, rules={sg: rules},
                     members={sg: tuple(p.fixed_ips[0] for p in ports.values())})


def without(desired: FwDesired, gone: set[str]) -> FwDesired:
    ports = {k: p for k, p in desired.ports.items() if k not in gone}
    (sg,) = desired.rules
    return FwDesired(ports=ports, rules=desired.rules,
                     members={sg: tuple(p.fixed_ips[0] for p in ports.values())})


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=int, default=5000)
    ap.add_argument("--cycles", type=int, default=10)
    ap.add_argument("--deletes", type=int, default=100)
    args = ap.parse_args()
    random.seed(1)
    desired = host(args.ports)
    (net,) = {p.network_id for p in desired.ports.values()}
    conf = FwConf()
    zones = ipt.assign_zones({net}, {})
    last_ipt = ipt.render(desired, conf, zones)
    last_nft = nft.render(desired, zones, {})
    flows, _ = removed_flows({}, desired, zones)
    spent = {"iptables render": 0.0, "iptables plan": 0.0, "nftables render": 0.0,
             "nftables diff + conntrack": 0.0, "removed flows": 0.0}
    for _ in range(args.cycles):
        desired = without(desired, set(random.sample(sorted(desired.ports), args.deletes)))
        t0 = time.perf_counter()
        rendered = ipt.render(desired, conf, zones)
        t1 = time.perf_counter()
        ipt.plan(desired, rendered, as_observed(last_ipt))
        t2 = time.perf_counter()
        rendered_nft = nft.render(desired, zones, last_nft.marks)
        t3 = time.perf_counter()
        nft_plan.diff_text(last_nft, rendered_nft)
        nft_plan.conntrack(desired, last_nft, rendered_nft)
        t4 = time.perf_counter()
        flows, _ = removed_flows(flows, desired, zones)
        t5 = time.perf_counter()
        for name, dt in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            spent[name] += dt
        last_ipt, last_nft = rendered, rendered_nft
    print(f"# {args.ports} ports, {args.cycles} cycles of {args.deletes} deletes, "
          f"ms per cycle")
    for name, total in spent.items():
        print(f"{name:28s} {total / args.cycles * 1000:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
