"""Routers in the e2e lab: L3World (World plus routers and floating IPs), the
`l3` fixture's world (tests/e2e/conftest.py) and what the L3 tests look at
from the outside host and inside a router's namespace."""
from __future__ import annotations

import contextlib
import secrets
import subprocess
import time
from collections.abc import Iterator

from neutrino.dataplane import netns as ns
from tests.e2e.helpers import World, wait_for

OUTSIDE = "203.0.113.254"


class L3World(World):
    """World plus routers and floating IPs, removed first on cleanup."""

    def __init__(self, lab, tag):
        super().__init__(lab, tag)
        self.routers: list[str] = []
        self.fips: list[str] = []

    def external(self) -> dict:
        net = self.network("ext", cidr=None, network_type="flat", physical_network="external",
                           **{"router:external": True})
        sub = self.subnet(net["id"], "203.0.113.0/24", gateway_ip=OUTSIDE, enable_dhcp=False,
                          allocation_pools=[{"start": "203.0.113.10",
                                             "end": "203.0.113.200"}])
        net["subnet"] = sub
        return net

    def tenant(self, name, cidr, project=None, **provider) -> tuple[dict, dict]:
        body = {"project_id": project} if project else {}
        net = self.network(name, cidr=None, **provider, **body)
        sub = self.subnet(net["id"], cidr, enable_dhcp=False, **body)
        return net, sub

    def router(self, name, ext=None, project=None, **extra) -> dict:
        body = {"name": f"{name}-{self.tag}", **extra}
        if project:
            body["project_id"] = project
        if ext:
            body["external_gateway_info"] = {"network_id": ext["id"]}
        router = self.api.create("routers", body)
        self.routers.append(router["id"])
        return router

    def add_interface(self, router, subnet) -> dict:
        return self.api.request("PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
                                {"subnet_id": subnet["id"]})

    def remove_interface(self, router, subnet) -> dict:
        return self.api.request("PUT", f"/v2.0/routers/{router['id']}/remove_router_interface",
                                {"subnet_id": subnet["id"]})

    def fip(self, ext, port_id=None) -> dict:
        fip = self.api.create("floatingips", {"floating_network_id": ext["id"],
                                              "port_id": port_id})
        self.fips.append(fip["id"])
        return fip

    def router_host(self, router) -> str:
        agents = self.api.request("GET", f"/v2.0/routers/{router['id']}/l3-agents")["agents"]
        assert len(agents) == 1, agents
        return agents[0]["host"]

    def router_ns(self, router) -> str:
        return f"{self.lab.state.prefix}{self.router_host(router)}-qrouter-{router['id']}"

    def cleanup(self) -> None:
        for fip in self.fips:
            with contextlib.suppress(Exception):
                self.api.delete("floatingips", fip, missing_ok=True)
        for rid in self.routers:
            with contextlib.suppress(Exception):
                for port in self.api.list("ports", device_id=rid,
                                          device_owner="network:router_interface"):
                    self.api.request("PUT", f"/v2.0/routers/{rid}/remove_router_interface",
                                     {"port_id": port["id"]})
            with contextlib.suppress(Exception):
                self.api.delete("routers", rid, missing_ok=True)
        super().cleanup()


@contextlib.contextmanager
def l3_world(lab) -> Iterator[L3World]:
    """An L3World once every lab host's L3 agent is alive; what it made is
    removed afterwards."""
    lab.wait_l3_agents_alive(timeout=60)
    w = L3World(lab, tag=secrets.token_hex(2))
    try:
        yield w
    finally:
        w.cleanup()
        time.sleep(0.3)


def nat_rules(router_ns: str) -> list[str]:
    return ns.run(["iptables", "-t", "nat", "-S"], netns=router_ns).splitlines()


def whoami(world, inst) -> str:
    out = world.lab.instances.run(inst.name, ["curl", "-s", "-m", "3",
                                              f"http://{OUTSIDE}/whoami"])
    return out.stdout.strip()


def outside(lab, argv, timeout=10.0) -> subprocess.CompletedProcess:
    with ns.in_netns(lab.lab.outside_ns):
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def outside_ping(lab, ip) -> bool:
    return outside(lab, ["ping", "-n", "-c", "1", "-W", "1", ip]).returncode == 0


def router_ready(world, router, *addresses) -> str:
    """Wait until the router's namespace carries `addresses`; its name."""
    rns = world.router_ns(router)

    def ready():
        if not ns.exists(rns):
            return False
        out = ns.run(["ip", "-4", "-o", "addr"], netns=rns)
        return all(f" {a}/" in out for a in addresses)
    wait_for(ready, timeout=30, what=f"router {router['id']} addresses {addresses}")
    return rns
