"""The seed's demo-tenant flow, as a user runs it: `neutrino lab up --auth
keystone`, `source <(neutrino lab openrc demo)`, then the real `openstack`
CLI as the demo tenant -- network, subnet, router with its gateway on the
external network the admin made, an instance (owned by demo), the default
security group dropping what comes from the outside host, a rule opening
ICMP and SSH, a floating IP created and associated by demo, and the outside
host reaching the instance through it. Demo sees its own networks and the
shared/external ones, never the admin's private ones."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from neutrino.dataplane import netns as ns
from tests.e2e.helpers import wait_for
from tests.machine import missing

pytestmark = pytest.mark.root

BIN = Path(sys.executable).parent
OPENSTACK = BIN / "openstack"
NEUTRINO = [sys.executable, "-m", "neutrino.cli.main"]
OUTSIDE = "203.0.113.254"


class Cloud:
    """The lab's command line and the openstack CLI with a user's openrc."""

    def __init__(self, lab_dir: Path):
        self.lab_dir = lab_dir
        self.rc: dict[str, Path] = {}

    def neutrino(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*NEUTRINO, "--lab-dir", str(self.lab_dir), *args],
                              capture_output=True, text=True, timeout=120)
        if check:
            assert proc.returncode == 0, f"neutrino {' '.join(args)}: {proc.stdout}{proc.stderr}"
        return proc

    def openrc(self, user: str) -> Path:
        path = self.lab_dir.parent / f"{user}-openrc.sh"
        path.write_text(self.neutrino("lab", "openrc", user).stdout)
        self.rc[user] = path
        return path

    def openstack(self, user: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        # a clean environment: only what the openrc file sets
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        script = f'source "$1" && shift && exec {OPENSTACK} "$@"'
        out = subprocess.run(["bash", "-c", script, "bash", str(self.rc[user]), *args],
                             capture_output=True, text=True, env=env, timeout=120)
        if ok:
            assert out.returncode == 0, f"openstack {' '.join(args)} as {user}: {out.stderr}"
        return out

    def value(self, user: str, *args: str, column: str = "id") -> str:
        return self.openstack(user, *args, "-f", "value", "-c", column).stdout.strip()

    def network_names(self, user: str) -> set[str]:
        out = self.openstack(user, "network", "list", "-f", "json")
        return {n["Name"] for n in json.loads(out.stdout)}


def outside(cloud: Cloud, *argv: str, timeout: float = 15.0) -> subprocess.CompletedProcess:
    return cloud.neutrino("lab", "outside", "exec", "--", *argv, check=False)


def pings(cloud: Cloud, ip: str) -> bool:
    return outside(cloud, "ping", "-n", "-c", "1", "-W", "1", ip).returncode == 0


def ssh_banner(cloud: Cloud, ip: str) -> str:
    """What the instance's port 22 says to a client on the outside host ("" if
    the connection fails)."""
    out = outside(cloud, "socat", "-T", "2", "-", f"TCP:{ip}:22,connect-timeout=2")
    return out.stdout.strip() if out.returncode == 0 else ""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    if os.geteuid() != 0:
        missing("needs root: network namespaces")
    if not OPENSTACK.exists():
        missing(f"python-openstackclient missing ({OPENSTACK})")
    lab_dir = tmp_path_factory.mktemp("demo-flow") / "lab"
    c = Cloud(lab_dir)
    up = c.neutrino("lab", "up", "--hosts", "2", "--port", "0", "--auth", "keystone",
                    check=False)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "security groups on (iptables), auth keystone" in up.stdout
        c.openrc("admin")
        c.openrc("demo")
        yield c
    finally:
        c.neutrino("lab", "down", check=False)


def test_openrc_is_the_seeds(cloud):
    text = cloud.rc["demo"].read_text()
    for line in ("export OS_USERNAME=demo", "export OS_PROJECT_NAME=demo",
                 "export OS_USER_DOMAIN_NAME=Default", "export OS_PROJECT_DOMAIN_NAME=Default",
                 "export OS_IDENTITY_API_VERSION=3", "export OS_IMAGE_API_VERSION=2"):
        assert line in text.splitlines(), line
    assert "/identity/v3" in text and "OS_PASSWORD=" in text
    # the openrc is a real credential: keystone issues demo a token scoped to demo
    token = json.loads(cloud.openstack("demo", "token", "issue", "-f", "json").stdout)
    projects = json.loads(cloud.openstack("admin", "project", "list", "-f", "json").stdout)
    assert token["project_id"] == {p["Name"]: p["ID"] for p in projects}["demo"]
    assert cloud.neutrino("lab", "openrc", "nobody", check=False).returncode != 0


def test_demo_tenant_flow(cloud):
    c = cloud
    # --- the admin: the external network (the seed's ext_net) and a private network
    c.openstack("admin", "network", "create", "--external", "--provider-network-type", "flat",
                "--provider-physical-network", "external", "ext_net")
    c.openstack("admin", "subnet", "create", "--network", "ext_net", "--subnet-range",
                "203.0.113.0/24", "--gateway", OUTSIDE, "--no-dhcp", "--allocation-pool",
                "start=203.0.113.100,end=203.0.113.199", "ext_subnet")
    c.openstack("admin", "network", "create", "admin_private")
    c.openstack("admin", "network", "create", "--share", "admin_shared")

    # --- demo: its network, subnet and router with the gateway on ext_net
    c.openstack("demo", "network", "create", "demo_net")
    c.openstack("demo", "subnet", "create", "--network", "demo_net", "--subnet-range",
                "10.0.0.0/24", "demo_subnet")
    c.openstack("demo", "router", "create", "demo_router")
    c.openstack("demo", "router", "set", "demo_router", "--external-gateway", "ext_net")
    c.openstack("demo", "router", "add", "subnet", "demo_router", "demo_subnet")

    # demo sees its own, the external and the shared network; not admin's private one
    assert c.network_names("demo") == {"demo_net", "ext_net", "admin_shared"}
    assert "admin_private" in c.network_names("admin")
    hidden = c.openstack("demo", "network", "show", "admin_private", ok=False)
    assert hidden.returncode != 0 and "admin_private" in hidden.stderr

    # --- the instance: booted on demo_net, its port belongs to demo
    made = c.neutrino("lab", "instance", "create", "--network", "demo_net", "--host", "host2",
                      "vm1").stdout
    inst = {i["name"]: i for i in json.loads(
        c.neutrino("lab", "instance", "list", "--json").stdout)}["vm1"]
    demo_project = c.value("admin", "project", "show", "demo")
    assert inst["project_id"] == demo_project and f"project {demo_project}" in made
    port = json.loads(c.openstack("demo", "port", "show", inst["port_id"], "-f", "json").stdout)
    default_sg = c.value("demo", "security", "group", "show", "default")
    assert port["security_group_ids"] == [default_sg]    # demo's default group
    vm_ip = inst["ips"][0]

    # an SSH stand-in in the instance: socat answering on port 22
    with ns.in_netns(f"{json.loads(c.neutrino('lab', 'status', '--json').stdout)['prefix']}"
                     f"i-vm1"):
        sshd = subprocess.Popen(["socat", "TCP-LISTEN:22,fork,reuseaddr",
                                 "SYSTEM:echo SSH-2.0-lab-vm1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # --- a floating IP, created and associated by demo
        fip = c.value("demo", "floating", "ip", "create", "ext_net",
                      column="floating_ip_address")
        c.openstack("demo", "floating", "ip", "set", "--port", inst["port_id"], fip)
        wait_for(lambda: c.value("demo", "floating", "ip", "show", fip,
                                 column="status") == "ACTIVE", timeout=30,
                 what="floating IP ACTIVE")
        # the instance reaches out (egress is open in the default group): SNAT'd
        # to its floating IP
        whoami = c.neutrino("lab", "instance", "exec", "vm1", "--", "curl", "-s", "-m", "5",
                            f"http://{OUTSIDE}/whoami").stdout.strip()
        assert whoami == fip

        # --- the default group: nothing from the outside host gets in
        assert not pings(c, fip)
        assert ssh_banner(c, fip) == ""

        # --- the seed's rules: ICMP and SSH open to anyone
        c.openstack("demo", "security", "group", "rule", "create", "--protocol", "icmp",
                    "default")
        c.openstack("demo", "security", "group", "rule", "create", "--protocol", "tcp",
                    "--dst-port", "22", "default")
        wait_for(lambda: pings(c, fip), timeout=20, interval=0.5,
                 what="ping of the floating IP from outside")
        assert ssh_banner(c, fip) == "SSH-2.0-lab-vm1"
        # only ICMP and SSH: another port stays closed
        closed = outside(c, "socat", "-T", "2", "-", f"TCP:{fip}:80,connect-timeout=2")
        assert closed.returncode != 0
        # and the instance's own address is not reachable from outside at all
        assert not pings(c, vm_ip)

        # --- the floating IP taken away: the outside host loses the instance
        c.openstack("demo", "floating", "ip", "unset", "--port", fip)
        wait_for(lambda: not pings(c, fip), timeout=20, interval=0.5,
                 what="floating IP disassociated")
    finally:
        sshd.kill()
        sshd.wait()
    # demo may not touch what admin owns
    denied = c.openstack("demo", "network", "delete", "admin_shared", ok=False)
    assert denied.returncode != 0

    # --project (by name): demo's instance on the admin's shared network
    c.openstack("admin", "subnet", "create", "--network", "admin_shared", "--subnet-range",
                "10.9.0.0/24", "shared_subnet")
    made = c.neutrino("lab", "instance", "create", "--network", "admin_shared", "--project",
                      "demo", "vm2").stdout
    assert f"project {demo_project} " in made
    ports = json.loads(c.openstack("demo", "port", "list", "--network", "admin_shared",
                                   "--device-owner", "compute:lab", "-f", "json").stdout)
    assert [p["Name"] for p in ports] == ["vm2"]
