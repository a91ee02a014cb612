"""`neutrino show network|port|router|loadbalancer <name-or-id>`: the kernel objects behind a
network, port or router on each host -- bridge and its ports, devices with type/MTU/MAC,
namespaces -- i.e. `brctl show`, `ip -d a` and `ip netns` in one view.

In a lab it looks into every simulated host's namespace; elsewhere (--url)
into this machine's own namespace. It only reads (one link dump per
namespace).
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from neutrino.agent.l2.firewall.show import nft_network, port_firewall
from neutrino.agent.l2.firewall.show import render as render_firewall
from neutrino.agent.l3 import ha_show
from neutrino.agent.l3.fwaas import show as fwaas_show
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.netlink_model import Link
from neutrino.dataplane.rtnl_fast import FastLinks, ipv4_addresses


def add_parser(sub: argparse._SubParsersAction) -> None:
    show = sub.add_parser("show", help="kernel objects behind a network or port")
    show.add_argument("kind", choices=("network", "port", "router", "loadbalancer"))
    show.add_argument("id", metavar="name-or-id",
                      help="id or name (a name several carry is an error listing their ids)")
    show.add_argument("--json", action="store_true")
    show.add_argument("--url", help="API URL (default: the lab's); then looks at this "
                                    "machine's own namespace (with $OS_TOKEN if set)")
    show.set_defaults(func=cmd_show)


def _device(link: Link) -> dict[str, Any]:
    d: dict[str, Any] = {"name": link.name, "kind": link.kind or "device", "mtu": link.mtu,
                         "mac": link.mac, "up": link.up, "state": link.oper_state}
    if link.kind == "vxlan":
        d.update(vni=link.vxlan_id, local=link.vxlan_local, group=link.vxlan_group,
                 dev=link.vxlan_dev, dstport=link.vxlan_port, learning=link.vxlan_learning)
    elif link.kind == "vlan":
        d.update(vlan_id=link.vlan_id, parent=link.vlan_parent)
    return d


def _namespace(name: str) -> dict[str, Any]:
    """Devices (except lo) and IPv4 addresses of a namespace."""
    with FastLinks(name) as fl:
        links = [l for l in fl.dump() if l.name != "lo"]
    addrs: dict[int, list[str]] = {}
    for index, ip, plen in ipv4_addresses(name):
        addrs.setdefault(index, []).append(f"{ip}/{plen}")
    return {"name": name, "devices": [dict(_device(l), addresses=addrs.get(l.index, []))
                                      for l in links]}


def host_view(host: str, netns: str | None, net_id: str, ports: list[dict],
              instances: list) -> dict[str, Any]:
    with FastLinks(netns) as fl:
        links = {l.name: l for l in fl.dump()}
    taps = {"tap" + p["id"][:11]: p for p in ports}
    bridge = next((links[t].master for t in taps if t in links and links[t].master), None)
    bridge = bridge or "brq" + net_id[:11]
    by_port = {i.port_id: i for i in instances}
    view: dict[str, Any] = {"host": host, "netns": netns, "bridge": None, "members": [],
                            "namespaces": []}
    if bridge in links:
        view["bridge"] = _device(links[bridge])
        view["nftables"] = nft_network(netns, bridge)    # the nftables firewall driver's zone
        for link in sorted(links.values(), key=lambda l: (not l.name.startswith(("vx", "eth")),
                                                          l.name)):
            if link.master != bridge:
                continue
            member = _device(link)
            port = taps.get(link.name)
            if port:
                member["port"] = {"id": port["id"], "status": port["status"],
                                  "owner": port["device_owner"]}
                inst = by_port.get(port["id"])
                if inst:
                    member["port"]["instance"] = inst.name
            if link.kind == "vxlan":
                member["forwarding"] = vxlan_forwarding(netns, link.name)
            view["members"].append(member)
    view["unplugged_taps"] = sorted(t for t in taps if t in links and links[t].master != bridge)
    names = {i.netns for i in instances if i.network_id == net_id and i.host == host}
    # agents' namespaces (qdhcp-, qrouter-) carry their host's name: show each under its host
    names |= {n for n in _netns.list_netns()
              if net_id in n and (netns is None or f"-{host}-q" in n)}
    view["namespaces"] = [_namespace(n) for n in sorted(names) if _netns.exists(n)]
    return view


def vxlan_forwarding(netns: str | None, dev: str) -> dict[str, list]:
    """A vxlan device's own fdb entries with a remote (`bridge fdb show dev`:
    the flood list is MAC 00:00:00:00:00:00) and its neighbour entries
    (`ip neigh show dev`: the ARP responder's, with l2population)."""
    from neutrino.dataplane.netlink import Netlink
    with Netlink(netns) as nl:
        fdb = [{"mac": e.mac, "dst": e.dst, "permanent": e.permanent}
               for e in nl.fdb_entries(dev) if e.dst and not e.master]
        neigh = [{"ip": n.ip, "mac": n.mac, "permanent": n.permanent}
                 for n in nl.neighbours(dev) if n.mac]
    return {"fdb": sorted(fdb, key=lambda e: (e["dst"], e["mac"])),
            "neighbours": sorted(neigh, key=lambda n: n["ip"])}


def _context(args):
    """(api, [(host, netns)], instances) for the lab or for --url."""
    from neutrino.lab.api import NeutronApi
    if args.url:
        import os
        token = os.environ.get("OS_TOKEN")   # a keystone server: `openstack token issue`
        return (NeutronApi(args.url, headers={"X-Auth-Token": token} if token else None),
                [("local", None)], [])
    from neutrino.lab.control import LabControl
    ctl = LabControl.load(args.lab_dir)
    hosts = [(h, ctl.state.host_netns(h)) for h in ctl.state.host_names()]
    return ctl.api, hosts, ctl.instances.list()


def network_view(api, hosts, instances, ident: str) -> dict[str, Any]:
    net = api.find_network(ident)
    ports = api.list("ports", network_id=net["id"])
    per_host = []
    for host, netns in hosts:
        bound = [p for p in ports if p["binding:host_id"] == host or netns is None]
        per_host.append(host_view(host, netns, net["id"], bound, instances))
    return {"network": {k: net.get(k) for k in (
        "id", "name", "provider:network_type", "provider:physical_network",
        "provider:segmentation_id", "mtu", "status", "admin_state_up")},
        "ports": [{"id": p["id"], "host": p["binding:host_id"], "status": p["status"],
                   "mac": p["mac_address"], "ips": [f["ip_address"] for f in p["fixed_ips"]],
                   "vif_type": p["binding:vif_type"]} for p in ports],
        "hosts": per_host, "dhcp": dhcp_view(net["id"])}


def dhcp_view(net_id: str) -> list[dict[str, Any]]:
    """The network's dnsmasq processes on this machine (found in /proc by
    their `--pid-file=.../dhcp/<network-id>/pid`): namespace, interface,
    command line and host file -- what the seed looks at with `ps -ef` and
    `cat .../host`."""
    import os

    from neutrino.dataplane.process import pid_cmdline, pid_netns_inode
    inodes = {}
    for name in _netns.list_netns():
        try:
            inodes[os.stat(_netns.netns_path(name)).st_ino] = name
        except OSError:
            continue
    out = []
    for entry in sorted(os.listdir("/proc")):
        if not entry.isdigit():
            continue
        argv = pid_cmdline(int(entry))
        if not argv or not argv[0].endswith("dnsmasq") or not any(
                a.startswith("--pid-file=") and f"/dhcp/{net_id}/" in a for a in argv):
            continue
        opts = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
        netns = inodes.get(pid_netns_inode(int(entry)))
        hostfile = opts.get("dhcp-hostsfile", "")
        try:
            entries = open(hostfile).read().splitlines()
        except OSError:
            entries = []
        addresses = []
        if netns:
            view = _namespace(netns)
            addresses = next((d["addresses"] for d in view["devices"]
                              if d["name"] == opts.get("interface")), [])
        out.append({"pid": int(entry), "netns": netns, "interface": opts.get("interface"),
                    "addresses": addresses, "cmdline": " ".join(argv),
                    "host_file": hostfile, "host_entries": entries})
    return out


def render_dhcp(items: list[dict]) -> list[str]:
    lines = []
    for d in items:
        lines.append(f"dhcp: dnsmasq pid {d['pid']} in netns {d['netns'] or '?'} on "
                     f"{d['interface']} {' '.join(d['addresses'])}")
        lines.append(f"  {d['cmdline']}")
        lines.append(f"  {d['host_file']}:")
        lines += [f"    {e}" for e in d["host_entries"]] or ["    (empty)"]
    return lines


def port_view(api, hosts, instances, port_id: str) -> dict[str, Any]:
    port = api.find("ports", port_id)
    host = port["binding:host_id"]
    where = [(h, ns) for h, ns in hosts if h == host or ns is None]
    inst = next((i for i in instances if i.port_id == port["id"]), None)
    views = [host_view(h, ns, port["network_id"], [port], [inst] if inst else [])
             for h, ns in where]
    return {"port": {k: port.get(k) for k in (
        "id", "name", "network_id", "mac_address", "fixed_ips", "status", "admin_state_up",
        "device_owner", "binding:host_id", "binding:vif_type", "binding:vif_details")},
        "tap": "tap" + port["id"][:11], "instance": inst.name if inst else None,
        "hosts": views, "firewall": [dict(port_firewall(ns, port["id"]), host=h)
                                     for h, ns in where]}


def _line(d: dict[str, Any]) -> str:
    state = "UP" if d["up"] else "DOWN"
    if d.get("state") and d["state"] not in ("UP", "UNKNOWN"):
        state += f"/{d['state']}"
    out = f"{d['name']:<15} {d['kind']:<7} mtu {d['mtu']:<5} {d['mac'] or '-':<17} {state}"
    if d["kind"] == "vxlan":
        out += (f"  id {d['vni']} local {d['local']} "
                + (f"group {d['group']} " if d["group"] else "no group ")
                + f"dev {d['dev']} dstport {d['dstport']}"
                + ("" if d.get("learning", True) else " nolearning"))
    elif d["kind"] == "vlan":
        out += f"  vlan id {d['vlan_id']} on {d['parent']}"
    if d.get("addresses"):
        out += "  " + " ".join(d["addresses"])
    port = d.get("port")
    if port:
        owner = f"{port['instance']}, " if port.get("instance") else ""
        out += f"  port {port['id'][:8]} ({owner}{port['status']})"
    return out


def render_hosts(hosts: list[dict]) -> list[str]:
    lines = []
    for h in hosts:
        where = f" (netns {h['netns']})" if h["netns"] else ""
        if h["bridge"] is None and not h["namespaces"]:
            lines.append(f"{h['host']}{where}: nothing for this network")
            continue
        lines.append(f"{h['host']}{where}")
        if h["bridge"] is not None:
            lines.append(f"  bridge {_line(h['bridge'])}")
            lines += [f"  {line}" for line in h.get("nftables", ())]
            for i, m in enumerate(h["members"]):
                branch = "└─" if i == len(h["members"]) - 1 else "├─"
                lines.append(f"    {branch} {_line(m)}")
                fwd = m.get("forwarding")
                if fwd:
                    pad = "       " if branch == "└─" else "    │  "
                    for e in fwd["fdb"]:
                        what = "flood" if e["mac"] == "00:00:00:00:00:00" else e["mac"]
                        lines.append(f"{pad}fdb   {what:<17} dst {e['dst']}"
                                     f"{' permanent' if e['permanent'] else ''}")
                    for n in fwd["neighbours"]:
                        lines.append(f"{pad}neigh {n['ip']:<17} lladdr {n['mac']}"
                                     f"{' PERMANENT' if n['permanent'] else ''}")
        else:
            lines.append("  no bridge")
        for tap in h.get("unplugged_taps", []):
            lines.append(f"  {tap} exists but is not on the bridge")
        if h["namespaces"]:
            lines.append("  namespaces")
            for ns in h["namespaces"]:
                lines.append(f"    {ns['name']}")
                for d in ns["devices"]:
                    lines.append(f"      {_line(d)}")
    return lines


def router_view(api, ident: str, ha_confs: dict | None = None) -> dict[str, Any]:
    """The router's namespace (wherever its L3 agent made it): devices with
    addresses, routes, the NAT table as `iptables -t nat -S` prints it, and
    the FWaaS chains with the firewall groups of its ports."""
    router = api.find("routers", ident)
    agents = api.request("GET", f"/v2.0/routers/{router['id']}/l3-agents")["agents"]
    suffix = f"qrouter-{router['id']}"
    names = [n for n in _netns.list_netns() if n.endswith(suffix)]
    spaces = []
    for name in names:
        view = _namespace(name)
        view["routes"] = _netns.run(["ip", "-4", "route"], netns=name).splitlines()
        view["nat"] = _netns.run(["iptables", "-t", "nat", "-S"], netns=name).splitlines()
        view["firewall"] = fwaas_show.chains(name)
        # address scopes: the mangle rules marking and isolating them
        view["scopes"] = [line for line in _netns.run(
            ["iptables", "-t", "mangle", "-S"], netns=name).splitlines() if "-scope" in line]
        spaces.append(view)
    return {"router": {k: router.get(k) for k in (
        "id", "name", "status", "admin_state_up", "external_gateway_info", "routes")},
        "l3_agent_hosts": [a["host"] for a in agents], "namespaces": spaces,
        "firewall_groups": fwaas_show.groups(api, router["id"]),
        "ha_instances": ha_show.instances(router["id"], agents, ha_confs or {})}


def render_router(view: dict[str, Any]) -> list[str]:
    r = view["router"]
    gw = r.get("external_gateway_info") or {}
    ips = ", ".join(f["ip_address"] for f in gw.get("external_fixed_ips", []))
    lines = [f"router {r['id']} {r['name']!r} {r['status']}: L3 agent on "
             f"{', '.join(view['l3_agent_hosts']) or '(none)'}; gateway "
             f"{(gw.get('network_id') or '-') + (' ' + ips if ips else '')}"
             f"{'' if gw.get('enable_snat', True) else ' (no SNAT)'}"]
    if not view["namespaces"]:
        lines.append("  no namespace on this machine")
    for ns in view["namespaces"]:
        lines.append(f"  namespace {ns['name']}")
        lines += [f"    {_line(d)}" for d in ns["devices"]]
        lines.append("  routes")
        lines += [f"    {line}" for line in ns["routes"]]
        lines.append("  iptables -t nat -S")
        lines += [f"    {line}" for line in ns["nat"]]
        if ns.get("scopes"):
            lines.append("  address scopes: iptables -t mangle -S")
            lines += [f"    {line}" for line in ns["scopes"]]
        lines += fwaas_show.render([], ns.get("firewall", {}))
    lines += fwaas_show.render(view.get("firewall_groups", []), {})
    lines += ha_show.render(view.get("ha_instances", []))
    return lines


def _ha_confs(args) -> dict:
    """host -> its L3 agent's ha_confs directory: each lab host's, or this
    machine's (--url)."""
    from pathlib import Path
    if args.url:
        import socket

        from neutrino.config import default_state_path
        return {socket.gethostname(): Path(default_state_path()) / "ha_confs"}
    from neutrino.lab.control import LabControl
    state = LabControl.load(args.lab_dir).state
    return {h: state.host_dir(h) / "ha_confs" for h in state.host_names()}


def _lbaas_dirs(args) -> list:
    """Where load balancers' files may be: each lab host's, or this machine's."""
    from pathlib import Path
    if args.url:
        from neutrino.config import default_state_path
        return [Path(default_state_path()) / "lbaas"]
    from neutrino.lab.control import LabControl
    state = LabControl.load(args.lab_dir).state
    return [state.host_dir(h) / "lbaas" for h in state.host_names()]


def cmd_show(args) -> int:
    api, hosts, instances = _context(args)
    if args.kind == "loadbalancer":    # namespace, haproxy pid/config, live member states
        from neutrino.agent.lb.show import loadbalancer_view, render_loadbalancer
        view = loadbalancer_view(api, args.id, _lbaas_dirs(args))
        print(json.dumps(view, indent=2) if args.json else "\n".join(render_loadbalancer(view)))
        return 0
    if args.kind == "router":
        view = router_view(api, args.id, _ha_confs(args))
        print(json.dumps(view, indent=2) if args.json else "\n".join(render_router(view)))
        return 0
    if args.kind == "network":
        view = network_view(api, hosts, instances, args.id)
    else:
        view = port_view(api, hosts, instances, args.id)
    if args.json:
        print(json.dumps(view, indent=2))
        return 0
    if args.kind == "network":
        n = view["network"]
        seg = n["provider:segmentation_id"]
        print(f"network {n['id']} {n['name']!r}: {n['provider:network_type']}"
              f"{' ' + str(n['provider:physical_network']) if n['provider:physical_network'] else ''}"
              f"{' ' + str(seg) if seg is not None else ''}, mtu {n['mtu']}, "
              f"{len(view['ports'])} port(s)")
    else:
        p = view["port"]
        ips = ", ".join(f["ip_address"] for f in p["fixed_ips"])
        print(f"port {p['id']} {p['status']}: mac {p['mac_address']} ip {ips or '-'} "
              f"host {p['binding:host_id'] or '-'} vif {p['binding:vif_type']} "
              f"tap {view['tap']}" + (f" instance {view['instance']}" if view["instance"] else ""))
    print("\n".join(render_hosts(view["hosts"])))
    for fw in view.get("firewall", ()):   # security groups: chains, ipsets, ebtables (#7)
        print(f"host {fw['host']} security groups:")
        print("\n".join(render_firewall(fw)))
    if view.get("dhcp"):
        print("\n".join(render_dhcp(view["dhcp"])))
    return 0
