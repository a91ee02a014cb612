#!/usr/bin/env python3
"""The server and broker side at fleet size (issue #18, part 4): one
neutrino-server (2 API workers, PostgreSQL, RabbitMQ) and `--hosts`
simulated hosts in this process (neutrino.testing.fleet: the real Linux
bridge agent loop and RPC client, the kernel replaced by a recorder).

Vxlan networks of `--network-size` ports with l2population, each spanning
`--hosts-per-network` consecutive hosts (ports round-robin over them), are
filled with bulk POSTs from `--threads` client threads up to `--ports`.
At each checkpoint (default 10%, 50%, 100% of --ports) it prints:

  * burst convergence: after the last bulk POST, seconds until every port
    is ACTIVE and until every simulated host's recorded fdb equals the
    truth (the MACs of the other hosts' ports on each of its networks);
  * port create -> ACTIVE p50/p99 of single POSTs with the fleet running;
  * messages per port change: per single create, how many hosts were told
    (distribution), against the hosts on that network and the fleet size;
  * GET /v2.0/ports?limit=100 p50 and one full network's port list p50.

    .venv/bin/python benchmarks/fleet.py --hosts 100 --ports 100000

The database (random name) is dropped and the server stopped by PID
afterwards; the control_exchange is random. Loopback only.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from apibench_run import free_port, make_database  # noqa: E402
from l2_common import pct  # noqa: E402

from neutrino.agent.l2.model import tap_name  # noqa: E402
from neutrino.rpc.bus import make_transport  # noqa: E402
from neutrino.testing.fleet import SimulatedHost, vtep_of  # noqa: E402

RABBIT = os.environ.get("NEUTRINO_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
VENV_BIN = ROOT / ".venv" / "bin"


class Api:
    def __init__(self, base: str):
        self.base = base

    def req(self, method: str, path: str, body=None, timeout: float = 300):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.base + path, data=data, method=method,
                                   headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def timed_get(self, path: str) -> float:
        t0 = time.perf_counter()
        self.req("GET", path)
        return time.perf_counter() - t0


def start_server(state: str, db_url: str, exchange: str, workers: int):
    port = free_port()
    conf = os.path.join(state, "neutron.conf")
    with open(conf, "w") as f:
        f.write(f"""[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
api_workers = {workers}
state_path = {state}
transport_url = {RABBIT}
control_exchange = {exchange}
[database]
connection = {db_url}
[ml2]
type_drivers = local,flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = linuxbridge,l2population
[ml2_type_vxlan]
vni_ranges = 1:100000
[quotas]
default_quota = -1
quota_network = -1
quota_subnet = -1
quota_port = -1
""")
    subprocess.run([str(VENV_BIN / "neutrino-db-manage"), "--config-file", conf, "upgrade",
                    "head"], check=True, stdout=subprocess.DEVNULL)
    log = open(os.path.join(state, "server.log"), "w")
    proc = subprocess.Popen([str(VENV_BIN / "neutrino-server"), "--config-file", conf],
                            stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/v2.0/networks", timeout=1)
            return proc, Api(base)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start; see {state}/server.log")


class Fleet:
    def __init__(self, n: int, exchange: str, connections: int):
        self.buses = [make_transport(RABBIT, client_name=f"fleet-{i}") for i in range(connections)]
        self.hosts = [SimulatedHost(f"sim{i:03d}", vtep_of(i), self.buses[i % connections],
                                    exchange) for i in range(n)]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda h: h.start(), self.hosts))

    def messages(self) -> list[collections.Counter]:
        return [h.messages() for h in self.hosts]

    def close(self):
        for h in self.hosts:
            h.stop()
        for b in self.buses:
            b.close()


class World:
    """What was created: the truth the recorders are checked against."""

    def __init__(self, hosts: int, per_net: int):
        self.hosts, self.per_net = hosts, per_net
        self.nets: list[dict] = []              # {"id", "vni", "hosts": [idx]}
        self.ports: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
        self.lock = threading.Lock()
        self.total = 0
        self.sg = ""

    def add(self, net_id: str, created: list[dict], host_idx: dict[str, int]):
        with self.lock:
            self.ports[net_id] += [(p["mac_address"], host_idx[p["binding:host_id"]])
                                   for p in created]
            self.total += len(created)

    def fdb_mismatches(self, fleet: Fleet) -> int:
        """Hosts whose recorded fdb differs from the truth on some network."""
        bad = set()
        with self.lock:
            nets = [(n, list(self.ports[n["id"]])) for n in self.nets]
        for net, ports in nets:
            for h in {o for _, o in ports}:     # hosts with a port there
                want = {(mac, vtep_of(o)) for mac, o in ports if o != h}
                if fleet.hosts[h].kernel.remote_macs(net["vni"]) != want:
                    bad.add(h)
        return len(bad)


def db_count_active(db_url: str) -> int:
    import psycopg
    with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql")) as conn:
        return conn.execute("SELECT count(*) FROM ports WHERE status = 'ACTIVE'").fetchone()[0]


def fill(api: Api, world: World, upto: int, args, host_names: list[str],
         host_idx: dict[str, int]) -> float:
    """Bulk-create ports until `upto` exist; returns the seconds it took."""
    jobs = []
    count = world.total
    for net in world.nets:
        have = len(world.ports[net["id"]])
        while have < args.network_size and count < upto:
            k = min(args.bulk, args.network_size - have, upto - count)
            jobs.append((net, have, k))
            have += k
            count += k
        if count >= upto:
            break

    def run(job):
        net, start, k = job
        body = {"ports": [{"network_id": net["id"], "device_owner": "compute:sim",
                           "security_groups": [world.sg],
                           "binding:host_id": host_names[net["hosts"][(start + i)
                                                                      % len(net["hosts"])]]}
                          for i in range(k)]}
        created = api.req("POST", "/v2.0/ports", body)["ports"]
        world.add(net["id"], created, host_idx)

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(run, jobs))
    return time.monotonic() - t0


def converge(world: World, fleet: Fleet, db_url: str, timeout: float) -> tuple[float, float]:
    t0 = time.monotonic()
    active_at = fdb_at = None
    while time.monotonic() - t0 < timeout:
        if active_at is None and db_count_active(db_url) >= world.total:
            active_at = time.monotonic() - t0
        if active_at is not None and world.fdb_mismatches(fleet) == 0:
            fdb_at = time.monotonic() - t0
            break
        time.sleep(0.25)
    return active_at, fdb_at


def single_creates(api: Api, world: World, fleet: Fleet, n: int, host_names, host_idx):
    """n single POSTs, each polled until ACTIVE; messages per change."""
    latencies, told, concerned, spread = [], [], [], []
    for _ in range(n):
        with world.lock:    # networks where every host of theirs has a port already
            full = [n for n in world.nets if len(world.ports[n["id"]]) >= len(n["hosts"])]
        net = random.choice(full)
        h = random.choice(net["hosts"])
        before = fleet.messages()
        t0 = time.monotonic()
        port = api.req("POST", "/v2.0/ports", {"port": {
            "network_id": net["id"], "device_owner": "compute:sim",
            "binding:host_id": host_names[h], "security_groups": [world.sg]}})["port"]
        while api.req("GET", f"/v2.0/ports/{port['id']}?fields=status")["port"]["status"] \
                != "ACTIVE":
            time.sleep(0.01)
        latencies.append(time.monotonic() - t0)
        world.add(net["id"], [port], host_idx)
        want = {(port["mac_address"], vtep_of(h))}
        others = [o for o in net["hosts"] if o != h]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(
                want <= fleet.hosts[o].kernel.remote_macs(net["vni"]) for o in others):
            time.sleep(0.01)
        spread.append(time.monotonic() - t0 if all(
            want <= fleet.hosts[o].kernel.remote_macs(net["vni"]) for o in others) else None)
        time.sleep(0.2)      # late messages still count
        after = fleet.messages()
        told.append((sum(1 for a, b in zip(after, before)
                         if (a["port"] + a["fdb"]) != (b["port"] + b["fdb"])),
                     sum(1 for a, b in zip(after, before)
                         if a["security_group"] != b["security_group"])))
        concerned.append(len(net["hosts"]))
        assert tap_name(port["id"]) in fleet.hosts[h].kernel.wired_taps()
    return latencies, told, concerned, spread


def measure(api: Api, world: World, fleet: Fleet, args, host_names, host_idx) -> None:
    lat, told, concerned, spread = single_creates(api, world, fleet, args.samples, host_names, host_idx)
    ms = [x * 1000 for x in lat]
    print(f"  port create -> ACTIVE (single POST, {args.hosts} hosts running): "
          f"p50 {pct(ms, .5):.0f} ms, p99 {pct(ms, .99):.0f} ms, max {max(ms):.0f} ms "
          f"(n={len(ms)})")
    done = [x * 1000 for x in spread if x is not None]
    print(f"  create -> the new MAC in the fdb of the network's other hosts: p50 "
          f"{pct(done, .5):.0f} ms, max {max(done, default=float('nan')):.0f} ms; not within "
          f"10 s: {spread.count(None)} of {len(spread)}")
    for pos, what in ((0, "port/fdb (L2)"), (1, "security-group membership")):
        dist = collections.Counter(t[pos] for t in told)
        print(f"  hosts told per port change, {what}: " + ", ".join(
            f"{k} hosts x{v}" for k, v in sorted(dist.items()))
            + f" (hosts on the port's network: {sorted(set(concerned))}, fleet: {args.hosts})")
    lim = [api.timed_get("/v2.0/ports?limit=100") * 1000 for _ in range(args.reads)]
    net = world.nets[0]
    full = [api.timed_get(f"/v2.0/ports?network_id={net['id']}") * 1000
            for _ in range(max(3, args.reads // 4))]
    print(f"  GET /v2.0/ports?limit=100 p50 {pct(lim, .5):.1f} ms (p90 {pct(lim, .9):.1f}); "
          f"one network's {len(world.ports[net['id']])} ports p50 {pct(full, .5):.1f} ms "
          f"(p90 {pct(full, .9):.1f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--ports", type=int, default=100000)
    ap.add_argument("--network-size", type=int, default=1000)
    ap.add_argument("--hosts-per-network", type=int, default=10)
    ap.add_argument("--bulk", type=int, default=250, help="ports per bulk POST")
    ap.add_argument("--threads", type=int, default=4, help="client threads for the bulk POSTs")
    ap.add_argument("--checkpoints", default="", help="comma list (default 10%%,50%%,100%%)")
    ap.add_argument("--samples", type=int, default=30, help="single creates per checkpoint")
    ap.add_argument("--reads", type=int, default=40)
    ap.add_argument("--connections", type=int, default=4, help="broker connections of the fleet")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--security-group", choices=("cidr", "default"), default="cidr")
    args = ap.parse_args()
    checkpoints = ([int(x) for x in args.checkpoints.split(",")] if args.checkpoints
                   else sorted({max(1, args.ports // 10), args.ports // 2, args.ports}))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    import logging
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    exchange = "fleet" + secrets.token_hex(4)
    state = tempfile.mkdtemp(prefix="neutrino-fleet-")
    db_url, drop = make_database("postgresql")
    proc = fleet = None
    try:
        proc, api = start_server(state, db_url, exchange, args.workers)
        t0 = time.monotonic()
        fleet = Fleet(args.hosts, exchange, args.connections)
        host_names = [h.host for h in fleet.hosts]
        host_idx = {h: i for i, h in enumerate(host_names)}
        print(f"server (PostgreSQL, RabbitMQ, {args.workers} workers) and {args.hosts} simulated "
              f"hosts registered in {time.monotonic() - t0:.1f} s; load average "
              f"{open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} CPU(s)")
        world = World(args.hosts, args.hosts_per_network)
        # --security-group default: the project's default group, whose rules
        # name itself as remote group (every member change concerns every
        # host with a member); cidr: a group with address rules only.
        if args.security_group == "default":
            world.sg = api.req("GET", "/v2.0/security-groups?name=default")[
                "security_groups"][0]["id"]
        else:
            world.sg = api.req("POST", "/v2.0/security-groups", {"security_group": {
                "name": "fleet-cidr"}})["security_group"]["id"]
            api.req("POST", "/v2.0/security-group-rules", {"security_group_rule": {
                "security_group_id": world.sg, "direction": "ingress", "ethertype": "IPv4",
                "remote_ip_prefix": "10.0.0.0/8"}})
        n_nets = -(-args.ports // args.network_size)
        for i in range(n_nets):
            net = api.req("POST", "/v2.0/networks", {"network": {"name": f"fleet-{i}"}})["network"]
            api.req("POST", "/v2.0/subnets", {"subnet": {
                "network_id": net["id"], "ip_version": 4,
                "cidr": f"10.{i // 64}.{(i % 64) * 4}.0/22"}})
            first = i * args.hosts_per_network % args.hosts
            world.nets.append({"id": net["id"], "vni": net["provider:segmentation_id"],
                               "hosts": [(first + k) % args.hosts
                                         for k in range(args.hosts_per_network)]})
        print(f"{n_nets} vxlan networks of up to {args.network_size} ports, each on "
              f"{args.hosts_per_network} of {args.hosts} hosts; bulk POSTs of {args.bulk} from "
              f"{args.threads} threads")
        started = time.monotonic()
        for upto in checkpoints:
            before = world.total
            took = fill(api, world, upto, args, host_names, host_idx)
            burst = world.total - before
            active_at, fdb_at = converge(world, fleet, db_url, timeout=max(60, burst / 50))
            print(f"at {world.total:,} ports ({time.monotonic() - started:.0f} s into the run):")
            print(f"  burst of {burst:,} ports: created in {took:.1f} s "
                  f"({burst / took:.0f}/s); then all ACTIVE after "
                  f"{'-' if active_at is None else f'{active_at:.1f} s'}, every host's fdb "
                  f"equal to the truth after {'-' if fdb_at is None else f'{fdb_at:.1f} s'}")
            measure(api, world, fleet, args, host_names, host_idx)
            fetched = collections.Counter()
            for h in fleet.hosts:
                fetched.update(h.fetches)
            print(f"  state fetches by the hosts so far: " + ", ".join(
                f"{k} {v:,}" for k, v in sorted(fetched.items())))
            totals = [sum(c.values()) for c in fleet.messages()]
            print(f"  messages delivered per host so far: min {min(totals):,}, p50 "
                  f"{pct(totals, .5):,.0f}, max {max(totals):,} (total {sum(totals):,})")
            sys.stdout.flush()
    finally:
        if fleet is not None:
            fleet.close()
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        drop()
        import shutil
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
