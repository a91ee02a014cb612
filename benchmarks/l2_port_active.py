"""Port create (with binding:host_id) -> ACTIVE, and -> first successful ping.

For each of N ports, sequentially: POST the port, plug it like a hypervisor
(an instance namespace whose eth0 is the tap's peer: neutrino.lab.instances),
then poll the port until ACTIVE and ping a probe instance on the same network
and host until the first reply. Times are from just before the POST.

    .venv/bin/python benchmarks/l2_port_active.py [--ports 100]
        [--transport inproc|rabbit] [--network-type vxlan|local]

Reference (issue #4): Neutron 25.2.3's Linux bridge agent, create -> ACTIVE
p50 4.9 s, p95 5.7 s. Target here: p50 < 200 ms.
"""
from __future__ import annotations

import argparse
import subprocess
import time

from l2_common import pct, summary, throwaway_lab

from neutrino.dataplane import netns as ns


def first_ping(netns: str, ip: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with ns.in_netns(netns):
        while time.monotonic() < deadline:
            if subprocess.run(["ping", "-n", "-q", "-c", "1", "-W", "0.2", ip],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                return
    raise TimeoutError(f"no ping reply from {ip} in {netns}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ports", type=int, default=100)
    ap.add_argument("--transport", choices=("inproc", "rabbit"), default="inproc")
    ap.add_argument("--network-type", choices=("vxlan", "local"), default="vxlan")
    args = ap.parse_args()
    with throwaway_lab(1, args.transport) as lab:
        api, inst = lab.api, lab.instances
        net = api.create_network("bench", network_type=args.network_type)
        api.create_subnet(net["id"], "10.90.0.0/22")
        probe = inst.create("probe", net["id"], host="host1")
        lab.wait_port_status(probe.port_id, "ACTIVE")
        first_ping(probe.netns, probe.ip)
        to_active, to_ping, post, plug = [], [], [], []
        for i in range(args.ports):
            t0 = time.monotonic()
            port = api.create("ports", {"network_id": net["id"], "name": f"b{i}",
                                        "device_owner": "compute:lab",
                                        "binding:host_id": "host1"})
            t1 = time.monotonic()
            vm = inst.create(f"b{i}", net["id"], port=port)   # plugged as a hypervisor would
            t2 = time.monotonic()
            while api.show("ports", port["id"])["status"] != "ACTIVE":
                if time.monotonic() - t0 > 30:
                    raise TimeoutError(f"port {port['id']} not ACTIVE")
                time.sleep(0.002)
            t3 = time.monotonic()
            first_ping(vm.netns, probe.ip)
            t4 = time.monotonic()
            post.append(t1 - t0)
            plug.append(t2 - t1)
            to_active.append(t3 - t0)
            to_ping.append(t4 - t0)
        print(f"{args.ports} ports, network type {args.network_type}, transport {args.transport}")
        print(summary("POST /v2.0/ports", post))
        print(summary("plug (netns + veth)", plug))
        print(summary("create -> ACTIVE", to_active))
        print(summary("create -> first ping", to_ping))
        verdict = "PASS" if pct(to_active, .5) < 0.2 else "FAIL"
        print(f"target create -> ACTIVE p50 < 200 ms: {verdict}")


if __name__ == "__main__":
    main()
