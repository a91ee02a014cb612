"""`neutrino lab dhcp-check`: look for DHCP servers on a network's segment
that are not its DHCP agents' dnsmasq."""
from __future__ import annotations

import contextlib
import secrets
from typing import Any

from neutrino.dataplane import netns as _netns
from neutrino.lab.api import NeutronApi
from neutrino.lab.errors import LabError
from neutrino.lab.state import LabState


def find_rogue_servers(state: LabState, api: NeutronApi, network: str,
                       host: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """A probe namespace plugged into the network's bridge on `host`
    (default: a host where it is wired) sends a DISCOVER from an unknown
    MAC; neutrino's static-only dnsmasq stays silent, so every OFFER is a
    rogue server."""
    from neutrino.agent.dhcp.probe import probe
    from neutrino.dataplane.netlink import Netlink

    net = api.find_network(network)
    bridge = "brq" + net["id"][:11]
    hosts = [host] if host else state.host_names()
    where = None
    for h in hosts:
        with Netlink(state.host_netns(h)) as nl:
            if nl.exists(bridge):
                where = h
                break
    if where is None:
        raise LabError(f"network {net['id']} is wired on no lab host (no {bridge})")
    ours = sorted(f["ip_address"] for p in api.list(
        "ports", network_id=net["id"], device_owner="network:dhcp") for f in p["fixed_ips"])
    tag = secrets.token_hex(3)
    probe_ns, veth = f"{state.prefix}probe-{tag}", f"prb{tag}"
    _netns.create(probe_ns)
    try:
        with Netlink(state.host_netns(where)) as nl:
            nl.create_veth(veth, "eth0", peer_netns=probe_ns)
            nl.set_master(veth, bridge)
            nl.set_up(veth)
        with Netlink(probe_ns) as nl:
            nl.set_up("eth0")
        with _netns.in_netns(probe_ns):
            offers = probe("eth0", timeout=timeout)
    finally:
        with contextlib.suppress(Exception), Netlink(state.host_netns(where)) as nl:
            nl.delete_link(veth)
        _netns.delete(probe_ns, missing_ok=True)
    rogue = [o for o in offers if o.server_id not in ours]
    return {"network_id": net["id"], "host": where, "bridge": bridge,
            "dhcp_ports": ours, "rogue_servers": [o.__dict__ for o in rogue],
            "ok": not rogue}
