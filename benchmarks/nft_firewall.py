"""The nftables firewall driver's transactions alone, at N ports on one host
(a throwaway namespace; no agent, no server, no taps: nft maps name
interfaces by string). For each change, the diff transaction against a
whole-table replace of the same result (what the driver chooses between):

  cold:    both tables written from nothing (a reboot, the first start)
  rule:    one ingress rule added to the group every port is in
  member:  one address joins the remote group
  deletes: 1,000 ports removed
and the time to render (pure) N ports.

    .venv/bin/python benchmarks/nft_firewall.py [--ports 1000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from neutrino.agent.l2.firewall.model import FwDesired, FwPort, SgRule  # noqa: E402
from neutrino.agent.l2.firewall.nft import plan as nft_plan  # noqa: E402
from neutrino.agent.l2.firewall.nft.render import assign_zones, render  # noqa: E402
from neutrino.dataplane import netns as ns  # noqa: E402
from neutrino.dataplane import nftables  # noqa: E402

NET = "fe000000-0000-4000-8000-000000000001"
G = "5e000000-0000-4000-8000-00000000000a"


def desired(n: int, extra_rule: bool = False, extra_member: bool = False,
            drop: int = 0) -> FwDesired:
    ports = {}
    for i in range(drop, n):
        pid = f"{i:08x}-1111-4000-8000-000000000000"
        ip = f"10.{100 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"
        mac = f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        ports[pid] = FwPort(pid, NET, mac, "compute:x", True, (ip,), (), (G,))
    rules = [SgRule("egress", "IPv4"), SgRule("egress", "IPv6"),
             SgRule("ingress", "IPv4", remote_group_id=G),
             SgRule("ingress", "IPv6", remote_group_id=G)]
    if extra_rule:
        rules.append(SgRule("ingress", "IPv4", "udp", 53, 53, "198.51.100.0/24"))
    members = [ip for p in ports.values() for ip in p.fixed_ips]
    if extra_member:
        members.append("192.0.2.77")
    return FwDesired(ports=ports, rules={G: tuple(rules)}, members={G: tuple(members)})


def timed(netns: str, text: str) -> float:
    t0 = time.monotonic()
    nftables.apply(netns, text)
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.ports
    netns = f"nftb{uuid.uuid4().hex[:6]}"
    ns.run(["ip", "netns", "add", netns])
    try:
        zones = assign_zones({NET}, {})
        t0 = time.monotonic()
        base = render(desired(n), zones, {})
        render_t = time.monotonic() - t0
        full = nft_plan.full_text(base)
        print(f"{n} ports: render {render_t:.3f} s; whole ruleset {full.count(chr(10))} lines, "
              f"{sum(len(r) for r in base.chains.values())} rules")
        changes = {
            "rule": render(desired(n, extra_rule=True), zones, base.marks),
            "member": render(desired(n, extra_member=True), zones, base.marks),
            "deletes": render(desired(n, drop=min(1000, n)), zones, base.marks),
        }
        cold = [timed(netns, full) for _ in range(args.rounds)]
        print(f"cold (both tables from nothing, one transaction): "
              f"{statistics.median(cold):.3f} s median of {args.rounds}")
        for name, after in changes.items():
            diff_t, replace_t = [], []
            text = nft_plan.diff_text(base, after)
            for _ in range(args.rounds):
                nftables.apply(netns, nft_plan.full_text(base))
                diff_t.append(timed(netns, text))
                nftables.apply(netns, nft_plan.full_text(base))
                replace_t.append(timed(netns, nft_plan.full_text(after)))
            print(f"{name:<8} diff {statistics.median(diff_t):.3f} s "
                  f"({text.count(chr(10))} lines) vs whole replace "
                  f"{statistics.median(replace_t):.3f} s")
    finally:
        ns.run(["ip", "netns", "del", netns], check=False)


if __name__ == "__main__":
    main()
