"""1,000 ports on one host: wired from scratch at agent start, and agent
restart until all are ACTIVE again.

1. N ports bound to host1 on vxlan networks of at most 1,000 ports each
   (a Linux bridge takes at most 1,024 ports) (bulk POST, agent running:
   they stay DOWN, no taps yet).
2. The agent is killed (SIGKILL); its bridge and vxlan device are deleted
   (from scratch); N taps are plugged (veth pairs, peers in one pool
   namespace, like a hypervisor with N VMs).
3. Agent start -> all N ports ACTIVE (polling the API), i.e. wired from scratch.
4. Agent SIGKILL + start -> its first full resync has verified all N ports
   (nothing to change, nothing to report: traffic untouched).
5. Same, after the server was told all N are DOWN (as an upstream agent
   restart would leave them): agent start -> all N ACTIVE again.

Security groups (issue #18; rabbit only; every port is in the default
group, whose remote-group rule puts an ipset in play):
6. warm restart: agent restart -> every port's filter verified in place.
7. cold restart: the host namespace's netfilter flushed (iptables and
   ip6tables filter/raw, ebtables nat: a reboot) with the agent down ->
   agent start -> every filter back (one restore per IP version; the ports
   go DOWN meanwhile) and all ACTIVE again.
   "In place" in 6 and 7 is when the agent logs its firewall verified or
   applied (checked in the kernel afterwards); its full sync, which then
   dumps the links and wires, ends ~0.4 s later at 5,000 ports (printed too:
   until session 13 the restarts were timed to it).
8. one rule POSTed to the default group -> in all N ingress chains.
9. 1,000 instances destroyed, each port with a tracked flow in its
   network's zone: their taps unplugged at once (one batched kernel
   request), then, while the agent works, 1,000 API DELETEs from 8
   clients. The agent drops a port's filter and flows when its tap goes
   (as upstream's agent does with a vanished device), so the chains
   (iptables/ebtables or nft) and conntrack entries are timed from the
   unplug (nftables: chains from the kernel's events, `nft monitor`, then
   checked in the kernel itself: listing them every 50 ms took a core;
   iptables: chain names polled every 0.5 s; flows from the conntrack
   count every 20 ms); from the first DELETE: the DELETEs themselves and
   the victims' addresses out of their group's set (ipset or nftables
   set, polled every 0.1 s); and the CPU time of the busiest processes
   meanwhile (this lab's and the machine's).
10. agent memory: RSS with no port vs with N ports, per port.

With --transport rabbit (default) the agent is its own process, so times
include starting Python; with inproc the agent lives in the all-in-one
runtime, so "agent start" restarts the server too.

    .venv/bin/python benchmarks/l2_scale.py [--ports 1000] [--transport rabbit|inproc]
        [--firewall-driver iptables|nftables] [--iptables-backend auto|nft|legacy]
        [--deletes 1000] [--deletes-only [--keep-taps]] [--profile PREFIX]

--deletes-only skips phases 4-8 and 10; --profile samples the server and
the agents with py-spy during phase 9 (which slows them: not a figure);
L2_SCALE_PROFILE_RATE (Hz, 50), L2_SCALE_PROFILE_GIL=1 (only the thread
holding the GIL: where Python CPU goes), L2_SCALE_PROFILE_IDLE=1.

Reference (issue #4): Neutron 25.2.3, 1,000 ports plugged ~16 min; restart
with 200 ports 164 s. Targets: 1,000 ports < 5 s; restart resync < 5 s.
Issue #18 at 5,000 ports: warm and cold restart to every filter in place
< 5 s; one rule to all ports < 1 s; 1,000 deletes -> chains and conntrack
state gone < 3 s.
"""
from __future__ import annotations

import argparse
import os
import sys
import re
import signal
import threading
import time

from l2_common import count_status, make_taps, throwaway_lab
from l2_fw_kernel import chains_left, filtered_ports, flush_netfilter, ipt_tool, udp53_rules
from l2_watch import GoneWatch, awaited_chains, chain_key

from neutrino.agent_options import IPTABLES_BACKENDS
from neutrino.dataplane import netns as ns
from neutrino.dataplane.conntrack import CtNetlink
from neutrino.dataplane.netlink import Netlink
from neutrino.dataplane.rtnl_fast import FastLinks

SYNC_LINE = re.compile(r"full sync: (\d+) port\(s\) bound, (\d+) wired, (\d+) op\(s\) in ([\d.]+) s")


def stop_agent(lab) -> None:
    if lab.state.transport == "inproc":
        lab.kill_runtime(signal.SIGKILL)
    else:
        lab.kill_agent("host1", signal.SIGKILL)


def start_agent(lab) -> None:
    if lab.state.transport == "inproc":
        lab.start_runtime()
    else:
        lab.start_agent("host1")


def agent_log(lab) -> str:
    path = (lab.state.runtime_log if lab.state.transport == "inproc"
            else lab.state.host_dir("host1") / "agent.log")
    return path.read_text() if path.exists() else ""


def wait_log_line(lab, line: re.Pattern, already: int, n: int, timeout: float = 900.0,
                  poll: float = 0.02) -> tuple[float, str]:
    """Seconds until the agent's log holds more than `already` lines
    matching `line` whose first group (a port count) is at least n, and the
    last of them."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        lines = log_lines(lab, line, n)
        if len(lines) > already:
            return time.monotonic() - t0, lines[-1]
        time.sleep(poll)
    raise TimeoutError(f"no new {line.pattern!r} logged")


def log_lines(lab, line: re.Pattern, n: int) -> list[str]:
    """The agent's log lines matching `line` whose first group (a port
    count) is at least n."""
    return [m.group(0) for m in line.finditer(agent_log(lab)) if int(m.group(1)) >= n]


def wait_full_sync(lab, already: int, n: int, timeout: float = 900.0) -> tuple[float, str]:
    """Seconds until a new 'full sync' log line covering n ports appears."""
    return wait_log_line(lab, SYNC_LINE, already, n, timeout)


PER_NETWORK = 1000      # a Linux bridge takes at most 1,024 ports (BR_MAX_PORTS)


def wait_count(lab, nets: list[dict], status: str, n: int, timeout: float = 900.0) -> float:
    """Seconds until `n` ports of the networks have `status`."""
    t0 = time.monotonic()
    while sum(count_status(lab, net["id"], status) for net in nets) < n:
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{status}: not {n} ports after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - t0


def zone_of(host_ns: str, network_id: str, driver: str) -> int:
    """The conntrack zone of one network's bridge."""
    brq = "brq" + network_id[:11]
    if driver == "nftables":
        text = ns.run(["nft", "list", "map", "inet", "neutrino", "zones"], netns=host_ns)
        return int(re.search(rf'"{brq}" : (\d+)', text).group(1))
    raw = ns.run([ipt_tool("iptables-save", driver), "-t", "raw"], netns=host_ns)
    return int(re.search(rf"--physdev-in {brq} .*--zone (\d+)", raw).group(1))


def full_syncs(lab, n: int) -> int:
    return len(log_lines(lab, SYNC_LINE, n))


# ---------------------------------------------------------------- security groups (#18)

FW_LINE = re.compile(r"firewall: \d+ port\(s\), .*")


def fw_lines(lab) -> list[str]:
    return FW_LINE.findall(agent_log(lab))


# A full converge's outcome: applied, or found every filter in place.
FW_FULL_LINE = re.compile(r"firewall(?: verified)?: (\d+) port\(s\).*")


def wait_fw_full(lab, already: int, n: int, timeout: float = 900.0) -> tuple[float, str]:
    """Seconds until a new firewall line covering n ports appears: the
    moment the agent logs every filter applied (or verified) in place,
    before it dumps the links and wires (its full sync line comes later)."""
    return wait_log_line(lab, FW_FULL_LINE, already, n, timeout, poll=0.01)


def fw_full_lines(lab, n: int) -> int:
    return len(log_lines(lab, FW_FULL_LINE, n))


def wait_fw_line(lab, already: int, timeout: float = 120.0) -> tuple[float, str]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        lines = fw_lines(lab)
        if len(lines) > already:
            return time.monotonic() - t0, lines[-1]
        time.sleep(0.01)
    raise TimeoutError("no firewall apply logged")


def rss_kib(pid: int | None) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def profiled(lab, out: str | None):
    """py-spy sampling the server, the L2 and the DHCP agent (when asked)."""
    import subprocess
    if not out:
        return []
    pids = {"server": lab.runtime_pid(), "l2": lab.agent_pid("host1"),
            "dhcp": lab.dhcp_agent_pid("host1"), "bench": os.getpid()}
    idle = ["--idle", "--threads"] if os.environ.get("L2_SCALE_PROFILE_IDLE") else []
    # L2_SCALE_PROFILE_GIL=1: only the thread holding the GIL (where the
    # process's Python CPU goes; otherwise threads waiting for it count too)
    idle += ["--gil"] if os.environ.get("L2_SCALE_PROFILE_GIL") else []
    # (py-spy slows the sampled processes: the figures of a profiled run are not the figures)
    return [subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--nonblocking", "-r", os.environ.get("L2_SCALE_PROFILE_RATE", "50"), "-f", "raw", *idle,
                              "-p", str(pid), "-o", f"{out}-{name}.txt"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, pid in pids.items() if pid]


CLIENTS = 8     # like Nova's computes deleting their ports at once


def delete_all(api_url: str, port_ids: list[str], clients: int) -> None:
    """DELETE every port, `clients` at a time, each client a keep-alive
    http.client connection. (The load generator shares the server's 2
    CPUs here: the lab's httpx client cost 0.6 s of CPU for 1,000 DELETEs,
    this ~0.15 s; in a cloud the callers run elsewhere.) Noauth lab: no
    token needed."""
    import http.client
    import threading
    from urllib.parse import urlsplit
    url = urlsplit(api_url)
    todo = list(port_ids)
    lock = threading.Lock()
    failed: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    port_id = todo.pop()
                conn.request("DELETE", f"/v2.0/ports/{port_id}")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 204:
                    failed.append(f"{port_id}: HTTP {resp.status} {body[:200]!r}")
        finally:
            conn.close()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise RuntimeError(f"{len(failed)} DELETE(s) failed, e.g. {failed[0]}")


LINK_GROUP = 0x4E75          # the victims' taps, deleted in one request
IFLA_GROUP = 27


def unplug(host_ns: str, taps: set[str]) -> None:
    """Delete the taps (veth pairs) at once, as many VMs destroyed together:
    one RTM_DELLINK by link group is one batch in the kernel
    (unregister_netdevice_many), where deleting them one by one waits for an
    RCU grace period each (~17-44 ms under load: 17-44 s for 1,000)."""
    import socket
    import struct
    from neutrino.dataplane import rtnl_fast as rt
    with FastLinks(host_ns) as fl:
        victims = [link.index for link in fl.dump() if link.name in taps]
        sock = fl._sock
        for start in range(0, len(victims), 256):
            out = bytearray()
            seqs = set()
            for index in victims[start:start + 256]:
                seq = fl._next_seq()
                seqs.add(seq)
                body = rt._IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0) + rt._attr(
                    IFLA_GROUP, struct.pack("=I", LINK_GROUP))
                out += rt._NLMSGHDR.pack(rt._NLMSGHDR.size + len(body), rt.RTM_SETLINK,
                                         rt.NLM_F_REQUEST | rt.NLM_F_ACK, seq, 0) + body
            sock.send(out)
            _acks(fl, seqs)
        seq = fl._next_seq()
        body = rt._IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + rt._attr(
            IFLA_GROUP, struct.pack("=I", LINK_GROUP))
        sock.send(rt._NLMSGHDR.pack(rt._NLMSGHDR.size + len(body), rt.RTM_DELLINK,
                                    rt.NLM_F_REQUEST | rt.NLM_F_ACK, seq, 0) + body)
        _acks(fl, {seq})
        left = [link.name for link in fl.dump() if link.name in taps]
        assert not left, f"{len(left)} taps not unplugged"


def _acks(fl, seqs: set[int]) -> None:
    from neutrino.dataplane import rtnl_fast as rt
    while seqs:
        n = fl._recv()
        buf = memoryview(fl._buf)
        for kind, _flags, seq, a, _b in rt._iter_messages(buf, n):
            if kind == rt.NLMSG_ERROR and seq in seqs:
                seqs.discard(seq)
                err = -rt._ERRMSG.unpack_from(buf, a)[0]
                assert not err, f"netlink error {err}"
        buf.release()


def cpu_times() -> dict[int, tuple[float, str, float]]:
    """CPU seconds (user + system) of every process, with its command line
    and its system seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            cmd = " ".join(open(f"/proc/{pid}/cmdline", "rb").read().decode(
                errors="replace").replace("\0", " ").split())   # (a `python -c` spans lines)
        except OSError:
            continue
        out[int(pid)] = ((int(stat[11]) + int(stat[12])) / tick, cmd, int(stat[12]) / tick)
    return out


def cpu_report(before: dict, after: dict, lab_dir: str, top: int = 8) -> str:
    """The processes that burnt most CPU between two cpu_times(): this lab's
    (server, agents, dnsmasq: their command lines name the lab directory) and others."""
    used = sorted(((t - before.get(pid, (0.0, "", 0.0))[0],
                    system - before.get(pid, (0.0, "", 0.0))[2], pid, cmd)
                   for pid, (t, cmd, system) in after.items()), reverse=True)
    ours = [f"{d:.1f} s (system {sd:.1f}) {cmd.split(' --')[0][-32:]}|{lab_dir in cmd}"
            for d, sd, _pid, cmd in used[:top] if d > 0.05]
    return "; ".join(ours)


def settle(max_wait: float = 30.0) -> float:
    """Wait until the machine idles (< 0.3 CPU-s per second, every process)
    so a burst is measured, not the tail of the phase before (dnsmasq and
    the DHCP agent after wiring 5,000 ports). Returns the seconds waited."""
    started = time.monotonic()
    before = cpu_times()
    while time.monotonic() - started < max_wait:
        time.sleep(1.0)
        after = cpu_times()
        busy = sum(t - before.get(pid, (0.0,))[0] for pid, (t, *_) in after.items())
        before = after
        if busy < 0.3:
            break
    return time.monotonic() - started


def security_group_phases(lab, nets: list[dict], ports: list[dict], deletes: int,
                          rss_idle: int, driver: str, profile: str | None = None) -> None:
    n = len(ports)
    ids = [p["id"] for p in ports]
    host_ns = lab.state.host_netns("host1")

    # 6. warm restart ("in place": the agent's firewall line, logged once the
    # filters are verified or applied; its full sync ends after the links)
    before, fw_before = full_syncs(lab, n), fw_full_lines(lab, n)
    stop_agent(lab)
    settle()      # each restart from a quiet machine, not the tail of the phase before
    t0 = time.monotonic()
    start_agent(lab)
    _, fw_line = wait_fw_full(lab, fw_before, n)
    in_place = time.monotonic() - t0
    _, line = wait_full_sync(lab, before, n)
    synced = time.monotonic() - t0     # before the kernel check below (seconds with iptables)
    print(f"warm restart: every filter in place {in_place:.2f} s after agent start "
          f"({filtered_ports(host_ns, ids, driver)}/{n} ports filtered), full sync done "
          f"{synced:.2f} s; agent: {fw_line}; {line}")

    # 7. cold restart: netfilter flushed while the agent is down
    stop_agent(lab)
    flush_netfilter(host_ns, driver)
    assert filtered_ports(host_ns, ids, driver) == 0
    before, fw_before = full_syncs(lab, n), fw_full_lines(lab, n)
    settle()
    t0 = time.monotonic()
    start_agent(lab)
    _, restore = wait_fw_full(lab, fw_before, n)
    cold = time.monotonic() - t0
    wait_full_sync(lab, before, n)
    synced = time.monotonic() - t0
    back = wait_count(lab, nets, "ACTIVE", n) + synced
    print(f"cold restart (netfilter flushed): every filter in place {cold:.2f} s after agent "
          f"start ({filtered_ports(host_ns, ids, driver)}/{n} ports filtered), full sync done "
          f"{synced:.2f} s, all ACTIVE again {back:.2f} s; agent: {restore}")

    # 8. one rule to every port
    group = ports[0]["security_groups"][0]
    already = len(fw_lines(lab))
    t0 = time.monotonic()
    lab.api.request("POST", "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
        "protocol": "udp", "port_range_min": 53, "port_range_max": 53,
        "remote_ip_prefix": "198.51.100.0/24"}})
    _, line = wait_fw_line(lab, already)
    rule_t = time.monotonic() - t0
    has = udp53_rules(host_ns, driver)
    print(f"one rule to all: POST -> in {has}/{n} ingress chains {rule_t:.3f} s; agent: {line}")

    # 10. memory, with all n ports
    rss = rss_kib(lab.agent_pid("host1"))
    print(f"agent memory: RSS {rss / 1024:.1f} MiB with {n} ports, {rss_idle / 1024:.1f} MiB "
          f"with none: {(rss - rss_idle) / n:.1f} KiB per port")
    delete_phase(lab, ports, deletes, driver, profile)


def delete_phase(lab, ports: list[dict], deletes: int, driver: str,
                 profile: str | None, keep_taps: bool = False) -> None:
    """9. deletes, each port with a tracked flow; `keep_taps`: the ports
    deleted with their taps still plugged (their filters go on the DELETE)."""
    n = len(ports)
    host_ns = lab.state.host_netns("host1")
    victims = ports[-min(deletes, n):]
    by_net = {net_id: zone_of(host_ns, net_id, driver)
              for net_id in {p["network_id"] for p in victims}}
    ips = {p["fixed_ips"][0]["ip_address"] for p in victims}
    # the namespace's conntrack count, read every 20 ms (a file opened in the
    # namespace, read again: no process, no dump); a dump confirms. (conntrack
    # events would be exact, but with nf_conntrack_events = 2 listening makes
    # the kernel keep and redeliver destroy events: it changed what it timed.)
    with ns.in_netns(host_ns):
        count_file = open("/proc/sys/net/netfilter/nf_conntrack_count")

    def count() -> int:
        count_file.seek(0)
        return int(count_file.read())
    others = count()
    script = "".join(
        f"conntrack -I -p tcp -s 192.0.2.1 -d {p['fixed_ips'][0]['ip_address']} "
        f"--sport {10000 + i} --dport 22 --state ESTABLISHED -t 600 -u SEEN_REPLY "
        f"-w {by_net[p['network_id']]} >/dev/null 2>&1\n" for i, p in enumerate(victims))
    ns.run(["sh", "-s"], netns=host_ns, input=script, timeout=600)

    def tracked() -> int:
        with CtNetlink(host_ns) as nl:
            return sum(1 for f in nl.dump(4) if f.dst in ips)

    flows = tracked()
    taps = {"tap" + p["id"][:11] for p in victims}
    victim_ids = [p["id"] for p in victims]

    waited = settle()
    spies = profiled(lab, profile)
    # the kernel tells when the chains and the flows go (listing them every
    # 50 ms cost a core). Chains: nftables only (under iptables-nft's
    # restores `nft monitor` cost 1.8 s of CPU and missed ebtables-nft's
    # chain deletions; their names are polled every 0.5 s there, from `nft
    # list chains` when iptables is iptables-nft)
    chain_watch = (GoneWatch(host_ns, ["nft", "monitor", "destroy", "chains"],
                             awaited_chains(victim_ids), chain_key)
                   if driver == "nftables" else None)
    time.sleep(1 if spies else 0.5)
    if chain_watch is not None and chain_watch.proc.poll() is not None:
        raise RuntimeError(f"{chain_watch.proc.args} exited: {chain_watch.last_line}")
    load = open("/proc/loadavg").read().split()[0]
    # The hypervisor destroys the VMs (their taps go), then Nova deletes
    # their ports. The agent drops a filter when its tap goes (as
    # upstream's): the clock starts at the unplug; the DELETEs run on a
    # thread meanwhile, timed from the first.
    group = victims[0]["security_groups"][0]
    t_start = time.monotonic()
    if not keep_taps:
        unplug(host_ns, taps)
    t_unplug = time.monotonic() - t_start
    cpu0 = cpu_times()
    t0 = time.monotonic()
    api = {}

    def deleting() -> None:
        try:
            delete_all(lab.state.api_url, victim_ids, CLIENTS)
        except Exception as exc:  # noqa: BLE001 - reported below
            api["error"] = exc
        api["t"] = time.monotonic() - t0
    deleter = threading.Thread(target=deleting)
    deleter.start()
    cpu_api = None
    # chains: from the watch's last event, checked in the kernel (a kernel
    # already clean while the watch still waits, an event it did not see, is
    # timed by the poll and says so); flows: the first count back at what
    # the namespace held before the victims' flows, confirmed by a dump (a
    # dump every 0.5 s besides, should others' entries keep the count up);
    # members: the victims' addresses out of their group's set (after the
    # DELETEs: the server changes the membership), polled every 0.1 s
    chains_t = ct_t = members_t = None
    chains_polled = dumped = members_polled = time.monotonic()
    chain_poll = 0.5 if chain_watch is None else 2.0     # with a watch: its fallback
    how = ("chains from kernel events" if chain_watch else "chains polled every 0.5 s"
           ) + ", flows from the conntrack count every 20 ms, set members polled every 0.1 s"
    while chains_t is None or ct_t is None or members_t is None or "t" not in api:
        if time.monotonic() - t_start > 900:
            raise TimeoutError(f"after 900 s: {chains_left(host_ns, victim_ids, driver)} "
                               f"chains, {tracked()} flows left")
        if "error" in api:
            raise api["error"]
        if "t" in api and cpu_api is None:
            cpu_api = cpu_times()
        now = time.monotonic()
        since = now - dumped         # (dumps at most every 0.1 s: they cost CPU)
        if ct_t is None and ((count() <= others and since >= 0.1) or since >= 0.5):
            dumped = now
            if tracked() == 0:
                ct_t = now - t_start
        events_done = chain_watch is not None and chain_watch.done.is_set()
        if chains_t is None and (events_done or now - chains_polled >= chain_poll):
            chains_polled = now
            if chains_left(host_ns, victim_ids, driver) == 0:
                if chain_watch is not None and chain_watch.done_at is not None:
                    chains_t = chain_watch.done_at - t_start
                else:
                    chains_t = time.monotonic() - t_start
                    if chain_watch is not None:
                        how += (f" (chains polled: {len(chain_watch.left)} events unseen, "
                                f"e.g. {sorted(chain_watch.left)[:1]})")
        if members_t is None and "t" in api and now - members_polled >= 0.1:
            members_polled = now
            if not ips & set_members(host_ns, group, driver):
                members_t = time.monotonic() - t0
        time.sleep(0.02)
    deleter.join()
    count_file.close()
    if chain_watch is not None:
        chain_watch.stop()
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    api_t = api["t"]
    print((f"{len(victims)} ports deleted, their taps still plugged: " if keep_taps else
           f"{len(victims)} instances destroyed, then their ports deleted: their "
           f"{len(victims)} taps unplugged in one batch ({t_unplug:.2f} s), then ")
          + f"{len(victims)} API DELETEs from {CLIENTS} clients ({api_t:.2f} s from the first). "
          f"From the {'first DELETE' if keep_taps else 'unplug'}: all their chains gone "
          f"{chains_t:.2f} s, all their {flows} "
          f"tracked flows gone {ct_t:.2f} s; both {max(chains_t, ct_t):.2f} s. From the first "
          f"DELETE: their addresses out of the group's set {members_t:.2f} s, chains and flows "
          f"{_since(max(chains_t, ct_t) - (t0 - t_start))} (load average {load} at the start, "
          f"after {waited:.0f} s for the machine to idle; times {how})")
    print("CPU time during the DELETEs (|True: this lab's):",
          cpu_report(cpu0, cpu_api, str(lab.state.lab_dir)))
    print("CPU time from the last DELETE to all gone:",
          cpu_report(cpu_api, cpu_times(), str(lab.state.lab_dir)))


def _since(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds > 0 else "gone before it"


def set_members(host_ns: str, group_id: str, driver: str) -> set[str]:
    """The IPv4 addresses in a remote group's set (ipset or nftables)."""
    if driver == "nftables":
        argv = ["nft", "list", "set", "inet", "neutrino", f"rg4-{group_id}"]
    else:
        argv = ["ipset", "list", f"NIPv4{group_id}"[:31]]
    text = ns.run(argv, netns=host_ns, check=False)
    return set(re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", text))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--transport", choices=("inproc", "rabbit"), default="rabbit")
    ap.add_argument("--keep-logs", help="copy the lab logs to this directory")
    ap.add_argument("--firewall-driver", choices=("iptables", "nftables"), default="iptables")
    ap.add_argument("--iptables-backend", choices=IPTABLES_BACKENDS, default="auto",
                    help="[securitygroup] iptables_backend of the iptables driver")
    ap.add_argument("--deletes", type=int, default=1000, help="ports deleted in phase 9")
    ap.add_argument("--deletes-only", action="store_true",
                    help="after wiring, skip phases 4-8 and 10 (restarts, one rule, memory)")
    ap.add_argument("--keep-taps", action="store_true",
                    help="phase 9 (with --deletes-only): delete the ports with their taps "
                         "still plugged, instead of unplugging them first as Nova does")
    ap.add_argument("--profile", metavar="PREFIX",
                    help="py-spy the server and agents during phase 9 into PREFIX-*.txt")
    args = ap.parse_args()
    n = args.ports
    extra = {} if args.firewall_driver == "iptables" else {
        "firewall_driver": args.firewall_driver}
    # what l2_fw_kernel reads: the iptables driver by its backend's tools
    driver = args.firewall_driver
    if driver == "iptables" and args.iptables_backend != "auto":
        extra["iptables_backend"] = args.iptables_backend
        driver = f"iptables-{args.iptables_backend}"
    with throwaway_lab(1, args.transport, keep_logs=args.keep_logs, **extra) as lab:
        api = lab.api
        print(f"firewall driver: {args.firewall_driver}"
              + (f", iptables_backend {args.iptables_backend}" if driver != args.firewall_driver
                 else ""))
        rss_idle = rss_kib(lab.agent_pid("host1")) if args.transport == "rabbit" else 0
        nets = []
        for k in range(-(-n // PER_NETWORK)):
            nets.append(api.create_network("scale" if k == 0 else f"scale{k}",
                                           network_type="vxlan"))
            api.create_subnet(nets[-1]["id"], f"10.{64 + k}.0.0/20")
        t0 = time.monotonic()
        ports = []
        for start in range(0, n, 100):
            body = {"ports": [{"network_id": nets[i // PER_NETWORK]["id"],
                               "binding:host_id": "host1",
                               "device_owner": "compute:lab", "name": f"s{i}"}
                              for i in range(start, min(start + 100, n))]}
            ports += api.request("POST", "/v2.0/ports", body)["ports"]
        ids = [p["id"] for p in ports]
        print(f"{n} ports created through the API in {time.monotonic() - t0:.1f} s")

        stop_agent(lab)
        host_ns = lab.state.host_netns("host1")
        with Netlink(host_ns) as nl:          # from scratch: no bridge, no vxlan device
            for net in nets:
                nl.delete_link("brq" + net["id"][:11])
                nl.delete_link(f"vxlan-{net['provider:segmentation_id']}")
        t0 = time.monotonic()
        make_taps(lab, "host1", ids)
        print(f"{n} taps plugged (veth pairs) in {time.monotonic() - t0:.1f} s")

        before = full_syncs(lab, n)
        t0 = time.monotonic()
        start_agent(lab)
        t_started = time.monotonic() - t0
        wired = wait_count(lab, nets, "ACTIVE", n) + t_started
        _, line = wait_full_sync(lab, before, n)
        print(f"wired from scratch: all {n} ACTIVE {wired:.2f} s after agent start "
              f"(process start {t_started:.2f} s); agent: {line}")
        if args.deletes_only:
            delete_phase(lab, ports, args.deletes, driver, args.profile, args.keep_taps)
            return

        before = full_syncs(lab, n)
        stop_agent(lab)
        t0 = time.monotonic()
        start_agent(lab)
        t_started = time.monotonic() - t0
        resync, line = wait_full_sync(lab, before, n)
        print(f"restart, ports still ACTIVE: first full resync done {resync + t_started:.2f} s "
              f"after agent start; agent: {line}")

        # as upstream leaves them after a restart: the server believes all DOWN
        from neutrino.rpc.bus import make_transport
        from neutrino.rpc.client import ServerClient
        stop_agent(lab)
        if lab.state.transport == "inproc":
            start_agent(lab)          # the server lives in the runtime; its agent wires at once
            print("(inproc: the DOWN variant needs a separate server; skipped)")
            return
        bus = make_transport(lab.state.transport_url)
        try:
            ServerClient(bus, "host1", lab.state.control_exchange).update_device_status(down=ids)
            wait_count(lab, nets, "DOWN", n)
        finally:
            bus.close()
        t0 = time.monotonic()
        start_agent(lab)
        t_started = time.monotonic() - t0
        back = wait_count(lab, nets, "ACTIVE", n) + t_started
        print(f"restart with all {n} reported DOWN: all ACTIVE again {back:.2f} s after agent "
              f"start (process start {t_started:.2f} s)")
        security_group_phases(lab, nets, ports, args.deletes, rss_idle, driver,
                              profile=args.profile)


if __name__ == "__main__":
    main()
