"""l2population at scale: 3 hosts, 300 ports on one vxlan network (100 per
host), plus a 4th host with an agent but no port on that network.

1. Burst: 300 ports bound across host1..3 are created (bulk POSTs) and their
   taps plugged at once (veth pairs, like a hypervisor booting 300 VMs).
   Measured: seconds until all 300 are ACTIVE, and until every host's
   `bridge fdb` on vxlan-<vni> is complete (2 flood entries + the 200 MACs
   of the other hosts' ports, and 200 permanent ARP-responder neighbours).
2. Fanout: listeners on every host's notification topic count the
   messages each host gets, during the burst and for one port change
   afterwards (a tap unplugged -> DOWN; then the port deleted). A host off
   the network (host4) must get none: O(hosts on the network), not
   O(all hosts).

    .venv/bin/python benchmarks/l2pop_scale.py [--ports 300] [--db sqlite|postgresql]

Needs root and RabbitMQ on 127.0.0.1:5672.
"""
from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from neutrino.dataplane import netns as ns  # noqa: E402
from neutrino.lab.control import LabControl  # noqa: E402
from neutrino.rpc.bus import make_transport  # noqa: E402
from neutrino.rpc.client import host_topic  # noqa: E402

ON = ("host1", "host2", "host3")
OFF = "host4"


class Counter:
    """Copies of every host's notifications, by (host, resource)."""

    def __init__(self, lab):
        self.bus = make_transport(lab.state.rabbit_url, client_name="l2pop-bench")
        self.counts: collections.Counter = collections.Counter()
        self.lock = threading.Lock()
        for host in lab.state.host_names():
            self.bus.subscribe(host_topic(host, lab.state.control_exchange), self._handler(host))

    def _handler(self, host):
        def handle(method, payload):
            with self.lock:
                self.counts[(host, payload.get("resource"))] += 1
        return handle

    def snapshot(self) -> collections.Counter:
        with self.lock:
            return collections.Counter(self.counts)

    def close(self):
        self.bus.close()


def plug(lab, host: str, port_ids: list[str]) -> None:
    """One veth per port: tap<port[:11]> in the host, the peer (up) in a pool
    namespace named like an instance namespace (removed by `lab down`)."""
    pool = f"{lab.state.prefix}i-pool-{host}"
    ns.create(pool)
    ns.sysctl_set("net/ipv6/conf/default/disable_ipv6", 1, netns=pool)
    host_ns = lab.state.host_netns(host)
    lines = [f"link add tap{pid[:11]} type veth peer name p{i} netns {pool}"
             for i, pid in enumerate(port_ids)]
    subprocess.run(["ip", "-n", host_ns, "-batch", "-"], input="\n".join(lines) + "\n",
                   text=True, check=True)
    up = [f"link set p{i} up" for i in range(len(port_ids))]
    subprocess.run(["ip", "-n", pool, "-batch", "-"], input="\n".join(up) + "\n", text=True,
                   check=True)


def fdb_counts(lab, host: str, vni: int) -> tuple[int, int, int]:
    """(flood entries, MAC entries, permanent neighbours) on vxlan-<vni>."""
    host_ns = lab.state.host_netns(host)
    out = subprocess.run(["ip", "netns", "exec", host_ns, "bridge", "fdb", "show", "dev",
                          f"vxlan-{vni}"], capture_output=True, text=True).stdout
    flood = macs = 0
    for line in out.splitlines():
        if " dst " in line and " self" in line:
            if line.startswith("00:00:00:00:00:00"):
                flood += 1
            else:
                macs += 1
    neigh = subprocess.run(["ip", "netns", "exec", host_ns, "ip", "neigh", "show", "dev",
                            f"vxlan-{vni}", "nud", "permanent"], capture_output=True,
                           text=True).stdout
    return flood, macs, len(neigh.splitlines())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ports", type=int, default=300)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    args = ap.parse_args()
    per_host = args.ports // len(ON)
    n = per_host * len(ON)
    with tempfile.TemporaryDirectory(prefix="neutrino-bench-") as tmp:
        t0 = time.monotonic()
        lab = LabControl.up(hosts=4, transport="rabbit", db=args.db, l2pop=True, l3_hosts=[],
                            lab_dir=Path(tmp) / "lab")
        print(f"lab up (rabbit, {args.db}, 4 hosts, l2population) in "
              f"{time.monotonic() - t0:.1f} s; load average "
              f"{open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} CPU(s)")
        counter = None
        try:
            api = lab.api
            net = api.create_network("l2pop-scale", network_type="vxlan")
            api.create_subnet(net["id"], "10.64.0.0/20", enable_dhcp=False)
            vni = net["provider:segmentation_id"]
            other = api.create_network("elsewhere", network_type="vxlan")   # host4's network
            api.create_subnet(other["id"], "10.65.0.0/24", enable_dhcp=False)
            api.create("ports", {"network_id": other["id"], "binding:host_id": OFF})
            time.sleep(1.0)
            counter = Counter(lab)
            time.sleep(0.5)

            # --- burst
            t0 = time.monotonic()
            ids: dict[str, list[str]] = {}
            for host in ON:
                body = {"ports": [{"network_id": net["id"], "binding:host_id": host,
                                   "device_owner": "compute:lab", "name": f"{host}-{i}"}
                                  for i in range(per_host)]}
                ids[host] = [p["id"] for p in api.request("POST", "/v2.0/ports", body)["ports"]]
            created = time.monotonic() - t0
            for host in ON:
                plug(lab, host, ids[host])
            plugged = time.monotonic() - t0
            want = (len(ON) - 1, per_host * (len(ON) - 1), per_host * (len(ON) - 1))
            active_at = fdb_at = None
            done: dict[str, float] = {}
            while time.monotonic() - t0 < 300:
                now = time.monotonic() - t0
                if active_at is None and len(api.list("ports", network_id=net["id"],
                                                      status="ACTIVE", fields="id")) >= n:
                    active_at = now
                for host in ON:
                    if host not in done and fdb_counts(lab, host, vni) == want:
                        done[host] = time.monotonic() - t0
                if active_at is not None and len(done) == len(ON):
                    fdb_at = max(done.values())
                    break
                time.sleep(0.1)
            print(f"burst: {n} ports created in {created:.2f} s (bulk POSTs), taps plugged by "
                  f"{plugged:.2f} s")
            print(f"  all {n} ACTIVE at {active_at if active_at is None else round(active_at, 2)}"
                  f" s; every host's fdb complete ({want[0]} flood, {want[1]} MAC, {want[2]} "
                  f"neighbour entries) at {fdb_at if fdb_at is None else round(fdb_at, 2)} s "
                  + (f"({fdb_at - plugged:.2f} s after the last tap) " if fdb_at else "") +
                  f"(per host: " + ", ".join(f"{h} {t:.2f} s" for h, t in sorted(done.items()))
                  + ")")
            time.sleep(1.0)
            burst = counter.snapshot()
            print("  messages during the burst (per host: port / fdb notifications):")
            for host in lab.state.host_names():
                print(f"    {host}: {burst[(host, 'port')]} port, {burst[(host, 'fdb')]} fdb")

            # --- one port change
            victim = ids["host1"][0]
            before = counter.snapshot()
            subprocess.run(["ip", "-n", lab.state.host_netns("host1"), "link", "del",
                            f"tap{victim[:11]}"], check=True)
            t1 = time.monotonic()
            want_after = (len(ON) - 1, per_host * (len(ON) - 1) - 1, per_host * (len(ON) - 1) - 1)
            while time.monotonic() - t1 < 60:
                if all(fdb_counts(lab, h, vni) == want_after for h in ("host2", "host3")):
                    break
                time.sleep(0.05)
            removed = time.monotonic() - t1
            time.sleep(1.0)
            after = counter.snapshot() - before
            print(f"one port goes DOWN (tap unplugged on host1): gone from host2 and host3 fdb "
                  f"in {removed:.2f} s; messages: " + ", ".join(
                      f"{h} {after[(h, 'fdb')] + after[(h, 'port')]}"
                      for h in lab.state.host_names()))
            before = counter.snapshot()
            api.delete("ports", ids["host2"][0])
            time.sleep(2.0)
            after = counter.snapshot() - before
            print("one port deleted (host2): messages: " + ", ".join(
                f"{h} {after[(h, 'fdb')] + after[(h, 'port')]}" for h in lab.state.host_names()))
            off = {r: v for (h, r), v in counter.snapshot().items() if h == OFF}
            print(f"fanout per port change: {len(ON)} hosts on the network of "
                  f"{len(lab.state.host_names())}; host4 (off the network) got, in the whole "
                  f"run, by resource: {off or 'nothing'}")
        finally:
            if counter is not None:
                counter.close()
            lab.down()


if __name__ == "__main__":
    main()
