"""The DHCP agent through the CLI, on the session lab: `neutrino lab
instance create` waits for a DHCP lease and shows it, `neutrino show
network` shows the qdhcp namespace, dnsmasq's command line and host file,
`neutrino lab dhcp-check` finds no rogue server on a clean network."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.test_dhcp_agent import serving

pytestmark = pytest.mark.root
NEUTRINO = [sys.executable, "-m", "neutrino.cli.main"]


def run(lab, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*NEUTRINO, "--lab-dir", lab.state.lab_dir, *args],
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_instance_create_show_network_and_dhcp_check(world, lab):
    net = world.network("cli", cidr="10.89.0.0/24", network_type="vxlan")
    serving(lab, net["id"])
    name = f"vm-{world.tag}"
    world.instance_names.append(name)           # removed by the world afterwards
    out = run(lab, "lab", "instance", "create", "--network", net["id"], "--host", "host2",
              name).stdout
    port = lab.api.list("ports", network_id=net["id"], device_owner="compute:lab")[0]
    ip = port["fixed_ips"][0]["ip_address"]
    assert f"DHCP lease from " in out and f"{ip}/24 router 10.89.0.1 mtu 1450" in out, out

    shown = run(lab, "show", "network", net["id"]).stdout
    assert f"host1-qdhcp-{net['id']}" in shown
    assert "--dhcp-hostsfile=" in shown and "--dhcp-option-force=option:mtu,1450" in shown
    assert f"{port['mac_address']},host-{ip.replace('.', '-')}.openstacklocal,{ip}" in shown
    view = json.loads(run(lab, "show", "network", net["id"], "--json").stdout)
    (dhcp,) = view["dhcp"]
    assert dhcp["interface"].startswith("ns-") and dhcp["netns"].endswith(net["id"])

    check = run(lab, "lab", "dhcp-check", net["id"]).stdout
    assert "OK: no other DHCP server answered" in check
