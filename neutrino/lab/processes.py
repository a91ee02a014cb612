"""The lab's processes, found and signalled by PID: the runtime (API server,
and agents when inproc), extra API servers (--servers N), each host's agents
(rabbit labs) and a whole host (neutrino.lab.power).

LabProcesses is a part of LabControl: it uses the control's `state`,
`_runtime`, `credentials()` and `_reset_api()`.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time

from neutrino.dataplane.process import Daemon
from neutrino.lab.api import NeutronApi
from neutrino.lab.errors import LabError
from neutrino.lab.runtime import (agent_daemon, dhcp_agent_daemon, l3_agent_daemon,
                                  lb_agent_daemon, metadata_agent_daemon)
from neutrino.lab.state import LabState


def _wait_exited(daemon: Daemon, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while daemon.pid is not None and time.monotonic() < deadline:
        time.sleep(0.02)


class LabProcesses:
    state: LabState

    # --- the runtime process ------------------------------------------------------
    def runtime_daemon(self) -> Daemon:
        return Daemon([sys.executable, "-m", "neutrino.lab.runtime", self.state.lab_dir],
                      pidfile=self.state.runtime_pidfile,
                      cmdline_match=f"neutrino.lab.runtime {self.state.lab_dir}",
                      log_file=self.state.server_dir / "runtime.stdout")

    def start_runtime(self, timeout: float = 90.0) -> int:
        """Start (or adopt) the runtime; returns once its API answers."""
        with contextlib.suppress(FileNotFoundError):
            self.state.runtime_file.unlink()
        self.state.server_dir.mkdir(parents=True, exist_ok=True)
        daemon = self.runtime_daemon()
        pid = daemon.start(wait=timeout)
        deadline = time.monotonic() + timeout
        while not self.state.runtime_file.exists():
            if daemon.pid is None:
                raise LabError(f"the lab runtime exited; see {self.state.runtime_log}")
            if time.monotonic() > deadline:
                raise LabError(f"the lab runtime did not come up; see {self.state.runtime_log}")
            time.sleep(0.05)
        self.state = LabState.load(self.state.lab_dir)   # the runtime recorded its port
        self._reset_api()
        return pid

    def _start_in_process(self) -> None:
        from neutrino.lab.runtime import LabRuntime
        self.state.server_dir.mkdir(parents=True, exist_ok=True)
        self._runtime = LabRuntime(self.state).start()
        self._reset_api()

    def runtime_pid(self) -> int | None:
        if self._runtime is not None:
            return os.getpid()
        return self.runtime_daemon().pid

    def kill_runtime(self, sig: int = signal.SIGKILL) -> None:
        if self._runtime is not None:
            raise LabError("the runtime runs in this process")
        pid = self.runtime_pid()
        if pid is None:
            raise LabError("the lab runtime is not running")
        os.kill(pid, sig)
        _wait_exited(self.runtime_daemon())

    # --- extra API servers (--servers N) ---------------------------------------------
    def server_daemon(self, name: str) -> Daemon:
        ini = self.state.server_ini_path(name)
        return Daemon([sys.executable, "-m", "neutrino.cli.server", "--config-file", str(ini)],
                      pidfile=self.state.server_dir / f"{name}.pid", cmdline_match=str(ini),
                      log_file=self.state.server_dir / f"{name}.stdout")

    def start_extra_servers(self, timeout: float = 90.0) -> None:
        """neutrino-server processes beside the runtime's, on the same
        database and broker (root namespace, 127.0.0.1, a free port each)."""
        urls = []
        for name in self.state.extra_server_names():
            # The free port is found by binding and releasing it: another
            # process may take it first. A server that dies at start is
            # started again on another port (twice at most).
            for _ in range(3):
                url = self._start_extra_server(name, timeout)
                if url is not None:
                    break
            else:
                raise LabError(f"API server {name} did not come up: " + self._server_log_tail())
            urls.append(url)
        self.state.extra["server_urls"] = urls
        self.state.save()

    def _start_extra_server(self, name: str, timeout: float) -> str | None:
        """Start one extra server on a free port; its URL once it answers,
        None if it died first."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        ini = self.state.server_ini_path(name)
        ini.touch(mode=0o600)     # keystone labs: it holds the admin password
        ini.write_text(self.state.server_ini(name, port))
        daemon = self.server_daemon(name)
        daemon.start(wait=timeout)
        url = f"http://127.0.0.1:{port}"
        api = NeutronApi(url, credentials=self.credentials("admin"))
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    api.list("networks")
                    return url
                except Exception:  # noqa: BLE001 - refused, reset, 5xx: not up yet
                    if daemon.pid is None:
                        return None
                    if time.monotonic() > deadline:
                        raise LabError(f"API server {url} did not come up: "
                                       + self._server_log_tail()) from None
                    time.sleep(0.2)
        finally:
            api.close()

    def _server_log_tail(self, lines: int = 15) -> str:
        """The end of the extra servers' output (the lab directory goes with down())."""
        out = []
        for path in sorted(self.state.server_dir.glob("server*.*")):
            if path.suffix in (".stdout", ".log"):
                out.append(f"--- {path.name}\n" + "\n".join(
                    path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out) or "no output"

    def server_pid(self, name: str) -> int | None:
        """PID of an extra API server ("server2", ...)."""
        return self.server_daemon(name).pid

    # --- agent processes (rabbit labs) ----------------------------------------------
    def _kill_agent(self, daemon: Daemon, what: str, host: str, sig: int) -> None:
        if self.state.transport == "inproc":
            raise LabError("inproc labs run agents inside the runtime: kill_runtime()")
        pid = daemon.pid
        if pid is None:
            raise LabError(f"no {what} process for {host}")
        os.kill(pid, sig)
        _wait_exited(daemon)

    def agent_pid(self, host: str) -> int | None:
        return agent_daemon(self.state, host).pid

    def kill_agent(self, host: str, sig: int = signal.SIGKILL) -> None:
        self._kill_agent(agent_daemon(self.state, host), "agent", host, sig)

    def start_agent(self, host: str) -> int:
        return agent_daemon(self.state, host).start(wait=30)

    def l3_agent_pid(self, host: str) -> int | None:
        return l3_agent_daemon(self.state, host).pid

    def kill_l3_agent(self, host: str, sig: int = signal.SIGKILL) -> None:
        """Signal `host`'s L3 agent process (rabbit labs), by its PID."""
        self._kill_agent(l3_agent_daemon(self.state, host), "L3 agent", host, sig)

    def start_l3_agent(self, host: str) -> int:
        return l3_agent_daemon(self.state, host).start(wait=30)

    def lb_agent_pid(self, host: str) -> int | None:
        return lb_agent_daemon(self.state, host).pid

    def kill_lb_agent(self, host: str, sig: int = signal.SIGKILL) -> None:
        """Signal `host`'s LB agent process (rabbit labs), by its PID; its
        haproxies live on (a restarted agent adopts them)."""
        self._kill_agent(lb_agent_daemon(self.state, host), "LB agent", host, sig)

    def start_lb_agent(self, host: str) -> int:
        return lb_agent_daemon(self.state, host).start(wait=30)

    def dhcp_agent_pid(self, host: str = "host1") -> int | None:
        return dhcp_agent_daemon(self.state, host).pid

    def kill_dhcp_agent(self, host: str = "host1", sig: int = signal.SIGKILL) -> None:
        """Signal `host`'s DHCP agent process (rabbit labs), by its PID;
        its dnsmasq processes live on."""
        self._kill_agent(dhcp_agent_daemon(self.state, host), "DHCP agent", host, sig)

    def start_dhcp_agent(self, host: str = "host1") -> int:
        return dhcp_agent_daemon(self.state, host).start(wait=30)

    # --- pulling the plug on a host (neutrino.lab.power) ----------------------------
    def stop_host(self, host: str, mode: str = "freeze") -> dict:
        """Freeze (SIGSTOP) or kill (SIGKILL) every process of `host`, by
        PID, and set its underlay links down, as a power loss would (rabbit
        labs); returns {"mode", "pids", "stopped_at"}."""
        from neutrino.lab import power
        try:
            return power.stop(self.state, host, mode)
        except ValueError as exc:
            raise LabError(str(exc)) from None

    def start_host(self, host: str, timeout: float = 60.0) -> dict:
        """Bring a stopped host back: resume (freeze) or restart (kill) its
        agents, wait until they report, then set its links up."""
        from neutrino.lab import power
        try:
            return power.start(self, host, timeout)
        except (ValueError, TimeoutError) as exc:
            raise LabError(str(exc)) from None

    def host_stopped(self, host: str) -> dict | None:
        """The stop record of `host` (mode, pids, stopped_at), None if running."""
        from neutrino.lab import power
        return power.stopped(self.state, host)

    # --- stopping them all (down) -----------------------------------------------------
    def stop_processes(self) -> None:
        """Stop the runtime, the extra servers and every host's agents
        (SIGTERM, by PID; a frozen host must be resumed first)."""
        state = self.state
        if self._runtime is not None:
            with contextlib.suppress(Exception):
                self._runtime.stop()
            self._runtime = None
        with contextlib.suppress(Exception):
            self.runtime_daemon().stop(timeout=10)
        for name in state.extra_server_names():
            with contextlib.suppress(Exception):
                self.server_daemon(name).stop(timeout=10)
        if state.transport == "inproc":
            return
        for host in state.host_names():
            for daemon in (agent_daemon, l3_agent_daemon, dhcp_agent_daemon,
                           metadata_agent_daemon, lb_agent_daemon):
                with contextlib.suppress(Exception):
                    daemon(state, host).stop(timeout=10)
