"""The real python-openstackclient (OSC 10.5 / openstacksdk 4.22) against a
real `neutrino-server` subprocess.

How OSC reaches a noauth server: `openstack --os-auth-type none --os-endpoint
http://127.0.0.1:<port>` (keystoneauth's `none` plugin: no token, every
service at that endpoint; the SDK discovers /v2.0 from GET /). That plugin
cannot send X-Project-Id / X-Roles, so every OSC call is noauth's default
persona: admin of project 00000000000000000000000000000000. Member scenarios
go through a small header-injecting HTTP proxy started here (the headers a
keystone-validated request would carry), so OSC really talks to neutrino as a
member.
"""
from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import free_port

OPENSTACK = Path(sys.executable).parent / "openstack"

pytestmark = pytest.mark.missing(not OPENSTACK.exists(),
                                reason=f"python-openstackclient not installed ({OPENSTACK})")


class HeaderProxy:
    """Forwards every request to `target`, adding fixed headers."""

    def __init__(self, target: str, headers: dict[str, str]):
        parts = urlsplit(target)
        host, port, extra = parts.hostname, parts.port, headers

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(host, port, timeout=60)
                fwd = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("connection", "x-project-id", "x-tenant-id",
                                            "x-roles", "x-user-id")}
                fwd.update(extra)
                conn.request(self.command, self.path, body=body, headers=fwd)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length",
                                           "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory({
        "ml2": {"tenant_network_types": "vxlan", "type_drivers": "local,flat,vlan,vxlan"},
        "ml2_type_vxlan": {"vni_ranges": "1000:1999"},
        "ml2_type_vlan": {"network_vlan_ranges": "physnet1:100:199"},
        "DEFAULT": {"api_workers": "1"},
    })


@pytest.fixture(scope="module")
def osc_home():
    home = tempfile.mkdtemp(prefix="osc-home-")
    yield home
    shutil.rmtree(home, ignore_errors=True)


class Osc:
    def __init__(self, endpoint: str, home: str):
        self.endpoint = endpoint
        # A clean environment: no OS_* from the caller, no clouds.yaml.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env["HOME"] = home

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(OPENSTACK), "--os-auth-type", "none", "--os-endpoint", self.endpoint,
               "--os-network-api-version", "2", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=120)
        if check:
            assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}\n{proc.stdout}"
        return proc

    def json(self, *args: str):
        return json.loads(self.run(*args, "-f", "json").stdout)


@pytest.fixture(scope="module")
def admin_osc(server, osc_home):
    return Osc(server.url, osc_home)


@pytest.fixture(scope="module")
def member_osc(server, osc_home):
    proxy = HeaderProxy(server.url, {"X-Project-Id": secrets.token_hex(16),
                                     "X-Roles": "member,reader", "X-User-Id": "osc-member"})
    yield Osc(proxy.url, osc_home)
    proxy.close()


def api_get(server, path):
    import httpx
    return httpx.get(server.url + "/v2.0/" + path, timeout=30)


def api_delete(server, path):
    import httpx
    assert httpx.delete(server.url + "/v2.0/" + path, timeout=30).status_code == 204


# Each OSC invocation costs ~2.5 s of CPU (imports), so the tests use as few
# as cover the brief; setup checks and cleanup go straight to the API.

def test_network_lifecycle(admin_osc, server):
    name = "osc-" + secrets.token_hex(3)
    net = admin_osc.json("network", "create", name, "--description", "from osc")
    assert net["name"] == name and net["description"] == "from osc"
    assert net["mtu"] == 1450 and net["status"] == "ACTIVE"
    assert net["provider:network_type"] == "vxlan"
    assert name in {n["Name"] for n in admin_osc.json("network", "list")}
    admin_osc.run("network", "set", "--name", name + "-x", "--description", "changed",
                  "--disable", name)
    shown = admin_osc.json("network", "show", net["id"])
    assert (shown["name"], shown["description"], shown["admin_state_up"]) == (
        name + "-x", "changed", False)
    assert shown["revision_number"] == 2
    admin_osc.run("network", "delete", name + "-x")
    assert api_get(server, f"networks/{net['id']}").status_code == 404


def test_subnet_and_port(admin_osc, server):
    name = "osc-" + secrets.token_hex(3)
    net = admin_osc.json("network", "create", name)
    sub = admin_osc.json("subnet", "create", name + "-s", "--network", name,
                         "--subnet-range", "10.9.0.0/24",
                         "--allocation-pool", "start=10.9.0.10,end=10.9.0.20",
                         "--gateway", "none", "--dns-nameserver", "8.8.8.8")
    assert sub["cidr"] == "10.9.0.0/24" and sub["network_id"] == net["id"]
    assert sub["gateway_ip"] is None
    assert sub["allocation_pools"] == [{"start": "10.9.0.10", "end": "10.9.0.20"}]
    assert sub["dns_nameservers"] == ["8.8.8.8"]
    port = admin_osc.json("port", "create", name + "-p", "--network", name,
                          "--fixed-ip", f"subnet={name}-s,ip-address=10.9.0.15")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.9.0.15"}]
    assert port["mac_address"].startswith("fa:16:3e:")
    # The address is taken: OSC reports neutrino's 409.
    proc = admin_osc.run("port", "create", name + "-p2", "--network", net["id"],
                         "--fixed-ip", f"subnet={sub['id']},ip-address=10.9.0.15", check=False)
    assert proc.returncode != 0
    assert "IP address 10.9.0.15 already allocated in subnet" in proc.stderr, proc.stderr
    ports = api_get(server, f"ports?network_id={net['id']}").json()["ports"]
    assert [p["id"] for p in ports] == [port["id"]]
    api_delete(server, f"ports/{port['id']}")
    api_delete(server, f"networks/{net['id']}")


def test_admin_provider_network(admin_osc, server):
    name = "osc-" + secrets.token_hex(3)
    net = admin_osc.json("network", "create", name, "--provider-network-type", "vxlan",
                         "--provider-segment", "5000")
    assert net["provider:segmentation_id"] == 5000
    shown = admin_osc.json("network", "show", name)
    assert shown["provider:network_type"] == "vxlan"
    assert shown["provider:segmentation_id"] == 5000
    assert shown["provider:physical_network"] is None
    proc = admin_osc.run("network", "create", name + "-dup", "--provider-network-type",
                         "vxlan", "--provider-segment", "5000", check=False)
    assert proc.returncode != 0
    assert "Unable to create the network. The tunnel ID 5000 is in use." in proc.stderr
    api_delete(server, f"networks/{net['id']}")


def test_member_cannot_set_provider_attributes(member_osc, server):
    name = "osc-m-" + secrets.token_hex(3)
    proc = member_osc.run("network", "create", name, "--provider-network-type", "vxlan",
                          "--provider-segment", "5001", check=False)
    assert proc.returncode != 0
    assert ("((rule:create_network and rule:create_network:provider:network_type) and "
            "rule:create_network:provider:segmentation_id) is disallowed by policy"
            ) in proc.stderr, proc.stderr
    assert api_get(server, f"networks?name={name}").json()["networks"] == []
    # A plain network works for the member, who does not see provider:*.
    net = member_osc.json("network", "create", name)
    assert net["project_id"] != "00000000000000000000000000000000"
    assert net["provider:network_type"] is None
    assert api_get(server, f"networks/{net['id']}").json()["network"][
        "provider:network_type"] == "vxlan"
    proc = member_osc.run("network", "set", "--share", net["id"], check=False)
    assert proc.returncode != 0
    assert "rule:update_network:shared" in proc.stderr, proc.stderr
    api_delete(server, f"networks/{net['id']}")
