"""The agent's side of the server <-> agent protocol, and the bus names.

Names (prefix = control_exchange, "neutrino" by default):
  <prefix>.server          work queue: get_host_state (call), report_state
  <prefix>.server.status   work queue, one ordered consumer per server:
                           update_device_status (cast), so BUILD/ACTIVE/DOWN
                           from one agent are applied in the order sent
  <prefix>.host.<host>     fanout topic: resource_changed notifications

Methods:
  get_host_state(host, ports=None, networks=None) -> {"ports": [...],
      "networks": [...]}: every port bound to `host` (vif_type bridge), or
      only the listed ports and the ports of the listed networks.
  update_device_status(host, up=[], down=[], build=[])   cast
  report_state(agent_state, start_flag)                  call on start, then cast
  resource_changed(resource, id, revision, network_id, deleted)   server -> agents
  resources_changed(changes=[...])   server -> agents: several resource_changed
      payloads in one message, sent only to hosts whose every agent reports
      configurations["notice_batches"] (agents of an earlier release would
      drop it); `unbatched` feeds a handler one change at a time
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from neutrino.rpc.bus import Transport

LOG = logging.getLogger(__name__)

DEFAULT_PREFIX = "neutrino"
LINUXBRIDGE_AGENT_TYPE = "Linux bridge agent"
LINUXBRIDGE_BINARY = "neutrino-linuxbridge-agent"


# A burst (1,000 port deletes) reaches each host as a few messages instead of
# one per change: the server, the broker and every agent on the host each
# handle a message per batch (benchmarks/README.md, l2_scale).
BATCH_METHOD = "resources_changed"
NOTICE_BATCHES = "notice_batches"      # the agents' configurations key saying they unpack it


def unbatched(handler):
    """A host-topic handler fed one `resource_changed` at a time, whether
    the server sent the changes one per message or in a batch."""
    def handle(method: str, payload: dict) -> None:
        if method != BATCH_METHOD:
            handler(method, payload)
            return
        for change in payload.get("changes") or ():
            if not isinstance(change, dict):
                continue
            try:
                handler("resource_changed", change)
            except Exception:  # noqa: BLE001 - the batch's other changes still count
                LOG.exception("notice %s %s not handled", change.get("resource"),
                              change.get("id"))
    return handle


def server_target(prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}.server"


def status_target(prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}.server.status"


def host_topic(host: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}.host.{host}"


class ServerClient:
    """What an agent on `host` asks of, and tells, the server."""

    def __init__(self, transport: Transport, host: str, prefix: str = DEFAULT_PREFIX,
                 timeout: float = 30.0):
        self.transport = transport
        self.host = host
        self.prefix = prefix
        self.timeout = timeout

    def get_host_state(self, ports: Iterable[str] | None = None,
                       networks: Iterable[str] | None = None,
                       tables_held: Iterable[str] = (), tables: Iterable[str] = ()) -> dict:
        """`tables_held`: networks whose l2population table the agent has
        and needs only when it asks for the network itself (a port fetch
        then costs O(1), not O(ports on the network)); their entries come
        back without "l2pop". `tables`: networks whose entry and table
        alone it asks for (an fdb notice), without their ports."""
        payload: dict = {"host": self.host}
        if ports is not None or networks is not None:
            payload["ports"] = sorted(ports or ())
            payload["networks"] = sorted(networks or ())
        if tables_held:
            payload["tables_held"] = sorted(tables_held)
        if tables:
            payload["tables"] = sorted(tables)
        return self.transport.call(server_target(self.prefix), "get_host_state", payload,
                                   timeout=self.timeout)

    def update_device_status(self, up: Iterable[str] = (), down: Iterable[str] = (),
                             build: Iterable[str] = (), error: Iterable[str] = ()) -> None:
        payload = {"host": self.host, "up": sorted(up), "down": sorted(down),
                   "build": sorted(build)}
        if error:       # only when there is one: a server that predates "error" ignores none
            payload["error"] = sorted(error)
        if payload["up"] or payload["down"] or payload["build"] or error:
            self.transport.cast(status_target(self.prefix), "update_device_status", payload)

    def report_state(self, state: dict, wait: bool = False) -> dict | None:
        """Heartbeat; `wait` (the first report) makes it a call, so the agent
        knows it is registered before it asks for its ports."""
        payload = {"agent_state": state}
        if wait:
            return self.transport.call(server_target(self.prefix), "report_state", payload,
                                       timeout=self.timeout)
        self.transport.cast(server_target(self.prefix), "report_state", payload)
        return None
