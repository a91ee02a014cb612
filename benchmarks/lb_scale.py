"""Load balancers on one host (issue #14): how fast one is made and changed,
what 100 of them cost, how fast an agent restart re-adopts them, and what
the proxy costs in requests per second.

A 1-host lab (rabbit: the LB agent is its own process), a vxlan tenant
network with three instances whose backends are static haproxy responders
(each answers its name; fast, so the figures are the load balancer's, not
the backend's), and a client instance beside them. Through the Octavia v2
API, waiting for ACTIVE as Octavia's clients do:

1. create -> ACTIVE: POST a bare load balancer until provisioning_status
   ACTIVE; then one with a listener, a pool and a member (Octavia's
   single-call "fully populated" form) until ACTIVE, and until the client's
   first HTTP 200 through the VIP (asked from ACTIVE on, as an Octavia user
   would; a slow round prints when the VIP's tap joined the bridge and the
   VIP port turned ACTIVE). p50/p95 of --rounds (goal < 1 s; Octavia with
   amphora VMs takes tens of seconds).
2. member add -> in rotation: a ROUND_ROBIN pool of web1+web2; POST web3 and
   request until web3 answers (p50; goal < 0.3 s); then remove it again.
3. --lbs load balancers (listener + pool + member each) on the host:
   memory per load balancer = haproxy processes' RSS and PSS (/proc/<pid>/
   smaps_rollup of every haproxy whose config lies under the lab's lbaas
   state dir, master and worker) / N, and the kernel's share from
   /proc/meminfo (Slab + Percpu + KernelStack + PageTables) before and after
   (noisy on a shared machine); then SIGKILL the agent, start it again and
   time until its first full sync is done (its log line), checking that no
   haproxy process was restarted and that a client looping on the first VIP
   saw no failure; then a member add on the last load balancer -> ACTIVE.
4. wrk from the client instance: directly to one member, through the VIP
   to a pool of that one member, and to a pool of three; keep-alive and
   a new connection per request.

    sudo .venv/bin/python benchmarks/lb_scale.py [--rounds 20] [--lbs 100]
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from l2_common import pct, summary, throwaway_lab

from neutrino.dataplane import netns as ns
from neutrino.lab.api import ApiError
from tests.e2e.lb_helpers import LoadLoop, Octavia, http_get, wait_lb_agents

HOST = "host1"
BACKEND_CONF = """global
    maxconn 4000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend web
    bind 0.0.0.0:{port}
    http-request return status 200 content-type text/plain string "{name}"
"""
SYNC_LINE = re.compile(r"full LB sync: (\d+) load balancer\(s\), (\d+) changed, \d+ failed "
                       r"in ([\d.]+) s")
MEMINFO_KERNEL = ("Slab", "Percpu", "KernelStack", "PageTables")


def p50_p95(name: str, seconds: list[float]) -> str:
    return (f"{summary(name, seconds)}  p95={pct(seconds, .95) * 1000:7.1f} ms")


class StaticBackends:
    """An haproxy answering its name in each instance (by PID)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []

    def start(self, inst, name: str, port: int = 8080) -> None:
        conf = self.workdir / f"{name}.cfg"
        conf.write_text(BACKEND_CONF.format(port=port, name=name))
        with ns.in_netns(inst.netns):
            self.procs.append(subprocess.Popen(["haproxy", "-db", "-f", str(conf)],
                                               stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        until_serving(inst.netns, inst.ip, name, port=port, timeout=10)

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


def until_serving(netns: str, ip: str, want: str | None = None, timeout: float = 60.0,
                  port: int = 80) -> float:
    """Seconds until `ip` answers 200 (from `want`, if given)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            reply = http_get(netns, ip, port, timeout=1)
            if reply.status == 200 and (want is None or reply.name == want):
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"{ip} not serving{' ' + want if want else ''} after {timeout} s")


def populated(name: str, subnet_id: str, members: list[tuple[str, int]]) -> dict:
    return {"name": name, "vip_subnet_id": subnet_id, "listeners": [{
        "protocol": "HTTP", "protocol_port": 80, "default_pool": {
            "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "members": [{"address": a, "protocol_port": p, "subnet_id": subnet_id}
                        for a, p in members]}}]}


def create_full(oc: Octavia, name: str, subnet_id: str, members: list[tuple[str, int]],
                wait: bool = False) -> tuple[dict, str]:
    """A load balancer with a listener, a pool and members, and its pool's
    id: in one POST (Octavia's fully populated form) or, where the API
    refuses that form, call by call waiting for ACTIVE in between (as the
    client would)."""
    try:
        lb = oc.create("loadbalancer", populated(name, subnet_id, members))
        if wait:
            oc.wait_active(lb["id"], timeout=600)
        return lb, lb["pools"][0]["id"]
    except ApiError as exc:
        if exc.status not in (400, 501):
            raise
        SEQUENTIAL.append(exc.message[:120])
    lb = oc.create("loadbalancer", {"name": name, "vip_subnet_id": subnet_id})
    oc.wait_active(lb["id"], timeout=600)
    listener = oc.change(lb["id"], "listener", "create", {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80})
    pool = oc.change(lb["id"], "pool", "create", {
        "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"})
    for address, port in members:
        oc.change(lb["id"], "member", "create", {"address": address, "protocol_port": port,
                                                  "subnet_id": subnet_id}, parent=pool["id"])
    return lb, pool["id"]


SEQUENTIAL: list[str] = []     # why the fully populated form was refused, if it was


def haproxy_memory(lbaas_dir: str) -> tuple[int, int, int]:
    """(processes, RSS kB, PSS kB) of the haproxies configured under lbaas_dir."""
    procs = rss = pss = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if not cmd or not cmd[0].endswith(b"haproxy") \
                    or not any(lbaas_dir.encode() in part for part in cmd):
                continue
            roll = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        procs += 1
        rss += int(re.search(r"^Rss:\s+(\d+)", roll, re.M).group(1))
        pss += int(re.search(r"^Pss:\s+(\d+)", roll, re.M).group(1))
    return procs, rss, pss


def haproxy_pids(lbaas_dir: str) -> set[int]:
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmd.split(b"\0")[0].endswith(b"haproxy") and lbaas_dir.encode() in cmd:
            pids.add(int(pid))
    return pids


def kernel_kb() -> int:
    info = dict(line.split(":", 1) for line in open("/proc/meminfo"))
    return sum(int(info[k].split()[0]) for k in MEMINFO_KERNEL if k in info)


def wrk(netns: str, url: str, seconds: int, close: bool) -> str:
    argv = ["wrk", "-t2", "-c16", f"-d{seconds}s", url]
    if close:
        argv[1:1] = ["-H", "Connection: close"]
    with ns.in_netns(netns):
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Socket errors:.*", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (f"{float(rps.group(1)) if rps else float('nan'):9.0f} req/s"
            + (f"  ({errors.group(0)})" if errors else "")
            + (f"  ({non2xx.group(1)} non-2xx)" if non2xx else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--lbs", type=int, default=100)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--keep-logs", metavar="DIR", help="copy the lab's logs there at the end")
    args = ap.parse_args()
    with throwaway_lab(1, "rabbit", keep_logs=args.keep_logs) as lab:
        api, oc = lab.api, Octavia(lab)
        wait_lb_agents(lab)
        lbaas_dir = str(lab.state.host_dir(HOST) / "lbaas")
        backends = StaticBackends(Path(lab.state.lab_dir))
        try:
            net = api.create_network("lbbench", "vxlan")
            sub = api.create_subnet(net["id"], "10.94.0.0/22", enable_dhcp=False)
            webs = {}
            for name in ("web1", "web2", "web3", "client"):
                webs[name] = lab.instances.create(name, net["id"], host=HOST)
                lab.wait_port_status(webs[name].port_id, "ACTIVE", timeout=60)
            for name in ("web1", "web2", "web3"):
                backends.start(webs[name], name)
            # the lab's tenant: open the backends' port (security groups are on)
            sg = api.request("POST", "/v2.0/security-groups", {"security_group": {
                "name": "web"}})["security_group"]
            api.request("POST", "/v2.0/security-group-rules", {"security_group_rule": {
                "security_group_id": sg["id"], "direction": "ingress", "ethertype": "IPv4",
                "protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080}})
            for name in ("web1", "web2", "web3"):
                port = api.show("ports", webs[name].port_id)
                api.update("ports", port["id"],
                           {"security_groups": port["security_groups"] + [sg["id"]]})
            client = webs["client"].netns
            ip = {n: webs[n].ip for n in ("web1", "web2", "web3")}
            measure_create(lab, oc, client, sub, ip, args.rounds)
            measure_member_add(oc, client, sub, ip, args.rounds)
            measure_many(lab, oc, client, sub, ip, args.lbs, lbaas_dir)
            measure_throughput(oc, client, sub, ip, args.wrk_seconds)
        finally:
            backends.stop()
        print(f"load average {open('/proc/loadavg').read().split()[0]} "
              f"on {os.cpu_count()} CPU(s)")


def measure_create(lab, oc: Octavia, client: str, sub: dict, ip: dict, rounds: int) -> None:
    """Bare create -> ACTIVE; full create -> ACTIVE, then (the client starts
    asking once the load balancer is ACTIVE, as an Octavia user would) the
    first HTTP 200 through the VIP, and meanwhile when the VIP's tap joined
    the bridge and when the VIP port turned ACTIVE."""
    api, host_ns = oc.api, lab.state.host_netns(HOST)
    active, full_active, serving, slow = [], [], [], []
    for i in range(rounds):
        t0 = time.monotonic()
        lb = oc.create("loadbalancer", {"name": f"bare{i}", "vip_subnet_id": sub["id"]})
        oc.wait_active(lb["id"], timeout=60)
        active.append(time.monotonic() - t0)
        oc.delete("loadbalancer", lb["id"], cascade="true")
        oc.wait_gone(lb["id"])

        t0 = time.monotonic()
        lb, _ = create_full(oc, f"full{i}", sub["id"], [(ip["web1"], 8080)])
        oc.wait_active(lb["id"], timeout=60)
        full_active.append(time.monotonic() - t0)
        tap, seen = "tap" + lb["vip_port_id"][:11], {}
        while "serving" not in seen and time.monotonic() - t0 < 120:
            if "bridged" not in seen and "master brq" in ns.run(
                    ["ip", "-o", "link", "show", tap], netns=host_ns, check=False):
                seen["bridged"] = time.monotonic() - t0
            if "port" not in seen and api.show("ports", lb["vip_port_id"])["status"] == "ACTIVE":
                seen["port"] = time.monotonic() - t0
            try:
                if http_get(client, lb["vip_address"], timeout=0.3).status == 200:
                    seen["serving"] = time.monotonic() - t0
            except OSError:
                pass
        serving.append(seen.get("serving", float("inf")))
        if serving[-1] > 1:
            slow.append(", ".join(f"{k} {v:.2f} s" for k, v in sorted(seen.items(),
                                                                    key=lambda kv: kv[1])))
        oc.delete("loadbalancer", lb["id"], cascade="true")
        oc.wait_gone(lb["id"])
    print(p50_p95("create -> ACTIVE", active))
    print(p50_p95("create (full) -> ACTIVE", full_active))
    print(p50_p95("create (full) -> serving", serving))
    for line in slow:
        print(f"  slow round: ACTIVE then {line}")
    if SEQUENTIAL:
        print(f"  (call by call: the fully populated POST was refused: {SEQUENTIAL[0]})")
    print(f"  goal < 1 s: p50 {'met' if pct(serving, .5) < 1 else 'NOT met'}, "
          f"p95 {'met' if pct(serving, .95) < 1 else 'NOT met'}")


def measure_member_add(oc: Octavia, client: str, sub: dict, ip: dict, rounds: int) -> None:
    lb, pool_id = create_full(oc, "rot", sub["id"], [(ip["web1"], 8080), (ip["web2"], 8080)])
    lb = oc.wait_active(lb["id"], timeout=60)
    until_serving(client, lb["vip_address"])
    times, to_active = [], []
    for _ in range(rounds):
        t0 = time.monotonic()
        member = oc.create("member", {"address": ip["web3"], "protocol_port": 8080,
                                      "subnet_id": sub["id"]}, parent=pool_id)
        until_serving(client, lb["vip_address"], "web3", timeout=30)
        times.append(time.monotonic() - t0)
        oc.wait_active(lb["id"])
        to_active.append(time.monotonic() - t0)
        oc.delete("member", member["id"], parent=pool_id)
        oc.wait_active(lb["id"])
    print(p50_p95("member add -> in rotation", times))
    print(p50_p95("member add -> LB ACTIVE", to_active))
    print(f"  goal p50 < 0.3 s: {'met' if pct(times, .5) < 0.3 else 'NOT met'}")
    oc.delete("loadbalancer", lb["id"], cascade="true")
    oc.wait_gone(lb["id"])


def measure_many(lab, oc: Octavia, client: str, sub: dict, ip: dict, n: int,
                 lbaas_dir: str) -> None:
    base_kernel = kernel_kb()
    t0 = time.monotonic()
    made = [create_full(oc, f"m{i}", sub["id"], [(ip["web1"], 8080)]) for i in range(n)]
    lbs = [lb for lb, _ in made]
    posted = time.monotonic() - t0
    for lb in lbs:
        oc.wait_active(lb["id"], timeout=600)
    took = time.monotonic() - t0
    print(f"{n} load balancers (listener + pool + member each): POSTs {posted:.1f} s, "
          f"all ACTIVE {took:.1f} s after the first")
    for lb in (lbs[0], lbs[-1]):
        until_serving(client, lb["vip_address"], "web1", timeout=30)
    time.sleep(2)
    procs, rss, pss = haproxy_memory(lbaas_dir)
    kernel = kernel_kb() - base_kernel
    print(f"  haproxy: {procs} processes, RSS {rss / 1024:.1f} MiB ({rss / n / 1024:.2f} MiB "
          f"per load balancer), PSS {pss / 1024:.1f} MiB ({pss / n / 1024:.2f} MiB per load "
          f"balancer)")
    print(f"  kernel ({' + '.join(MEMINFO_KERNEL)} from /proc/meminfo, before/after, "
          f"machine-wide): {kernel / 1024:+.1f} MiB ({kernel / n:+.0f} kB per load balancer: "
          f"namespace, veth pair, bridge port, conntrack, haproxy's sockets)")

    # agent restart: everything re-adopted, nothing restarted, no request lost
    pids = haproxy_pids(lbaas_dir)
    log = lab.state.host_dir(HOST) / "lb-agent.log"
    with LoadLoop(client, lbs[0]["vip_address"], clients=1, pause=0.02) as load:
        time.sleep(0.5)
        lab.kill_lb_agent(HOST, signal.SIGKILL)
        skip = len(SYNC_LINE.findall(log.read_text()))
        t0 = time.monotonic()
        lab.start_lb_agent(HOST)
        started = time.monotonic() - t0
        while len(lines := SYNC_LINE.findall(log.read_text())) <= skip:
            if time.monotonic() - t0 > 600:
                raise TimeoutError("no full sync line from the restarted agent")
            time.sleep(0.02)
        synced = time.monotonic() - t0
        kept = len(pids & haproxy_pids(lbaas_dir))
        # and it manages them: a change on the last one
        t1 = time.monotonic()
        oc.create("member", {"address": ip["web2"], "protocol_port": 8080,
                             "subnet_id": sub["id"]}, parent=made[-1][1])
        oc.wait_active(lbs[-1]["id"], timeout=600)
        changed = time.monotonic() - t1
        until_serving(client, lbs[-1]["vip_address"], "web2", timeout=30)
        time.sleep(0.5)
    count, changed_n, took = lines[skip]
    print(f"  agent SIGKILL + start -> its first full sync done: {synced:.2f} s (process start "
          f"{started:.2f} s; the agent's line: {count} load balancers, {changed_n} changed, "
          f"in {took} s); haproxy processes untouched {kept}/{len(pids)}; then a member add on "
          f"the last -> ACTIVE {changed:.2f} s; a client on the first VIP throughout: "
          f"{load.total} requests, {len(load.failures)} failed")
    t0 = time.monotonic()
    for lb in lbs:
        oc.delete("loadbalancer", lb["id"], cascade="true")
    for lb in lbs:
        oc.wait_gone(lb["id"], timeout=600)
    print(f"  cascade delete of {n}: {time.monotonic() - t0:.1f} s; haproxies left "
          f"{len(haproxy_pids(lbaas_dir))}")


def measure_throughput(oc: Octavia, client: str, sub: dict, ip: dict, seconds: int) -> None:
    one, _ = create_full(oc, "one", sub["id"], [(ip["web1"], 8080)])
    three, _ = create_full(oc, "three", sub["id"],
                           [(ip[w], 8080) for w in ("web1", "web2", "web3")])
    for lb in (one, three):
        oc.wait_active(lb["id"], timeout=60)
        until_serving(client, lb["vip_address"])
    print(f"wrk -t2 -c16 -d{seconds}s from the client instance (keep-alive | "
          f"Connection: close):")
    for label, url in (("directly to web1", f"http://{ip['web1']}:8080/"),
                       ("VIP, pool of web1", f"http://{one['vip_address']}/"),
                       ("VIP, pool of 3", f"http://{three['vip_address']}/")):
        print(f"  {label:<20} {wrk(client, url, seconds, False)} | "
              f"{wrk(client, url, seconds, True)}")
    for lb in (one, three):
        oc.delete("loadbalancer", lb["id"], cascade="true")


if __name__ == "__main__":
    main()
