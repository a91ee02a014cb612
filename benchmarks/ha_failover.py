"""HA routers (issue 17): how long a floating IP is unreachable when the host
of a router's active instance dies, and how long 50 HA routers take to
settle when both their hosts restart.

A 3-host lab over RabbitMQ (agents are processes, so a host can be stopped)
and PostgreSQL (--db), L3 agents on host2 and host3 (VRRP adverts every
0.5 s, the lab's setting), an HA router with a gateway, an interface and a
floating IP to an instance on host1.

1. failover, --kills times: the outside host pings the floating IP every
   10 ms; the host of the active instance is stopped (`lab host stop`,
   --mode kill: SIGKILL of its agents and keepalived by PID and its links
   down, a power loss; or freeze: SIGSTOP); the outage is the longest
   time between two replies (ping -D timestamps). Also the time until the
   server shows the other instance active (its keepalived's report). The
   host then starts again and the next round stops whichever host is
   active. p50/p95.
2. settle: --routers HA routers, each with a gateway on the external
   network (its address answers ping from outside only where the active
   instance has it). Each L3 host in turn is killed (every router goes
   active on the other) and started again: timed from its start until it
   shows standby for every router (it takes none back), then every gateway
   address is checked.

    sudo .venv/bin/python benchmarks/ha_failover.py [--kills 10] [--routers 50]
"""
from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from l2_common import pct, throwaway_lab  # noqa: E402

from neutrino.dataplane import netns as ns  # noqa: E402
from tests.e2e.helpers import wait_for  # noqa: E402
from tests.e2e.test_ha_routers import Pinger  # noqa: E402
from tests.e2e.l3_helpers import L3World, outside_ping  # noqa: E402

L3_HOSTS = ["host2", "host3"]
INTERVAL = 0.01


def states(api, router_id: str) -> dict[str, str]:
    agents = api.request("GET", f"/v2.0/routers/{router_id}/l3-agents")["agents"]
    return {a["host"]: a["ha_state"] for a in agents}


def settled(api, router_id: str) -> bool:
    return sorted(states(api, router_id).values()) == ["active", "standby"]


def external(world) -> dict:
    if not hasattr(world, "ext"):
        world.ext = world.external()
    return world.ext


def failover_rounds(lab, world, kills: int, mode: str) -> None:
    ext = external(world)
    net, sub = world.tenant("hab", "10.94.0.0/24")
    router = world.router("hab", ext=ext, ha=True)
    world.add_interface(router, sub)
    inst = world.instance("vm", net, host="host1")
    world.allow_ingress(inst, {"protocol": "icmp"})
    fip = world.fip(ext, inst.port_id)["floating_ip_address"]
    wait_for(lambda: settled(lab.api, router["id"]), timeout=60, what="one active")
    wait_for(lambda: outside_ping(lab, fip), timeout=30, what="FIP ping")
    outages, flips = [], []
    for i in range(kills):
        before = states(lab.api, router["id"])
        active = next(h for h, s in before.items() if s == "active")
        other = next(h for h in before if h != active)
        pinger = Pinger(lab.lab.outside_ns, fip, 10, INTERVAL)
        time.sleep(1)
        lab.stop_host(active, mode)
        t0 = time.monotonic()
        try:
            wait_for(lambda: states(lab.api, router["id"])[other] == "active", timeout=30,
                     interval=0.02, what=f"{other} active")
            flips.append(time.monotonic() - t0)
            gap, tx, rx = pinger.result(timeout=60)
        finally:
            lab.start_host(active)
        outages.append(gap)
        print(f"  kill {i + 1}: {active} stopped ({mode}); outage {gap:.2f} s (longest time "
              f"between replies; {tx - rx} of {tx} pings lost), {other} reported active after "
              f"{flips[-1]:.2f} s", flush=True)
        wait_for(lambda: settled(lab.api, router["id"]), timeout=120, what="settled")
        wait_for(lambda: outside_ping(lab, fip), timeout=30, what="FIP ping")
    print(f"failover ({mode}, {kills} kills): outage p50 {pct(outages, .5):.2f} s, "
          f"p95 {pct(outages, .95):.2f} s, max {max(outages):.2f} s; "
          f"ha_state flipped p50 {pct(flips, .5):.2f} s, p95 {pct(flips, .95):.2f} s")


def gateway_ips(lab, router_ids: list[str]) -> dict[str, str]:
    out = {}
    for rid in router_ids:
        info = lab.api.show("routers", rid)["external_gateway_info"]
        out[rid] = info["external_fixed_ips"][0]["ip_address"]
    return out


def answers(lab, ip: str) -> bool:
    with ns.in_netns(lab.lab.outside_ns):
        return subprocess.run(["ping", "-n", "-c", "1", "-W", "1", ip],
                              stdout=subprocess.DEVNULL).returncode == 0


def settle_round(lab, world, n: int) -> None:
    ext = external(world)
    t0 = time.monotonic()
    project = secrets.token_hex(16)       # one project: one HA network
    lab.api.request("PUT", f"/v2.0/quotas/{project}", {"quota": {"router": -1}})
    ids = [world.router(f"s{i}", ext=ext, project=project, ha=True)["id"] for i in range(n)]
    print(f"  {n} HA routers created in {time.monotonic() - t0:.1f} s", flush=True)
    gw = gateway_ips(lab, ids)

    def all_settled(standby: str | None = None) -> bool:
        def ok(rid):
            got = states(lab.api, rid)
            if standby is not None:
                return got == {standby: "standby",
                               next(h for h in L3_HOSTS if h != standby): "active"}
            return sorted(got.values()) == ["active", "standby"]
        with ThreadPoolExecutor(8) as pool:
            return all(pool.map(ok, ids))

    def all_answer() -> bool:
        with ThreadPoolExecutor(8) as pool:
            return all(pool.map(lambda ip: answers(lab, ip), gw.values()))

    t0 = time.monotonic()
    wait_for(all_settled, timeout=600, interval=0.5, what="routers settled")
    wait_for(all_answer, timeout=600, interval=0.5, what="gateways answer")
    print(f"  first settle (cold): {time.monotonic() - t0:.1f} s", flush=True)
    for host in L3_HOSTS:
        # host is killed: every router goes active on the other; then host
        # restarts and must come back standby for all of them (nopreempt)
        lab.stop_host(host, "kill")
        t0 = time.monotonic()
        other = next(h for h in L3_HOSTS if h != host)
        wait_for(lambda: all(states(lab.api, rid)[other] == "active" for rid in ids),
                 timeout=600, interval=0.5, what=f"all active on {other}")
        moved = time.monotonic() - t0
        t0 = time.monotonic()
        lab.start_host(host)
        back = time.monotonic() - t0
        wait_for(lambda: all_settled(standby=host), timeout=600, interval=0.5,
                 what=f"{host} standby everywhere")
        settle = time.monotonic() - t0
        wait_for(all_answer, timeout=60, interval=0.5, what="gateways answer")
        print(f"settle ({n} HA routers): {host} killed -> all active on {other} in "
              f"{moved:.1f} s; {host} started (agents back {back:.1f} s) -> standby for all "
              f"{n} in {settle:.1f} s; then every gateway answers", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--routers", type=int, default=50)
    parser.add_argument("--mode", choices=("kill", "freeze"), default="kill")
    parser.add_argument("--db", default="postgresql", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    with throwaway_lab(3, "rabbit", db=args.db, l3_hosts=L3_HOSTS) as lab:
        wait_for(lambda: set(L3_HOSTS) <= {a["host"] for a in lab.api.list(
            "agents", agent_type="L3 agent") if a["alive"]}, timeout=60, what="L3 agents")
        world = L3World(lab, tag=secrets.token_hex(2))
        try:
            if args.kills:
                failover_rounds(lab, world, args.kills, args.mode)
            if args.routers:
                settle_round(lab, world, args.routers)
        finally:
            world.cleanup()


if __name__ == "__main__":
    main()
