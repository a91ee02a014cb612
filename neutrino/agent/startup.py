"""Start-up checks of the agents: a configuration that cannot work stops the
agent at once (exit 1, "... Agent terminated!" as upstream's agents log),
instead of an agent that reports itself alive and serves nothing.

The checks look at the namespace the agent manages (the lab's simulated
hosts are namespaces), never at the machine's own when given another.
"""
from __future__ import annotations

import shutil


class AgentCannotStart(Exception):
    """The configuration cannot work on this host; the message says why."""


def linuxbridge_problems(interface_mappings: dict[str, str], bridge_mappings: dict[str, str],
                         vxlan_enabled: bool, local_ip: str, links: set[str],
                         local_ip_device: str | None) -> list[str]:
    """Pure: what is wrong with these settings on a host that has `links`
    and holds local_ip on `local_ip_device` (None: on no device)."""
    problems = []
    for physnet, device in sorted(interface_mappings.items()):
        if device not in links:
            problems.append(f"Interface {device} for physical network {physnet} does not "
                            "exist ([linux_bridge] physical_interface_mappings)")
    for physnet, bridge in sorted(bridge_mappings.items()):
        if bridge not in links:
            problems.append(f"Bridge {bridge} for physical network {physnet} does not exist "
                            "([linux_bridge] bridge_mappings)")
    if vxlan_enabled and local_ip and local_ip_device is None:
        problems.append(f"Tunneling cannot be enabled without the local_ip bound to an "
                        f"interface on the host: [vxlan] local_ip {local_ip} is on no "
                        f"interface (configure it on the tunnel interface, or set [vxlan] "
                        f"enable_vxlan = false)")
    return problems


def check_executable(option: str, binary: str) -> None:
    if shutil.which(binary) is None:
        raise AgentCannotStart(f"{option} {binary!r} is not an executable on PATH")


def terminated(problems: list[str]) -> AgentCannotStart:
    return AgentCannotStart("; ".join(problems))
