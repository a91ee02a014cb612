"""Router conntrack helpers (l3-conntrack-helper) in the router namespace's
raw table: connections through the router to a helper's protocol and port
get that kernel helper (CT --helper), which then lets their related
connections (an FTP data channel, a TFTP transfer) through NAT. Pure: the
table is converged with the router's other tables (router_ns)."""
from __future__ import annotations

from neutrino.agent.l3.model import WRAP, Router
from neutrino.dataplane.iptables import Table

CHAIN = f"{WRAP}-cth"


def raw_table(router: Router) -> Table:
    """The raw table: always present (so that removed helpers' rules go),
    the helper chain jumped to from PREROUTING while the router is up."""
    raw = Table("raw")
    raw.add("PREROUTING", f"-j {WRAP}-PREROUTING")
    raw.chain(f"{WRAP}-PREROUTING")
    raw.chain(CHAIN)
    if not router.conntrack_helpers or not router.admin_state_up:
        return raw
    raw.add(f"{WRAP}-PREROUTING", f"-j {CHAIN}")
    for protocol, port, helper in sorted(set(router.conntrack_helpers)):
        raw.add(CHAIN, f"-p {protocol} -m {protocol} --dport {port} -j CT --helper {helper}")
    return raw
