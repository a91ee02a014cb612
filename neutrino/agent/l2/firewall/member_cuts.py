"""Which flows to forget when addresses leave a remote-group set: both
drivers' conntrack plans. Pure."""
from __future__ import annotations

from dataclasses import dataclass

from neutrino.agent.l2.firewall.model import ConntrackDelete

# Past this many addresses leaving one set in one apply, or this many
# (address, port) pairs, the flows are cut by address in the zone (one
# filter each) instead of one filter per pair: 1,000 ports deleted on a
# host of 5,000 planned 4 million pairs, 32 deleted planned 139,000 --
# seconds of CPU in the agent's conntrack cleaner either way (issue #18).
PAIRS_PER_PORT = 64
MAX_PAIRS = 4096


@dataclass(frozen=True)
class SetUser:
    """A port whose rules match a set: the remote end of its flows in
    `direction` ("dst": ingress, the set holds sources) is the set's member."""
    version: int
    zone: int
    direction: str
    ips: tuple[str, ...]


def member_cuts(removed: dict[str, set[str]],
                users: dict[str, list[SetUser]]) -> list[ConntrackDelete]:
    """Flows between the addresses that left each set and the ports using
    it. A CIDR that left cuts every flow of its users that way."""
    out: list[ConntrackDelete] = []
    for name, using in users.items():
        gone = removed[name]
        cidr_left = any("/" in m for m in gone)
        if len(gone) > PAIRS_PER_PORT or len(gone) * len(using) > MAX_PAIRS:
            wide: set[tuple[int, int, str]] = set()
            for user in using:
                v = user.version
                if (v, user.zone, user.direction) not in wide:
                    wide.add((v, user.zone, user.direction))
                    side = "src" if user.direction == "dst" else "dst"
                    out += [ConntrackDelete(v, user.zone, **{side: m}) for m in sorted(gone)
                            if "/" not in m]
                if cidr_left:
                    out += [ConntrackDelete(v, user.zone, **{user.direction: ip})
                            for ip in user.ips]
            continue
        for user in using:
            v = user.version
            for member in sorted(gone):
                for ip in user.ips:
                    if "/" in member:
                        out.append(ConntrackDelete(v, user.zone, **{user.direction: ip}))
                    elif user.direction == "dst":
                        out.append(ConntrackDelete(v, user.zone, src=member, dst=ip))
                    else:
                        out.append(ConntrackDelete(v, user.zone, src=ip, dst=member))
    return out
