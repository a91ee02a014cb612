"""Address scopes end to end: API -> server -> L3 agent -> router namespace
on a lab. Two tenant subnets and the external subnet are allocated from
subnet pools of one address scope, a third tenant subnet has no pool; all
three sit behind one router with a gateway. Packets show the scope rules:
the scoped subnets reach each other and the outside host with their own
addresses (no NAT), the unscoped one is cut off from them and is SNATed to
the gateway address on its way out."""
from __future__ import annotations

import contextlib

import pytest

from neutrino.dataplane import netns as ns
from tests.e2e.helpers import wait_for
from tests.e2e.l3_helpers import OUTSIDE, router_ready, whoami

pytestmark = pytest.mark.root


def test_one_scope_routes_without_nat_other_subnets_are_isolated_and_snated(l3, lab):
    api = lab.api
    made: list[tuple[str, str]] = []
    route = None
    try:
        scope = api.request("POST", "/v2.0/address-scopes", {"address_scope": {
            "name": f"as-{l3.tag}", "ip_version": 4, "shared": True}})["address_scope"]
        made.append(("address-scopes", scope["id"]))
        ext_pool = api.create("subnetpools", {"name": f"ext-{l3.tag}",
                                              "prefixes": ["203.0.113.0/24"],
                                              "address_scope_id": scope["id"]})
        made.append(("subnetpools", ext_pool["id"]))
        pool = api.create("subnetpools", {"name": f"in-{l3.tag}", "prefixes": ["10.83.0.0/16"],
                                          "default_prefixlen": 24,
                                          "address_scope_id": scope["id"]})
        made.append(("subnetpools", pool["id"]))
        ext = l3.network("ext", cidr=None, network_type="flat",
                         physical_network="external", **{"router:external": True})
        l3.subnet(ext["id"], "203.0.113.0/24", gateway_ip=OUTSIDE, enable_dhcp=False,
                  subnetpool_id=ext_pool["id"],
                  allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.200"}])
        nets = {}
        for name, cidr, pool_id in (("a", "10.83.1.0/24", pool["id"]),
                                    ("b", "10.83.2.0/24", pool["id"]),
                                    ("c", "10.84.3.0/24", None)):
            net = l3.network(f"as{name}", cidr=None, network_type="vxlan")
            extra = {"subnetpool_id": pool_id} if pool_id else {}
            nets[name] = (net, l3.subnet(net["id"], cidr, enable_dhcp=False, **extra))
        assert api.show("networks", nets["a"][0]["id"])["ipv4_address_scope"] == scope["id"]
        assert api.show("networks", nets["c"][0]["id"])["ipv4_address_scope"] is None
        router = l3.router("r", ext=ext)
        for _, sub in nets.values():
            l3.add_interface(router, sub)
        router = api.show("routers", router["id"])
        gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        host = l3.router_host(router)
        inst = {name: l3.instance(name, net, host=host) for name, (net, _) in nets.items()}
        rns = router_ready(l3, router, "10.83.1.1", "10.83.2.1", "10.84.3.1", gw_ip)
        # the outside host routes the scope's addresses to the router, as a
        # provider's network would
        route = ["ip", "route", "replace", "10.83.0.0/16", "via", gw_ip]
        ns.run(route, netns=lab.lab.outside_ns)

        a, b, c = inst["a"], inst["b"], inst["c"]
        assert wait_for(lambda: l3.ping(a, b.ip), timeout=20, what="a -> b (one scope)")
        assert wait_for(lambda: whoami(l3, a) == a.ip, timeout=20,
                        what="a reaches the outside with its own address")
        assert whoami(l3, b) == b.ip
        assert wait_for(lambda: whoami(l3, c) == gw_ip, timeout=20, what="c SNATed")
        assert not l3.ping(c, a.ip) and not l3.ping(a, c.ip)
        rules = ns.run(["iptables-save"], netns=rns)
        assert "-A neutron-l3-agent-scope-out" in rules
        assert "-j ACCEPT" in next(r for r in rules.splitlines()
                                   if r.startswith("-A neutron-l3-agent-snat -o qg-"))
        # `neutrino show router` lists the scope rules
        from neutrino.cli.show import render_router, router_view
        shown = "\n".join(render_router(router_view(api, router["id"])))
        assert "address scopes: iptables -t mangle -S" in shown
        assert "-A neutron-l3-agent-scope-out" in shown
    finally:
        if route:
            ns.run(["ip", "route", "del", "10.83.0.0/16"], netns=lab.lab.outside_ns,
                   check=False)
        l3.cleanup()
        for collection, rid in reversed(made):
            with contextlib.suppress(Exception):
                api.delete(collection, rid, missing_ok=True)
