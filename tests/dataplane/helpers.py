"""Small assertions shared by dataplane tests (what a user would check)."""

from __future__ import annotations

from neutrino.dataplane import netns as ns


def ping(src_netns: str, dst_ip: str, count: int = 1) -> bool:
    out = ns.run(["ping", "-c", str(count), "-W", "1", dst_ip], netns=src_netns, check=False,
                 timeout=10 + count)
    return f"{count} received" in out


def ip_d_link(netns: str, dev: str) -> str:
    return ns.run(["ip", "-d", "link", "show", "dev", dev], netns=netns)
