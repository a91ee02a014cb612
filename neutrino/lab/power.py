"""Pulling the plug on a lab host: `neutrino lab host stop|start HOST`.

stop  every process of the host stops running -- its agents and what they
      started (dnsmasq, keepalived, haproxy, metadata proxies): every process
      whose network namespace is the host's or one of its agents'
      (<prefix><host>-q...) -- and the host's underlay links go down (the
      underlay ends h<i>-eth*, so the host sees NO-CARRIER, as with a pulled
      cable). The server hears nothing more from its agents: after
      agent_down_time they are dead and failover starts.
        freeze (default): SIGSTOP, by PID. The host hangs as it is.
        kill: SIGKILL, by PID: a power loss; the kernel state (namespaces,
              addresses) stays, as the lab cannot reboot a namespace.
start freeze: SIGCONT to exactly the PIDs stopped, then the links come up;
      the agents see the gap and resync fully (neutrino.agent.threads).
      kill: the host's agent processes start again, and once they report
      alive the links come up (a host boots, then joins the network), so
      what they restore (keepalived starts as backup) is in place before
      the host is reachable.

Only rabbit labs: an inproc lab's agents are threads of the runtime process.
What was stopped is recorded in <host_dir>/power.json, so another process
(`neutrino lab host start`) can bring the host back, and `lab down` resumes
a frozen host before stopping its processes.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import time
from pathlib import Path

from neutrino.dataplane import netns as _netns
from neutrino.dataplane.netlink import Netlink
from neutrino.lab.state import LabState
from neutrino.lab.topology import TUNNEL_NIC

MODES = ("freeze", "kill")


def record_path(state: LabState, host: str) -> Path:
    return state.host_dir(host) / "power.json"


def stopped(state: LabState, host: str) -> dict | None:
    """The record of a stopped host ({"mode", "pids", "stopped_at"}), or None."""
    try:
        return json.loads(record_path(state, host).read_text())
    except (FileNotFoundError, ValueError):
        return None


def host_namespaces(state: LabState, host: str) -> list[str]:
    """The host's namespace and those its agents made (they carry the
    host's namespace_prefix, <prefix><host>-)."""
    own = f"{state.prefix}{host}-"
    return [state.host_netns(host)] + sorted(
        n for n in _netns.list_netns() if n.startswith(own))


def _ns_ids(names: list[str]) -> set[tuple[int, int]]:
    ids = set()
    for name in names:
        with contextlib.suppress(OSError):
            st = os.stat(_netns.netns_path(name))
            ids.add((st.st_dev, st.st_ino))
    return ids


def processes_in(names: list[str]) -> list[int]:
    """PIDs of the processes whose (main thread's) network namespace is one
    of `names`; never this process."""
    wanted = _ns_ids(names)
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            st = os.stat(f"/proc/{entry}/ns/net")
            if (st.st_dev, st.st_ino) in wanted:
                pids.append(int(entry))
    return sorted(pids)


def underlay_links(state: LabState, host: str) -> list[str]:
    """The underlay ends of the host's NICs (topology: h<i>-<nic>)."""
    info = state.host_info(host)
    return [f"h{info.index}-{nic}" for nic in [TUNNEL_NIC, *info.nics.values()]]


def set_links(state: LabState, host: str, up: bool) -> None:
    with Netlink(state.topology().underlay_netns) as under:
        for link in underlay_links(state, host):
            (under.set_up if up else under.set_down)(link)


def stop(state: LabState, host: str, mode: str = "freeze") -> dict:
    """Stop `host` (see the module's docstring); returns the record."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if host not in state.host_names():
        raise ValueError(f"{host} is not a host of this lab")
    if state.transport == "inproc":
        raise ValueError("host stop needs a rabbit lab (inproc agents are threads of the "
                         "runtime process)")
    if stopped(state, host) is not None:
        raise ValueError(f"{host} is already stopped")
    sig = signal.SIGSTOP if mode == "freeze" else signal.SIGKILL
    pids = processes_in(host_namespaces(state, host))
    record = {"mode": mode, "pids": [], "stopped_at": time.time()}
    # recorded first: whatever fails next, `start` (or `lab down`) finds them
    record_path(state, host).write_text(json.dumps(record))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
            record["pids"].append(pid)
    record_path(state, host).write_text(json.dumps(record))
    if mode == "kill":      # a power loss is instant: nothing of the host runs after it
        _wait_dead(record["pids"], record["stopped_at"])
    set_links(state, host, up=False)
    return record


def _wait_dead(pids: list[int], stopped_at: float, timeout: float = 10.0) -> None:
    """Until each killed PID is a zombie or gone. SIGKILL returns before
    the process has exited: a dying dnsmasq was still running ('R') right
    after it (CI, session 12)."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while (fields := _stat(pid)) is not None and fields[0] not in ("Z", "X") \
                and _started_by(fields, stopped_at):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (state first); None
    when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _started_by(fields: list[str], stopped_at: float) -> bool:
    """The process started before `stopped_at` (not a PID reused since)."""
    try:
        return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK") <= stopped_at + 1
    except (OSError, ValueError, IndexError, StopIteration):
        return False


@functools.cache
def _boot_time() -> float:
    return next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime"))


def _same_process(pid: int, stopped_at: float) -> bool:
    """Still the process we stopped (not a PID reused since)?"""
    fields = _stat(pid)
    return fields is not None and _started_by(fields, stopped_at)


def resume_processes(state: LabState, host: str) -> list[int]:
    """SIGCONT to the frozen PIDs of `host` (those still the same process)."""
    record = stopped(state, host) or {}
    resumed = []
    if record.get("mode") == "freeze":
        for pid in record.get("pids", ()):
            if _same_process(pid, record.get("stopped_at", 0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
                    resumed.append(pid)
    return resumed


def forget(state: LabState, host: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        record_path(state, host).unlink()


def host_daemons(state: LabState, host: str) -> list:
    """The agent processes the lab runs on `host`."""
    from neutrino.lab.runtime import (agent_daemon, dhcp_agent_daemon, l3_agent_daemon,
                                      lb_agent_daemon, metadata_agent_daemon)
    daemons = [agent_daemon(state, host)]
    if state.l3_agent_ini_path(host).exists():
        daemons.append(l3_agent_daemon(state, host))
    if host in state.dhcp_hosts():
        daemons.append(dhcp_agent_daemon(state, host))
    if host in state.metadata_hosts():
        daemons.append(metadata_agent_daemon(state, host))
    if host in state.lb_hosts():
        daemons.append(lb_agent_daemon(state, host))
    return daemons


def wait_host_agents_report(ctl, host: str, since: float, timeout: float) -> None:
    """Until every agent of `host` the server knows has reported after
    `since` (epoch seconds) and is alive."""
    from datetime import datetime, timezone
    deadline = time.monotonic() + timeout
    late: list[str] = []
    while time.monotonic() < deadline:
        try:
            agents = [a for a in ctl.api.list("agents", host=host)]
        except Exception:  # noqa: BLE001 - the API restarting: ask again
            agents = []
        late = [a["agent_type"] for a in agents if not a["alive"] or datetime.strptime(
            a["heartbeat_timestamp"], "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=timezone.utc).timestamp() < since - 1]
        if agents and not late:
            return
        time.sleep(0.2)
    raise TimeoutError(f"agents of {host} did not report within {timeout:.0f} s: {late}")


def start(ctl, host: str, timeout: float = 60.0) -> dict:
    """Bring a stopped host back (see the module's docstring); returns
    {"mode", "resumed": [pids], "started": [pids]}. A host not stopped:
    its links are set up and nothing else happens."""
    state = ctl.state
    if host not in state.host_names():
        raise ValueError(f"{host} is not a host of this lab")
    record = stopped(state, host)
    if record is None:
        set_links(state, host, up=True)
        return {"mode": None, "resumed": [], "started": []}
    since = time.time()
    resumed, started = [], []
    if record["mode"] == "freeze":
        resumed = resume_processes(state, host)
    else:
        for daemon in host_daemons(state, host):
            if daemon.pid is None:
                started.append(daemon.start(wait=30))
    # the agents resync over the bus (its relay needs no underlay) before
    # the host is reachable again
    try:
        wait_host_agents_report(ctl, host, since, timeout)
    finally:
        set_links(state, host, up=True)
        forget(state, host)
    return {"mode": record["mode"], "resumed": resumed, "started": started}


def resume_all(state: LabState) -> None:
    """`lab down`: frozen processes cannot act on SIGTERM; resume them."""
    for host in state.host_names():
        with contextlib.suppress(Exception):
            resume_processes(state, host)
