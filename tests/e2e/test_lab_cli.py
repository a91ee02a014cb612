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
from tests.machine import missing

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
        missing("needs root")
    lab_dir = tmp_path / "lab"
    up = run(lab_dir, "lab", "up", "--hosts", "2", "--port", "0")
    try:
        assert "API: http://127.0.0.1:" in up.stdout
        status = json.loads(run(lab_dir, "lab", "status", "--json").stdout)
        # what README and bootstrap say to export, for the API it serves
        assert f"export OS_AUTH_TYPE=none OS_ENDPOINT={status['api_url']}" in up.stdout
        assert "OS_ENDPOINT_OVERRIDE" not in up.stdout
        assert status["firewall"] is True and status["auth"] == "noauth"   # as upstream
        assert [h["name"] for h in status["hosts"]] == ["host1", "host2"]
        assert all(h["agent"]["alive"] for h in status["hosts"]) and status["api_up"]
        prefix = status["prefix"]

        from neutrino.lab.api import NeutronApi
        with NeutronApi(status["api_url"]) as api:
            net = api.create_network("clinet")
            api.create_subnet(net["id"], "10.44.0.0/24")
        run(lab_dir, "lab", "instance", "create", "--network", "clinet", "--host", "host1", "vm1")
        user_data = tmp_path / "vm2.yaml"
        user_data.write_bytes(b"#cloud-config\nhostname: vm2\n")
        run(lab_dir, "lab", "instance", "create", "--network", "clinet", "--host", "host2",
            "--user-data", str(user_data), "vm2")
        missing_file = run(lab_dir, "lab", "instance", "create", "--network", "clinet",
                           "--user-data", str(tmp_path / "nope"), "vm9", check=False)
        assert missing_file.returncode == 2 and "--user-data" in missing_file.stderr
        # the metadata service of a network without a router (the DHCP namespace's)
        served = run(lab_dir, "lab", "instance", "exec", "vm2", "--", "curl", "-sS", "-m", "10",
                     "http://169.254.169.254/openstack/latest/user_data", check=False)
        assert served.stdout == user_data.read_text(), served.stdout + served.stderr
        listed = {i["name"]: i for i in
                  json.loads(run(lab_dir, "lab", "instance", "list", "--json").stdout)}
        assert set(listed) == {"vm1", "vm2"} and listed["vm2"]["host"] == "host2"
        assert listed["vm1"]["mac"].startswith("fa:16:3e") and listed["vm1"]["port_id"]
        assert listed["vm1"]["project_id"] == net["project_id"]
        ping = run(lab_dir, "lab", "instance", "exec", "vm1", "--", "ping", "-c", "1", "-W", "2",
                   listed["vm2"]["ips"][0], check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr

        # by name as by id: the port (named after its instance) and a router
        by_name = json.loads(run(lab_dir, "show", "port", "vm1", "--json").stdout)
        assert by_name["port"]["id"] == listed["vm1"]["port_id"]
        with NeutronApi(status["api_url"]) as api:
            router = api.create("routers", {"name": "clirouter"})
            dups = [api.create_network("dup")["id"] for _ in range(2)]
        shown_router = run(lab_dir, "show", "router", "clirouter").stdout
        assert shown_router.startswith(f"router {router['id']} 'clirouter'")
        ambiguous = run(lab_dir, "show", "network", "dup", check=False)
        assert ambiguous.returncode == 1 and all(i in ambiguous.stderr for i in dups)
        missing = run(lab_dir, "show", "router", "no-such-router", check=False)
        assert missing.returncode == 1 and "no-such-router" in missing.stderr

        shown = run(lab_dir, "show", "network", "clinet").stdout
        assert "brq" + net["id"][:11] in shown and f"vxlan-{net['provider:segmentation_id']}" \
            in shown and "vm1" in shown and "vm2" in shown
        view = json.loads(run(lab_dir, "show", "port", listed["vm1"]["port_id"], "--json").stdout)
        (host,) = view["hosts"]
        assert host["host"] == "host1" and host["bridge"]["name"] == "brq" + net["id"][:11]
        assert any(m["name"] == "tap" + listed["vm1"]["port_id"][:11] for m in host["members"])

        # a tenant's network: the instance's port is the tenant's, as when its
        # user boots a VM -- so the tenant can put it in its own group
        tenant = {"X-Project-Id": "p1", "X-Roles": "member"}
        with NeutronApi(status["api_url"], headers=tenant) as p1:
            tnet = p1.create_network("p1net")
            p1.create_subnet(tnet["id"], "10.45.0.0/24")
            run(lab_dir, "lab", "instance", "create", "--network", "p1net", "vm3")
            vm3 = {i["name"]: i for i in json.loads(
                run(lab_dir, "lab", "instance", "list", "--json").stdout)}["vm3"]
            assert vm3["project_id"] == "p1"
            web = p1.request("POST", "/v2.0/security-groups",
                             {"security_group": {"name": "web"}})["security_group"]
            port = p1.update("ports", vm3["port_id"], {"security_groups": [web["id"]]})
            assert port["security_groups"] == [web["id"]]
        # --project: another project's instance on a shared network
        with NeutronApi(status["api_url"]) as api:
            shared = api.create_network("sharednet", shared=True)
            api.create_subnet(shared["id"], "10.46.0.0/24")
        made = run(lab_dir, "lab", "instance", "create", "--network", "sharednet", "--project",
                   "p2", "vm4").stdout
        assert "project p2 " in made
        with NeutronApi(status["api_url"], headers={"X-Project-Id": "p2",
                                                    "X-Roles": "member"}) as p2:
            assert [p["name"] for p in p2.list("ports", device_owner="compute:lab")] == ["vm4"]

        out = run(lab_dir, "lab", "outside", "exec", "--", "ip", "-br", "addr").stdout
        assert "203.0.113.254/24" in out
        run(lab_dir, "lab", "instance", "delete", "vm2")
        assert {i["name"] for i in json.loads(
            run(lab_dir, "lab", "instance", "list", "--json").stdout)} == {"vm1", "vm3", "vm4"}
    finally:
        run(lab_dir, "lab", "down", check=False)
    assert not lab_dir.exists()
    assert not any(n.startswith(prefix) for n in ns.list_netns())
