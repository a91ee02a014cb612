"""The metadata proxy: one haproxy per router namespace (or per DHCP
namespace of a network with isolated metadata), as upstream's
neutron.agent.metadata.driver starts it.

haproxy listens where instances send their metadata requests (9697 in a
qrouter- namespace, behind the REDIRECT of 169.254.169.254:80; or
169.254.169.254:80 in a qdhcp- namespace), sets X-Neutron-Router-ID or
X-Neutron-Network-ID (deleting the other one, so an instance cannot spoof
it), adds X-Forwarded-For (the instance's address) and forwards to the
metadata agent's unix socket. Files, as upstream:

    <state_path>/ns-metadata-proxy/<uuid>.conf
    <state_path>/external/pids/<uuid>.pid.haproxy

haproxy runs in the foreground (-db) under neutrino's supervisor, which
writes the pid file and recognises the process by its config path.
`ensure` is level-triggered: a running proxy with the right config is left
alone, a dead one is started again, a changed config restarts it.
"""
from __future__ import annotations

import grp
import logging
import contextlib
import os
import signal
import pwd
import threading
from dataclasses import dataclass
from pathlib import Path

from neutrino.dataplane import netns as _netns
from neutrino.dataplane.dnsmasq import write_if_changed
from neutrino.dataplane.process import Daemon

LOG = logging.getLogger(__name__)
CONFIG_DIR = "ns-metadata-proxy"
PID_DIR = "external/pids"
HAPROXY = "haproxy"


@dataclass(frozen=True)
class RateLimit:
    """[metadata_rate_limiting]: requests per source address and window."""
    base_window: int = 10
    base_limit: int = 10
    burst_window: int = 10
    burst_limit: int = 10

    @classmethod
    def from_config(cls, section) -> RateLimit | None:
        """None when disabled or not for IPv4 (the only metadata address
        served), as upstream enables it for exactly one IP version."""
        if section is None or not section.rate_limit_enabled:
            return None
        if [v.strip() for v in section.ip_versions] != ["4"]:
            LOG.warning("metadata rate limiting is for IPv4 only here (ip_versions = %s): "
                        "not enabled", ",".join(section.ip_versions))
            return None
        return cls(section.base_window_duration, section.base_query_rate_limit,
                   section.burst_window_duration, section.burst_query_rate_limit)


@dataclass(frozen=True)
class ProxySpec:
    """One proxy: for a router (router_id) or a network (network_id)."""
    uuid: str
    netns: str
    bind_host: str
    bind_port: int
    socket_path: str
    router: bool            # True: X-Neutron-Router-ID, False: X-Neutron-Network-ID
    user: str = ""
    group: str = ""
    rate_limit: RateLimit | None = None


def _user_name(user: str) -> str:
    user = user or str(os.geteuid())
    try:
        return pwd.getpwuid(int(user)).pw_name
    except (ValueError, KeyError):
        return pwd.getpwnam(user).pw_name      # KeyError: no such user


def _group_name(group: str) -> str:
    group = group or str(os.getegid())
    try:
        return grp.getgrgid(int(group)).gr_name
    except (ValueError, KeyError):
        return grp.getgrnam(group).gr_name


def haproxy_config(spec: ProxySpec) -> str:
    """Upstream's configuration, minus what the supervisor does instead
    (daemon, pidfile) and syslog (namespaces share no /dev/log here)."""
    kind, other = ("Router", "Network") if spec.router else ("Network", "Router")
    limit, tables = "", ""
    if spec.rate_limit is not None:     # upstream's stick tables, per source address
        r = spec.rate_limit
        expire = max(r.base_window, r.burst_window)
        tables = f"""
backend base_rate_limiter
    stick-table type ip size 10k expire {expire}s store http_req_rate({r.base_window}s)

backend burst_rate_limiter
    stick-table type ip size 10k expire {expire}s store http_req_rate({r.burst_window}s)
"""
        deny = "http-request deny deny_status 429 if"
        limit = "".join(f"    {line}\n" for line in (
            "http-request track-sc0 src table base_rate_limiter",
            "http-request track-sc1 src table burst_rate_limiter",
            f"{deny} {{ src_http_req_rate(base_rate_limiter) gt {r.base_limit} }}",
            f"{deny} {{ src_http_req_rate(burst_rate_limiter) gt {r.burst_limit} }}"))
    return f"""
global
    user        {_user_name(spec.user)}
    group       {_group_name(spec.group)}
    maxconn     1024

defaults
    mode http
    option http-server-close
    option forwardfor
    retries                 3
    timeout http-request    30s
    timeout connect         30s
    timeout client          32s
    timeout server          32s
    timeout http-keep-alive 30s
{tables}
listen listener
    bind {spec.bind_host}:{spec.bind_port}
{limit}    server metadata {spec.socket_path}
    http-request del-header X-Neutron-{other}-ID
    http-request set-header X-Neutron-{kind}-ID {spec.uuid}
""".lstrip("\n")


def _listening(spec: ProxySpec) -> bool:
    """Does a socket listen on the proxy's port in its namespace? haproxy
    binds a few ms after it starts. Read from the namespace's socket table,
    not by connecting: a router namespace's filter drops connections to the
    proxy's port that do not carry the metadata mark (loopback's too)."""
    port = f":{spec.bind_port:04X}"
    with _netns.in_netns(spec.netns):      # /proc/thread-self/net: this thread's namespace
        for table in ("tcp", "tcp6"):
            try:
                with open(f"/proc/thread-self/net/{table}", encoding="ascii") as handle:
                    rows = handle.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                fields = row.split()
                if len(fields) > 3 and fields[1].endswith(port) and fields[3] == "0A":
                    return True
    return False


class ProxyManager:
    """The metadata proxies of one agent (all under its state_path)."""

    def __init__(self, state_path: str, binary: str = HAPROXY):
        self.state_path = Path(state_path)
        self.binary = binary
        self._procs: dict[str, Daemon] = {}    # kept: their Popen reaps a dead child
        self._lock = threading.Lock()

    def config_path(self, uuid: str) -> Path:
        return self.state_path / CONFIG_DIR / f"{uuid}.conf"

    def pid_path(self, uuid: str) -> Path:
        return self.state_path / PID_DIR / f"{uuid}.pid.haproxy"

    def daemon(self, uuid: str, netns: str | None) -> Daemon:
        with self._lock:
            proc = self._procs.get(uuid)
            if proc is None or proc.netns != netns:
                conf = self.config_path(uuid)
                proc = Daemon([self.binary, "-db", "-f", str(conf)], self.pid_path(uuid),
                              netns=netns, cmdline_match=f"-f {conf}",
                              log_file=self.state_path / CONFIG_DIR / f"{uuid}.log")
                self._procs[uuid] = proc
            return proc

    def is_running(self, uuid: str, netns: str | None) -> bool:
        return self.daemon(uuid, netns).is_running()

    def ensure(self, spec: ProxySpec) -> bool:
        """Make the proxy run with `spec`; True if anything was (re)started."""
        proc = self.daemon(spec.uuid, spec.netns)
        changed = write_if_changed(self.config_path(spec.uuid), haproxy_config(spec))
        running = proc.is_running()
        if running and not changed:
            return False
        if running:
            proc.stop()
        pid = proc.start(wait=10, settle=0.05, ready=lambda: _listening(spec))
        LOG.info("metadata proxy for %s %s %s in %s (pid %d, %s:%d)",
                 "router" if spec.router else "network", spec.uuid,
                 "restarted" if running else "started", spec.netns, pid, spec.bind_host,
                 spec.bind_port)
        return True

    def stop(self, uuid: str, netns: str | None = None) -> bool:
        """Stop the proxy (by its verified pid) and remove its files."""
        proc = self.daemon(uuid, netns)
        with self._lock:
            self._procs.pop(uuid, None)
        # Recognised by its config path alone: its namespace may be gone already.
        proc.netns = None
        stopped = proc.stop()
        for path in (self.config_path(uuid), self.pid_path(uuid)):
            path.unlink(missing_ok=True)
        if stopped:
            LOG.info("metadata proxy for %s stopped", uuid)
        return stopped

    def known(self, router: bool) -> set[str]:
        """uuids of the router (or network) proxies with a config file: what a
        restarted agent may have to stop. The L3 and DHCP agents of a host
        share the directory (as upstream): each looks only at its kind."""
        root = self.state_path / CONFIG_DIR
        header = f"set-header X-Neutron-{'Router' if router else 'Network'}-ID"
        found = set()
        for path in (root.glob("*.conf") if root.is_dir() else ()):
            try:
                if header in path.read_text():
                    found.add(path.stem)
            except OSError:
                continue
        return found


def stray_pids(marker: str) -> list[int]:
    """PIDs of live haproxy processes whose config path contains `marker`
    (a state directory): proxies whose pid file was lost."""
    from neutrino.dataplane.process import pid_cmdline
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:     # comm first: one short read per process, argv only for haproxy
            if Path(f"/proc/{entry}/comm").read_text().strip() != "haproxy":
                continue
        except OSError:
            continue
        argv = pid_cmdline(int(entry))
        if argv and "-f" in argv and any(marker in a and a.endswith(".conf") for a in argv):
            found.append(int(entry))
    return sorted(found)


def stop_all(state_path: str) -> None:
    """Stop every proxy started under state_path (by the verified PID in each
    pid file, then any whose pid file was lost, by config path): a lab or a
    test node that goes away, since a stopping agent leaves its proxies
    running for the next one to adopt, as upstream."""
    proxies = ProxyManager(state_path)
    for pidfile in proxies.pid_path("x").parent.glob("*.pid.haproxy"):
        with contextlib.suppress(Exception):
            proxies.stop(pidfile.name[:-len(".pid.haproxy")])
    for pid in stray_pids(f"{state_path}/{CONFIG_DIR}/"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
