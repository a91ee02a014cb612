"""100 routers x 2 interfaces + 200 floating IPs on one L3 agent: convergence
from agent start, then floating IP associate -> reachable from outside.

1. A 1-host lab (rabbit: the L3 agent is its own process). The L3 agent is
   killed (SIGKILL), then everything is made through the API: an external
   network 203.0.112.0/23 (the outside host 203.0.113.254 is its gateway),
   two tenant networks with N subnets each, N routers each with a gateway
   and one interface on a subnet of each network, 2 ports per router on its
   first subnet and a floating IP on each.
2. Agent start -> every router namespace made and every floating IP ACTIVE
   (polling the API): convergence from scratch, ports bound on the way.
3. With that load in place: one more router with an instance behind it and a
   floating IP in 203.0.113.0/24; K times: PUT port_id -> the outside host's
   first ICMP echo answered through it (a fresh ICMP id every 2 ms, so no
   conntrack entry carries over), then disassociate and wait until silent.

    .venv/bin/python benchmarks/l3_scale.py [--routers 100] [--rounds 30]

Target (issue #6): associate -> reachable p50 < 300 ms.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import select
import signal
import socket
import struct
import time

from l2_common import pct, summary, throwaway_lab

from neutrino.dataplane import netns as ns

SYNC_LINE = re.compile(r"full sync: (\d+) router\(s\), (\d+) converged, \d+ removed in ([\d.]+) s")
OUTSIDE = "203.0.113.254"


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


class Prober:
    """ICMP echo from the outside namespace, a new id per probe."""

    def __init__(self, outside_ns: str):
        with ns.in_netns(outside_ns):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)

    def probe(self, ip: str, wait: float) -> bool:
        ident = random.randrange(1, 65535)
        head = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
        payload = b"neutrino-l3-bench"
        packet = struct.pack("!BBHHH", 8, 0, checksum(head + payload), ident, 1) + payload
        self.sock.sendto(packet, (ip, 0))
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.sock], [], [], left)[0]:
                return False
            data, addr = self.sock.recvfrom(2048)
            hl = (data[0] & 0x0F) * 4
            typ, _, _, rid, _ = struct.unpack("!BBHHH", data[hl:hl + 8])
            if typ == 0 and rid == ident and addr[0] == ip:
                return True
        return False

    def until(self, ip: str, reachable: bool, timeout: float = 30.0) -> float:
        t0 = time.monotonic()
        quiet = 0
        while time.monotonic() - t0 < timeout:
            ok = self.probe(ip, 0.002 if reachable else 0.05)
            if reachable and ok:
                return time.monotonic() - t0
            quiet = 0 if ok else quiet + 1
            if not reachable and quiet >= 5:
                return time.monotonic() - t0
        raise TimeoutError(f"{ip} not {'reachable' if reachable else 'silent'}")


def put(api, router_id, action, body):
    return api.request("PUT", f"/v2.0/routers/{router_id}/{action}", body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--routers", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    n = args.routers
    with throwaway_lab(1, "rabbit") as lab:
        api = lab.api
        host = "host1"
        lab.kill_l3_agent(host, signal.SIGKILL)
        t0 = time.monotonic()
        ext = api.create_network("ext", "flat", "external", **{"router:external": True})
        api.create_subnet(ext["id"], "203.0.112.0/23", gateway_ip=OUTSIDE, enable_dhcp=False,
                          allocation_pools=[{"start": "203.0.112.10",
                                             "end": "203.0.113.99"}])
        nets = [api.create_network(f"t{k}", "vxlan") for k in range(2)]
        fips = []
        for i in range(n):
            router = api.create("routers", {"name": f"r{i}",
                                            "external_gateway_info": {"network_id": ext["id"]}})
            subs = [api.create_subnet(nets[k]["id"], f"10.{100 + k}.{i}.0/24",
                                      enable_dhcp=False) for k in range(2)]
            for sub in subs:
                put(api, router["id"], "add_router_interface", {"subnet_id": sub["id"]})
            for j in range(2):
                port = api.create("ports", {"network_id": nets[0]["id"],
                                            "fixed_ips": [{"subnet_id": subs[0]["id"]}]})
                fips.append(api.create("floatingips", {"floating_network_id": ext["id"],
                                                       "port_id": port["id"]})["id"])
        print(f"{n} routers x 2 interfaces + {len(fips)} floating IPs made through the API "
              f"in {time.monotonic() - t0:.1f} s (L3 agent down)")

        log = lab.state.host_dir(host) / "l3-agent.log"
        before = len(SYNC_LINE.findall(log.read_text())) if log.exists() else 0
        t0 = time.monotonic()
        lab.start_l3_agent(host)
        started = time.monotonic() - t0
        prefix = f"{lab.state.prefix}{host}-qrouter-"
        while True:
            spaces = sum(1 for x in ns.list_netns() if x.startswith(prefix))
            active = sum(1 for f in api.list("floatingips", fields="status")
                         if f["status"] == "ACTIVE")
            if spaces >= n and active >= len(fips):
                break
            if time.monotonic() - t0 > 600:
                raise TimeoutError(f"{spaces} namespaces, {active} FIPs ACTIVE")
            time.sleep(0.1)
        converged = time.monotonic() - t0
        lines = SYNC_LINE.findall(log.read_text())[before:]
        print(f"agent start -> {n} namespaces + {len(fips)} FIPs ACTIVE: {converged:.2f} s "
              f"(process start {started:.2f} s); agent's sync lines: "
              + "; ".join(f"{r} routers, {c} converged in {s} s" for r, c, s in lines[:3]))

        # associate -> reachable, under that load
        net = api.create_network("m", "vxlan")
        sub = api.create_subnet(net["id"], "10.99.0.0/24", enable_dhcp=False)
        router = api.create("routers", {"name": "m",
                                        "external_gateway_info": {"network_id": ext["id"]}})
        put(api, router["id"], "add_router_interface", {"subnet_id": sub["id"]})
        vm = lab.instances.create("vm-bench", net["id"], host=host)
        lab.wait_port_status(vm.port_id, "ACTIVE", timeout=60)
        fip = api.create("floatingips", {"floating_network_id": ext["id"],
                                         "floating_ip_address": "203.0.113.150"})
        prober = Prober(lab.lab.outside_ns)
        assert not prober.probe("203.0.113.150", 0.2)
        times = []
        for _ in range(args.rounds):
            t0 = time.monotonic()
            api.update("floatingips", fip["id"], {"port_id": vm.port_id})
            prober.until("203.0.113.150", True)
            times.append(time.monotonic() - t0)
            api.update("floatingips", fip["id"], {"port_id": None})
            prober.until("203.0.113.150", False)
        print(summary("associate -> reachable", times))
        print(f"target p50 < 300 ms: {'met' if pct(times, .5) < 0.3 else 'NOT met'}; "
              f"load average {open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} CPU(s)")


if __name__ == "__main__":
    main()
