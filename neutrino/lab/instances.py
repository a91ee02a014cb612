"""Lab instances: network namespaces standing in for VMs.

What a hypervisor does for a VM on a Linux bridge host, done by hand:
create the port (device_owner compute:lab, binding:host_id), make the VIF --
a veth whose host end is the tap the agent expects (tap<port[:11]>, MAC
fe:.. as libvirt gives taps) in the host's namespace and whose other end is
the instance's eth0 with the port's MAC and the network's MTU -- and leave
the wiring of the tap to the agent. With `dhcp=True` (the CLI's default)
the instance gets its address like the seed's cirros VM: a real DHCP client
(busybox udhcpc) in its namespace, whose hook script applies the lease
(address, gateway, MTU) and records it; otherwise addresses are set
statically from the port.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neutrino.dataplane import netns as _netns
from neutrino.dataplane.netlink import Netlink
from neutrino.lab.api import ApiError, NeutronApi
from neutrino.lab.state import LabState

DEVICE_OWNER = "compute:lab"
# udhcpc's hook: apply the lease to eth0 and record what the server sent.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    # option 121 (RFC 3442), as cloud images apply it: "dest/len gateway ..."
    set -- $staticroutes
    while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done
    { echo "ip=$ip"; echo "mask=$mask"; echo "router=$router"; echo "mtu=$mtu"
      echo "dns=$dns"; echo "serverid=$serverid"; echo "hostname=$hostname"
      echo "domain=$domain"; echo "lease=$lease"; echo "staticroutes=$staticroutes"
    } > "$LEASE_FILE.tmp" && mv "$LEASE_FILE.tmp" "$LEASE_FILE" ;;
esac
"""
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def tap_mac(port_mac: str) -> str:
    # libvirt gives the host side of a VIF the guest MAC with the first byte fe.
    return "fe" + port_mac[2:]


@dataclass
class Instance:
    name: str
    host: str
    netns: str
    port_id: str
    network_id: str
    mac: str
    ips: list[str] = field(default_factory=list)       # "10.0.0.5/24"
    gateway: str | None = None
    mtu: int = 1500
    tap: str = ""
    host_netns: str = ""
    dhcp: bool = False
    lease: dict[str, str] = field(default_factory=dict)     # what DHCP gave, as udhcpc says
    project_id: str = ""                                     # the port's (the "VM's") project
    uuid: str = ""            # the "VM's" id: the port's device_id (metadata's instance-id)

    @property
    def ip(self) -> str | None:
        return self.ips[0].split("/")[0] if self.ips else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Instances:
    def __init__(self, state: LabState, api: NeutronApi):
        self.state = state
        self.api = api

    def _record(self, name: str) -> Path:
        return self.state.instances_dir / f"{name}.json"

    def netns_of(self, name: str) -> str:
        return f"{self.state.prefix}i-{name}"

    # --- lifecycle ---------------------------------------------------------------
    def create(self, name: str, network: str, host: str | None = None,
               fixed_ips: list[dict] | None = None, admin_state_up: bool = True,
               port: dict | None = None, dhcp: bool = False,
               dhcp_timeout: float = 30.0, project: str | None = None,
               user_data: bytes | None = None) -> Instance:
        """Create the port (or use `port`, already bound to `host`, as with
        `nova boot --nic port-id=...`) and plug the instance.

        The port belongs to `project` (name or id), by default to the
        network's project: what Nova does when that project's user boots a
        VM, so the tenant can attach floating IPs and security groups to it.
        It gets that project's default security group, as upstream."""
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid instance name {name!r} (letters, digits, ._-, max 40)")
        if self._record(name).exists():
            raise ValueError(f"instance {name} exists")
        host = host or (port or {}).get("binding:host_id") or self.state.host_names()[0]
        host_ns = self.state.host_netns(host)
        net = self.api.find_network(network)
        # Nova's instance uuid is the port's device_id: the metadata service
        # finds the instance through it.
        inst_uuid = (port or {}).get("device_id") or str(uuid.uuid4())
        if port is None:
            owner = self.api.find_project(project) if project else net["project_id"]
            body: dict[str, Any] = {"network_id": net["id"], "name": name, "project_id": owner,
                                    "device_owner": DEVICE_OWNER, "device_id": inst_uuid,
                                    "binding:host_id": host, "admin_state_up": admin_state_up}
            if fixed_ips is not None:
                body["fixed_ips"] = fixed_ips
            port = self.api.create("ports", body)
        ns = self.netns_of(name)
        inst = Instance(name=name, host=host, netns=ns, port_id=port["id"],
                        network_id=net["id"], mac=port["mac_address"], mtu=net["mtu"],
                        tap=tap_name(port["id"]), host_netns=host_ns, dhcp=dhcp,
                        project_id=port.get("project_id", ""), uuid=inst_uuid)
        self.state.instances_dir.mkdir(parents=True, exist_ok=True)
        self._save(inst)   # before the namespace: a failure half-way is still cleaned up
        if user_data is not None:      # served as-is by the lab's metadata service
            self.user_data_file(name).write_bytes(user_data)
        try:
            if dhcp:
                self._plug(inst)
                self._save(inst)
                self.dhcp(inst, timeout=dhcp_timeout)
            else:
                self._addresses(inst, port)
                self._plug(inst)
            self._save(inst)
        except BaseException:
            self.delete(name)
            raise
        return inst

    def _addresses(self, inst: Instance, port: dict) -> None:
        for fixed in port["fixed_ips"]:
            subnet = self.api.show("subnets", fixed["subnet_id"])
            if subnet["ip_version"] != 4:
                continue
            plen = ipaddress.ip_network(subnet["cidr"]).prefixlen
            inst.ips.append(f"{fixed['ip_address']}/{plen}")
            if inst.gateway is None and subnet.get("gateway_ip"):
                inst.gateway = subnet["gateway_ip"]

    def _plug(self, inst: Instance) -> None:
        _netns.create(inst.netns)
        with Netlink(inst.host_netns) as host:
            host.create_veth(inst.tap, "eth0", peer_netns=inst.netns, mac=tap_mac(inst.mac),
                             peer_mac=inst.mac, mtu=inst.mtu)
        with Netlink(inst.netns) as nl:
            nl.set_up("eth0")
            for cidr in inst.ips:
                nl.add_address("eth0", cidr)
            if inst.gateway:
                nl.add_route("default", gateway=inst.gateway)

    def lease_file(self, name: str) -> Path:
        return self.state.instances_dir / f"{name}.lease"

    def dhcp(self, inst: Instance, timeout: float = 30.0, tries: int = 3) -> dict[str, str]:
        """Run udhcpc in the instance until it has a lease (or `timeout`):
        DISCOVER, OFFER, REQUEST, ACK. Raises TimeoutError without one."""
        script = self.state.instances_dir / "udhcpc.sh"
        if not script.exists():
            script.write_text(UDHCPC_SCRIPT)
            script.chmod(0o755)
        lease = self.lease_file(inst.name)
        with contextlib.suppress(FileNotFoundError):
            lease.unlink()
        env = {**os.environ, "LEASE_FILE": str(lease)}
        argv = ["busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", str(tries),
                "-T", "1", "-A", "1", "-O", "mtu", "-O", "staticroutes",
                "-x", f"hostname:{inst.name}", "-s", str(script)]
        deadline = time.monotonic() + timeout
        while True:
            with _netns.in_netns(inst.netns):
                subprocess.run(argv, env=env, capture_output=True, timeout=tries * 3 + 10)
            if lease.exists():
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(f"instance {inst.name}: no DHCP lease within {timeout:.0f} s")
        values = dict(line.split("=", 1) for line in lease.read_text().splitlines()
                      if "=" in line)
        inst.lease = values
        inst.ips = [f"{values['ip']}/{values['mask']}"]
        inst.gateway = values.get("router", "").split()[0] if values.get("router") else None
        if values.get("mtu"):
            inst.mtu = int(values["mtu"])
        self._save(inst)
        return values

    def delete(self, name: str, keep_port: bool = False) -> None:
        """Unplug (the namespace and its veth go) and delete the port."""
        inst = self.get(name)
        if inst is None:
            raise KeyError(f"no instance {name}")
        if inst.netns.startswith(self.state.prefix):
            _netns.delete(inst.netns, missing_ok=True)
        if not keep_port:
            self.api.delete("ports", inst.port_id, missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self._record(name).unlink()
        with contextlib.suppress(FileNotFoundError):
            self.lease_file(name).unlink()
        self.user_data_file(name).unlink(missing_ok=True)

    def user_data_file(self, name: str) -> Path:
        return self.state.instances_dir / f"{name}.user_data"

    def get(self, name: str) -> Instance | None:
        try:
            data = json.loads(self._record(name).read_text())
        except FileNotFoundError:
            return None
        return Instance(**data)

    def require(self, name: str) -> Instance:
        inst = self.get(name)
        if inst is None:
            raise KeyError(f"no instance {name}")
        return inst

    def list(self) -> list[Instance]:
        if not self.state.instances_dir.is_dir():
            return []
        out = []
        for path in sorted(self.state.instances_dir.glob("*.json")):
            inst = self.get(path.stem)
            if inst is not None:
                out.append(inst)
        return out

    def port_status(self, name: str) -> str:
        try:
            return self.api.show("ports", self.require(name).port_id)["status"]
        except ApiError:
            return "GONE"

    def _save(self, inst: Instance) -> None:
        path = self._record(inst.name)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(inst.to_dict(), indent=2))
        os.replace(tmp, path)

    # --- using them ------------------------------------------------------------------
    def run(self, name: str, argv: list[str], check: bool = False,
            timeout: float = 60.0) -> subprocess.CompletedProcess:
        inst = self.require(name)
        with _netns.in_netns(inst.netns):
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  check=check)

    def ping(self, name: str, ip: str, count: int = 1, wait: float = 1.0) -> bool:
        out = self.run(name, ["ping", "-n", "-c", str(count), "-W", str(wait), ip],
                       timeout=count * (wait + 1) + 5)
        return out.returncode == 0
