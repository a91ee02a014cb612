"""neutrino-metadata-agent: answers the instances' metadata requests that
the proxies (neutrino.agent.metadata.proxy) forward to its unix socket.

For each request, as upstream's neutron-metadata-agent:
  1. X-Forwarded-For (the instance's address) and X-Neutron-Router-ID or
     X-Neutron-Network-ID (where the request came in; both: refused) name
     the instance's port: one server call for the router's networks (its
     interface ports), one for the port with that address on them. Both
     answers are cached a few seconds (cloud-init asks dozens of paths in
     a row); a 404 from Nova retries once without the cache.
  2. No single port: 404. Otherwise the request goes to Nova's metadata
     server with X-Instance-ID (the port's device_id), X-Tenant-ID (its
     project), X-Instance-ID-Signature (HMAC-SHA256 of the instance id
     with metadata_proxy_shared_secret, hex) and X-Forwarded-For, and
     Nova's answer comes back (200 as is; 400, 403, 404, 409, 500, 502,
     503, 504 as that status; Nova unreachable: 503).
The agent reports itself like the others (agent_type "Metadata agent").
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import logging
import os
import socketserver
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

from neutrino.agent.metadata.options import socket_path
from neutrino.agent.threads import AgentThreads
from neutrino.rpc.bus import Transport, make_transport
from neutrino.rpc.client import NOTICE_BATCHES, ServerClient, server_target

LOG = logging.getLogger(__name__)
METADATA_AGENT_TYPE = "Metadata agent"
METADATA_BINARY = "neutrino-metadata-agent"
ROUTER_HEADER = "X-Neutron-Router-ID"
NETWORK_HEADER = "X-Neutron-Network-ID"
ROUTER_INTERFACE_OWNERS = ("network:router_interface", "network:ha_router_replicated_interface",
                           "network:router_interface_distributed")
CACHE_SECONDS = 5.0
SOCKET_MODES = {"user": 0o644, "group": 0o664, "all": 0o666}
# Nova's statuses passed on as they are (upstream's list).
PASSED_ON = (400, 403, 404, 409, 500, 502, 503, 504)
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def sign_instance_id(secret: str, instance_id: str) -> str:
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


class TtlCache:
    """Answers of the server for `ttl` seconds (upstream: a 5 s memory cache)."""

    def __init__(self, ttl: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key, compute: Callable[[], Any], skip: bool = False):
        now = self.clock()
        with self._lock:
            hit = self._data.get(key)
            if hit is not None and not skip and now - hit[0] < self.ttl:
                return hit[1]
        value = compute()
        with self._lock:
            self._data[key] = (now, value)
            if len(self._data) > 4096:      # old entries go in bulk
                self._data = {k: v for k, v in self._data.items() if now - v[0] < self.ttl}
        return value


class PortLookup:
    """Which instance sent a request: (address, router or network) -> the
    port's (device_id, project_id), through the server's get_ports call."""

    def __init__(self, get_ports: Callable[[dict], list[dict]], ttl: float = CACHE_SECONDS):
        self.get_ports = get_ports
        self.cache = TtlCache(ttl)

    def router_networks(self, router_id: str, skip_cache: bool = False) -> tuple[str, ...]:
        def fetch():
            ports = self.get_ports({"device_id": [router_id],
                                    "device_owner": list(ROUTER_INTERFACE_OWNERS)})
            return tuple(sorted({p["network_id"] for p in ports}))
        return self.cache.get(("router", router_id), fetch, skip_cache)

    def ports_for(self, address: str, networks: tuple[str, ...],
                  skip_cache: bool = False) -> list[dict]:
        def fetch():
            if not networks:
                return []
            return self.get_ports({"network_id": list(networks),
                                   "fixed_ips": {"ip_address": [address]}})
        return self.cache.get(("ports", address, networks), fetch, skip_cache)

    def instance(self, address: str, router_id: str | None, network_id: str | None,
                 skip_cache: bool = False) -> tuple[str, str] | None:
        if bool(router_id) == bool(network_id):
            return None            # neither, or both (spoofed): upstream refuses
        networks = ((network_id,) if network_id
                    else self.router_networks(router_id, skip_cache))
        ports = self.ports_for(address, networks, skip_cache)
        if len(ports) != 1:
            if not ports:
                LOG.warning("no port with address %s on %s %s", address,
                            "network" if network_id else "router", network_id or router_id)
            return None
        return ports[0]["device_id"], ports[0]["project_id"]


def client_address(forwarded_for: str | None) -> str | None:
    """The instance's address from X-Forwarded-For (haproxy appends the
    client's; an IPv4-mapped IPv6 address becomes IPv4)."""
    if not forwarded_for:
        return None
    last = forwarded_for.split(",")[-1].strip()
    try:
        ip = ipaddress.ip_address(last)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


class NovaClient:
    """Requests to Nova's metadata server, signed."""

    def __init__(self, d):
        self.host = d.nova_metadata_host
        self.port = d.nova_metadata_port
        self.protocol = d.nova_metadata_protocol
        self.secret = d.metadata_proxy_shared_secret
        self.timeout = 60.0
        self._ssl = None
        if self.protocol == "https":
            ctx = ssl.create_default_context(cafile=d.auth_ca_cert or None)
            if d.nova_metadata_insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if d.nova_client_cert and d.nova_client_priv_key:
                ctx.load_cert_chain(d.nova_client_cert, d.nova_client_priv_key)
            self._ssl = ctx

    def headers(self, instance_id: str, project_id: str, forwarded_for: str) -> dict[str, str]:
        return {"X-Forwarded-For": forwarded_for, "X-Instance-ID": instance_id,
                "X-Tenant-ID": project_id,
                "X-Instance-ID-Signature": sign_instance_id(self.secret, instance_id)}

    def request(self, method: str, path: str, headers: dict[str, str],
                body: bytes | None) -> tuple[int, str, bytes]:
        if self.protocol == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type", "text/plain"), resp.read()
        finally:
            conn.close()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, path: str, handler, agent: MetadataAgent, backlog: int):
        self.agent = agent
        self.request_queue_size = backlog
        super().__init__(path, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def address_string(self) -> str:      # a unix socket has no client address
        return "haproxy"

    def log_message(self, fmt, *args) -> None:
        LOG.debug("metadata request: " + fmt, *args)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        status, ctype, out = self.server.agent.answer(self.command, self.path, self.headers,
                                                      body)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_HEAD = do_PUT = _handle


def _error(status: int, explanation: str = "") -> tuple[int, str, bytes]:
    if not explanation and status == 404:
        explanation = "The resource could not be found."
    text = f"{status} {REASONS.get(status, 'Error')}\n\n{explanation}\n"
    return status, "text/plain; charset=UTF-8", text.encode()


class MetadataAgent:
    def __init__(self, cfg, transport: Transport | None = None, netns: str | None = None):
        """`netns`: where requests to Nova go out from (the lab's host
        namespace; None: this process's)."""
        self.cfg = cfg
        d = cfg.DEFAULT
        self.host = d.host
        self.prefix = d.control_exchange
        self.netns = netns
        self.socket_path = socket_path(d.metadata_proxy_socket, d.state_path)
        self._owns_transport = transport is None
        self.transport = transport or make_transport(
            d.transport_url, **({"client_name": f"metadata-agent:{self.host}"}
                                if not d.transport_url.startswith("inproc") else {}))
        self.lookup = PortLookup(self._get_ports)
        self.nova = NovaClient(d)
        self.report_interval = cfg.agent.report_interval
        self.lifecycle = AgentThreads(self.host, netns)
        self._server: _Server | None = None
        self._registered = False
        self.requests = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> MetadataAgent:
        os.makedirs(os.path.dirname(self.socket_path), exist_ok=True)
        try:
            os.unlink(self.socket_path)        # a previous run's socket
        except FileNotFoundError:
            pass
        self._server = _Server(self.socket_path, _Handler, self,
                               self.cfg.DEFAULT.metadata_backlog)
        os.chmod(self.socket_path, self._socket_mode())
        # Request threads are started by the serving thread and inherit its
        # namespace: that is where connections to Nova are made.
        self.lifecycle.spawn("metadata-server", self._server.serve_forever)
        if self.report_interval > 0:
            self.lifecycle.heartbeat("metadata-heartbeat", self.report, self.report_interval)
        LOG.info("metadata agent on host %s listening on %s, Nova metadata at %s://%s:%d",
                 self.host, self.socket_path, self.nova.protocol, self.nova.host,
                 self.nova.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.lifecycle.stop()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        if self._owns_transport:
            self.transport.close()

    def _socket_mode(self) -> int:
        d = self.cfg.DEFAULT
        mode = d.metadata_proxy_socket_mode
        if mode == "deduce":
            user, group = d.metadata_proxy_user, d.metadata_proxy_group
            if not user or user in ("0", "root", str(os.geteuid())):
                mode = "user"
            elif not group or group == str(os.getegid()):
                mode = "group"
            else:
                mode = "all"
        return SOCKET_MODES[mode]

    # ------------------------------------------------------------ requests

    def _get_ports(self, filters: dict) -> list[dict]:
        return self.transport.call(server_target(self.prefix), "get_ports",
                                   {"filters": filters}, timeout=30)["ports"]

    def answer(self, method: str, path: str, headers, body: bytes | None
               ) -> tuple[int, str, bytes]:
        """(status, content type, body) for one proxied request."""
        self.requests += 1
        try:
            address = client_address(headers.get("X-Forwarded-For"))
            router_id, network_id = headers.get(ROUTER_HEADER), headers.get(NETWORK_HEADER)
            if address is None:
                return _error(404)
            found = self.lookup.instance(address, router_id, network_id)
            if found is None:
                return _error(404)
            result = self._to_nova(found, method, path, address, body)
            if result[0] == 404:
                # The instance may have been replaced within the cache's life.
                fresh = self.lookup.instance(address, router_id, network_id, skip_cache=True)
                if fresh is not None and fresh != found:
                    result = self._to_nova(fresh, method, path, address, body)
            return result
        except Exception:  # noqa: BLE001 - the instance gets a 500, the log the details
            LOG.exception("metadata request %s %s failed", method, path)
            return _error(500, "An unknown error has occurred. Please try your request "
                               "again.")

    def _to_nova(self, found: tuple[str, str], method: str, path: str, address: str,
                 body: bytes | None) -> tuple[int, str, bytes]:
        instance_id, project_id = found
        # The address haproxy saw, alone: an X-Forwarded-For the instance sent
        # itself (haproxy appends to it) does not reach Nova.
        out = self.nova.headers(instance_id, project_id, address)
        try:
            status, ctype, content = self.nova.request(method, path, out, body)
        except OSError as exc:
            LOG.warning("Nova metadata server %s:%d unreachable: %s", self.nova.host,
                        self.nova.port, exc)
            return _error(503, "The remote metadata server is temporarily unavailable. "
                               "Please try again later.")
        if status == 200:
            return 200, ctype, content
        if status == 403:
            LOG.warning("The remote metadata server responded with Forbidden. This "
                        "response usually occurs when shared secrets do not match.")
        if status in PASSED_ON:
            return _error(status)
        LOG.error("unexpected response code %d from the Nova metadata server", status)
        return _error(500, "Unexpected response code: %d" % status)

    # ------------------------------------------------------------ heartbeats

    def agent_state(self, start_flag: bool) -> dict[str, Any]:
        d = self.cfg.DEFAULT
        state = {"agent_type": METADATA_AGENT_TYPE, "binary": METADATA_BINARY,
                 "host": self.host, "topic": "N/A",
                 "configurations": {"metadata_proxy_socket": self.socket_path,
                                    "nova_metadata_host": d.nova_metadata_host,
                                    "nova_metadata_port": d.nova_metadata_port,
                                    "log_agent_heartbeats": False,
                                    # (it hears no notices: any form is fine)
                                    NOTICE_BATCHES: True}}
        if start_flag:
            state["start_flag"] = True
        return state

    def report(self) -> None:
        first = not self._registered
        ServerClient(self.transport, self.host, self.prefix).report_state(
            self.agent_state(first), wait=first)
        if first:
            self._registered = True
            LOG.info("registered with the server as %s on %s", METADATA_AGENT_TYPE, self.host)
