"""The L3 agent's HA routers: one supervised keepalived per router, and the
VRRP states it reports to the server.

Files, per router, under `ha_confs_path` (default <state_path>/ha_confs):
  <router_id>/keepalived.conf   rendered by neutrino.agent.l3.keepalived
  <router_id>/keepalived.pid    the main process (-p), <router_id>/vrrp.pid (-r)
  <router_id>/notify.sh         run by keepalived on each transition; writes
  <router_id>/state             MASTER | BACKUP | FAULT | STOP
  <router_id>/keepalived.log

keepalived runs in the router's namespace in the foreground (-n) under
neutrino's supervisor, in its own session, so it outlives an agent restart:
a restarted agent finds it by its pid file and command line and, when the
config it would write is the one on disk, leaves it alone (no failover).
A changed config is rewritten and keepalived is sent SIGHUP (it keeps its
state). It is stopped before its namespace goes.

State detection: the notify script writes the state file; a watcher thread
stats the state files of the HA routers every `poll` seconds (a stat per
router, no netlink socket per namespace) and casts `update_ha_routers_states`
with the states that changed (everything again after a full sync).

Two ways a host comes back, and why neither may take the router back:
  * its processes were killed (power loss): the namespace may still hold the
    VIPs the dead master had; they are removed before a fresh keepalived
    starts (BACKUP; it adds them again only if it becomes master);
  * it was frozen (SIGSTOP, a hung host) for longer than a standby waits
    before taking over: its keepalived resumes as a MASTER that has missed
    the takeover, and two masters of equal priority settle by address, not
    by who came back. The watcher sees the gap in its own polling and
    restarts the keepalived of every router this host was master of (a
    graceful stop, so it comes back BACKUP and sees the new master).
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from neutrino.agent.l3 import keepalived as kc
from neutrino.agent.l3.model import Router
from neutrino.dataplane.netlink import Netlink
from neutrino.dataplane.process import Daemon

LOG = logging.getLogger(__name__)
KEEPALIVED = "keepalived"


class HaRouters:
    def __init__(self, confs_path: str | os.PathLike[str], opts: kc.VrrpOptions,
                 report: Callable[[dict[str, str]], None], poll: float = 0.25,
                 binary: str = KEEPALIVED):
        self.root = Path(confs_path)
        self.opts = opts
        self.report = report
        self.poll = poll
        self.binary = binary
        self._lock = threading.Lock()
        self._watched: set[str] = set()
        self._netns: dict[str, str] = {}      # router id -> its namespace (restarts)
        self._instances: dict = {}            # router id -> its HaInstance
        self._reported: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ files

    def dir(self, router_id: str) -> Path:
        return self.root / router_id

    def _daemon(self, router_id: str, netns: str | None) -> Daemon:
        d = self.dir(router_id)
        conf = d / "keepalived.conf"
        return Daemon([self.binary, "-P", "-n", "-l", "-f", conf, "-p", d / "keepalived.pid",
                       "-r", d / "vrrp.pid"], d / "keepalived.pid", netns=netns,
                      cmdline_match=f"-f {conf}", log_file=d / "keepalived.log",
                      writes_own_pidfile=True)    # it checks that file at start

    def pid(self, router_id: str, netns: str | None = None) -> int | None:
        return self._daemon(router_id, netns).pid

    def state(self, router_id: str) -> str | None:
        """The router's ha_state on this host as keepalived last wrote it."""
        with contextlib.suppress(OSError):
            return kc.ha_state((self.dir(router_id) / "state").read_text())
        return None

    def known(self) -> set[str]:
        with contextlib.suppress(OSError):
            return {p.name for p in self.root.iterdir() if p.is_dir()}
        return set()

    # ------------------------------------------------------------ converge

    def ensure(self, router: Router, netns: str) -> bool:
        """keepalived for `router` running with its current config; True if
        anything was started or reloaded."""
        inst = router.ha_instance()
        if inst is None:
            return self.stop(router.id, netns, forget_state=False)
        d = self.dir(router.id)
        d.mkdir(parents=True, exist_ok=True)
        script = d / "notify.sh"
        body = kc.notify_script(str(d / "state"))
        if not script.exists() or script.read_text() != body:
            script.write_text(body)
            script.chmod(0o755)
        conf = d / "keepalived.conf"
        text = kc.render(inst, self.opts, str(script))
        old = conf.read_text() if conf.exists() else None
        daemon = self._daemon(router.id, netns)
        running = daemon.pid is not None
        with self._lock:
            self._watched.add(router.id)
            self._netns[router.id] = netns
            self._instances[router.id] = inst
        if old == text and running:
            return False
        if old != text:
            tmp = conf.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, conf)
        if running:
            LOG.info("router %s: keepalived config changed, reloading", router.id)
            daemon.reload()
        else:
            clear_vips(netns, inst)      # a killed master's leftovers
            (d / "state").write_text("BACKUP\n")
            daemon.start(settle=0.2)
            LOG.info("router %s: keepalived started (pid %s)", router.id, daemon.pid)
        return True

    def stop(self, router_id: str, netns: str | None = None, forget_state: bool = True) -> bool:
        """Stop the router's keepalived (before its namespace goes)."""
        with self._lock:
            self._watched.discard(router_id)
            self._reported.pop(router_id, None)
        d = self.dir(router_id)
        if not d.exists():
            return False
        stopped = self._daemon(router_id, None).stop()
        if forget_state:
            shutil.rmtree(d, ignore_errors=True)
        return stopped

    # ------------------------------------------------------------ states

    def watch(self, routers: set[str]) -> None:
        """The HA routers whose states are reported (after each sync)."""
        with self._lock:
            self._watched = set(routers)
            for rid in set(self._reported) - self._watched:
                del self._reported[rid]

    def changes(self, full: bool = False) -> dict[str, str]:
        with self._lock:
            watched = sorted(self._watched)
        out = {}
        for rid in watched:
            state = self.state(rid)
            if state is None:
                continue
            with self._lock:
                if full or self._reported.get(rid) != state:
                    self._reported[rid] = state
                    out[rid] = state
        return out

    def report_changes(self, full: bool = False) -> None:
        changes = self.changes(full)
        if changes:
            LOG.info("HA router states: %s", changes)
            self.report(changes)

    def start(self) -> HaRouters:
        self._thread = threading.Thread(target=self._loop, name="l3-ha-states", daemon=True)
        self._thread.start()
        return self

    def stop_watching(self) -> None:
        self._stop.set()

    def freeze_gap(self) -> float:
        """A polling gap longer than this was a freeze a standby noticed (its
        master-down interval is about three adverts), not a scheduling hiccup."""
        return max(3 * float(self.opts.advert_int) + 1.0, 5.0)

    def restart_masters(self) -> list[str]:
        """After a freeze: keepalived of the routers this host was master of
        starts again as BACKUP (see the module's docstring)."""
        with self._lock:
            todo = [(rid, self._netns.get(rid)) for rid in sorted(self._watched)]
        done = []
        for rid, netns in todo:
            if netns is None or self.state(rid) != "active":
                continue
            daemon = self._daemon(rid, netns)
            if daemon.pid is None:
                continue
            LOG.warning("router %s: this host was frozen while master: keepalived restarts "
                        "as backup", rid)
            daemon.stop()
            router_conf = self._instances.get(rid)
            if router_conf is not None:
                clear_vips(netns, router_conf)
            (self.dir(rid) / "state").write_text("BACKUP\n")
            daemon.start(settle=0.2)
            done.append(rid)
        return done

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.poll):
            now = time.monotonic()
            gap, last = now - last, now
            try:
                if gap > self.freeze_gap():
                    self.restart_masters()
                self.report_changes()
            except Exception as exc:  # noqa: BLE001 - the next poll tries again
                LOG.warning("HA state report failed: %s", exc)
                with self._lock:
                    self._reported.clear()


def clear_vips(netns: str, inst) -> None:
    """Remove what only a master may hold (VIPs, virtual routes) from a
    namespace whose keepalived is not running."""
    from neutrino.agent.l3.keepalived import primary_vip
    wanted = {(cidr, dev) for cidr, dev in inst.vips} | {(primary_vip(inst.vr_id),
                                                           inst.interface)}
    with Netlink(netns) as nl:
        for cidr, dev in sorted(wanted):
            with contextlib.suppress(Exception):
                if cidr in nl.addresses(dev):
                    nl.del_address(dev, cidr)
        for dest, via, _dev in inst.routes:
            with contextlib.suppress(Exception):
                if any(r.dst == dest and r.gateway == via for r in nl.routes()):
                    nl.del_route(dest, gateway=via)


def stop_all(confs_path: str | os.PathLike[str]) -> list[str]:
    """Stop every keepalived with its files under `confs_path` (by verified
    PID; `neutrino lab down`), before their namespaces go."""
    ha = HaRouters(confs_path, kc.VrrpOptions(), report=lambda _states: None)
    return [rid for rid in sorted(ha.known()) if ha.stop(rid)]
