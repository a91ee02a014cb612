"""QoS of floating IPs and router gateways (qos-fip, qos-gateway-ip) in the
router namespace, as upstream's L3 agent extensions: per address, a limit
on what leaves through the gateway device (egress: the address is the
source, after SNAT) and on what comes in for it (ingress: the address is
the destination, before DNAT).

Egress: an htb root on qg- with one class per limited address (u32 on the
source). Ingress: qg-'s ingress traffic redirected (mirred) to an ifb
device in the namespace, with the same per-address classes on the
destination. Traffic of other addresses is not classified and passes
unshaped. (Upstream polices with tc filters; this kernel has no police
action, so it shapes.)

Wire form (neutrino.rpc.qos_handlers.attach_router_qos): router["qos"] =
[{"ip", "egress": {"max_kbps", "max_burst_kbps"} | null, "ingress": ...}].
"""
from __future__ import annotations

import logging

from neutrino.agent.l2.qos.plan import Limit
from neutrino.dataplane import netns as ns

LOG = logging.getLogger(__name__)

Spec = tuple[tuple[str, Limit | None, Limit | None], ...]


def spec_of(wire: list[dict] | None) -> Spec:
    def limit(d):
        return Limit(int(d["max_kbps"]), int(d.get("max_burst_kbps") or 0)) if d else None
    return tuple(sorted((a["ip"], limit(a.get("egress")), limit(a.get("ingress")))
                        for a in wire or () if ":" not in a["ip"]
                        and (a.get("egress") or a.get("ingress"))))


def ifb_of(qg: str) -> str:
    return "ifb-" + qg[3:]


def _htb(dev: str, side: str, limits: list[tuple[str, Limit]]) -> list[list[str]]:
    cmds = [["tc", "qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb"]]
    for i, (ip, lim) in enumerate(limits, start=10):
        tbf = lim.tbf()      # the same rate and burst as the ports' buckets
        cmds += [["tc", "class", "add", "dev", dev, "parent", "1:", "classid", f"1:{i}", "htb",
                  "rate", tbf[2], "ceil", tbf[2], "burst", tbf[4]],
                 ["tc", "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio",
                  "1", "u32", "match", "ip", side, f"{ip}/32", "flowid", f"1:{i}"]]
    return cmds


def commands(qg: str, spec: Spec) -> list[list[str]]:
    """What programs `spec` on a gateway device without QoS."""
    egress = [(ip, e) for ip, e, _i in spec if e]
    ingress = [(ip, i) for ip, _e, i in spec if i]
    cmds = _htb(qg, "src", egress) if egress else []
    if ingress:
        ifb = ifb_of(qg)
        cmds += [["ip", "link", "add", ifb, "type", "ifb"], ["ip", "link", "set", ifb, "up"],
                 *_htb(ifb, "dst", ingress),
                 ["tc", "qdisc", "add", "dev", qg, "ingress"],
                 ["tc", "filter", "add", "dev", qg, "parent", "ffff:", "protocol", "ip", "prio",
                  "1", "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect",
                  "dev", ifb]]
    return cmds


def clear_commands(qg: str) -> list[list[str]]:
    return [["tc", "qdisc", "del", "dev", qg, "root"], ["tc", "qdisc", "del", "dev", qg, "ingress"],
            ["ip", "link", "del", ifb_of(qg)]]


class FipQos:
    """The programmed spec per router namespace; reprogrammed when it
    changes or the kernel lost it (a recreated namespace or device)."""

    def __init__(self):
        self.applied: dict[str, tuple[str, Spec]] = {}    # netns -> (qg, spec)

    def _intact(self, netns: str, qg: str, spec: Spec) -> bool:
        shown = ns.run(["tc", "qdisc", "show", "dev", qg], netns=netns, check=False)
        if any(e for _ip, e, _i in spec) and " htb " not in shown:
            return False
        return not any(i for _ip, _e, i in spec) or " ingress " in shown

    def converge(self, netns: str, qg: str | None, wire: list[dict] | None) -> None:
        spec = spec_of(wire) if qg else ()
        known = self.applied.get(netns)
        if known == (qg, spec) and (not spec or self._intact(netns, qg, spec)):
            return
        if known is None and not spec:
            # nothing to enforce: the kernel is not even looked at (a
            # restarted agent's leftovers go once a policy comes back)
            self.applied[netns] = (qg, spec)
            return
        if known and known[0]:
            for argv in clear_commands(known[0]):
                ns.run(argv, netns=netns, check=False)
        elif qg:                 # first sight (agent restart): leftovers go
            for argv in clear_commands(qg):
                ns.run(argv, netns=netns, check=False)
        self.applied.pop(netns, None)
        if qg and spec:
            for argv in commands(qg, spec):
                ns.run(argv, netns=netns, timeout=10)
        self.applied[netns] = (qg, spec)

    def forget(self, netns: str) -> None:
        self.applied.pop(netns, None)
