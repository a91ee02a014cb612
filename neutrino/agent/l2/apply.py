"""apply(ops): the only code of the L2 agent that changes the kernel.

Deletes and link changes go out in batches over one raw rtnetlink socket
(dataplane.rtnl_fast); the rare device creations use the pyroute2 wrapper
(dataplane.netlink). Creation happens after the deletes, and changes after
the creations, so a change can name a device created in the same plan.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from neutrino.agent.l2.model import (RELEASE, AddFdb, CreateBridge, CreateVlan, CreateVxlan,
                                     DeleteLink, DelFdb, DelNeigh, Forwarding, Op, SetLink,
                                     SetNeigh, is_owned_vxlan)
from neutrino.dataplane import netns as _netns
from neutrino.dataplane.netlink import Netlink
from neutrino.dataplane.rtnl_fast import FastLinks, LinkChange

LOG = logging.getLogger(__name__)


@dataclass
class ApplyResult:
    failed: dict[str, str] = field(default_factory=dict)   # device -> error
    applied: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


class Kernel:
    """The devices of one namespace, as the L2 agent sees and changes them."""

    def __init__(self, netns: str | None = None):
        self.netns = netns
        self.fast = FastLinks(netns)
        self.nl = Netlink(netns)
        self.index: dict[str, int] = {}

    def close(self) -> None:
        self.fast.close()
        self.nl.close()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def observe(self):
        links = self.fast.dump()
        self.index = {link.name: link.index for link in links}
        return {link.name: link for link in links}

    def observe_forwarding(self, observed=None) -> dict[str, Forwarding]:
        """The remote fdb and permanent neighbour entries of our vxlan
        devices (l2population), from the last observe() unless given."""
        links = observed if observed is not None else self.observe()
        by_index = {link.index: name for name, link in links.items()
                    if link.kind == "vxlan" and is_owned_vxlan(name)}
        if not by_index:
            return {}
        found = self.nl.remote_forwarding(set(by_index))
        return {by_index[i]: Forwarding(fdb=frozenset(fdb), neigh=tuple(sorted(neigh.items())))
                for i, (fdb, neigh) in found.items()}

    def apply(self, ops: list[Op]) -> ApplyResult:
        result = ApplyResult()
        deletes = [op for op in ops if isinstance(op, DeleteLink)]
        creates = [op for op in ops if isinstance(op, (CreateBridge, CreateVxlan, CreateVlan))]
        changes = [op for op in ops if isinstance(op, SetLink)]
        self._batch([(op.name, LinkChange(self.index[op.name], delete=True))
                     for op in deletes if op.name in self.index], result)
        for op in deletes:
            self.index.pop(op.name, None)
        for op in creates:
            try:
                link = self._create(op)
            except OSError as exc:
                LOG.error("creating %s failed: %s", op.name, exc)
                result.failed[op.name] = str(exc)
                continue
            self.index[op.name] = link.index
            result.applied += 1
        batch = []
        for op in changes:
            if op.name not in self.index:
                result.failed[op.name] = "device not found"
                continue
            master = None
            if op.master == RELEASE:
                master = 0
            elif op.master is not None:
                master = self.index.get(op.master)
                if master is None:
                    result.failed[op.name] = f"bridge {op.master} not found"
                    continue
            batch.append((op.name, LinkChange(self.index[op.name], master=master, mtu=op.mtu,
                                              up=op.up)))
        self._batch(batch, result)
        self._forwarding([op for op in ops if isinstance(op, (AddFdb, DelFdb, SetNeigh,
                                                              DelNeigh))], result)
        fresh = [op.name for op in creates if op.name not in result.failed]
        fresh += [op.name for op in changes if op.master and op.name not in result.failed]
        self._disable_ipv6(fresh)
        return result

    def _forwarding(self, ops: list[Op], result: ApplyResult) -> None:
        """l2population entries, after the links: their vxlan device may be
        new. One failure marks the device failed (a full resync follows)."""
        for op in ops:
            index = self.index.get(op.dev)
            if index is None or op.dev in result.failed:
                result.failed.setdefault(op.dev, "device not found")
                continue
            try:
                if isinstance(op, AddFdb):
                    self.nl.fdb_change("append", index, op.mac, op.dst)
                elif isinstance(op, DelFdb):
                    self.nl.fdb_change("del", index, op.mac, op.dst)
                elif isinstance(op, SetNeigh):
                    self.nl.neigh_change("replace", index, op.ip, op.mac)
                else:
                    self.nl.neigh_change("del", index, op.ip)
            except OSError as exc:
                LOG.error("%s failed: %s", op, exc)
                result.failed[op.dev] = str(exc)
                continue
            result.applied += 1

    def _disable_ipv6(self, names: list[str]) -> None:
        """Bridges, tunnel/vlan devices and taps are L2 ports: the host gets
        no IPv6 link-local address on tenant networks (it would be reachable
        from, and chatter into, every tenant segment). Done when a device is
        created or enslaved, so a healthy device is never touched again."""
        if not names:
            return
        with _netns.in_netns(self.netns):   # /proc/sys/net follows the thread's netns
            for name in names:
                try:
                    with open(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "w") as f:
                        f.write("1")
                except OSError:   # no IPv6 in this kernel, or the device just vanished
                    pass

    def _batch(self, named: list[tuple[str, LinkChange]], result: ApplyResult) -> None:
        if not named:
            return
        errors = self.fast.apply([change for _, change in named])
        for pos, (name, _) in enumerate(named):
            if pos in errors:
                msg = os.strerror(errors[pos])
                LOG.error("changing %s failed: %s", name, msg)
                result.failed[name] = msg
            else:
                result.applied += 1

    def _create(self, op: Op):
        if isinstance(op, CreateBridge):
            # Created without an MTU and set afterwards (a SetLink follows in
            # the plan): only an MTU *changed* on a bridge sticks when ports
            # with another MTU join it.
            return self.nl.ensure_bridge(op.name, mtu=None, up=False)
        if isinstance(op, CreateVxlan):
            return self.nl.ensure_vxlan(op.name, op.vni, local_ip=op.local_ip, group=op.group,
                                        dstport=op.dstport, ttl=op.ttl, tos=op.tos, dev=op.dev,
                                        mtu=op.mtu, learning=op.learning, proxy=op.proxy,
                                        up=False)
        if isinstance(op, CreateVlan):
            return self.nl.ensure_vlan(op.name, op.parent, op.vid, mtu=op.mtu, up=False)
        raise TypeError(f"not a create op: {op!r}")
