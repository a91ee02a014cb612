"""Shared pieces of the L2 benchmarks: a throwaway lab, percentiles, taps in bulk."""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neutrino.dataplane import netns as ns  # noqa: E402
from neutrino.dataplane.netlink import Netlink  # noqa: E402
from neutrino.dataplane.rtnl_fast import FastLinks, LinkChange  # noqa: E402
from neutrino.lab.control import LabControl  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (f"{name:<28} n={len(ms):<4} p50={pct(ms, .5):7.1f} ms  p90={pct(ms, .9):7.1f} ms  "
            f"p99={pct(ms, .99):7.1f} ms  mean={statistics.fmean(ms):7.1f} ms  "
            f"max={max(ms):7.1f} ms")


@contextlib.contextmanager
def throwaway_lab(hosts: int, transport: str, keep_logs: str | None = None, **up_kwargs):
    """`up_kwargs`: more LabControl.up arguments (e.g. firewall_driver)."""
    with tempfile.TemporaryDirectory(prefix="neutrino-bench-") as tmp:
        t0 = time.monotonic()
        lab = LabControl.up(hosts=hosts, transport=transport, lab_dir=Path(tmp) / "lab",
                            **up_kwargs)
        print(f"lab up ({transport}, {hosts} host(s)) in {time.monotonic() - t0:.1f} s, "
              f"API {lab.state.api_url}; load average {open('/proc/loadavg').read().split()[0]} "
              f"on {os.cpu_count()} CPU(s)")
        try:
            yield lab
        finally:
            if keep_logs:
                import shutil
                dest = Path(keep_logs)
                dest.mkdir(parents=True, exist_ok=True)
                for log in Path(lab.state.lab_dir).rglob("*.log"):
                    shutil.copy(log, dest / f"{log.parent.name}-{log.name}")
            lab.down()


def make_taps(lab: LabControl, host: str, port_ids: list[str]) -> str:
    """What a hypervisor does for many VMs at once: one veth per port, the
    tap<port[:11]> end in the host, the other end (up) in one pool namespace
    (named like an instance namespace, so `lab down` removes it)."""
    pool = f"{lab.state.prefix}i-pool"
    if not ns.exists(pool):
        ns.create(pool)
        # 1,000 freshly booted "VMs" would flood the bridge with IPv6 router
        # solicitations and MLD reports: measure the agent, not that storm.
        ns.sysctl_set("net/ipv6/conf/default/disable_ipv6", 1, netns=pool)
    with Netlink(lab.state.host_netns(host)) as nl:
        for i, pid in enumerate(port_ids):
            nl.create_veth("tap" + pid[:11], f"p{i}", peer_netns=pool)
    with FastLinks(pool) as fl:
        peers = [link for link in fl.dump() if link.name.startswith("p")]
        errors = fl.apply([LinkChange(link.index, up=True) for link in peers])
        assert not errors, errors
    return pool


def count_status(lab: LabControl, network_id: str, status: str) -> int:
    return len(lab.api.list("ports", network_id=network_id, status=status, fields="id"))


def wait_count(lab: LabControl, network_id: str, status: str, n: int,
               timeout: float = 300.0, interval: float = 0.05) -> float:
    """Seconds until `n` ports of the network have `status`."""
    t0 = time.monotonic()
    while count_status(lab, network_id, status) < n:
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{status}: only {count_status(lab, network_id, status)} of {n}")
        time.sleep(interval)
    return time.monotonic() - t0
