"""The metadata agent's pure parts: which instance asked (through the
server's get_ports), the signed headers it sends to Nova, and how Nova's
answers come back; and the haproxy configuration of the proxies."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from neutrino import config
from neutrino.agent.metadata import agent as agent_mod
from neutrino.agent.metadata.agent import (MetadataAgent, PortLookup, client_address,
                                           sign_instance_id)
from neutrino.agent.metadata.proxy import ProxySpec, haproxy_config
from neutrino.agent_options import METADATA_AGENT_SCHEMA

ROUTER = "0b3c5d1e-1111-4c1e-9b7e-000000000001"
NET_A, NET_B = "net-a", "net-b"
INSTANCE = "9f2a6a0e-5d4b-4b7e-8f3a-2a1c1b0e9d11"


class FakeServer:
    """The server's get_ports over a few ports; counts the calls."""

    def __init__(self):
        self.calls = 0
        self.ports = [
            {"id": "r-a", "network_id": NET_A, "device_id": ROUTER,
             "device_owner": "network:router_interface", "project_id": "p0",
             "fixed_ips": [{"ip_address": "10.0.0.1"}]},
            {"id": "r-b", "network_id": NET_B, "device_id": ROUTER,
             "device_owner": "network:router_interface", "project_id": "p0",
             "fixed_ips": [{"ip_address": "10.1.0.1"}]},
            {"id": "vm", "network_id": NET_B, "device_id": INSTANCE,
             "device_owner": "compute:nova", "project_id": "demo",
             "fixed_ips": [{"ip_address": "10.1.0.5"}]},
            {"id": "other", "network_id": "net-c", "device_id": "elsewhere",
             "device_owner": "compute:nova", "project_id": "demo",
             "fixed_ips": [{"ip_address": "10.1.0.5"}]},
        ]

    def get_ports(self, filters):
        self.calls += 1
        out = []
        for p in self.ports:
            if "device_id" in filters and p["device_id"] not in filters["device_id"]:
                continue
            if "device_owner" in filters and p["device_owner"] not in filters["device_owner"]:
                continue
            if "network_id" in filters and p["network_id"] not in filters["network_id"]:
                continue
            want = filters.get("fixed_ips", {}).get("ip_address")
            if want is not None and not {f["ip_address"] for f in p["fixed_ips"]} & set(want):
                continue
            out.append(p)
        return out


def test_instance_behind_a_router_is_found_among_the_routers_networks():
    server = FakeServer()
    lookup = PortLookup(server.get_ports)
    # 10.1.0.5 exists on net-c too, which is not on this router
    assert lookup.instance("10.1.0.5", ROUTER, None) == (INSTANCE, "demo")
    assert lookup.instance("10.1.0.5", None, NET_B) == (INSTANCE, "demo")
    assert lookup.instance("10.1.0.99", ROUTER, None) is None       # unknown source
    assert lookup.instance("10.1.0.5", "another-router", None) is None


def test_both_router_and_network_named_is_refused():
    lookup = PortLookup(FakeServer().get_ports)
    assert lookup.instance("10.1.0.5", ROUTER, NET_B) is None
    assert lookup.instance("10.1.0.5", None, None) is None


def test_answers_are_cached_briefly_and_can_be_skipped():
    server = FakeServer()
    lookup = PortLookup(server.get_ports, ttl=60)
    lookup.instance("10.1.0.5", ROUTER, None)
    calls = server.calls
    assert calls == 2                                   # router networks, then the port
    lookup.instance("10.1.0.5", ROUTER, None)
    assert server.calls == calls                        # cloud-init asks many paths
    lookup.instance("10.1.0.5", ROUTER, None, skip_cache=True)
    assert server.calls == calls + 2
    expired = PortLookup(server.get_ports, ttl=0)
    expired.instance("10.1.0.5", None, NET_B)
    expired.instance("10.1.0.5", None, NET_B)
    assert server.calls == calls + 4


def test_signature_is_hmac_sha256_hex_of_the_instance_id():
    want = hmac.new(b"s3cret", INSTANCE.encode(), hashlib.sha256).hexdigest()
    assert sign_instance_id("s3cret", INSTANCE) == want
    assert len(want) == 64


def test_forwarded_for_last_address_and_mapped_ipv4():
    assert client_address("10.1.0.5") == "10.1.0.5"
    assert client_address("1.2.3.4, 10.1.0.5") == "10.1.0.5"   # haproxy appends
    assert client_address("::ffff:10.1.0.5") == "10.1.0.5"
    assert client_address("garbage") is None
    assert client_address(None) is None


@pytest.fixture
def agent(tmp_path):
    cfg = config.load(METADATA_AGENT_SCHEMA, [], {"DEFAULT": {
        "host": "net1", "state_path": str(tmp_path), "metadata_proxy_shared_secret": "s3cret",
        "nova_metadata_host": "192.0.2.10", "nova_metadata_port": "8775"}})
    a = MetadataAgent(cfg, transport=object())
    server = FakeServer()
    a.lookup = PortLookup(server.get_ports)
    sent = []
    replies = []

    def request(method, path, headers, body):
        sent.append((method, path, headers, body))
        return replies.pop(0) if replies else (200, "text/plain", b"ok")
    a.nova.request = request
    a.sent, a.replies, a.server = sent, replies, server
    return a


def test_request_goes_to_nova_with_upstreams_headers(agent):
    status, ctype, body = agent.answer("GET", "/openstack/latest/meta_data.json?x=1",
                                       {"X-Forwarded-For": "10.1.0.5",
                                        "X-Neutron-Router-ID": ROUTER}, None)
    assert (status, body) == (200, b"ok")
    method, path, headers, _ = agent.sent[0]
    assert (method, path) == ("GET", "/openstack/latest/meta_data.json?x=1")
    assert headers == {"X-Forwarded-For": "10.1.0.5", "X-Instance-ID": INSTANCE,
                       "X-Tenant-ID": "demo",
                       "X-Instance-ID-Signature": sign_instance_id("s3cret", INSTANCE)}
    assert agent.socket_path == f"{agent.cfg.DEFAULT.state_path}/metadata_proxy"


def test_unknown_source_is_404_and_nova_is_not_asked(agent):
    status, _, body = agent.answer("GET", "/latest/meta-data/", {
        "X-Forwarded-For": "10.9.9.9", "X-Neutron-Network-ID": NET_B}, None)
    assert status == 404 and b"404 Not Found" in body
    status, _, _ = agent.answer("GET", "/", {"X-Forwarded-For": "10.1.0.5",
                                             "X-Neutron-Router-ID": ROUTER,
                                             "X-Neutron-Network-ID": NET_B}, None)
    assert status == 404
    assert agent.sent == []


@pytest.mark.parametrize("nova, want", [(403, 403), (404, 404), (409, 409), (500, 500),
                                        (503, 503), (418, 500)])
def test_novas_errors_come_back_as_upstream_maps_them(agent, nova, want):
    agent.replies.append((nova, "text/plain", b"nova says no"))
    agent.replies.append((nova, "text/plain", b"nova says no"))
    status, _, body = agent.answer("GET", "/", {"X-Forwarded-For": "10.1.0.5",
                                                "X-Neutron-Network-ID": NET_B}, None)
    assert status == want
    assert b"nova says no" not in body


def test_nova_unreachable_is_503(agent, monkeypatch):
    def refused(*a):
        raise ConnectionRefusedError(111, "Connection refused")
    agent.nova.request = refused
    status, _, body = agent.answer("GET", "/", {"X-Forwarded-For": "10.1.0.5",
                                                "X-Neutron-Network-ID": NET_B}, None)
    assert status == 503 and b"temporarily unavailable" in body


def test_haproxy_config_sets_one_id_header_and_deletes_the_other():
    router = haproxy_config(ProxySpec(uuid=ROUTER, netns="ns", bind_host="0.0.0.0",
                                      bind_port=9697, socket_path="/run/x/metadata_proxy",
                                      router=True))
    assert "    bind 0.0.0.0:9697\n" in router
    assert "    server metadata /run/x/metadata_proxy\n" in router
    assert "    option forwardfor\n" in router
    assert f"http-request set-header X-Neutron-Router-ID {ROUTER}" in router
    assert "http-request del-header X-Neutron-Network-ID" in router
    net = haproxy_config(ProxySpec(uuid=NET_B, netns="ns", bind_host="169.254.169.254",
                                   bind_port=80, socket_path="/s", router=False))
    assert "    bind 169.254.169.254:80\n" in net
    assert f"http-request set-header X-Neutron-Network-ID {NET_B}" in net
    assert "http-request del-header X-Neutron-Router-ID" in net


def test_agent_reports_as_upstreams_metadata_agent(agent):
    state = agent.agent_state(True)
    assert state["agent_type"] == "Metadata agent" and state["topic"] == "N/A"
    assert state["start_flag"] is True
    assert state["configurations"]["nova_metadata_host"] == "192.0.2.10"
    assert agent_mod.METADATA_BINARY == "neutrino-metadata-agent"


def test_a_forwarded_for_sent_by_the_instance_is_not_believed(agent):
    """haproxy appends the real source to the instance's own header: the
    lookup and Nova see only the real one."""
    status, _, _ = agent.answer("GET", "/", {"X-Forwarded-For": "10.1.0.99, 10.1.0.5",
                                             "X-Neutron-Network-ID": NET_B}, None)
    assert status == 200
    assert agent.sent[0][2]["X-Forwarded-For"] == "10.1.0.5"
    status, _, _ = agent.answer("GET", "/", {"X-Forwarded-For": "10.1.0.5, 10.1.0.99",
                                             "X-Neutron-Network-ID": NET_B}, None)
    assert status == 404


def test_rate_limiting_section_as_upstream():
    from neutrino.agent.metadata.proxy import RateLimit
    from neutrino.agent_options import DHCP_AGENT_SCHEMA, L3_AGENT_SCHEMA
    for schema in (L3_AGENT_SCHEMA, DHCP_AGENT_SCHEMA):
        off = config.load(schema, [])
        assert RateLimit.from_config(off.metadata_rate_limiting) is None     # default off
        on = config.load(schema, [], {"metadata_rate_limiting": {
            "rate_limit_enabled": "true", "base_query_rate_limit": "3",
            "burst_window_duration": "5", "burst_query_rate_limit": "2"}})
        limit = RateLimit.from_config(on.metadata_rate_limiting)
        assert limit == RateLimit(base_window=10, base_limit=3, burst_window=5, burst_limit=2)
        v6 = config.load(schema, [], {"metadata_rate_limiting": {
            "rate_limit_enabled": "true", "ip_versions": "4,6"}})
        assert RateLimit.from_config(v6.metadata_rate_limiting) is None      # one version only
    text = haproxy_config(ProxySpec(uuid=ROUTER, netns="ns", bind_host="0.0.0.0",
                                    bind_port=9697, socket_path="/s", router=True,
                                    rate_limit=limit))
    assert ("stick-table type ip size 10k expire 10s store http_req_rate(5s)") in text
    assert ("http-request deny deny_status 429 if "
            "{ src_http_req_rate(base_rate_limiter) gt 3 }") in text
    assert "http-request track-sc1 src table burst_rate_limiter" in text
