"""The `neutrino lab` / `neutrino show` command line, as a user runs it:
up, status, instances, exec, show, outside, down -- and nothing left behind."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from neutrino.dataplane import netns as ns

pytestmark = pytest.mark.root

NEUTRINO = [sys.executable, "-m", "neutrino.cli.main"]


def run(lab_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*NEUTRINO, "--lab-dir", str(lab_dir), *args], capture_output=True,
                          text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
    return proc


def test_lab_cli_round_trip(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    lab_dir = tmp_path / "lab"
    up = run(lab_dir, "lab", "up", "--hosts", "2", "--port", "0")
    try:
        assert "API: http://127.0.0.1:" in up.stdout
        status = json.loads(run(lab_dir, "lab", "status", "--json").stdout)
        assert [h["name"] for h in status["hosts"]] == ["host1", "host2"]
        assert all(h["agent"]["alive"] for h in status["hosts"]) and status["api_up"]
        prefix = status["prefix"]

        from neutrino.lab.api import NeutronApi
        with NeutronApi(status["api_url"]) as api:
            net = api.create_network("clinet")
            api.create_subnet(net["id"], "10.44.0.0/24")
        run(lab_dir, "lab", "instance", "create", "--network", "clinet", "--host", "host1", "vm1")
        run(lab_dir, "lab", "instance", "create", "--network", "clinet", "--host", "host2", "vm2")
        listed = {i["name"]: i for i in
                  json.loads(run(lab_dir, "lab", "instance", "list", "--json").stdout)}
        assert set(listed) == {"vm1", "vm2"} and listed["vm2"]["host"] == "host2"
        assert listed["vm1"]["mac"].startswith("fa:16:3e") and listed["vm1"]["port_id"]
        ping = run(lab_dir, "lab", "instance", "exec", "vm1", "--", "ping", "-c", "1", "-W", "2",
                   listed["vm2"]["ips"][0], check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr

        shown = run(lab_dir, "show", "network", "clinet").stdout
        assert "brq" + net["id"][:11] in shown and f"vxlan-{net['provider:segmentation_id']}" \
            in shown and "vm1" in shown and "vm2" in shown
        view = json.loads(run(lab_dir, "show", "port", listed["vm1"]["port_id"], "--json").stdout)
        (host,) = view["hosts"]
        assert host["host"] == "host1" and host["bridge"]["name"] == "brq" + net["id"][:11]
        assert any(m["name"] == "tap" + listed["vm1"]["port_id"][:11] for m in host["members"])

        out = run(lab_dir, "lab", "outside", "exec", "--", "ip", "-br", "addr").stdout
        assert "203.0.113.254/24" in out
        run(lab_dir, "lab", "instance", "delete", "vm2")
        assert {i["name"] for i in json.loads(
            run(lab_dir, "lab", "instance", "list", "--json").stdout)} == {"vm1"}
    finally:
        run(lab_dir, "lab", "down", check=False)
    assert not lab_dir.exists()
    assert not any(n.startswith(prefix) for n in ns.list_netns())
