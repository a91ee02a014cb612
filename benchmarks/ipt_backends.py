#!/usr/bin/env python3
"""The iptables driver's restores with each iptables backend, without an
agent: the driver's own render and plan for a host of N ports in one
default-like group (benchmarks/fw_cycles.py's), restored into a scratch
namespace of this run (removed at the end): the cold restore (ipset,
IPv4, IPv6, ebtables), then C cycles deleting D random ports, then one
IPv4 save. Prints seconds per step.

    .venv/bin/python benchmarks/ipt_backends.py [--ports 5000] [--deletes 100]
        [--cycles 3] [--backend nft|legacy]
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fw_cycles import host, without  # noqa: E402

from neutrino.agent.l2.firewall import plan as ipt  # noqa: E402
from neutrino.agent.l2.firewall.agent import as_observed  # noqa: E402
from neutrino.agent.l2.firewall.apply import tool  # noqa: E402
from neutrino.agent.l2.firewall.model import FwConf, Observed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=int, default=5000)
    ap.add_argument("--deletes", type=int, default=100)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--backend", choices=("nft", "legacy"), default="nft")
    args = ap.parse_args()
    random.seed(1)
    netns = "iptb-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", netns], check=True)

    def run(argv: list[str], text: str | None = None) -> float:
        t0 = time.monotonic()
        subprocess.run(["ip", "netns", "exec", netns, *argv], input=text, text=True,
                       capture_output=True, check=True)
        return time.monotonic() - t0

    restore = {v: [tool(f"{c}-restore", args.backend), "--noflush"]
               for v, c in ((4, "iptables"), (6, "ip6tables"))}
    eb = ["ebtables-restore", "--noflush"]     # from PATH, as the driver's
    try:
        desired = host(args.ports)
        (net,) = {p.network_id for p in desired.ports.values()}
        conf, zones = FwConf(), ipt.assign_zones({net}, {})
        last = ipt.render(desired, conf, zones)
        cold = ipt.plan(desired, last, Observed())
        run(["ipset", "restore"], cold.ipset_before)
        print(f"# {args.ports} ports, iptables-{args.backend}; seconds")
        print(f"cold restore: ip4 {run(restore[4], cold.iptables[4]):.2f}, "
              f"ip6 {run(restore[6], cold.iptables[6]):.2f}, ebtables {run(eb, cold.ebtables):.2f}")
        for _ in range(args.cycles):
            desired = without(desired, set(random.sample(sorted(desired.ports), args.deletes)))
            rendered = ipt.render(desired, conf, zones)
            step = ipt.plan(desired, rendered, as_observed(last))
            print(f"{args.deletes} deletes: ip4 {run(restore[4], step.iptables[4]):.2f}, "
                  f"ip6 {run(restore[6], step.iptables[6]):.2f}, "
                  f"ebtables {run(eb, step.ebtables):.2f}")
            last = rendered
        print(f"save ip4: {run([tool('iptables-save', args.backend)]):.2f}")
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
