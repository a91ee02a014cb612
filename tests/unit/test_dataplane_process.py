"""neutrino.dataplane.process without namespaces (no root needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from neutrino.dataplane import process
from neutrino.dataplane.process import Daemon


def test_pidfile_round_trip(tmp_path):
    path = tmp_path / "sub" / "x.pid"
    assert process.read_pidfile(path) is None
    process.write_pidfile(path, 1234)
    assert path.read_text() == "1234\n"
    assert process.read_pidfile(path) == 1234
    path.write_text("garbage")
    assert process.read_pidfile(path) is None
    path.write_text("")
    assert process.read_pidfile(path) is None


def test_pid_cmdline_of_live_process_and_zombie():
    assert "python" in " ".join(process.pid_cmdline(os.getpid()))
    child = subprocess.Popen(["true"])
    # wait for the exit without reaping: the child is now a zombie, not "running"
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    assert process.pid_cmdline(child.pid) is None
    child.wait()


def test_daemon_start_adopt_stop(tmp_path):
    marker = str(tmp_path / "marker")
    argv = [sys.executable, "-c", "import time; time.sleep(60)", marker]
    d = Daemon(argv, pidfile=tmp_path / "d.pid", cmdline_match=marker)
    pid = d.start()
    try:
        assert process.is_running(tmp_path / "d.pid", marker)
        assert not process.is_running(tmp_path / "d.pid", "something-else")
        assert Daemon(argv, pidfile=tmp_path / "d.pid", cmdline_match=marker).start() == pid
        assert os.getsid(pid) == pid  # own session: agent signals do not reach it
    finally:
        assert d.stop(timeout=2)
    assert process.pid_cmdline(pid) is None
    assert not (tmp_path / "d.pid").exists()


def test_stop_escalates_to_sigkill(tmp_path):
    marker = str(tmp_path / "stubborn")
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
           "open(__import__('sys').argv[1] + '.ready', 'w').close(); time.sleep(60)"
    d = Daemon([sys.executable, "-c", code, marker], pidfile=tmp_path / "s.pid",
               cmdline_match=marker)
    pid = d.start(ready=lambda: os.path.exists(marker + ".ready"))
    t0 = time.monotonic()
    assert d.stop(timeout=0.3)
    assert time.monotonic() - t0 < 3
    assert process.pid_cmdline(pid) is None
