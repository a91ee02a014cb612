"""The metadata proxy on the real kernel: haproxy in a namespace forwards
to a unix socket with upstream's headers, a new manager adopts a running
proxy, a changed config restarts it, stop ends it; and the metadata agent
answers through it (with a Nova stand-in on the namespace's loopback)."""
from __future__ import annotations

import json
import secrets
import socket
import socketserver
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from neutrino import config
from neutrino.agent.metadata.agent import MetadataAgent, PortLookup, sign_instance_id
from neutrino.agent.metadata.proxy import ProxyManager, ProxySpec
from neutrino.agent_options import METADATA_AGENT_SCHEMA
from neutrino.dataplane import netns as ns
from neutrino.dataplane.process import pid_cmdline
from tests.dataplane.conftest import have

pytestmark = [pytest.mark.root,
              pytest.mark.missing(not have("haproxy") or not have("curl"),
                                 reason="needs haproxy and curl")]
ROUTER = "0b3c5d1e-1111-4c1e-9b7e-000000000001"


class _Echo(BaseHTTPRequestHandler):
    """Answers with the headers it got, as JSON."""
    def do_GET(self):
        # header names are case-insensitive (haproxy sends them lowercased)
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self):
        return "unix"

    def log_message(self, *a):
        pass


class _UnixHttp(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def echo_socket(tmp_path):
    path = str(tmp_path / "metadata_proxy")
    server = _UnixHttp(path, _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield path
    server.shutdown()
    server.server_close()


def curl(netns: str, url: str, *args: str) -> subprocess.CompletedProcess:
    with ns.in_netns(netns):
        return subprocess.run(["curl", "-sS", "-m", "5", *args, url], capture_output=True,
                              text=True, timeout=15)


def test_haproxy_forwards_to_the_unix_socket_with_the_router_header(netns, tmp_path,
                                                                    echo_socket):
    router_ns = netns("qrouter")
    ns.run(["ip", "link", "set", "lo", "up"], netns=router_ns)
    spec = ProxySpec(uuid=ROUTER, netns=router_ns, bind_host="0.0.0.0", bind_port=9697,
                     socket_path=echo_socket, router=True)
    proxies = ProxyManager(str(tmp_path))
    try:
        assert proxies.ensure(spec) is True
        out = curl(router_ns, "http://127.0.0.1:9697/openstack/latest/meta_data.json",
                   "-H", "X-Neutron-Network-ID: spoofed")
        headers = json.loads(out.stdout)
        assert headers["x-neutron-router-id"] == ROUTER
        assert "x-neutron-network-id" not in headers          # deleted by haproxy
        assert headers["x-forwarded-for"] == "127.0.0.1"
        pid = proxies.daemon(ROUTER, router_ns).pid
        # another manager (a restarted agent) adopts it: nothing restarted
        again = ProxyManager(str(tmp_path))
        assert again.ensure(spec) is False
        assert again.daemon(ROUTER, router_ns).pid == pid
        assert again.known(router=True) == {ROUTER} and again.known(router=False) == set()
        # a changed configuration (another port) restarts it
        assert again.ensure(ProxySpec(**{**spec.__dict__, "bind_port": 9698})) is True
        assert pid_cmdline(pid) is None
        assert curl(router_ns, "http://127.0.0.1:9698/").returncode == 0
        assert again.stop(ROUTER) is True
        assert not again.config_path(ROUTER).exists() and not again.pid_path(ROUTER).exists()
        assert curl(router_ns, "http://127.0.0.1:9698/").returncode != 0
    finally:
        ProxyManager(str(tmp_path)).stop(ROUTER)


def test_agent_answers_through_the_proxy(netns, tmp_path):
    """haproxy -> the agent's socket -> a Nova stand-in on the host
    namespace's loopback, with the signed headers."""
    host = netns("host")
    ns.run(["ip", "link", "set", "lo", "up"], netns=host)
    seen = {}

    class Nova(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.update(self.headers.items())
            body = b'{"uuid": "vm"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    with ns.in_netns(host):
        sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    nova = ThreadingHTTPServer(("127.0.0.1", 0), Nova, bind_and_activate=False)
    nova.socket.close()
    nova.socket = sock
    threading.Thread(target=nova.serve_forever, daemon=True).start()
    secret = secrets.token_hex(8)
    cfg = config.load(METADATA_AGENT_SCHEMA, [], {"DEFAULT": {
        "host": "h", "state_path": str(tmp_path), "metadata_proxy_shared_secret": secret,
        "nova_metadata_port": str(sock.getsockname()[1])}, "agent": {"report_interval": "0"}})
    agent = MetadataAgent(cfg, transport=object(), netns=host)
    agent.lookup = PortLookup(lambda filters: [
        {"network_id": "n1", "device_id": "vm-uuid", "project_id": "demo"}]
        if "fixed_ips" in filters else [{"network_id": "n1"}])
    agent.start()
    proxies = ProxyManager(str(tmp_path))
    try:
        proxies.ensure(ProxySpec(uuid=ROUTER, netns=host, bind_host="127.0.0.1",
                                 bind_port=9697, socket_path=agent.socket_path, router=True))
        out = curl(host, "http://127.0.0.1:9697/openstack/latest/meta_data.json")
        assert out.stdout == '{"uuid": "vm"}'
        assert seen["X-Instance-ID"] == "vm-uuid" and seen["X-Tenant-ID"] == "demo"
        assert seen["X-Instance-ID-Signature"] == sign_instance_id(secret, "vm-uuid")
        assert seen["X-Forwarded-For"] == "127.0.0.1"
    finally:
        proxies.stop(ROUTER)
        agent.stop()
        nova.shutdown()
        nova.server_close()


def test_a_proxy_whose_pid_file_is_lost_is_found_by_its_config_path(netns, tmp_path,
                                                                     echo_socket):
    from neutrino.agent.metadata.proxy import stray_pids
    from neutrino.dataplane.process import stop_process
    router_ns = netns("qrouter")
    proxies = ProxyManager(str(tmp_path))
    proxies.ensure(ProxySpec(uuid=ROUTER, netns=router_ns, bind_host="0.0.0.0",
                             bind_port=9697, socket_path=echo_socket, router=True))
    pid = proxies.daemon(ROUTER, router_ns).pid
    try:
        proxies.pid_path(ROUTER).unlink()
        assert stray_pids(f"{tmp_path}/ns-metadata-proxy/") == [pid]
        assert stray_pids(f"{tmp_path}/elsewhere/") == []
    finally:
        proxies.pid_path(ROUTER).write_text(f"{pid}\n")
        stop_process(proxies.pid_path(ROUTER), f"-f {proxies.config_path(ROUTER)}")
    assert stray_pids(f"{tmp_path}/ns-metadata-proxy/") == []


def test_rate_limited_proxy_answers_429_beyond_the_limit(netns, tmp_path, echo_socket):
    from neutrino.agent.metadata.proxy import RateLimit
    router_ns = netns("qrouter")
    proxies = ProxyManager(str(tmp_path))
    proxies.ensure(ProxySpec(uuid=ROUTER, netns=router_ns, bind_host="0.0.0.0",
                             bind_port=9697, socket_path=echo_socket, router=True,
                             rate_limit=RateLimit(base_window=30, base_limit=3,
                                                  burst_window=30, burst_limit=100)))
    try:
        codes = [curl(router_ns, "http://127.0.0.1:9697/", "-o", "/dev/null",
                      "-w", "%{http_code}").stdout for _ in range(5)]
        assert codes == ["200", "200", "200", "429", "429"]
    finally:
        proxies.stop(ROUTER)


def test_stop_all_ends_every_proxy_of_a_state_dir_even_without_pid_file(netns, tmp_path,
                                                                          echo_socket):
    from neutrino.agent.metadata.proxy import stop_all
    proxies = ProxyManager(str(tmp_path))
    pids = []
    for n in (1, 2):
        router_ns = netns(f"qr{n}")
        uuid = ROUTER[:-1] + str(n)
        assert proxies.ensure(ProxySpec(uuid=uuid, netns=router_ns, bind_host="0.0.0.0",
                                        bind_port=9697, socket_path=echo_socket,
                                        router=True))
        pids.append(int(proxies.pid_path(uuid).read_text().split()[0]))
    proxies.pid_path(ROUTER[:-1] + "2").unlink()     # one whose pid file was lost
    assert all(pid_cmdline(pid) for pid in pids)
    stop_all(str(tmp_path))
    for pid in pids:
        for _ in range(50):
            if not pid_cmdline(pid):
                break
            threading.Event().wait(0.1)
        assert not pid_cmdline(pid), f"haproxy {pid} still running"


def test_proxy_starts_behind_the_routers_metadata_filter(netns, tmp_path, echo_socket):
    """A router namespace drops unmarked connections to the proxy's port
    (upstream's filter rules, written before the proxy starts): the proxy
    still starts, and only marked requests reach it."""
    from neutrino.agent.l3.model import Router, nat_tables
    from neutrino.dataplane.iptables import IptablesManager
    router_ns = netns("qrouter")
    ns.run(["ip", "link", "set", "lo", "up"], netns=router_ns)
    IptablesManager(router_ns).apply(nat_tables(Router(id=ROUTER)))
    spec = ProxySpec(uuid=ROUTER, netns=router_ns, bind_host="0.0.0.0", bind_port=9697,
                     socket_path=echo_socket, router=True)
    proxies = ProxyManager(str(tmp_path))
    try:
        assert proxies.ensure(spec) is True        # was: "did not come up within 10s"
        assert curl(router_ns, "http://127.0.0.1:9697/", "-m", "1").returncode != 0
    finally:
        proxies.stop(ROUTER)
