"""Typed, thin rtnetlink wrapper over pyroute2, bound to one network namespace.

Why per-thread sockets: pyroute2 0.9's IPRoute keeps its netlink socket and
asyncio loop in a threading.local and opens a *new* socket the first time
another thread uses the object. Opened without `netns=`, that socket lands in
the calling thread's current namespace, so an IPRoute shared between threads
silently talks to the wrong namespace. Opened with `netns=`, pyroute2 forks a
child per socket to setns(). We instead pin the namespace with an nsfs fd at
construction and give each thread its own IPRoute, opened with setns() on
that thread (no fork, ~2 ms). Every call therefore hits the namespace chosen
when the Netlink was built, whatever thread makes it.

The sync IPRoute drives its own event loop, so it cannot be called from a
coroutine; async code must use `asyncio.to_thread(...)`.

Methods are idempotent where that makes sense ("ensure", add-if-missing,
delete-if-present) so reconcilers can apply the same plan twice.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
import threading
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError as _PrNetlinkError
from pyroute2.netlink.rtnl.ndmsg import flags as _NTF, states as _NUD

from neutrino.dataplane import netns as _netns
from neutrino.dataplane.netlink_model import (  # noqa: F401 - re-exported API
    FLOOD_MAC,
    IFF_UP,
    MAIN_TABLE,
    FdbEntry,
    Link,
    Neighbour,
    Route,
    _attr_chain,
    decode_bits,
    link_from_msg,
    normalize_mac,
    normalize_route_dst,
    parse_cidr,
    vxlan_differences,
)


class NetlinkOpError(OSError):
    """An rtnetlink request failed; `errno` is the kernel's answer."""

    def __init__(self, err: int, op: str, netns: str | None):
        where = f" in netns {netns}" if netns else ""
        super().__init__(err, f"{op}{where}: {os.strerror(err)}")
        self.op = op
        self.netns = netns


class LinkNotFound(NetlinkOpError):
    def __init__(self, name: str, netns: str | None):
        super().__init__(errno.ENODEV, f"link {name!r}", netns)
        self.name = name


# ---------------------------------------------------------------- the wrapper

class Netlink:
    """rtnetlink operations in one namespace (None: the constructing thread's
    current namespace). Use as a context manager or call close()."""

    def __init__(self, netns: str | None = None):
        self.netns = netns
        self._ns_fd = _netns.open_netns_fd(netns)
        self._local = threading.local()
        self._opened: list[IPRoute] = []
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            opened, self._opened = self._opened, []
        for ipr in opened:
            try:
                ipr.close()
            except Exception:  # noqa: BLE001 - best effort on teardown
                pass
        os.close(self._ns_fd)

    def _ipr(self) -> IPRoute:
        ipr = getattr(self._local, "ipr", None)
        if ipr is not None:
            return ipr
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("Netlink is synchronous: call it through "
                               "asyncio.to_thread() from coroutines")
        with self._lock:
            if self._closed:
                raise RuntimeError("Netlink is closed")
            with _netns.in_netns_fd(self._ns_fd):
                ipr = IPRoute(groups=0)
            self._opened.append(ipr)
        self._local.ipr = ipr
        return ipr

    def _call(self, op: str, method: str, *args: Any, ok: tuple[int, ...] = (),
              **kwargs: Any) -> Any:
        try:
            return getattr(self._ipr(), method)(*args, **kwargs)
        except _PrNetlinkError as exc:
            if exc.code in ok:
                return None
            raise NetlinkOpError(exc.code, op, self.netns) from exc

    # ------------------------------------------------------------ links

    def _name_map(self) -> dict[int, str]:
        return {m["index"]: m.get_attr("IFLA_IFNAME")
                for m in self._call("dump links", "get_links")}

    def links(self) -> list[Link]:
        msgs = list(self._call("dump links", "get_links"))
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
        return [link_from_msg(m, names) for m in msgs]

    def link(self, name: str) -> Link | None:
        """One link by name (a targeted RTM_GETLINK, not a dump: hosts may
        carry hundreds of taps)."""
        msgs = self._call(f"get link {name}", "link", "get", ifname=name,
                          ok=(errno.ENODEV,))
        if not msgs:
            return None
        msg = msgs[0]
        # resolve only the indexes link_from_msg names: master, vlan parent,
        # vxlan lower device (a veth's IFLA_LINK may point into another netns)
        kind = _attr_chain(msg, "IFLA_LINKINFO", "IFLA_INFO_KIND")
        related = [msg.get_attr("IFLA_MASTER")]
        if kind == "vlan":
            related.append(msg.get_attr("IFLA_LINK"))
        elif kind == "vxlan":
            related.append(_attr_chain(msg, "IFLA_LINKINFO", "IFLA_INFO_DATA", "IFLA_VXLAN_LINK"))
        names = {}
        for idx in filter(None, related):
            found = self._call("get link", "link", "get", index=idx, ok=(errno.ENODEV,))
            if found:
                names[idx] = found[0].get_attr("IFLA_IFNAME")
        return link_from_msg(msg, names)

    def exists(self, name: str) -> bool:
        return bool(self._call("lookup", "link_lookup", ifname=name))

    def index(self, name: str) -> int:
        found = self._call("lookup", "link_lookup", ifname=name)
        if not found:
            raise LinkNotFound(name, self.netns)
        return found[0]

    def _require(self, name: str) -> Link:
        link = self.link(name)
        if link is None:
            raise LinkNotFound(name, self.netns)
        return link

    def _converge(self, link: Link, mtu: int | None, up: bool | None) -> None:
        if mtu is not None and link.mtu != mtu:
            self.set_mtu(link.name, mtu)
        if up is True and not link.up:
            self.set_up(link.name)
        elif up is False and link.up:
            self.set_down(link.name)

    def ensure_bridge(self, name: str, mtu: int | None = None, up: bool = True) -> Link:
        """A Linux bridge with STP off and forward delay 0 (like Neutron's
        agent), so ports forward as soon as they have carrier."""
        link = self.link(name)
        if link is not None and link.kind != "bridge":
            raise NetlinkOpError(errno.EEXIST, f"{name} exists and is a {link.kind}", self.netns)
        if link is None:
            kw: dict[str, Any] = {"br_stp_state": 0, "br_forward_delay": 0}
            if mtu is not None:
                kw["mtu"] = mtu
            self._call(f"create bridge {name}", "link", "add", ifname=name, kind="bridge",
                       ok=(errno.EEXIST,), **kw)
            link = self._require(name)
        self._converge(link, mtu, up)
        return self._require(name)

    def ensure_vxlan(self, name: str, vni: int, local_ip: str | None = None,
                     group: str | None = None, dstport: int = 8472,
                     ttl: int | None = None, tos: int | None = None, dev: str | None = None,
                     mtu: int | None = None, learning: bool = True, proxy: bool = False,
                     up: bool = True) -> Link:
        """A vxlan device with exactly these parameters. A device of that name
        with other parameters is recreated (and re-enslaved to its bridge)."""
        link = self.link(name)
        master = None
        if link is not None:
            diffs = vxlan_differences(link, vni=vni, local_ip=local_ip, group=group,
                                      dstport=dstport, ttl=ttl, tos=tos, dev=dev,
                                      learning=learning, proxy=proxy)
            if diffs:
                master = link.master
                self.delete_link(name)
                link = None
        if link is None:
            kw: dict[str, Any] = {"vxlan_id": vni, "vxlan_port": dstport,
                                  "vxlan_learning": int(learning),
                                  "vxlan_proxy": int(proxy)}
            if local_ip:
                kw["vxlan_local"] = local_ip
            if group:
                kw["vxlan_group"] = group
            if ttl is not None:
                kw["vxlan_ttl"] = ttl
            if tos is not None:
                kw["vxlan_tos"] = tos
            if dev is not None:
                kw["vxlan_link"] = self.index(dev)
            if mtu is not None:
                kw["mtu"] = mtu
            self._call(f"create vxlan {name}", "link", "add", ifname=name, kind="vxlan", **kw)
            link = self._require(name)
            if master:
                self.set_master(name, master)
        self._converge(link, mtu, up)
        return self._require(name)

    def ensure_vlan(self, name: str, parent: str, vid: int, mtu: int | None = None,
                    up: bool = True) -> Link:
        """An 802.1Q device `name` on `parent` with id `vid` (needs CONFIG_VLAN_8021Q)."""
        link = self.link(name)
        master = None
        if link is not None and (link.kind != "vlan" or link.vlan_id != vid
                                 or link.vlan_parent != parent):
            master = link.master
            self.delete_link(name)
            link = None
        if link is None:
            kw: dict[str, Any] = {"mtu": mtu} if mtu is not None else {}
            self._call(f"create vlan {name}", "link", "add", ifname=name, kind="vlan",
                       link=self.index(parent), vlan_id=vid, **kw)
            link = self._require(name)
            if master:
                self.set_master(name, master)
        self._converge(link, mtu, up)
        return self._require(name)

    def create_veth(self, name: str, peer: str, peer_netns: str | None = None,
                    mac: str | None = None, peer_mac: str | None = None,
                    mtu: int | None = None) -> Link:
        """A veth pair; the peer is created directly in `peer_netns` (no name
        clash in this namespace). If `name` already is a veth, only its MAC and
        MTU are converged."""
        link = self.link(name)
        if link is not None:
            if link.kind != "veth":
                raise NetlinkOpError(errno.EEXIST, f"{name} exists and is a {link.kind}",
                                     self.netns)
            if mac is not None and link.mac != normalize_mac(mac):
                self.set_mac(name, mac)
            self._converge(link, mtu, None)
            return self._require(name)
        peer_spec: dict[str, Any] = {"ifname": peer}
        if peer_netns is not None:
            peer_spec["net_ns_fd"] = _netns.validate_name(peer_netns)
        if peer_mac is not None:
            peer_spec["address"] = normalize_mac(peer_mac)
        kw: dict[str, Any] = {}
        if mac is not None:
            kw["address"] = normalize_mac(mac)
        if mtu is not None:
            kw["mtu"] = mtu
            peer_spec["mtu"] = mtu
        self._call(f"create veth {name}/{peer}", "link", "add", ifname=name, kind="veth",
                   peer=peer_spec, **kw)
        return self._require(name)

    def set_master(self, name: str, bridge: str | None) -> None:
        master = self.index(bridge) if bridge else 0
        self._call(f"set master of {name}", "link", "set", index=self.index(name),
                   master=master)

    def set_mtu(self, name: str, mtu: int) -> None:
        self._call(f"set mtu of {name}", "link", "set", index=self.index(name), mtu=mtu)

    def set_up(self, name: str) -> None:
        self._call(f"set {name} up", "link", "set", index=self.index(name), state="up")

    def set_down(self, name: str) -> None:
        self._call(f"set {name} down", "link", "set", index=self.index(name), state="down")

    def set_mac(self, name: str, mac: str) -> None:
        self._call(f"set mac of {name}", "link", "set", index=self.index(name),
                   address=normalize_mac(mac))

    def delete_link(self, name: str, missing_ok: bool = True) -> None:
        found = self._call("lookup", "link_lookup", ifname=name)
        if not found:
            if missing_ok:
                return
            raise LinkNotFound(name, self.netns)
        self._call(f"delete {name}", "link", "del", index=found[0],
                   ok=(errno.ENODEV,) if missing_ok else ())

    def move_link_to_netns(self, name: str, netns: str, new_name: str | None = None) -> None:
        kw: dict[str, Any] = {"ifname": new_name} if new_name else {}
        self._call(f"move {name} to {netns}", "link", "set", index=self.index(name),
                   net_ns_fd=_netns.validate_name(netns), **kw)

    def bridge_ports(self, bridge: str) -> list[str]:
        self.index(bridge)  # raise LinkNotFound for a missing bridge
        return sorted(link.name for link in self.links() if link.master == bridge)

    # ------------------------------------------------------------ addresses

    def add_address(self, name: str, cidr: str) -> None:
        ip, plen, family = parse_cidr(cidr)
        kw: dict[str, Any] = {}
        if family == socket.AF_INET and plen < 31:
            kw["broadcast"] = str(ipaddress.ip_interface(cidr).network.broadcast_address)
        self._call(f"add {cidr} to {name}", "addr", "add", index=self.index(name),
                   address=ip, prefixlen=plen, family=family, ok=(errno.EEXIST,), **kw)

    def del_address(self, name: str, cidr: str) -> None:
        ip, plen, family = parse_cidr(cidr)
        self._call(f"delete {cidr} from {name}", "addr", "del", index=self.index(name),
                   address=ip, prefixlen=plen, family=family,
                   ok=(errno.EADDRNOTAVAIL, errno.ENOENT))

    def addresses(self, name: str, family: int | None = None) -> list[str]:
        """'ip/prefixlen' strings on `name` (family: socket.AF_INET/AF_INET6)."""
        idx = self.index(name)
        out = []
        for msg in self._call("dump addresses", "get_addr", index=idx):
            if family is not None and msg["family"] != family:
                continue
            out.append(f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}")
        return out

    # ------------------------------------------------------------ routes

    def _route_kw(self, dst: str, gateway: str | None, dev: str | None,
                  table: int | None, metric: int | None) -> dict[str, Any]:
        net, plen, family = normalize_route_dst(dst)
        kw: dict[str, Any] = {"dst": net, "dst_len": plen, "family": family}
        if gateway:
            kw["gateway"] = gateway
        if dev:
            kw["oif"] = self.index(dev)
        if table is not None:
            kw["table"] = table
        if metric is not None:
            kw["priority"] = metric
        return kw

    def add_route(self, dst: str, gateway: str | None = None, dev: str | None = None,
                  table: int | None = None, metric: int | None = None,
                  scope: int | None = None) -> None:
        """Add or replace (idempotent) a unicast route."""
        kw = self._route_kw(dst, gateway, dev, table, metric)
        if scope is not None:
            kw["scope"] = scope
        self._call(f"add route {dst}", "route", "replace", **kw)

    def del_route(self, dst: str, gateway: str | None = None, dev: str | None = None,
                  table: int | None = None, metric: int | None = None) -> None:
        kw = self._route_kw(dst, gateway, dev, table, metric)
        self._call(f"delete route {dst}", "route", "del", ok=(errno.ESRCH,), **kw)

    def routes(self, table: int = MAIN_TABLE, family: int = socket.AF_INET) -> list[Route]:
        names = self._name_map()
        out = []
        for msg in self._call("dump routes", "get_routes", family=family):
            tbl = msg.get_attr("RTA_TABLE") or msg["table"]
            if tbl != table or msg["type"] != 1:  # unicast only
                continue
            dst = msg.get_attr("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
            oif = msg.get_attr("RTA_OIF")
            out.append(Route(dst=f"{dst}/{msg['dst_len']}", gateway=msg.get_attr("RTA_GATEWAY"),
                             dev=names.get(oif) if oif else None, table=tbl,
                             metric=msg.get_attr("RTA_PRIORITY"), scope=msg["scope"],
                             proto=msg["proto"]))
        return out

    # ------------------------------------------------------------ bridge fdb

    def fdb_append(self, dev: str, mac: str, dst: str) -> None:
        """`bridge fdb append MAC dev DEV dst IP` (permanent, self). MAC
        00:00:00:00:00:00 adds DST to the flood list of a vxlan device.
        The kernel treats an existing (MAC, dst) pair as success."""
        self._call(f"fdb append {mac} dst {dst} dev {dev}", "fdb", "append",
                   ifindex=self.index(dev), lladdr=normalize_mac(mac), dst=dst,
                   ok=(errno.EEXIST,))

    def fdb_delete(self, dev: str, mac: str, dst: str | None = None) -> None:
        """Remove one remote (`dst`) of MAC, or the whole entry if dst is None.
        Missing entries are fine (ENOENT)."""
        kw: dict[str, Any] = {"dst": dst} if dst else {}
        self._call(f"fdb delete {mac} dev {dev}", "fdb", "del", ifindex=self.index(dev),
                   lladdr=normalize_mac(mac), ok=(errno.ENOENT,), **kw)

    def fdb_entries(self, dev: str) -> list[FdbEntry]:
        """All fdb entries of `dev` (its own 'self' entries, e.g. a vxlan's
        remote VTEPs, and the 'master' entries its bridge keeps for it).
        pyroute2's own ifindex filter on fdb dumps misses entries, so filter here."""
        idx = self.index(dev)
        names = self._name_map()
        out = []
        for msg in self._call("dump fdb", "fdb", "dump"):
            if msg["ifindex"] != idx:
                continue
            via = msg.get_attr("NDA_IFINDEX")
            master = msg.get_attr("NDA_MASTER")
            out.append(FdbEntry(
                mac=msg.get_attr("NDA_LLADDR"), dev=dev, dst=msg.get_attr("NDA_DST"),
                via=names.get(via) if via else None,
                master=names.get(master) if master else None,
                vni=msg.get_attr("NDA_VNI"), port=msg.get_attr("NDA_PORT"),
                flags=decode_bits(msg["flags"], _NTF), state=decode_bits(msg["state"], _NUD)))
        return out

    # ------------------------------------------------------------ neighbours

    def neigh_add(self, dev: str, ip: str, mac: str) -> None:
        """Permanent neighbour (ARP/ND) entry; replaces a different MAC."""
        self._call(f"neigh add {ip} dev {dev}", "neigh", "replace", ifindex=self.index(dev),
                   dst=ip, lladdr=normalize_mac(mac), state=_NUD["permanent"])

    def neigh_delete(self, dev: str, ip: str) -> None:
        self._call(f"neigh delete {ip} dev {dev}", "neigh", "del", ifindex=self.index(dev),
                   dst=ip, ok=(errno.ENOENT, errno.ESRCH))

    def neighbours(self, dev: str | None = None) -> list[Neighbour]:
        names = self._name_map()
        idx = self.index(dev) if dev else None
        out = []
        for family in (socket.AF_INET, socket.AF_INET6):
            for msg in self._call("dump neighbours", "neigh", "dump", family=family):
                if idx is not None and msg["ifindex"] != idx:
                    continue
                out.append(Neighbour(ip=msg.get_attr("NDA_DST"), mac=msg.get_attr("NDA_LLADDR"),
                                     dev=names.get(msg["ifindex"], str(msg["ifindex"])),
                                     state=decode_bits(msg["state"], _NUD)))
        return out

    # ------------------------------------------------------------ by ifindex (L2 agent)

    def remote_forwarding(self, indexes: set[int]) -> dict[int, tuple[set, dict]]:
        """For each device in `indexes`: its own fdb entries that have a
        remote ({(mac, dst)}) and its permanent IPv4 neighbours ({ip: mac}).
        One fdb dump and one neighbour dump, whatever the number of devices."""
        out: dict[int, tuple[set, dict]] = {i: (set(), {}) for i in indexes}
        for msg in self._call("dump fdb", "fdb", "dump"):
            entry = out.get(msg["ifindex"])
            dst = msg.get_attr("NDA_DST")
            if entry is not None and dst and msg.get_attr("NDA_MASTER") is None:
                entry[0].add((msg.get_attr("NDA_LLADDR").lower(), dst))
        for msg in self._call("dump neighbours", "neigh", "dump", family=socket.AF_INET):
            entry = out.get(msg["ifindex"])
            if entry is not None and msg["state"] & _NUD["permanent"]:
                mac = msg.get_attr("NDA_LLADDR")
                if mac:
                    entry[1][msg.get_attr("NDA_DST")] = mac.lower()
        return out

    def fdb_change(self, action: str, ifindex: int, mac: str, dst: str) -> None:
        """`append` or `del` one (MAC, remote) entry of a vxlan device;
        an existing append or a missing delete is success."""
        self._call(f"fdb {action} {mac} dst {dst} dev #{ifindex}", "fdb", action,
                   ifindex=ifindex, lladdr=normalize_mac(mac), dst=dst,
                   ok=(errno.EEXIST, errno.ENOENT))

    def neigh_change(self, action: str, ifindex: int, ip: str, mac: str | None = None) -> None:
        """`replace` (permanent, with `mac`) or `del` one neighbour entry."""
        kw: dict[str, Any] = ({"lladdr": normalize_mac(mac), "state": _NUD["permanent"]}
                              if action == "replace" else {})
        self._call(f"neigh {action} {ip} dev #{ifindex}", "neigh", action, ifindex=ifindex,
                   dst=ip, ok=(errno.ENOENT, errno.ESRCH), **kw)
