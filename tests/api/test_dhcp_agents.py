"""dhcp_agent_scheduler: the DHCP agents of a network (admin only). The
scheduling itself is exercised with a live agent in tests/unit/test_dhcp_server_rpc.py
and tests/e2e/test_dhcp_agent.py."""
from __future__ import annotations

from tests.api.helpers import expect, rand


def test_network_dhcp_agents(api):
    net = api.admin.create("networks", name=rand("n"))
    body = expect(api.admin.get(f"networks/{net['id']}/dhcp-agents"), 200)
    assert isinstance(body["agents"], list)
    expect(api.member_a.get(f"networks/{net['id']}/dhcp-agents"), 403)
