"""The lab's stand-in for Nova's metadata server: it answers the metadata
agents for the lab's instances, from their records (neutrino.lab.instances).

It listens on 127.0.0.1:8775 inside every lab host's namespace (the
sockets are made in the namespace; one process serves them all), which is
where each host's metadata agent looks with upstream's defaults
(nova_metadata_host = 127.0.0.1, nova_metadata_port = 8775). Like Nova it
trusts a request only with a valid X-Instance-ID-Signature (HMAC-SHA256 of
X-Instance-ID with the shared secret: else 403) and an X-Tenant-ID that is
the instance's project (else 404), and serves:

  OpenStack  /openstack[/<version>]/meta_data.json  uuid, name, hostname,
             project_id, availability_zone, launch_index, meta, public_keys
             /openstack[/<version>]/network_data.json   links, networks, services
             /openstack[/<version>]/user_data           the bytes given at create
  EC2        /<version>/meta-data/{instance-id, local-ipv4, public-ipv4,
             hostname, local-hostname, public-hostname, instance-type,
             ami-launch-index, placement/availability-zone}
             /<version>/user-data

<version> is "latest" or any date version (all get the same answers).
EC2's instance-id is "i-" and the first 8 hex digits of the uuid (Nova
uses its integer database id, which the lab has not).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from neutrino.dataplane import netns as _netns
from neutrino.lab.instances import Instance, Instances

LOG = logging.getLogger(__name__)
NOVA_METADATA_PORT = 8775
AVAILABILITY_ZONE = "nova"
DHCP_DOMAIN = "novalocal"          # Nova's [api] dhcp_domain default
EC2_KEYS = ("ami-launch-index", "hostname", "instance-id", "instance-type", "local-hostname",
            "local-ipv4", "placement/", "public-hostname", "public-ipv4")
_VERSION = re.compile(r"^(latest|\d{4}-\d{2}-\d{2})$")


def hostname(name: str) -> str:
    """Nova's sanitised hostname of a display name, with its DHCP domain."""
    host = re.sub(r"[^a-z0-9.-]+", "", name.lower().replace("_", "-").replace(" ", "-"))
    return f"{host.strip('.-')[:63] or 'instance'}.{DHCP_DOMAIN}"


def meta_data(inst: Instance) -> dict:
    return {"uuid": inst.uuid, "name": inst.name, "hostname": hostname(inst.name),
            "project_id": inst.project_id, "availability_zone": AVAILABILITY_ZONE,
            "launch_index": 0, "meta": {}, "public_keys": {}, "devices": []}


def network_data(inst: Instance) -> dict:
    link = {"id": inst.tap, "vif_id": inst.port_id, "type": "bridge", "mtu": inst.mtu,
            "ethernet_mac_address": inst.mac}
    net: dict = {"id": "network0", "link": inst.tap, "network_id": inst.network_id}
    if inst.dhcp or not inst.ips:
        net["type"] = "ipv4_dhcp"
    else:
        iface = ipaddress.ip_interface(inst.ips[0])
        net.update(type="ipv4", ip_address=str(iface.ip), netmask=str(iface.netmask),
                   routes=[{"network": "0.0.0.0", "netmask": "0.0.0.0",
                            "gateway": inst.gateway}] if inst.gateway else [])
    return {"links": [link], "networks": [net], "services": []}


def ec2_value(inst: Instance, key: str, public_ip: str | None) -> str | None:
    values = {"ami-launch-index": "0", "hostname": hostname(inst.name),
              "local-hostname": hostname(inst.name), "public-hostname": hostname(inst.name),
              "instance-id": f"i-{inst.uuid.replace('-', '')[:8]}",
              "instance-type": "lab", "local-ipv4": inst.ip or "",
              "public-ipv4": public_ip or "",
              "placement/availability-zone": AVAILABILITY_ZONE,
              "placement": "availability-zone"}
    return values.get(key.rstrip("/"))


class LabNovaMetadata:
    def __init__(self, instances: Instances, secret: str, netns_list: list[str],
                 floating_ip: Callable[[str], str | None] = lambda port_id: None,
                 address: tuple[str, int] = ("127.0.0.1", NOVA_METADATA_PORT)):
        """`floating_ip(port_id)`: the floating IP associated with a port."""
        self.instances = instances
        self.secret = secret
        self.netns_list = netns_list
        self.floating_ip = floating_ip
        self.address = address
        self._servers: list[ThreadingHTTPServer] = []
        self.requests = 0

    def start(self) -> LabNovaMetadata:
        for ns in self.netns_list:
            with _netns.in_netns(ns):        # the socket lives in the host's namespace
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server = ThreadingHTTPServer(self.address, _Handler, bind_and_activate=False)
            server.socket.close()
            server.socket = sock
            server.daemon_threads = True
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(self.address)
            sock.listen(128)
            server.nova = self
            threading.Thread(target=server.serve_forever, name=f"nova-metadata-{ns}",
                             daemon=True).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def find(self, instance_id: str) -> Instance | None:
        for inst in self.instances.list():
            if inst.uuid and inst.uuid == instance_id:
                return inst
        return None

    def answer(self, path: str, headers) -> tuple[int, str, bytes]:
        """(status, content type, body) of one GET, Nova's checks first."""
        self.requests += 1
        instance_id = headers.get("X-Instance-ID")
        signature = headers.get("X-Instance-ID-Signature")
        tenant = headers.get("X-Tenant-ID")
        if not instance_id or not signature or not tenant:
            return _text(400, "X-Instance-ID, X-Tenant-ID and X-Instance-ID-Signature are "
                              "required")
        expected = hmac.new(self.secret.encode(), instance_id.encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            LOG.warning("metadata request for %s with a bad signature", instance_id)
            return _text(403, "Invalid proxy request signature.")
        inst = self.find(instance_id)
        if inst is None or inst.project_id != tenant:
            return _text(404, "The resource could not be found.")
        return self._serve(inst, path.split("?", 1)[0])

    def _serve(self, inst: Instance, path: str) -> tuple[int, str, bytes]:
        parts = [p for p in path.split("/") if p]
        user_data = self.instances.user_data_file(inst.name)
        if not parts:
            return _text(200, "latest")
        if parts[0] == "openstack":
            if len(parts) == 1:
                return _text(200, "latest")
            if not _VERSION.match(parts[1]):
                return _text(404, "The resource could not be found.")
            rest = "/".join(parts[2:])
            if rest == "":
                files = ["meta_data.json", "network_data.json", "vendor_data.json",
                         "vendor_data2.json"] + (["user_data"] if user_data.exists() else [])
                return _text(200, "\n".join(files))
            if rest == "meta_data.json":
                return _json(meta_data(inst))
            if rest == "network_data.json":
                return _json(network_data(inst))
            if rest in ("vendor_data.json", "vendor_data2.json"):
                return _json({})
            if rest == "user_data" and user_data.exists():
                return 200, "application/octet-stream", user_data.read_bytes()
            return _text(404, "The resource could not be found.")
        if not _VERSION.match(parts[0]):
            return _text(404, "The resource could not be found.")
        rest = "/".join(parts[1:])
        if rest == "":
            return _text(200, "meta-data/" + ("\nuser-data" if user_data.exists() else ""))
        if rest == "user-data":
            if user_data.exists():
                return 200, "application/octet-stream", user_data.read_bytes()
            return _text(404, "The resource could not be found.")
        if rest == "meta-data":
            return _text(200, "\n".join(EC2_KEYS))
        if rest.startswith("meta-data/"):
            key = rest[len("meta-data/"):]
            public = self.floating_ip(inst.port_id) if key == "public-ipv4" else None
            value = ec2_value(inst, key, public)
            if value is not None:
                return _text(200, value)
        return _text(404, "The resource could not be found.")


def _text(status: int, text: str) -> tuple[int, str, bytes]:
    return status, "text/plain; charset=UTF-8", text.encode()


def _json(value: dict) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(value).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args) -> None:
        LOG.debug("nova metadata: " + fmt, *args)

    def do_GET(self) -> None:
        try:
            status, ctype, body = self.server.nova.answer(self.path, self.headers)
        except Exception:  # noqa: BLE001 - a 500 for the agent, details in the log
            LOG.exception("lab metadata request %s failed", self.path)
            status, ctype, body = _text(500, "internal error")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
