"""Daemon supervision inside a namespace: start, adopt, HUP, stop by PID."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from neutrino.dataplane import process
from neutrino.dataplane.process import Daemon, ProcessError

pytestmark = pytest.mark.root

# Counts SIGHUPs into a file, so the test can see a reload arrive.
_HUP_COUNTER = r"""
import signal, sys, time
out = sys.argv[1]
n = 0
def hup(*_):
    global n
    n += 1
    open(out, "w").write(str(n))
signal.signal(signal.SIGHUP, hup)
open(out + ".ready", "w").close()
while True:
    time.sleep(0.05)
"""


def _wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_daemon_lifecycle_in_namespace(netns, tmp_path):
    name = netns()
    counter = tmp_path / "hups"
    pidfile = tmp_path / "d.pid"
    d = Daemon([sys.executable, "-c", _HUP_COUNTER, str(counter)], pidfile=pidfile,
               netns=name, cmdline_match=str(counter), log_file=tmp_path / "d.log")
    # ready once its SIGHUP handler is installed (a HUP before that kills it)
    pid = d.start(ready=lambda: os.path.exists(f"{counter}.ready"))
    try:
        assert process.read_pidfile(pidfile) == pid
        assert d.is_running()
        assert process.is_running(pidfile, str(counter), netns=name)
        # it really lives in the namespace
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{name}").st_ino
        # another supervisor (agent restart) adopts instead of starting a second one
        again = Daemon([sys.executable, "-c", _HUP_COUNTER, str(counter)], pidfile=pidfile,
                       netns=name, cmdline_match=str(counter))
        assert again.start() == pid
        assert d.reload()
        assert _wait_for(lambda: counter.exists() and counter.read_text() == "1")
    finally:
        assert d.stop()
    assert not os.path.exists(pidfile)
    assert process.pid_cmdline(pid) is None
    assert not d.stop()  # nothing left to stop


def test_reused_pid_is_not_mistaken(tmp_path):
    pidfile = tmp_path / "x.pid"
    process.write_pidfile(pidfile, os.getpid())  # a live pid that is not our daemon
    assert not process.is_running(pidfile, "dnsmasq --conf-file=/nonexistent")
    assert not process.signal_process(pidfile, "dnsmasq --conf-file=/nonexistent", signal.SIGTERM)
    assert not process.stop_process(pidfile, "dnsmasq --conf-file=/nonexistent")
    assert not pidfile.exists()  # stale pid file removed, process untouched


def test_wrong_namespace_is_not_adopted(netns, tmp_path):
    a, b = netns("a"), netns("b")
    pidfile = tmp_path / "s.pid"
    marker = str(tmp_path / "marker")
    d = Daemon([sys.executable, "-c", "import time; time.sleep(30)", marker],
               pidfile=pidfile, netns=a, cmdline_match=marker)
    d.start()
    try:
        assert process.is_running(pidfile, marker, netns=a)
        assert not process.is_running(pidfile, marker, netns=b)
    finally:
        d.stop()


def test_start_failure_is_reported(tmp_path):
    d = Daemon([sys.executable, "-c", "import sys; sys.exit(3)"], pidfile=tmp_path / "f.pid",
               log_file=tmp_path / "f.log")
    with pytest.raises(ProcessError, match="exited with 3"):
        d.start()


def test_self_daemonizing_process_writes_own_pidfile(netns, tmp_path):
    name = netns()
    pidfile = tmp_path / "dm.pid"
    marker = str(tmp_path / "dm-marker")
    # parent forks a child that writes the pid file and keeps running; parent exits
    code = ("import os,sys,time\n"
            "if os.fork(): sys.exit(0)\n"
            "os.setsid()\n"
            "open(sys.argv[1],'w').write(str(os.getpid()))\n"
            "time.sleep(30)\n")
    d = Daemon([sys.executable, "-c", code, str(pidfile), marker], pidfile=pidfile, netns=name,
               cmdline_match=marker, writes_own_pidfile=True)
    pid = d.start()
    try:
        assert pid == process.read_pidfile(pidfile)
        assert d.is_running()
    finally:
        assert d.stop()
    assert _wait_for(lambda: process.pid_cmdline(pid) is None)
