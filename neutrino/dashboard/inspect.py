""""Under the hood": each host's agent describes the kernel objects behind a
network, port or router -- the same views as `neutrino show`, built by the
same functions, but asked over the bus so the server never reads a host's
files or namespaces itself.

Agent side: `serve(transport, host, netns, prefix)` consumes the work queue
`<prefix>.inspect.<host>` (the L2 agent starts it: every host with ports
runs one). Server side: `Inspector.ask` calls the hosts concerned in
parallel; a host that does not answer within [dashboard] inspect_timeout is
reported as such.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

LOG = logging.getLogger(__name__)
METHOD = "describe"


def target(host: str, prefix: str) -> str:
    return f"{prefix}.inspect.{host}"


# --- agent side ----------------------------------------------------------------------

def serve(transport, host: str, netns: str | None, prefix: str) -> None:
    def handler(method: str, payload: dict) -> dict:
        if method != METHOD:
            raise ValueError(f"unknown method {method!r}")
        return describe(host, netns, payload)
    try:
        import neutrino.cli.show  # noqa: F401 - imported now, not on the first (timed) call
        transport.serve(target(host, prefix), handler, threads=2)
    except Exception:  # noqa: BLE001 - the agent works without it; the panel says "no answer"
        LOG.exception("dashboard inspection not served on host %s", host)


def _own_namespace(name: str, host: str, netns: str | None) -> bool:
    """Agents' namespaces carry their host's name in a lab (the hosts share
    one kernel); on a real host every namespace is this host's."""
    return netns is None or f"-{host}-q" in name


def describe(host: str, netns: str | None, req: dict) -> dict[str, Any]:
    from neutrino.cli.show import render_hosts
    kind = req.get("kind")
    if kind == "network":
        view = _network(host, netns, req["network_id"], req.get("ports", []))
        lines = render_hosts([view]) + _render_dhcp(view["dhcp"])
    elif kind == "port":
        view = _port(host, netns, req["network_id"], req["port"])
        lines = _render_port(view)
    elif kind == "router":
        view = _router(host, netns, req["router_id"])
        lines = _render_router(view)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return {"host": host, "view": view, "lines": lines}


def _network(host, netns, net_id: str, ports: list[dict]) -> dict:
    from neutrino.cli.show import host_view
    view = host_view(host, netns, net_id, ports, [])
    view["dhcp"] = _dhcp(host, netns, net_id)
    return view


def _dhcp(host, netns, net_id: str) -> list[dict]:
    """The network's dnsmasq on this host: hosts file and leases."""
    from neutrino.cli.show import dhcp_view
    out = []
    for d in dhcp_view(net_id):
        if d["netns"] and not _own_namespace(d["netns"], host, netns):
            continue
        lease_file = d["host_file"].rsplit("/", 1)[0] + "/leases" if d["host_file"] else ""
        try:
            d["leases"] = open(lease_file).read().splitlines() if lease_file else []
        except OSError:
            d["leases"] = []
        d["lease_file"] = lease_file
        out.append(d)
    return out


def _render_dhcp(items: list[dict]) -> list[str]:
    from neutrino.cli.show import render_dhcp
    lines = render_dhcp(items)
    for d in items:
        lines.append(f"  {d['lease_file'] or 'leases'}:")
        lines += [f"    {e}" for e in d["leases"]] or ["    (no lease)"]
    return lines


def _port(host, netns, net_id: str, port: dict) -> dict:
    from neutrino.agent.l2.firewall.show import port_firewall
    from neutrino.cli.show import host_view
    from neutrino.dataplane.netlink import Netlink
    view = host_view(host, netns, net_id, [port], [])
    tap = "tap" + port["id"][:11]
    view["tap"] = tap
    view["mac_address"] = port.get("mac_address")
    member = next((m for m in view["members"] if m["name"] == tap), None)
    view["tap_on_bridge"] = bool(member)
    learned = []
    if member:      # what the bridge learned behind the tap: the instance's MAC
        try:
            with Netlink(netns) as nl:
                learned = sorted({e.mac for e in nl.fdb_entries(tap)
                                  if e.master and not e.permanent})
        except Exception:  # noqa: BLE001 - the tap went away meanwhile
            learned = []
    view["learned_macs"] = learned
    view["firewall"] = port_firewall(netns, port["id"])
    return view


def _render_port(view: dict) -> list[str]:
    from neutrino.agent.l2.firewall.show import render as render_firewall
    from neutrino.cli.show import render_hosts
    bridge = (view.get("bridge") or {}).get("name")
    head = (f"port mac {view['mac_address']}: {view['tap']} "
            + (f"on bridge {bridge}" if view["tap_on_bridge"] else "not on a bridge"))
    lines = [head]
    lines += [f"  fdb {mac} learned on {view['tap']}" for mac in view["learned_macs"]]
    lines += render_hosts([view])
    lines.append("security groups:")
    lines += render_firewall(view["firewall"])
    return lines


def _router(host, netns, router_id: str) -> dict:
    from neutrino.agent.l3.fwaas import show as fwaas_show
    from neutrino.cli.show import _namespace
    from neutrino.dataplane import netns as _netns
    spaces = []
    for name in sorted(_netns.list_netns()):
        if not name.endswith(f"qrouter-{router_id}") or not _own_namespace(name, host, netns):
            continue
        view = _namespace(name)
        view["routes"] = _netns.run(["ip", "-4", "route"], netns=name, check=False).splitlines()
        view["nat"] = _netns.run(["iptables", "-t", "nat", "-S"], netns=name,
                                 check=False).splitlines()
        view["filter"] = _netns.run(["iptables", "-t", "filter", "-S"], netns=name,
                                    check=False).splitlines()
        view["firewall"] = fwaas_show.chains(name)
        spaces.append(view)
    return {"host": host, "netns": netns, "namespaces": spaces}


def _render_router(view: dict) -> list[str]:
    from neutrino.cli.show import _line
    if not view["namespaces"]:
        return ["no router namespace on this host"]
    lines = []
    for ns in view["namespaces"]:
        lines.append(f"namespace {ns['name']}")
        lines += [f"  {_line(d)}" for d in ns["devices"]]
        lines.append("  routes")
        lines += [f"    {r}" for r in ns["routes"]]
        lines.append("  iptables -t nat -S")
        lines += [f"    {r}" for r in ns["nat"]]
        lines.append("  iptables -t filter -S")
        lines += [f"    {r}" for r in ns["filter"]]
    return lines


# --- server side ---------------------------------------------------------------------

class Inspector:
    def __init__(self, transport, prefix: str, timeout: float):
        self.transport = transport
        self.prefix = prefix
        self.timeout = timeout

    def ask(self, hosts: list[str], request: dict) -> list[dict]:
        if self.transport is None:
            return [{"host": h, "error": "no message bus: this server has no agents to ask",
                     "lines": []} for h in hosts]

        def one(host: str) -> dict:
            try:
                return self.transport.call(target(host, self.prefix), METHOD, request,
                                           timeout=self.timeout)
            except TimeoutError:
                return {"host": host, "lines": [],
                        "error": f"the agent on {host} did not answer within "
                                 f"{self.timeout:g} s"}
            except Exception as exc:  # noqa: BLE001 - RemoteError, broker down: say so
                return {"host": host, "lines": [], "error": str(exc)}

        if not hosts:
            return []
        with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
            return list(pool.map(one, hosts))
