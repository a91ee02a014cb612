"""A small supervisor for long-running daemons (dnsmasq, haproxy, lab servers)
living in a network namespace.

The pid file is the source of truth, so an agent that restarts can adopt the
daemons it started earlier without disturbing them. A pid is trusted only if
/proc/<pid>/cmdline still contains an expected substring (pids are reused),
the process is not a zombie, and, when a netns is given, the process is in it.
Processes are only ever signalled by PID, after that check.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from neutrino.dataplane import netns as _netns


class ProcessError(RuntimeError):
    """A daemon failed to start, or stop, as asked."""


def read_pidfile(pidfile: str | os.PathLike[str]) -> int | None:
    try:
        text = Path(pidfile).read_text().strip()
    except (FileNotFoundError, PermissionError):
        return None
    try:
        pid = int(text.split()[0]) if text else 0
    except ValueError:
        return None
    return pid if pid > 0 else None


def write_pidfile(pidfile: str | os.PathLike[str], pid: int) -> None:
    path = Path(pidfile)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, path)  # atomic: readers never see a half-written pid


def pid_cmdline(pid: int) -> list[str] | None:
    """argv of a live, non-zombie process; None if it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # stat: "pid (comm) S ..."; comm may contain spaces/parens, so split at
    # the last ')'.
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
    if state in ("Z", "X") or not raw:
        return None
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]


def pid_netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _matches(pid: int, expected: str, netns: str | None) -> bool:
    argv = pid_cmdline(pid)
    if argv is None or expected not in " ".join(argv):
        return False
    if netns is not None:
        try:
            want = os.stat(_netns.netns_path(netns)).st_ino
        except OSError:
            return False
        return pid_netns_inode(pid) == want
    return True


def is_running(pidfile: str | os.PathLike[str], expected_cmdline_substring: str,
               netns: str | None = None) -> bool:
    """True if the pid file names a live process whose command line contains
    `expected_cmdline_substring` (and that lives in `netns`, if given)."""
    pid = read_pidfile(pidfile)
    return pid is not None and _matches(pid, expected_cmdline_substring, netns)


def running_pid(pidfile: str | os.PathLike[str], expected_cmdline_substring: str,
                netns: str | None = None) -> int | None:
    pid = read_pidfile(pidfile)
    if pid is not None and _matches(pid, expected_cmdline_substring, netns):
        return pid
    return None


def _reap(pid: int) -> None:
    # Our own children stay zombies until waited for; others are not ours to reap.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _wait_gone(pid: int, expected: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not _matches(pid, expected, None):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def signal_process(pidfile: str | os.PathLike[str], expected_cmdline_substring: str,
                   sig: int = signal.SIGHUP, netns: str | None = None) -> bool:
    """Send `sig` to the verified pid; False if nothing matching is running."""
    pid = running_pid(pidfile, expected_cmdline_substring, netns)
    if pid is None:
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def stop_process(pidfile: str | os.PathLike[str], expected_cmdline_substring: str,
                 timeout: float = 5.0, netns: str | None = None,
                 remove_pidfile: bool = True) -> bool:
    """SIGTERM the verified pid, SIGKILL after `timeout`. True if something was
    stopped. A stale pid file (no matching process) is just removed."""
    pid = running_pid(pidfile, expected_cmdline_substring, netns)
    stopped = False
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, expected_cmdline_substring, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not _wait_gone(pid, expected_cmdline_substring, timeout):
                raise ProcessError(f"pid {pid} survived SIGKILL")
        stopped = True
    if remove_pidfile:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pidfile)
    return stopped


class Daemon:
    """One supervised daemon: argv, pid file, namespace.

    The daemon must stay in the foreground (dnsmasq -k, haproxy -db, ...)
    unless `writes_own_pidfile` is set, in which case we wait for the daemon
    to write its pid file (classic double-forking daemons). It is started in
    its own session so signals aimed at the agent do not reach it and it
    survives an agent restart.
    """

    def __init__(self, argv: Sequence[str], pidfile: str | os.PathLike[str],
                 netns: str | None = None, cmdline_match: str | None = None,
                 log_file: str | os.PathLike[str] | None = None,
                 env: dict[str, str] | None = None, writes_own_pidfile: bool = False):
        self.argv = [str(a) for a in argv]
        self.pidfile = Path(pidfile)
        self.netns = netns
        # Default: the whole command line, the strictest match that still
        # works for daemons that do not rewrite their argv.
        self.cmdline_match = cmdline_match or " ".join(self.argv)
        self.log_file = Path(log_file) if log_file else None
        self.env = env
        self.writes_own_pidfile = writes_own_pidfile
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        if self._popen is not None:
            self._popen.poll()  # reap our own child if it died
        return running_pid(self.pidfile, self.cmdline_match, self.netns)

    def is_running(self) -> bool:
        return self.pid is not None

    def start(self, wait: float = 5.0, ready: Callable[[], bool] | None = None,
              settle: float = 0.1) -> int:
        """Start the daemon, or adopt the one already running. Returns its pid.

        A freshly started daemon must still be alive `settle` seconds after
        spawn (daemons that reject their config exit within milliseconds,
        and their pid is briefly "running"). With `ready`, also wait (up to
        `wait` s) until ready() is true, e.g. until its port accepts
        connections or its signal handlers are installed."""
        pid = self.pid
        if pid is not None:
            return pid
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile)  # stale
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        out: int | object = subprocess.DEVNULL
        log_fh = None
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            log_fh = open(self.log_file, "ab")  # noqa: SIM115 - closed below
            out = log_fh
        try:
            with _netns.in_netns(self.netns):
                self._popen = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                    env=self.env, start_new_session=True, close_fds=True)
        except OSError as exc:
            raise ProcessError(f"cannot start {self.argv[0]}: {exc}") from exc
        finally:
            if log_fh is not None:
                log_fh.close()
        if not self.writes_own_pidfile:
            write_pidfile(self.pidfile, self._popen.pid)
        started = time.monotonic()
        deadline = started + wait
        while True:
            pid = self.pid
            settled = time.monotonic() - started >= settle
            if pid is not None and settled and (ready is None or ready()):
                return pid
            rc = self._popen.poll()
            if rc is not None and (rc != 0 or not self.writes_own_pidfile):
                raise ProcessError(f"{self.argv[0]} exited with {rc} at start"
                                   + (f"; see {self.log_file}" if self.log_file else ""))
            if time.monotonic() >= deadline:
                raise ProcessError(f"{self.argv[0]} did not come up within {wait}s")
            time.sleep(0.02)

    def reload(self) -> bool:
        """SIGHUP (dnsmasq re-reads its host files; haproxy -W reloads)."""
        return self.send_signal(signal.SIGHUP)

    def send_signal(self, sig: int) -> bool:
        return signal_process(self.pidfile, self.cmdline_match, sig, self.netns)

    def stop(self, timeout: float = 5.0) -> bool:
        stopped = stop_process(self.pidfile, self.cmdline_match, timeout, self.netns)
        if self._popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=0.5 if stopped else 0)
            self._popen = None
        return stopped

    def __repr__(self) -> str:
        return f"Daemon({self.argv[0]!r}, pidfile={str(self.pidfile)!r}, netns={self.netns!r})"

