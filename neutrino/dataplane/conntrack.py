"""Connection tracking entries of one namespace: delete the flows a removed
security-group rule had allowed, so established connections stop too."""
from __future__ import annotations

from neutrino.dataplane import netns as _netns


def delete_argv(version: int, zone: int | None, src: str | None, dst: str | None) -> list[str]:
    argv = ["conntrack", "-D", "-f", "ipv6" if version == 6 else "ipv4"]
    if zone is not None:
        argv += ["-w", str(zone)]
    if src:
        argv += ["-s", src]
    if dst:
        argv += ["-d", dst]
    return argv


def delete(netns: str | None, version: int, zone: int | None = None, src: str | None = None,
           dst: str | None = None) -> None:
    # exit status 1 only means "no entry matched"
    _netns.run(delete_argv(version, zone, src, dst), netns=netns, check=False)


def entries(netns: str | None, version: int = 4) -> list[str]:
    """`conntrack -L` lines (tests, `neutrino show`)."""
    out = _netns.run(["conntrack", "-L", "-f", "ipv6" if version == 6 else "ipv4"],
                     netns=netns, check=False)
    return [line for line in out.splitlines() if line.strip()]
