"""What the e2e tests do and check, in a user's words."""
from __future__ import annotations

import contextlib
import re
import subprocess
import time
from typing import Callable

from neutrino.dataplane import netns as ns
from neutrino.dataplane.rtnl_fast import FastLinks


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05,
             what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def links(netns: str) -> dict:
    with FastLinks(netns) as fl:
        return {link.name: link for link in fl.dump()}


class World:
    """A test's networks and instances on a lab; `cleanup()` removes them."""

    def __init__(self, lab, tag: str):
        self.lab = lab
        self.tag = tag
        self.networks: list[str] = []
        self.instance_names: list[str] = []
        self.security_groups: list[str] = []

    @property
    def api(self):
        # the lab's current client: a restarted runtime (kill_runtime/start_runtime)
        # comes with a new one, and cleanup must not use the closed one
        return self.lab.api

    def network(self, name: str, cidr: str | None = "10.77.0.0/24", **provider) -> dict:
        net = self.api.create_network(f"{name}-{self.tag}", **provider)
        self.networks.append(net["id"])
        if cidr:
            self.api.create_subnet(net["id"], cidr)
        return net

    def subnet(self, net_id: str, cidr: str, **extra) -> dict:
        return self.api.create_subnet(net_id, cidr, **extra)

    def instance(self, name: str, net: dict, host: str = "host1", wait: bool = True, **kw):
        full = f"{name}-{self.tag}"
        self.instance_names.append(full)
        inst = self.lab.instances.create(full, net["id"], host=host, **kw)
        if wait:
            self.lab.wait_port_status(inst.port_id, "ACTIVE", timeout=20)
        return inst

    def allow_ingress(self, inst, *rules: dict) -> dict:
        """Open an instance as its project's user would (security groups are
        on in the lab): a group of that project with these ingress rules
        (e.g. {"protocol": "icmp"}, {"protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22}), added to the instance's port."""
        sg = self.api.request("POST", "/v2.0/security-groups", {"security_group": {
            "name": f"in-{inst.name}", "project_id": inst.project_id}})["security_group"]
        self.security_groups.append(sg["id"])
        for rule in rules:
            self.api.request("POST", "/v2.0/security-group-rules", {"security_group_rule": {
                "security_group_id": sg["id"], "direction": "ingress", "ethertype": "IPv4",
                **rule}})
        port = self.api.show("ports", inst.port_id)
        self.api.update("ports", inst.port_id,
                        {"security_groups": port["security_groups"] + [sg["id"]]})
        return sg

    def ping(self, src, dst_ip: str, count: int = 1, wait: float = 1.0) -> bool:
        return self.lab.instances.ping(src.name, dst_ip, count=count, wait=wait)

    def host_ns(self, host: str) -> str:
        return self.lab.state.host_netns(host)

    def cleanup(self) -> None:
        for name in reversed(self.instance_names):
            with contextlib.suppress(KeyError, Exception):
                self.lab.instances.delete(name)
        for net_id in reversed(self.networks):
            with contextlib.suppress(Exception):
                for port in self.api.list("ports", network_id=net_id):
                    self.api.delete("ports", port["id"], missing_ok=True)
                self.api.delete("networks", net_id, missing_ok=True)
        for sg in self.security_groups:     # once no port uses them
            with contextlib.suppress(Exception):
                self.api.delete("security-groups", sg, missing_ok=True)


PING_STATS = re.compile(r"(\d+) packets transmitted, (\d+) received")


class PingCounter:
    """A background `ping -c N -i interval` in an instance; `.result()` ->
    (transmitted, received)."""

    def __init__(self, netns: str, dst_ip: str, count: int, interval: float = 0.02):
        with ns.in_netns(netns):
            self.proc = subprocess.Popen(
                ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "1", dst_ip],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def result(self, timeout: float = 60.0) -> tuple[int, int]:
        out, _ = self.proc.communicate(timeout=timeout)
        m = PING_STATS.search(out)
        assert m, f"no ping statistics in: {out}"
        return int(m.group(1)), int(m.group(2))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
