"""The DHCP agent's side of the protocol (see neutrino.rpc.dhcp_handlers)."""
from __future__ import annotations

from collections.abc import Iterable

from neutrino.rpc.bus import Transport
from neutrino.rpc.client import DEFAULT_PREFIX, ServerClient, server_target

DHCP_AGENT_TYPE = "DHCP agent"
DHCP_BINARY = "neutrino-dhcp-agent"
DHCP_TOPIC = "dhcp_agent"


class DhcpClient(ServerClient):
    def __init__(self, transport: Transport, host: str, prefix: str = DEFAULT_PREFIX,
                 timeout: float = 30.0):
        super().__init__(transport, host, prefix, timeout)

    def _call(self, method: str, payload: dict):
        return self.transport.call(server_target(self.prefix), method,
                                   {"host": self.host, **payload}, timeout=self.timeout)

    def get_dhcp_state(self, networks: Iterable[str] | None = None) -> dict:
        payload = {} if networks is None else {"networks": sorted(networks)}
        return self._call("get_dhcp_state", payload)

    def get_dhcp_digests(self) -> dict[str, str]:
        """{network id: digest} of the networks scheduled to this host."""
        return self._call("get_dhcp_digests", {})["networks"]

    def ensure_dhcp_port(self, network_id: str) -> dict | None:
        """Our DHCP port on the network; None if it has no DHCP subnet."""
        return self._call("ensure_dhcp_port", {"network_id": network_id}) or None

    def release_dhcp_port(self, network_id: str) -> bool:
        return bool(self._call("release_dhcp_port", {"network_id": network_id})
                    .get("released"))
