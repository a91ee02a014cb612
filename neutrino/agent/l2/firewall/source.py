"""What both firewall drivers' reconcilers (firewall/agent.py: iptables,
firewall/nft/agent.py: nftables) take from the server and report about
it: the host's firewall state, checked by checks.py before anything is
rendered, and the ports isolated for bad data, each logged once."""
from __future__ import annotations

import logging

from neutrino.agent.l2.firewall import checks
from neutrino.agent.l2.firewall.model import FwDesired
from neutrino.rpc.bus import Transport
from neutrino.rpc.client import server_target

LOG = logging.getLogger("neutrino.agent.l2.firewall.agent")    # where operators look


def fetch_state(transport: Transport, host: str, prefix: str,
                timeout: float) -> tuple[FwDesired, dict[str, str]]:
    """(the host's desired firewall, {port id: why it is isolated})."""
    state = transport.call(server_target(prefix), "get_firewall_state", {"host": host},
                           timeout=timeout)
    clean, bad, dropped = checks.check(state)
    for note in dropped:
        LOG.error("firewall: ignoring bad data from the server: %s", note)
    return FwDesired.from_wire(clean), bad


class BadPorts:
    """Ports isolated because their data is bad: each logged at ERROR once
    when it turns bad (or changes reason), at INFO once when it is fixed."""

    def __init__(self, host: str):
        self.host = host
        self.logged: dict[str, str] = {}

    def note(self, bad: dict[str, str]) -> dict[str, str]:
        for pid, why in sorted(bad.items()):
            if self.logged.get(pid) != why:
                LOG.error("firewall: port %s on host %s is isolated (status ERROR): %s",
                          pid, self.host, why)
        for pid in sorted(set(self.logged) - set(bad)):
            LOG.info("firewall: port %s on host %s is filtered normally again", pid, self.host)
        self.logged = dict(bad)
        return dict(bad)
