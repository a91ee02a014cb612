"""`openstack loadbalancer ...` (python-octaviaclient 3.15, the OSC plugin)
against a real `neutrino-server`: with `--os-auth-type none --os-endpoint`
(octaviaclient appends /v2.0 and asks /v2.0/lbaas/...), and with password
auth through the embedded identity's catalog (service type load-balancer).

The load balancing agent's reports reach the server's own handler from the
test process on the server's database, so objects go ACTIVE as with a real
agent (see tests/api/octavia_helpers.py)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest

from tests.api.octavia_helpers import Octavia

OPENSTACK = Path(sys.executable).parent / "openstack"

pytestmark = pytest.mark.missing(
    not OPENSTACK.exists() or subprocess.run(
        [sys.executable, "-c", "import octaviaclient"], capture_output=True).returncode,
    reason="python-openstackclient or python-octaviaclient not installed")

SECTIONS = {"ml2": {"tenant_network_types": "vxlan", "type_drivers": "local,vxlan"},
            "ml2_type_vxlan": {"vni_ranges": "1000:1999"}, "DEFAULT": {"api_workers": "1"}}


@pytest.fixture(scope="module")
def cloud(databases, server_factory):
    """A real server on a fresh SQLite database, and an in-process core on
    the same database for the agent's side."""
    from neutrino.db import migrate
    from neutrino.db.engine import Database
    from neutrino.plugins.agents import AgentPlugin
    from neutrino.service import build_server_core
    url = databases.create("sqlite")
    db = Database(url, state_path=databases.tmp)
    migrate.upgrade(db)
    db.dispose()
    server = server_factory({**SECTIONS, "database": {"connection": url}})
    core, _ = build_server_core([], {**SECTIONS, "DEFAULT": {"state_path": databases.tmp},
                                     "database": {"connection": url}})
    home = tempfile.mkdtemp(prefix="osc-home-")
    yield types.SimpleNamespace(server=server, octavia=Octavia(
        types.SimpleNamespace(core=core, agents=AgentPlugin(core))), home=home)
    core.db.dispose()
    shutil.rmtree(home, ignore_errors=True)


def osc(cloud, *args: str, check: bool = True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["HOME"] = cloud.home
    cmd = [str(OPENSTACK), "--os-auth-type", "none", "--os-endpoint", cloud.server.url, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}\n{proc.stdout}"
    return proc


def osc_json(cloud, *args: str):
    out = osc(cloud, *args, "-f", "json").stdout
    return json.loads(out) if out.strip() else None


def test_loadbalancer_commands(cloud):
    o = cloud.octavia
    osc(cloud, "network", "create", "lbnet")
    subnet = osc_json(cloud, "subnet", "create", "--network", "lbnet",
                      "--subnet-range", "10.50.0.0/24", "lbsub")
    assert osc_json(cloud, "loadbalancer", "list") == []
    o.heartbeat()
    lb = osc_json(cloud, "loadbalancer", "create", "--name", "lb1", "--vip-subnet-id",
                  subnet["id"])
    assert lb["provisioning_status"] == "PENDING_CREATE" and lb["provider"] == "haproxy"
    assert lb["vip_address"].startswith("10.50.0.")
    # Immutable while pending, as octaviaclient shows Octavia's faultstring.
    busy = osc(cloud, "loadbalancer", "set", "--name", "x", "lb1", check=False)
    assert busy.returncode != 0 and "Invalid state PENDING_CREATE" in busy.stderr
    o.ack()
    shown = osc_json(cloud, "loadbalancer", "show", "lb1")
    assert shown["provisioning_status"] == "ACTIVE" and shown["id"] == lb["id"]
    assert [x["name"] for x in osc_json(cloud, "loadbalancer", "list")] == ["lb1"]

    lis = osc_json(cloud, "loadbalancer", "listener", "create", "--name", "web",
                   "--protocol", "HTTP", "--protocol-port", "80", "lb1")
    assert lis["protocol_port"] == 80
    o.ack()
    pool = osc_json(cloud, "loadbalancer", "pool", "create", "--name", "p1", "--listener",
                    "web", "--protocol", "HTTP", "--lb-algorithm", "ROUND_ROBIN")
    assert pool["lb_algorithm"] == "ROUND_ROBIN"
    o.ack()
    for n in (11, 12):
        osc(cloud, "loadbalancer", "member", "create", "--name", f"m{n}", "--subnet-id",
            subnet["id"], "--address", f"10.50.0.{n}", "--protocol-port", "8080", "p1")
        o.ack()
    members = osc_json(cloud, "loadbalancer", "member", "list", "p1")
    assert sorted(m["address"] for m in members) == ["10.50.0.11", "10.50.0.12"]
    hm = osc_json(cloud, "loadbalancer", "healthmonitor", "create", "--name", "hm1",
                  "--delay", "5", "--timeout", "3", "--max-retries", "3", "--type", "HTTP",
                  "--url-path", "/health", "p1")
    assert hm["url_path"] == "/health"
    o.ack()
    pol = osc_json(cloud, "loadbalancer", "l7policy", "create", "--name", "api",
                   "--action", "REDIRECT_TO_POOL", "--redirect-pool", "p1", "web")
    o.ack()
    osc(cloud, "loadbalancer", "l7rule", "create", "--compare-type", "STARTS_WITH",
        "--type", "PATH", "--value", "/api", pol["id"])
    o.ack()
    status = json.loads(osc(cloud, "loadbalancer", "status", "show", "lb1").stdout)
    [listener] = status["loadbalancer"]["listeners"]
    assert listener["name"] == "web"
    assert len(listener["pools"][0]["members"]) == 2
    assert osc_json(cloud, "loadbalancer", "stats", "show", "lb1")["bytes_in"] == 0
    osc(cloud, "loadbalancer", "member", "set", "--weight", "3", "p1", "m11")
    o.ack()
    assert osc_json(cloud, "loadbalancer", "member", "show", "p1", "m11")["weight"] == 3

    osc(cloud, "loadbalancer", "delete", "--cascade", "lb1")
    assert osc_json(cloud, "loadbalancer", "show", "lb1")["provisioning_status"] == \
        "PENDING_DELETE"
    o.ack()
    assert osc_json(cloud, "loadbalancer", "list") == []
    assert osc_json(cloud, "loadbalancer", "pool", "list") == []


def test_provider_list(cloud):
    providers = osc_json(cloud, "loadbalancer", "provider", "list")
    assert [p["name"] for p in providers] == ["haproxy"]


def test_keystone_catalog(server_factory, tmp_path_factory):
    """Password auth: octaviaclient finds the load-balancer endpoint in the
    embedded identity's catalog; quotas by project name."""
    from tests.api.test_auth_openstackclient import Cloud
    server = server_factory({**SECTIONS, "DEFAULT": {"auth_strategy": "keystone",
                                                     "api_workers": "1"}})
    c = Cloud(server, str(tmp_path_factory.mktemp("lb-openrc")))
    c.openrc("admin", "admin")
    out = c.openstack("admin", "catalog", "show", "load-balancer", "-f", "json")
    assert "/load-balancer" in out.stdout
    assert json.loads(c.openstack("admin", "loadbalancer", "list", "-f", "json").stdout) == []
    assert "haproxy" in c.openstack("admin", "loadbalancer", "provider", "list").stdout
    # Quotas name the project (resolved through the identity API).
    c.openstack("admin", "loadbalancer", "quota", "set", "--loadbalancer", "7", "admin")
    quota = json.loads(c.openstack("admin", "loadbalancer", "quota", "show", "admin",
                                   "-f", "json").stdout)
    assert quota["load_balancer"] == 7
    c.openstack("admin", "loadbalancer", "quota", "reset", "admin")
    quota = json.loads(c.openstack("admin", "loadbalancer", "quota", "show", "admin",
                                   "-f", "json").stdout)
    assert quota["load_balancer"] == -1
