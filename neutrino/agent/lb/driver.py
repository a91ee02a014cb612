"""Observing and changing one load balancer's dataplane: its qlbaas-
namespace, the VIP veth, the files under <lbaas dir>/<lb-id>/ and its
haproxy.

haproxy runs in master-worker mode in the foreground (-W -db) under
neutrino's supervisor, which writes the master's pid file and recognises it
by its config path. A change is a SIGUSR2 to the master: it re-reads the
file, starts new workers on the listening sockets it holds and lets the old
workers finish their connections -- no connection is refused or cut. The
servers' health states are saved to servers.state first so a member known
DOWN stays DOWN across the reload. A config that haproxy -c rejects is never
written (the running haproxy keeps serving the last good one).
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from neutrino.agent import ns_port
from neutrino.agent.l3.router_ns import garp
from neutrino.agent.lb import stats as lbstats
from neutrino.agent.lb.model import NS_MARKER, LbObserved, Paths, namespace
from neutrino.agent.lb.plan import Op
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.dnsmasq import write_if_changed
from neutrino.dataplane.netlink import Netlink
from neutrino.dataplane.process import (Daemon, ProcessError, pid_cmdline, running_pid,
                                        stop_process)

LOG = logging.getLogger(__name__)


class ConfigRejected(ProcessError):
    """haproxy -c refused the generated configuration."""


class Driver:
    def __init__(self, lbaas_dir: str | Path, ns_prefix: str, host_netns: str | None = None,
                 binary: str = "haproxy", garp_count: int = 3):
        self.lbaas_dir = Path(lbaas_dir)
        self.ns_prefix = ns_prefix
        self.host_netns = host_netns          # where the taps (and the bridges) are
        self.binary = binary
        self.garp_count = garp_count
        self._procs: dict[str, Daemon] = {}   # kept: their Popen reaps a dead child

    def paths(self, lb_id: str) -> Paths:
        return Paths.of(self.lbaas_dir, lb_id)

    def netns(self, lb_id: str) -> str:
        return namespace(self.ns_prefix, lb_id)

    def daemon(self, lb_id: str) -> Daemon:
        proc = self._procs.get(lb_id)
        if proc is None:
            p = self.paths(lb_id)
            proc = Daemon([self.binary, "-W", "-db", "-f", str(p.conf)], p.pid,
                          netns=self.netns(lb_id), cmdline_match=f"-f {p.conf}",
                          log_file=p.log)
            self._procs[lb_id] = proc
        return proc

    def pid(self, lb_id: str) -> int | None:
        return self.daemon(lb_id).pid

    def taps(self) -> set[str]:
        return ns_port.host_taps(self.host_netns)

    def known(self) -> set[str]:
        """Load balancers with something of ours left (a namespace or a state
        dir): what a restarted agent must adopt or clean up."""
        marker = f"{self.ns_prefix}{NS_MARKER}"
        found = {name[len(marker):] for name in _netns.list_netns() if name.startswith(marker)}
        if self.lbaas_dir.is_dir():
            found |= {p.name for p in self.lbaas_dir.iterdir() if p.is_dir()}
        return found

    # ------------------------------------------------------------ observe

    def observe(self, lb_id: str, taps: set[str], dev: str | None,
                v6: bool = False) -> LbObserved:
        obs = LbObserved(taps=taps)
        ns = self.netns(lb_id)
        obs.netns_exists = _netns.exists(ns)
        if obs.netns_exists:
            obs.ns_devices, obs.addresses, present = ns_port.observe(ns, dev, v6)
            if present:
                # /proc, not pyroute2: a restarted agent observes every load balancer
                obs.default_gw = _ipv4_default_gateway(ns)
                if v6:
                    with Netlink(ns) as nl:
                        for route in nl.routes(family=socket.AF_INET6):
                            if route.dst == "::/0" and route.gateway:
                                obs.default_gw = route.gateway
        p = self.paths(lb_id)
        obs.has_dir = p.root.is_dir()
        try:
            obs.config = p.conf.read_text()
        except FileNotFoundError:
            obs.config = None
        try:
            obs.epoch = int(p.epoch.read_text().strip())
        except (FileNotFoundError, ValueError):
            obs.epoch = None
        obs.pid = self.pid(lb_id) if obs.netns_exists else None
        if obs.pid is None:
            stray = running_pid(p.pid, f"-f {p.conf}")
            if stray is not None and not self._in_netns(stray, ns):
                obs.stray_pid = stray
        return obs

    @staticmethod
    def _in_netns(pid: int, ns: str) -> bool:
        try:
            return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(_netns.netns_path(ns)).st_ino
        except OSError:
            return False

    def rows(self, lb_id: str) -> dict | None:
        """Parsed `show stat` of the load balancer's haproxy (None: not running)."""
        try:
            return lbstats.parse_stat(lbstats.query(self.paths(lb_id).sock))
        except OSError:
            return None

    # ------------------------------------------------------------ apply

    def check_config(self, text: str, path: Path) -> None:
        tmp = path.with_name(path.name + ".new")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        try:
            done = subprocess.run([self.binary, "-c", "-f", str(tmp)],
                                  capture_output=True, text=True, timeout=30)
        finally:
            tmp.unlink(missing_ok=True)
        if done.returncode != 0:
            alerts = [line for line in (done.stderr + done.stdout).splitlines()
                      if "ALERT" in line] or [f"exit status {done.returncode}"]
            detail = " ".join(" ".join(alerts).split())[:400]
            raise ConfigRejected(f"haproxy rejected the configuration: {detail}")

    def _save_server_state(self, lb_id: str) -> None:
        p = self.paths(lb_id)
        try:
            text = lbstats.query(p.sock, "show servers state")
        except OSError:
            return
        write_if_changed(p.state, text)

    def _ready(self, lb_id: str) -> bool:
        return self.rows(lb_id) is not None

    def worker_pid(self, lb_id: str) -> int | None:
        """The pid of the worker answering on the stats socket (`show info`)."""
        try:
            info = lbstats.query(self.paths(lb_id).sock, "show info")
        except OSError:
            return None
        for line in info.splitlines():
            if line.startswith("Pid:"):
                with contextlib.suppress(ValueError):
                    return int(line.split(":", 1)[1])
        return None

    def reload(self, lb_id: str, timeout: float = 10.0) -> None:
        """SIGUSR2 to the master, then wait until a new worker answers: the
        change is in effect when this returns (and the master is ready for
        the next one)."""
        old = self.worker_pid(lb_id)
        self._save_server_state(lb_id)
        if not self.daemon(lb_id).send_signal(signal.SIGUSR2):
            raise ProcessError(f"haproxy of load balancer {lb_id} is not running")
        deadline = time.monotonic() + timeout
        while self.worker_pid(lb_id) in (None, old):
            if time.monotonic() > deadline:
                # make the next pass write and reload again
                self.paths(lb_id).conf.unlink(missing_ok=True)
                raise ProcessError(f"haproxy of load balancer {lb_id} did not take the new "
                                   f"configuration within {timeout:g} s; see "
                                   f"{self.paths(lb_id).log}")
            time.sleep(0.01)
        LOG.info("haproxy for load balancer %s reloaded", lb_id)

    def announce(self, ns: str, dev: str, mac: str, ip: str, tap: str) -> None:
        """Gratuitous ARPs for a new VIP address, so neighbours that cached
        another MAC for it (a VIP address reused) learn the new one. Sent from
        a thread once the tap is on a bridge (the Linux bridge agent plugs it
        a moment later: ARPs sent before are lost), spaced 0.5, 1, 2 s apart
        as upstream's arping."""
        if self.garp_count <= 0:
            return

        def run() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    with Netlink(self.host_netns) as nl:
                        link = nl.link(tap)
                except Exception:  # noqa: BLE001 - the namespace may be gone
                    return
                if link is None:
                    return
                if link.master:
                    break
                time.sleep(0.1)
            gap = 0.0
            for _ in range(self.garp_count):
                time.sleep(gap)
                if not _netns.exists(ns):
                    return
                garp(ns, dev, mac, ip, 1)
                gap = max(0.5, gap * 2)
        threading.Thread(target=run, name=f"garp-{ip}", daemon=True).start()

    def apply(self, lb_id: str, ops: list[Op], vip=None) -> None:
        ns = self.netns(lb_id)
        p = self.paths(lb_id)
        for op in ops:
            kind = op[0]
            if kind == "create_netns":
                _netns.create(ns, exist_ok=True)
                with Netlink(ns) as nl:
                    nl.set_up("lo")
                # an IPv6 VIP must be usable at once: haproxy cannot bind a
                # tentative address (the port's address is unique by IPAM)
                for key in ("net.ipv6.conf.default.accept_dad", "net.ipv6.conf.all.accept_dad"):
                    with contextlib.suppress(OSError):
                        _netns.sysctl_set(key, "0", ns)
            elif kind in ns_port.PORT_OPS:
                ns_port.apply(op, ns, self.host_netns)
                if kind == "address" and op[1] == "add" and ":" not in op[3] and vip is not None:
                    self.announce(ns, op[2], vip.mac_address, op[3].split("/")[0], vip.tap)
            elif kind == "route":
                _, gateway, dst = op
                with Netlink(ns) as nl:
                    if gateway:
                        nl.add_route(dst, gateway=gateway)
                    else:
                        nl.del_route(dst)
            elif kind == "write_epoch":
                p.root.mkdir(parents=True, exist_ok=True)
                write_if_changed(p.epoch, f"{op[1]}\n")
            elif kind == "write_config":
                p.sock.parent.mkdir(parents=True, exist_ok=True)
                if not p.state.exists():     # an empty state (format 1): no warning
                    p.root.mkdir(parents=True, exist_ok=True)
                    p.state.write_text("1\n")
                self.check_config(op[1], p.conf)
                write_if_changed(p.conf, op[1])
            elif kind == "start":
                pid = self.daemon(lb_id).start(wait=10, settle=0.05,
                                               ready=lambda: self._ready(lb_id))
                LOG.info("haproxy for load balancer %s started (pid %d)", lb_id, pid)
            elif kind == "reload":
                self.reload(lb_id)
            elif kind == "stop_stray":
                stop_process(p.pid, f"-f {p.conf}")
                self._procs.pop(lb_id, None)
                LOG.warning("haproxy for load balancer %s ran outside its namespace: stopped",
                            lb_id)
            elif kind == "stop":
                self.daemon(lb_id).stop()
                self._procs.pop(lb_id, None)
                LOG.info("haproxy for load balancer %s stopped", lb_id)
            elif kind == "delete_netns":
                _netns.delete(ns, missing_ok=True)
            elif kind == "remove_dir":
                self._procs.pop(lb_id, None)
                shutil.rmtree(p.root, ignore_errors=True)
                p.sock.unlink(missing_ok=True)
            else:
                raise ValueError(f"unknown op {op!r}")


def _ipv4_default_gateway(ns: str) -> str | None:
    """The gateway of the namespace's IPv4 default route (main table), from
    /proc/thread-self/net/route read inside it."""
    with _netns.in_netns(ns):
        try:
            lines = Path("/proc/thread-self/net/route").read_text().splitlines()[1:]
        except OSError:
            return None
    for line in lines:
        fields = line.split()
        if len(fields) > 7 and fields[1] == "00000000" and fields[7] == "00000000" \
                and fields[2] != "00000000":
            return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    return None


def stray_pids(lbaas_dir: str | Path) -> list[int]:
    """Live haproxy processes whose config is under `lbaas_dir` (their pid
    file was lost)."""
    marker = f"{Path(lbaas_dir)}/"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if Path(f"/proc/{entry}/comm").read_text().strip() != "haproxy":
                continue
        except OSError:
            continue
        argv = pid_cmdline(int(entry))
        if argv and "-f" in argv and any(a.startswith(marker) and a.endswith(".conf")
                                         for a in argv):
            found.append(int(entry))
    return sorted(found)


def stop_all(lbaas_dir: str | Path) -> None:
    """Stop every haproxy started under `lbaas_dir` (by the verified PID of
    each pid file, then any whose pid file was lost): `lab down`, since a
    stopping agent leaves its load balancers serving for the next one."""
    lbaas_dir = Path(lbaas_dir)
    if not lbaas_dir.is_dir():
        return
    for root in sorted(p for p in lbaas_dir.iterdir() if p.is_dir()):
        paths = Paths(root)
        with contextlib.suppress(Exception):
            Daemon(["haproxy"], paths.pid, cmdline_match=f"-f {paths.conf}").stop()
    for pid in stray_pids(lbaas_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
