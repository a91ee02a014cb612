#!/usr/bin/env python3
"""DHCP agent at scale, on a 1-host in-process lab (real namespaces, real
dnsmasq processes):

  1. N networks (default 100) with a DHCP subnet, all on host1's agent.
  2. cold start: stop the agent, stop every dnsmasq (by PID) and delete the
     qdhcp- namespaces, start a new agent; time until every network has a
     running dnsmasq whose host file lists its DHCP port.
  3. warm restart: stop the agent (dnsmasq keeps running), start a new one;
     time to its first full sync (everything adopted, nothing restarted).
  4. port create -> host-file entry: M ports created one by one through the
     API; time from the create call until the MAC is in the host file.

    sudo .venv/bin/python benchmarks/dhcp_scale.py --networks 100 --ports 200

Everything lives in the lab's namespaces and is torn down at the end.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--ports", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4, help="num_sync_threads")
    args = parser.parse_args()

    from neutrino import config as config_mod
    from neutrino.agent.dhcp.agent import DhcpAgent
    from neutrino.agent_options import DHCP_AGENT_SCHEMA
    from neutrino.dataplane import netns as _netns
    from neutrino.dataplane.process import running_pid, stop_process
    from neutrino.lab.control import LabControl
    from neutrino.rpc.bus import make_transport

    ctl = LabControl.up(hosts=1, transport="inproc",
                        lab_dir=Path(tempfile.mkdtemp(prefix="dhcp-bench-")) / "lab",
                        in_process=True)
    state = ctl.state
    runtime = ctl._runtime
    dhcp_root = state.host_dir("host1") / "dhcp"

    def ready(net_id: str) -> bool:
        pidfile = dhcp_root / net_id / "pid"
        if running_pid(pidfile, f"--pid-file={pidfile}") is None:
            return False
        try:
            return "host-" in (dhcp_root / net_id / "host").read_text()
        except FileNotFoundError:
            return False

    def wait_all(ids: list[str], timeout: float = 300) -> float:
        start = time.monotonic()
        pending = set(ids)
        while pending:
            pending = {n for n in pending if not ready(n)}
            if time.monotonic() - start > timeout:
                raise SystemExit(f"{len(pending)} network(s) not served after {timeout} s")
            time.sleep(0.02)
        return time.monotonic() - start

    def new_agent() -> DhcpAgent:
        cfg = config_mod.load(DHCP_AGENT_SCHEMA, [str(state.dhcp_agent_ini_path("host1"))],
                              {"DEFAULT": {"num_sync_threads": str(args.threads)}})
        return DhcpAgent(cfg, make_transport(state.transport_url),
                         netns=state.host_netns("host1"))

    agent = next(a for a in runtime.agents if isinstance(a, DhcpAgent))
    try:
        t0 = time.monotonic()
        ids = []
        for i in range(args.networks):
            net = ctl.api.create_network(f"bench-{i}", network_type="local")
            ctl.api.create_subnet(net["id"], f"10.{100 + i // 250}.{i % 250}.0/24")
            ids.append(net["id"])
        created = time.monotonic() - t0
        first = wait_all(ids)
        print(f"{args.networks} networks + subnets created through the API in {created:.2f} s; "
              f"all served {first:.2f} s after the last create")

        # cold start
        agent.stop()
        runtime.agents.remove(agent)
        for net_id in ids:
            pidfile = dhcp_root / net_id / "pid"
            stop_process(pidfile, f"--pid-file={pidfile}")
            _netns.delete(f"{state.prefix}host1-qdhcp-{net_id}", missing_ok=True)
        agent = new_agent()
        t0 = time.monotonic()
        agent.start()
        cold = wait_all(ids)
        print(f"cold start (no namespace, no dnsmasq): {args.networks} networks served in "
              f"{cold:.2f} s ({args.threads} sync threads)")

        # warm restart: adopt
        pids = {n: running_pid(dhcp_root / n / "pid", f"--pid-file={dhcp_root / n / 'pid'}")
                for n in ids}
        agent.stop()
        agent = new_agent()
        t0 = time.monotonic()
        agent.start()
        agent.wait_synced(120)
        warm = time.monotonic() - t0
        same = sum(running_pid(dhcp_root / n / "pid", f"--pid-file={dhcp_root / n / 'pid'}")
                   == pids[n] for n in ids)
        print(f"warm restart: first full sync in {warm:.2f} s; {same}/{len(ids)} dnsmasq "
              f"adopted (same PID)")

        # port create -> host file entry
        latencies = []
        for i in range(args.ports):
            net_id = ids[i % len(ids)]
            t0 = time.monotonic()
            port = ctl.api.create("ports", {"network_id": net_id, "name": f"p{i}"})
            hostfile = dhcp_root / net_id / "host"
            mac = port["mac_address"]
            while mac not in hostfile.read_text():
                if time.monotonic() - t0 > 30:
                    raise SystemExit(f"port {port['id']} not in the host file after 30 s")
                time.sleep(0.001)
            latencies.append((time.monotonic() - t0) * 1000)
        print(f"port create -> host-file entry ({args.ports} ports, sequential, including the "
              f"API call): p50 {percentile(latencies, 50):.1f} ms, "
              f"p99 {percentile(latencies, 99):.1f} ms, "
              f"mean {statistics.mean(latencies):.1f} ms, max {max(latencies):.1f} ms")
        runtime.agents.append(agent)
    finally:
        ctl.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
