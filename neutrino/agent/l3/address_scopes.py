"""Address scopes in a router's namespace, as upstream's L3 agent:
every packet is marked, on the way in, with the address scope of the
interface it entered by; a packet may leave by an internal interface only
if it carries that interface's scope (subnets of different scopes are
isolated, and unscoped subnets form a scope of their own); a packet leaving
by the gateway is not SNATed when it comes from the gateway's own scope
(the addresses of one scope are routable as they are), and is SNATed as
usual otherwise. Connections NAT made (floating IPs, SNAT replies) pass.

IPv6 scopes are isolated the same way in ip6tables' mangle table (IPv6 is
never NATed). Pure functions of the router model (and converge_ipv6, which
applies the IPv6 table); routers without any scoped port get no rule at all
(their tables stay exactly as before).

  mangle PREROUTING             -j neutron-l3-agent-scope (first)
  neutron-l3-agent-scope        -i <dev> -j MARK --set-xmark <scope mark>/0xffff0000
  mangle POSTROUTING            -j neutron-l3-agent-scope-out
  neutron-l3-agent-scope-out    -m mark --mark 0x0/0xffff0000 -j RETURN  (the router's own)
                                -m conntrack --ctstate DNAT,SNAT -j RETURN
                                -o qr-<port> -m mark ! --mark <its mark>/0xffff0000 -j DROP

(mangle POSTROUTING, not FORWARD: the FORWARD chains belong to FWaaS.)
  nat neutron-l3-agent-snat     -o qg-<port> -m mark --mark <gw mark>/0xffff0000 -j ACCEPT
                                (after the floating IPs' SNAT, before the router's SNAT)
"""
from __future__ import annotations

from neutrino.dataplane.iptables import Table

MASK = "0xffff0000"
NO_SCOPE = 0x4000000           # upstream's mark of unscoped interfaces
WRAP = "neutron-l3-agent"
SCOPE_CHAIN = f"{WRAP}-scope"
OUT_CHAIN = f"{WRAP}-scope-out"


def port_scope(port, version: str = "4") -> str | None:
    return dict(port.address_scopes).get(version) if port is not None else None


def marks(router, version: str = "4") -> dict[str, str]:
    """Namespace device -> its scope mark ("0x4010000/0xffff0000"); empty
    when no port of the router is in an address scope of that family."""
    devices = router.devices()
    scopes = sorted({s for p in devices.values() if (s := port_scope(p, version))})
    if not scopes:
        return {}
    index = {s: NO_SCOPE + ((i + 1) << 16) for i, s in enumerate(scopes)}
    return {dev: f"{hex(index.get(port_scope(p, version), NO_SCOPE))}/{MASK}"
            for dev, p in sorted(devices.items())}


def _isolation(mangle: Table, by_dev: dict[str, str], qg: str | None) -> None:
    mangle.chains.setdefault("PREROUTING", []).insert(0, f"-j {SCOPE_CHAIN}")
    for dev, mark in by_dev.items():
        mangle.add(SCOPE_CHAIN, f"-i {dev} -j MARK --set-xmark {mark}")
    mangle.add("POSTROUTING", f"-j {OUT_CHAIN}")
    mangle.add(OUT_CHAIN, f"-m mark --mark 0x0/{MASK} -j RETURN")
    mangle.add(OUT_CHAIN, "-m conntrack --ctstate DNAT,SNAT -j RETURN")
    for dev, mark in by_dev.items():
        if dev != qg:
            mangle.add(OUT_CHAIN, f"-o {dev} -m mark ! --mark {mark} -j DROP")


def ipv6_mangle(router) -> Table:
    """The ip6tables mangle table of the router: IPv6 scopes isolated the
    same way (IPv6 is routed, never NATed); empty without IPv6 scopes."""
    mangle = Table("mangle")
    by_dev = marks(router, "6")
    if by_dev:
        _isolation(mangle, by_dev, router.qg)
    return mangle


def converge_ipv6(rns, router) -> bool:
    """Apply ipv6_mangle in the router's namespace (`rns`: its
    RouterNamespace). ip6tables is read only for routers that have, or had,
    IPv6 scopes: the others cost nothing."""
    table = ipv6_mangle(router)
    # unknown (first converge since the agent started): look once if IPv6
    had = getattr(rns, "_ipv6_scopes", router.has_ipv6)
    if not table.chains and not had:
        return False
    from neutrino.dataplane.iptables import IptablesManager
    manager = IptablesManager(rns.name, prefixes=(SCOPE_CHAIN,), ipv6=True)
    changed = bool(manager.apply([table]))
    rns._ipv6_scopes = bool(table.chains)
    return changed


def add_rules(router, nat: Table, mangle: Table) -> None:
    """Add the scope rules to the router's nat and mangle tables."""
    by_dev = marks(router)
    if not by_dev:
        return
    _isolation(mangle, by_dev, router.qg)
    qg = router.qg
    if qg and router.enable_snat and router.gw_ip and port_scope(router.gw):
        snat = nat.chain(f"{WRAP}-snat")
        at = 1 if snat and snat[0].endswith("-float-snat") else 0
        snat.insert(at, f"-o {qg} -m mark --mark {by_dev[qg]} -j ACCEPT")
