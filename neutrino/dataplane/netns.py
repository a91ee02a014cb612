"""Named network namespaces (the `ip netns` convention) and running code in them.

A named netns is a bind mount of an nsfs inode at /run/netns/NAME, so it is
visible to `ip netns list`, `ip -n NAME ...` and every other tool.

Threads and namespaces: setns(2) with CLONE_NEWNET changes only the calling
*thread*. `in_netns()` uses that to move the current thread into a namespace
and back; everything the thread does meanwhile (netlink sockets it opens,
/proc/sys/net it reads, subprocesses it forks) happens in that namespace,
while other running threads are unaffected (threads *started* from inside
inherit the namespace, as clone(2) copies the creator's). Note that /proc/self is the thread-group
leader: the current thread's namespace is /proc/thread-self/ns/net (pyroute2's
own pushns()/popns() use /proc/self and so restore the wrong namespace when
called from a non-main thread that was already elsewhere).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence

from pyroute2 import netns as _pr_netns

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_create_lock = threading.Lock()


class NetnsError(OSError):
    """A namespace could not be created, entered or removed."""


class CommandError(RuntimeError):
    """A command run by `run()` exited non-zero (or could not start)."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str,
                 netns: str | None = None):
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.netns = netns
        where = f" in netns {netns}" if netns else ""
        super().__init__(
            f"{' '.join(self.argv)!s}{where} exited {returncode}: {stderr.strip()}")


def validate_name(name: str) -> str:
    # Names become paths under /run/netns; refuse anything that could escape.
    if not _NAME_RE.match(name) or name in (".", ".."):
        raise ValueError(f"invalid netns name: {name!r}")
    return name


def netns_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, validate_name(name))


def exists(name: str) -> bool:
    return os.path.exists(netns_path(name))


def list_netns() -> list[str]:
    return sorted(_pr_netns.listnetns(NETNS_RUN_DIR))


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(err, f"setns failed: {os.strerror(err)}")


def create(name: str, exist_ok: bool = False) -> None:
    """Create a named netns with loopback up.

    pyroute2's `netns.create()` forks a child to unshare(2); forking a
    multi-threaded Python process is fragile (locks held by other threads are
    copied locked). unshare(CLONE_NEWNET) is per-thread, so we unshare this
    thread, let pyroute2's `attach()` do the /run/netns mount-propagation dance
    and bind mount of /proc/thread-self/ns/net, and setns back.
    """
    path = netns_path(name)
    if os.path.exists(path):
        if exist_ok:
            return
        raise NetnsError(errno.EEXIST, f"netns {name} exists")
    with _create_lock:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.unshare(CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise NetnsError(err, f"unshare failed: {os.strerror(err)}")
            try:
                _pr_netns.attach(name, "thread-self")
            except BaseException:
                with contextlib.suppress(OSError):
                    _pr_netns.remove(name)
                raise
            finally:
                _setns(home)
        finally:
            os.close(home)
    # `ip netns add` leaves lo down; everything we build wants it up.
    from neutrino.dataplane.netlink import Netlink  # local: avoid import cycle
    with Netlink(name) as nl:
        nl.set_up("lo")


def delete(name: str, missing_ok: bool = True) -> None:
    """Unmount and unlink /run/netns/NAME. The namespace itself dies when the
    last process/socket/mount holding it goes away."""
    path = netns_path(name)
    if not os.path.exists(path):
        if missing_ok:
            return
        raise NetnsError(errno.ENOENT, f"netns {name} does not exist")
    _pr_netns.remove(name)


@contextlib.contextmanager
def in_netns(name: str | None) -> Iterator[None]:
    """Run the body with the *current thread* in netns `name` (None: no-op).

    Subprocesses and threads started from the body inherit the namespace;
    other running threads do not move. Nesting is fine: each level restores what it saved.
    """
    if name is None:
        yield
        return
    target = open_netns_fd(name)
    try:
        with in_netns_fd(target):
            yield
    finally:
        os.close(target)


@contextlib.contextmanager
def in_netns_fd(fd: int) -> Iterator[None]:
    """Like in_netns() for an already open nsfs descriptor (kept open by the
    caller, so the namespace cannot vanish under us)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


def open_netns_fd(name: str | None) -> int:
    """An O_CLOEXEC fd for netns `name`, or for the calling thread's current
    netns if None."""
    path = netns_path(name) if name is not None else "/proc/thread-self/ns/net"
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise NetnsError(errno.ENOENT, f"netns {name} does not exist") from exc


def current_netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def run(argv: Sequence[str], netns: str | None = None, check: bool = True,
        input: str | None = None, timeout: float = 30.0, sysfs: bool = False,
        env: dict[str, str] | None = None) -> str:
    """Run `argv` in `netns` (None: current namespace) and return its stdout.

    Default mechanism: setns() this thread, fork/exec, setns back. The child
    inherits the thread's netns and we pay no extra exec; no preexec_fn is
    needed (preexec_fn is unsafe with threads and disables vfork). This is
    right for ip/iptables/dnsmasq/haproxy/ping/curl and /proc/sys/net, which
    follow the netns of the process.

    `sysfs=True` uses `ip netns exec` instead, which also unshares the mount
    namespace and remounts /sys (so /sys/class/net shows the netns's devices)
    and binds /etc/netns/NAME/*; needed only by tools that read sysfs
    (e.g. brctl). It costs one extra exec of ip.
    Raises CommandError (with stderr) on non-zero exit if `check`.
    """
    argv = [str(a) for a in argv]
    full = argv
    ctx: contextlib.AbstractContextManager = in_netns(netns)
    if sysfs and netns is not None:
        full = ["ip", "netns", "exec", validate_name(netns), *argv]
        ctx = contextlib.nullcontext()
    try:
        with ctx:
            proc = subprocess.run(full, input=input, capture_output=True, text=True,
                                  timeout=timeout, env=env, close_fds=True)
    except FileNotFoundError as exc:
        raise CommandError(argv, 127, "", str(exc), netns) from exc
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise CommandError(argv, -1, out, f"timed out after {timeout}s. {err}", netns) from exc
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr, netns)
    return proc.stdout


class Started:
    """A command running in the background (see start)."""

    def __init__(self, argv: list[str], proc: subprocess.Popen, stdin, netns: str | None):
        self.argv, self._proc, self._stdin, self.netns = argv, proc, stdin, netns

    def wait(self, timeout: float = 30.0) -> str:
        """Its stdout once it ended; CommandError as run() if it failed."""
        try:
            out, err = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self._proc.kill()
            self._proc.communicate()
            raise CommandError(self.argv, -1, "", f"timed out after {timeout}s", self.netns) \
                from exc
        finally:
            self._stdin.close()
        if self._proc.returncode != 0:
            raise CommandError(self.argv, self._proc.returncode, out, err, self.netns)
        return out


def start(argv: Sequence[str], netns: str | None = None, input: str = "") -> Started:
    """Start `argv` in `netns` and return at once; `input` reaches it through
    an unlinked temporary file, so no thread feeds its stdin (a thread that
    writes megabytes leaves a malloc arena behind: measured, 10 MiB)."""
    argv = [str(a) for a in argv]
    stdin = tempfile.TemporaryFile("w+")
    try:
        stdin.write(input)
        stdin.flush()
        stdin.seek(0)
        with in_netns(netns):
            proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, close_fds=True)
    except FileNotFoundError as exc:
        stdin.close()
        raise CommandError(argv, 127, "", str(exc), netns) from exc
    except BaseException:
        stdin.close()
        raise
    return Started(argv, proc, stdin, netns)


def run_all(commands: Sequence[tuple[Sequence[str], str]], netns: str | None = None,
            timeout: float = 30.0) -> list[str]:
    """Each (argv, input) of `commands` at once in `netns`; their stdouts.
    The first that failed raises CommandError, once all have ended."""
    started: list[Started] = []
    try:
        for argv, text in commands:
            started.append(start(argv, netns, text))
    finally:
        outs = wait_all(started, timeout)
    return outs


def wait_all(started: Sequence[Started], timeout: float = 30.0) -> list[str]:
    """Wait for every one of `started`; their stdouts, or the first
    CommandError once all have ended (none is left running)."""
    outs: list[str] = []
    failed: list[CommandError] = []
    for s in started:
        try:
            outs.append(s.wait(timeout))
        except CommandError as exc:
            failed.append(exc)
    if failed:
        raise failed[0]
    return outs


def _sysctl_path(key: str) -> str:
    # Accept both "net.ipv4.ip_forward" and "net/ipv4/ip_forward". Interface
    # names may contain dots (eth1.100), so per-device keys must use the
    # slash form (see sysctl_key); the dotted form splits on every dot.
    if "/" in key:
        rel = key.strip("/")
    else:
        rel = key.replace(".", "/")
    if ".." in rel.split("/"):
        raise ValueError(f"invalid sysctl key {key!r}")
    return "/proc/sys/" + rel


def sysctl_key(*parts: str) -> str:
    """Join sysctl path components, keeping dotted device names intact:
    sysctl_key('net', 'ipv4', 'conf', 'eth1.100', 'forwarding')."""
    return "/".join(parts)


def sysctl_get(key: str, netns: str | None = None) -> str:
    # /proc/sys/net resolves against the opening thread's netns, so a plain
    # open() inside in_netns() reads the namespace's value without a process.
    with in_netns(netns):
        with open(_sysctl_path(key)) as f:
            return f.read().strip()


# init_net's nsfs inode is a fixed kernel constant (PROC_NET_INIT_INO,
# Linux >= 5.x); used when /proc/1/ns/net is unreadable (sandboxed PID 1).
_PROC_NET_INIT_INO = 0xEFFFFFF9


def in_init_netns() -> bool:
    """True if the current thread is in the machine's initial netns."""
    try:
        init_ino = os.stat("/proc/1/ns/net").st_ino
    except OSError:
        init_ino = _PROC_NET_INIT_INO
    return current_netns_inode() == init_ino


def sysctl_set(key: str, value: str | int, netns: str | None = None,
               allow_init_netns: bool = False) -> None:
    with in_netns(netns):
        if not allow_init_netns and in_init_netns():
            # Guard rail: code under test must never retune the machine's own
            # stack by accident; a real deployment opts in explicitly.
            raise NetnsError(errno.EPERM, f"refusing to set {key} in the initial netns")
        with open(_sysctl_path(key), "w") as f:
            f.write(str(value))
