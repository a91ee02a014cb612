"""Non-HA router failover by the server (issue #17, part 3): how long an
instance's traffic to the outside stops when its router's host is stopped,
and how long the stopped host takes to come back clean.

A 3-host lab over RabbitMQ (agent_down_time 20 s, report_interval 5 s,
allow_automatic_l3agent_failover on, as `neutrino lab up` makes it): L3
agents on host1 and host2 only, an instance on host3 behind a router with
SNAT to the outside host, DHCP agents on all three hosts and two per
network. Each round, from the instance, `ping -D -i 0.1` to 203.0.113.254;
the router's host is stopped (`LabControl.stop_host`, SIGSTOP + underlay
links down) and the figures are:

  outage        the longest gap between two answered pings (what a user
                of the instance sees; bounded below by agent_down_time: the
                server must first see the agent dead)
  rescheduled   stop -> the router's L3 agent is another host in the API
  dhcp moved    stop -> the network's DHCP agents no longer include the
                stopped host (when it served the network)
  host back     `start_host`: resume, its agents report, links up
  cleaned       start -> the old host's router namespace is gone

    sudo .venv/bin/python benchmarks/router_failover.py [--rounds 5] [--freeze|--kill]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import time

from l2_common import pct, throwaway_lab

from neutrino.dataplane import netns as ns

OUTSIDE = "203.0.113.254"
PING_LINE = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)")


def wait(predicate, timeout: float, what: str, interval: float = 0.1) -> float:
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        time.sleep(interval)
    return time.monotonic() - t0


def build(lab):
    api = lab.api
    ext = api.create("networks", {"name": "ext", "router:external": True,
                                   "provider:network_type": "flat",
                                   "provider:physical_network": "external"})
    api.create("subnets", {"network_id": ext["id"], "cidr": "203.0.113.0/24", "ip_version": 4,
                           "gateway_ip": OUTSIDE, "enable_dhcp": False,
                           "allocation_pools": [{"start": "203.0.113.10",
                                                 "end": "203.0.113.200"}]})
    net = api.create("networks", {"name": "fo"})
    sub = api.create("subnets", {"network_id": net["id"], "cidr": "10.90.0.0/24",
                                 "ip_version": 4})
    router = api.create("routers", {"name": "fo", "external_gateway_info":
                                    {"network_id": ext["id"]}})
    api.request("PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
                {"subnet_id": sub["id"]})
    inst = lab.instances.create("fo-vm", net["id"], host="host3")
    lab.wait_port_status(inst.port_id, "ACTIVE", timeout=30)
    wait(lambda: lab.instances.ping(inst.name, OUTSIDE), 60, "SNAT to the outside", 0.5)
    return net, router, inst


def router_host(lab, router) -> str | None:
    agents = lab.api.request("GET", f"/v2.0/routers/{router['id']}/l3-agents")["agents"]
    return agents[0]["host"] if agents else None


def dhcp_hosts(lab, net) -> set[str]:
    return {a["host"] for a in
            lab.api.request("GET", f"/v2.0/networks/{net['id']}/dhcp-agents")["agents"]}


def longest_gap(lines: list[str], since: float) -> float:
    times = [float(m.group(1)) for m in map(PING_LINE.match, lines) if m]
    times = [t for t in times if t >= since - 1]
    return max((b - a for a, b in zip(times, times[1:])), default=float("nan"))


def one_round(lab, net, router, inst, mode: str) -> dict:
    old = router_host(lab, router)
    serves_dhcp = old in dhcp_hosts(lab, net)
    with ns.in_netns(inst.netns):
        ping = subprocess.Popen(["ping", "-n", "-D", "-i", "0.1", "-W", "1", OUTSIDE],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.0)
    stopped_at_wall = time.time()
    t0 = time.monotonic()
    lab.stop_host(old, mode)
    out: dict = {"from": old}
    try:
        out["rescheduled"] = wait(lambda: router_host(lab, router) not in (old, None),
                                  120, "router rescheduled", 0.2)
        out["to"] = router_host(lab, router)
        if serves_dhcp:
            wait(lambda: old not in dhcp_hosts(lab, net), 120, "network moved", 0.2)
            out["dhcp moved"] = time.monotonic() - t0
        wait(lambda: lab.instances.ping(inst.name, OUTSIDE), 120, "forwarding", 0.2)
        time.sleep(2.0)      # a few answered pings after the outage
    finally:
        t1 = time.monotonic()
        lab.start_host(old)
        out["host back"] = time.monotonic() - t1
    old_ns = f"{lab.state.prefix}{old}-qrouter-{router['id']}"
    out["cleaned"] = wait(lambda: not ns.exists(old_ns), 120, "old namespace removed") \
        + out["host back"]
    ping.terminate()
    lines = ping.communicate(timeout=10)[0].splitlines()
    out["outage"] = longest_gap(lines, stopped_at_wall)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--freeze", dest="mode", action="store_const", const="freeze")
    mode.add_argument("--kill", dest="mode", action="store_const", const="kill")
    args = ap.parse_args()
    args.mode = args.mode or "freeze"
    with throwaway_lab(3, "rabbit", l3_hosts=["host1", "host2"],
                       dhcp_hosts=["host1", "host2", "host3"],
                       dhcp_agents_per_network=2) as lab:
        net, router, inst = build(lab)
        rounds = []
        for i in range(args.rounds):
            r = one_round(lab, net, router, inst, args.mode)
            rounds.append(r)
            print(f"round {i + 1}: {r['from']} -> {r.get('to')}: outage {r['outage']:.1f} s, "
                  f"rescheduled {r['rescheduled']:.1f} s"
                  + (f", dhcp moved {r['dhcp moved']:.1f} s" if "dhcp moved" in r else "")
                  + f", host back {r['host back']:.1f} s, cleaned {r['cleaned']:.1f} s",
                  flush=True)
        print(f"\n{args.rounds} rounds, mode {args.mode}, agent_down_time 20 s:")
        for key in ("outage", "rescheduled", "dhcp moved", "host back", "cleaned"):
            values = [r[key] for r in rounds if key in r]
            if values:
                print(f"  {key:<12} n={len(values)}  p50 {pct(values, .5):5.1f} s  "
                      f"p95 {pct(values, .95):5.1f} s  max {max(values):5.1f} s")


if __name__ == "__main__":
    main()
