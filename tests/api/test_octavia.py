"""The Octavia v2 API (/v2/lbaas): load balancers, listeners, pools,
members, health monitors and L7 policies/rules with Octavia's bodies,
defaults, status codes and fault bodies, on every database backend.
Provisioning goes PENDING_* -> ACTIVE when the agent reports the version
it applied (through the server's own report handler)."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, is_uuid, rand
from tests.api.octavia_helpers import LB, Octavia, fault


@pytest.fixture(scope="module")
def octavia(api):
    return Octavia(api)


def test_loadbalancer_lifecycle_vip_port_and_group(api, octavia):
    me = api.member_a
    net, sub = me.net_with_subnet("10.30.0.0/24")
    octavia.heartbeat()
    body = expect(me.post(f"{LB}/loadbalancers", {"loadbalancer": {
        "name": "web", "description": "d", "vip_subnet_id": sub["id"]}}), 201)["loadbalancer"]
    assert is_uuid(body["id"])
    assert body["provisioning_status"] == "PENDING_CREATE"
    assert body["operating_status"] == "OFFLINE"
    assert body["provider"] == "haproxy" and body["admin_state_up"] is True
    assert body["vip_subnet_id"] == sub["id"] and body["vip_network_id"] == net["id"]
    assert body["vip_address"].startswith("10.30.0.") and body["listeners"] == []
    assert body["project_id"] == me.project_id and body["flavor_id"] is None
    lb_id = body["id"]
    # The VIP port, as Octavia makes it, with the lb-<id> group on it.
    port = me.show("ports", body["vip_port_id"])
    assert port["device_owner"] == "Octavia" and port["device_id"] == f"lb-{lb_id}"
    assert port["fixed_ips"][0]["ip_address"] == body["vip_address"]
    groups = [g for g in me.list("security-groups") if g["name"] == f"lb-{lb_id}"]
    assert len(groups) == 1 and port["security_groups"] == [groups[0]["id"]]
    # While pending: immutable (Octavia's 409), for the lb and what is under it.
    fault(me.put(f"{LB}/loadbalancers/{lb_id}", {"loadbalancer": {"name": "x"}}), 409,
          f"Invalid state PENDING_CREATE of loadbalancer resource {lb_id}")
    fault(me.post(f"{LB}/listeners", {"listener": {
        "loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}}), 409,
        f"Load Balancer {lb_id} is immutable and cannot be updated.")
    # The agent reports the version: ACTIVE.
    [state] = [s for s in octavia.state() if s["id"] == lb_id] or \
        [s for h in octavia.hosts() for s in octavia.state(h) if s["id"] == lb_id]
    assert state["vip"]["address"] == body["vip_address"] and not state["deleted"]
    octavia.ack()
    shown = octavia.show(me, f"loadbalancers/{lb_id}", "loadbalancer")
    assert shown["provisioning_status"] == "ACTIVE" and shown["operating_status"] == "ONLINE"
    assert lb_id in [x["id"] for x in expect(me.get(f"{LB}/loadbalancers"),
                                             200)["loadbalancers"]]
    updated = expect(me.put(f"{LB}/loadbalancers/{lb_id}", {"loadbalancer": {
        "name": "web2", "tags": ["a", "b"]}}), 200)["loadbalancer"]
    assert updated["name"] == "web2" and updated["tags"] == ["a", "b"]
    assert updated["provisioning_status"] == "PENDING_UPDATE"
    octavia.ack()
    # Delete: PENDING_DELETE until the agent confirms, then gone with port and group.
    expect(me.delete(f"{LB}/loadbalancers/{lb_id}"), 204)
    assert octavia.show(me, f"loadbalancers/{lb_id}",
                        "loadbalancer")["provisioning_status"] == "PENDING_DELETE"
    fault(me.delete(f"{LB}/loadbalancers/{lb_id}"), 409,
          f"Invalid state PENDING_DELETE of loadbalancer resource {lb_id}")
    octavia.ack()
    fault(me.get(f"{LB}/loadbalancers/{lb_id}"), 404, f"Load Balancer {lb_id} not found.")
    me.show("ports", body["vip_port_id"], status=404)
    assert not [g for g in me.list("security-groups") if g["name"] == f"lb-{lb_id}"]


def test_vip_by_network_address_and_port(api, octavia):
    me = api.member_a
    net, sub = me.net_with_subnet("10.31.0.0/24")
    lb = octavia.lb(me, sub["id"], vip_address="10.31.0.77")
    assert lb["vip_address"] == "10.31.0.77"
    by_net = octavia.post(me, "loadbalancers", "loadbalancer", vip_network_id=net["id"])
    assert by_net["vip_subnet_id"] == sub["id"]
    # A port of the user's becomes the VIP, and is handed back on delete.
    port = me.port(net["id"])
    by_port = octavia.post(me, "loadbalancers", "loadbalancer", vip_port_id=port["id"])
    assert by_port["vip_port_id"] == port["id"]
    assert by_port["vip_address"] == port["fixed_ips"][0]["ip_address"]
    assert me.show("ports", port["id"])["device_owner"] == "Octavia"
    expect(me.delete(f"{LB}/loadbalancers/{by_port['id']}"), 204)
    octavia.ack()
    back = me.show("ports", port["id"])
    assert back["device_owner"] == "" and back["device_id"] == ""
    # In use already (it is the VIP of another load balancer): 400.
    fault(me.post(f"{LB}/loadbalancers", {"loadbalancer": {
        "vip_port_id": lb["vip_port_id"]}}), 400, "already in use")


@pytest.mark.parametrize("attrs,contains", [
    ({}, "VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id"),
    ({"vip_subnet_id": "9f8e5c2e-5a55-4d0f-9d7c-1b3b8c1f7a00"},
     "Subnet 9f8e5c2e-5a55-4d0f-9d7c-1b3b8c1f7a00 not found."),
    ({"vip_network_id": "9f8e5c2e-5a55-4d0f-9d7c-1b3b8c1f7a01"},
     "Network 9f8e5c2e-5a55-4d0f-9d7c-1b3b8c1f7a01 not found."),
    ({"vip_subnet_id": "SUBNET", "flavor_id": "9f8e5c2e-5a55-4d0f-9d7c-1b3b8c1f7a02"},
     "Validation failure: Invalid flavor_id."),
    ({"vip_subnet_id": "SUBNET", "provider": "nosuch"}, "Provider 'nosuch' is not enabled."),
    ({"vip_subnet_id": "SUBNET", "vip_address": "192.0.2.9"}, "is not in subnet"),
    ({"vip_subnet_id": "not-a-uuid"},
     "Invalid input for field/attribute vip_subnet_id. Value: 'not-a-uuid'."),
    ({"vip_subnet_id": "SUBNET", "bogus": 1}, "Unknown attribute for argument loadbalancer: "
                                              "bogus"),
    ({"vip_subnet_id": "SUBNET", "admin_state_up": "maybe"}, "admin_state_up"),
    ({"vip_subnet_id": "SUBNET", "name": "x" * 256}, "maximum character requirement of 255"),
])
def test_loadbalancer_validation(api, octavia, attrs, contains):
    me = api.member_a
    _, sub = me.net_with_subnet("10.32.0.0/24")
    attrs = {k: sub["id"] if v == "SUBNET" else v for k, v in attrs.items()}
    fault(me.post(f"{LB}/loadbalancers", {"loadbalancer": attrs}), 400, contains)


def test_bodies_that_are_not_objects(api):
    me = api.member_a
    fault(me.post(f"{LB}/loadbalancers", content="{not json"), 400)
    fault(me.post(f"{LB}/loadbalancers", {"lb": {}}), 400, "Mandatory field missing.")
    fault(me.get(f"{LB}/listeners/not-there"), 404, "Listener not-there not found.")


def test_listener_defaults_validation_and_group_rules(api, octavia):
    me = api.member_a
    _, sub = me.net_with_subnet("10.33.0.0/24")
    lb = octavia.lb(me, sub["id"])
    lis = octavia.listener(me, lb["id"], 8080, allowed_cidrs=["192.0.2.0/24"],
                           insert_headers={"X-Forwarded-For": "true"})
    assert lis["protocol"] == "HTTP" and lis["protocol_port"] == 8080
    assert lis["connection_limit"] == -1 and lis["timeout_client_data"] == 50000
    assert lis["timeout_member_connect"] == 5000 and lis["timeout_tcp_inspect"] == 0
    assert lis["default_pool_id"] is None and lis["loadbalancers"] == [{"id": lb["id"]}]
    assert lis["insert_headers"] == {"X-Forwarded-For": "true"}
    assert lis["allowed_cidrs"] == ["192.0.2.0/24"]
    shown = octavia.show(me, f"listeners/{lis['id']}", "listener")
    assert shown["provisioning_status"] == "ACTIVE"
    assert octavia.show(me, f"loadbalancers/{lb['id']}",
                        "loadbalancer")["listeners"] == [{"id": lis["id"]}]
    tcp = octavia.listener(me, lb["id"], 9000, "TCP")
    # The VIP's group lets in exactly the listeners' ports, from their CIDRs.
    group = [g for g in me.list("security-groups") if g["name"] == f"lb-{lb['id']}"][0]
    ingress = sorted((r["protocol"], r["port_range_min"], r["remote_ip_prefix"])
                     for r in group["security_group_rules"] if r["direction"] == "ingress")
    assert ingress == [("tcp", 8080, "192.0.2.0/24"), ("tcp", 9000, "0.0.0.0/0")]
    # Duplicates and what the provider does not serve.
    fault(me.post(f"{LB}/listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 8080}}), 409,
        "Another Listener on this Load Balancer is already using protocol TCP and "
        "protocol_port 8080")
    for protocol in ("UDP", "SCTP"):
        fault(me.post(f"{LB}/listeners", {"listener": {
            "loadbalancer_id": lb["id"], "protocol": protocol, "protocol_port": 53}}), 400,
            f"not allowed in this deployment: {protocol}")
    fault(me.post(f"{LB}/listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TERMINATED_HTTPS", "protocol_port": 443}}),
        400, "certificate container reference must be provided")
    for bad, contains in (({"protocol": "FTP"}, "Value should be one of"),
                          ({"protocol_port": 0}, "greater or equal to 1"),
                          ({"protocol_port": 70000}, "lower or equal to 65535"),
                          ({"connection_limit": -2}, "greater or equal to -1"),
                          ({"insert_headers": {"X-Bogus": "true"}}, "insert_headers"),
                          ({"allowed_cidrs": ["2001:db8::/64"]}, "IP version incompatible")):
        attrs = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 81, **bad}
        fault(me.post(f"{LB}/listeners", {"listener": attrs}), 400, contains)
    fault(me.post(f"{LB}/listeners", {"listener": {"protocol": "HTTP",
                                                   "protocol_port": 1}}), 400,
          "Mandatory field missing.")
    upd = expect(me.put(f"{LB}/listeners/{tcp['id']}", {"listener": {
        "connection_limit": 100, "timeout_client_data": 1000, "allowed_cidrs": ["198.51.100.0/24"]
    }}), 200)["listener"]
    assert upd["connection_limit"] == 100 and upd["provisioning_status"] == "PENDING_UPDATE"
    assert octavia.show(me, f"loadbalancers/{lb['id']}",
                        "loadbalancer")["provisioning_status"] == "PENDING_UPDATE"
    octavia.ack()
    group = [g for g in me.list("security-groups") if g["name"] == f"lb-{lb['id']}"][0]
    assert ("tcp", 9000, "198.51.100.0/24") in [
        (r["protocol"], r["port_range_min"], r["remote_ip_prefix"])
        for r in group["security_group_rules"]]
    expect(me.delete(f"{LB}/listeners/{tcp['id']}"), 204)
    assert octavia.show(me, f"listeners/{tcp['id']}",
                        "listener")["provisioning_status"] == "PENDING_DELETE"
    octavia.ack()
    fault(me.get(f"{LB}/listeners/{tcp['id']}"), 404)


def test_pools_members_healthmonitors(api, octavia):
    me = api.member_a
    _, sub = me.net_with_subnet("10.34.0.0/24")
    lb = octavia.lb(me, sub["id"])
    lis = octavia.listener(me, lb["id"])
    pool = octavia.pool(me, lis["id"], lb_algorithm="LEAST_CONNECTIONS",
                        session_persistence={"type": "APP_COOKIE", "cookie_name": "sid"})
    assert pool["listeners"] == [{"id": lis["id"]}] and pool["members"] == []
    assert pool["session_persistence"]["type"] == "APP_COOKIE"
    assert pool["session_persistence"]["cookie_name"] == "sid"
    assert octavia.show(me, f"listeners/{lis['id']}", "listener")["default_pool_id"] == \
        pool["id"]
    fault(me.post(f"{LB}/pools", {"pool": {"listener_id": lis["id"], "protocol": "HTTP",
                                           "lb_algorithm": "ROUND_ROBIN"}}), 409,
          "This listener already has a default pool")
    fault(me.post(f"{LB}/pools", {"pool": {"protocol": "HTTP",
                                           "lb_algorithm": "ROUND_ROBIN"}}), 400,
          "Must provide at least one of: loadbalancer_id, listener_id")
    fault(me.post(f"{LB}/pools", {"pool": {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                                           "lb_algorithm": "ROUND_ROBIN",
                                           "session_persistence": {"type": "APP_COOKIE"}}}),
          400, 'Field "cookie_name" must be specified')
    fault(me.post(f"{LB}/pools", {"pool": {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                                           "lb_algorithm": "RANDOM"}}), 400,
          "Value should be one of")
    # Valid, but not something haproxy's provider offers: Octavia's 501, after policy.
    sip_port = {"pool": {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                         "lb_algorithm": "SOURCE_IP_PORT"}}
    fault(me.post(f"{LB}/pools", sip_port), 501,
          "Provider 'haproxy' does not support a requested option")
    fault(api.member_b.post(f"{LB}/pools", sip_port), 403)
    upd = expect(me.put(f"{LB}/pools/{pool['id']}", {"pool": {
        "lb_algorithm": "SOURCE_IP", "session_persistence": {"type": "SOURCE_IP"}}}),
        200)["pool"]
    assert upd["lb_algorithm"] == "SOURCE_IP"
    octavia.ack()
    v6 = octavia.member(me, pool["id"], "2001:db8:0:0:0:0:0:1", monitor_address="2001:db8::2")
    assert v6["address"] == "2001:db8:0:0:0:0:0:1"       # as given, as Octavia
    expect(me.delete(f"{LB}/pools/{pool['id']}/members/{v6['id']}"), 204)
    octavia.ack()
    mem = octavia.member(me, pool["id"], "10.34.0.10", weight=5, subnet_id=sub["id"],
                         backup=True, monitor_port=8081)
    assert mem["weight"] == 5 and mem["backup"] is True and mem["monitor_port"] == 8081
    assert mem["operating_status"] == "NO_MONITOR" and mem["subnet_id"] == sub["id"]
    path = f"{LB}/pools/{pool['id']}/members"
    for bad, contains in (({"weight": 257}, "lower or equal to 256"),
                          ({"address": "not-an-ip"}, "IPv4 or IPv6"),
                          ({"address": "169.254.169.254"}, "not a valid option for member "
                                                           "address"),
                          ({"subnet_id": "5d1d1c5e-0000-4000-8000-000000000000"},
                           "Subnet 5d1d1c5e-0000-4000-8000-000000000000 not found.")):
        fault(me.post(path, {"member": {"address": "10.34.0.20", "protocol_port": 80,
                                        **bad}}), 400, contains)
    fault(me.post(path, {"member": {"address": "10.34.0.10", "protocol_port": 80}}), 409,
          "Another member on this pool is already using ip 10.34.0.10 on protocol_port 80")
    assert [m["id"] for m in expect(me.get(path), 200)["members"]] == [mem["id"]]
    upd = expect(me.put(f"{path}/{mem['id']}", {"member": {"weight": 0, "name": "m"}}),
                 200)["member"]
    assert upd["weight"] == 0 and upd["name"] == "m"
    octavia.ack()
    hm = octavia.post(me, "healthmonitors", "healthmonitor", pool_id=pool["id"],
                      type="HTTP", delay=3, timeout=2, max_retries=3)
    assert (hm["http_method"], hm["url_path"], hm["expected_codes"]) == ("GET", "/", "200")
    assert hm["max_retries_down"] == 3 and hm["pools"] == [{"id": pool["id"]}]
    assert octavia.show(me, f"pools/{pool['id']}", "pool")["healthmonitor_id"] == hm["id"]
    fault(me.post(f"{LB}/healthmonitors", {"healthmonitor": {
        "pool_id": pool["id"], "type": "TCP", "delay": 1, "timeout": 1, "max_retries": 1}}),
        409, "This pool already has a health monitor")
    pool2 = octavia.pool(me, lb_id=lb["id"], protocol="TCP")
    for bad, contains in (({"max_retries": 11}, "lower or equal to 10"),
                          ({"type": "UDP-CONNECT"}, "not allowed in this deployment"),
                          ({"url_path": "/x"}, "not a valid option for url_path"),
                          ({"delay": None}, "Mandatory field missing.")):
        attrs = {"pool_id": pool2["id"], "type": "TCP", "delay": 1, "timeout": 1,
                 "max_retries": 1, **bad}
        fault(me.post(f"{LB}/healthmonitors", {"healthmonitor": attrs}), 400, contains)
    ping = octavia.post(me, "healthmonitors", "healthmonitor", pool_id=pool2["id"],
                        type="PING", delay=1, timeout=1, max_retries=1)
    assert ping["http_method"] is None and ping["url_path"] is None
    upd = expect(me.put(f"{LB}/healthmonitors/{hm['id']}", {"healthmonitor": {
        "url_path": "/healthz", "expected_codes": "200-204", "delay": 10}}),
        200)["healthmonitor"]
    assert upd["url_path"] == "/healthz" and upd["expected_codes"] == "200-204"
    octavia.ack()
    fault(me.put(f"{LB}/healthmonitors/{hm['id']}", {"healthmonitor": {
        "expected_codes": "abc"}}), 400, "expected_codes")
    # The agent is given all of it.
    state = [s for h in octavia.hosts() for s in octavia.state(h) if s["id"] == lb["id"]][0]
    [p] = [p for p in state["pools"] if p["id"] == pool["id"]]
    assert p["lb_algorithm"] == "SOURCE_IP"
    assert p["session_persistence"] == {"type": "SOURCE_IP", "cookie_name": None}
    assert p["healthmonitor"]["url_path"] == "/healthz"
    assert [(m["address"], m["weight"], m["backup"]) for m in p["members"]] == [
        ("10.34.0.10", 0, True)]
    assert state["listeners"][0]["default_pool_id"] == pool["id"]
    # Deleting: members, monitor, pool.
    expect(me.delete(f"{path}/{mem['id']}"), 204)
    octavia.ack()
    fault(me.get(f"{path}/{mem['id']}"), 404, f"Member {mem['id']} not found.")
    expect(me.delete(f"{LB}/healthmonitors/{hm['id']}"), 204)
    octavia.ack()
    expect(me.delete(f"{LB}/pools/{pool['id']}"), 204)
    octavia.ack()
    assert octavia.show(me, f"listeners/{lis['id']}", "listener")["default_pool_id"] is None


def test_member_batch_update(api, octavia):
    me = api.member_a
    _, sub = me.net_with_subnet("10.35.0.0/24")
    lb = octavia.lb(me, sub["id"])
    pool = octavia.pool(me, lb_id=lb["id"])
    keep = octavia.member(me, pool["id"], "10.35.0.1", weight=1)
    drop = octavia.member(me, pool["id"], "10.35.0.2")
    path = f"{LB}/pools/{pool['id']}/members"
    resp = me.put(path, {"members": [{"address": "10.35.0.1", "protocol_port": 80,
                                      "weight": 7},
                                     {"address": "10.35.0.3", "protocol_port": 80}]})
    assert resp.status_code == 202 and resp.content == b""
    listed = {m["address"]: m for m in expect(me.get(path), 200)["members"]}
    assert listed["10.35.0.1"]["id"] == keep["id"] and listed["10.35.0.1"]["weight"] == 7
    assert listed["10.35.0.2"]["provisioning_status"] == "PENDING_DELETE"
    assert listed["10.35.0.3"]["provisioning_status"] == "PENDING_CREATE"
    octavia.ack()
    listed = {m["address"] for m in expect(me.get(path), 200)["members"]}
    assert listed == {"10.35.0.1", "10.35.0.3"}
    fault(me.get(f"{path}/{drop['id']}"), 404)
    resp = me.put(path + "?additive_only=true",
                  {"members": [{"address": "10.35.0.4", "protocol_port": 80}]})
    assert resp.status_code == 202
    octavia.ack()
    assert {m["address"] for m in expect(me.get(path), 200)["members"]} == {
        "10.35.0.1", "10.35.0.3", "10.35.0.4"}
    fault(me.put(path, {"members": [{"address": "10.35.0.1", "protocol_port": 80},
                                    {"address": "10.35.0.1", "protocol_port": 80}]}), 400,
          "Member must be updated only once in the same request.")


def test_l7_policies_and_rules(api, octavia):
    me = api.member_a
    _, sub = me.net_with_subnet("10.36.0.0/24")
    lb = octavia.lb(me, sub["id"])
    lis = octavia.listener(me, lb["id"])
    api_pool = octavia.pool(me, lb_id=lb["id"])
    first = octavia.post(me, "l7policies", "l7policy", listener_id=lis["id"],
                         action="REDIRECT_TO_POOL", redirect_pool_id=api_pool["id"])
    assert first["position"] == 1 and first["redirect_http_code"] is None
    reject = octavia.post(me, "l7policies", "l7policy", listener_id=lis["id"],
                          action="REJECT", position=1)
    assert reject["position"] == 1
    assert octavia.show(me, f"l7policies/{first['id']}", "l7policy")["position"] == 2
    redirect = octavia.post(me, "l7policies", "l7policy", listener_id=lis["id"],
                            action="REDIRECT_PREFIX", redirect_prefix="https://example.org")
    assert redirect["redirect_http_code"] == 302 and redirect["position"] == 3
    assert [p["id"] for p in octavia.show(me, f"listeners/{lis['id']}", "listener")[
        "l7policies"]] == [reject["id"], first["id"], redirect["id"]]
    for bad, contains in (({"action": "REDIRECT_TO_POOL"}, "redirect_pool_id must not be "
                                                           "None"),
                          ({"action": "REDIRECT_TO_URL", "redirect_url": "nope"},
                           "Not a valid URL"),
                          ({"action": "REDIRECT_TO_URL", "redirect_url": "http://a.b",
                            "redirect_http_code": 200}, "redirect_http_code"),
                          ({"action": "DROP"}, "Value should be one of")):
        fault(me.post(f"{LB}/l7policies", {"l7policy": {"listener_id": lis["id"], **bad}}),
              400, contains)
    rules = f"{LB}/l7policies/{first['id']}/rules"
    for kind, compare, key, value in (("PATH", "STARTS_WITH", None, "/api"),
                                      ("HOST_NAME", "EQUAL_TO", None, "www.example.com"),
                                      ("HEADER", "CONTAINS", "X-Env", "prod"),
                                      ("COOKIE", "EQUAL_TO", "flavor", "mint"),
                                      ("FILE_TYPE", "REGEX", None, "jpe?g")):
        rule = octavia.post(me, f"l7policies/{first['id']}/rules", "rule", type=kind,
                            compare_type=compare, key=key, value=value)
        assert (rule["type"], rule["compare_type"], rule["key"], rule["value"]) == (
            kind, compare, key, value)
        assert rule["invert"] is False
    for bad, contains in (({"type": "HEADER", "compare_type": "EQUAL_TO", "value": "v"},
                           "L7 rule type requires a key"),
                          ({"type": "FILE_TYPE", "compare_type": "CONTAINS", "value": "png"},
                           "invalid comparison type"),
                          ({"type": "PATH", "compare_type": "REGEX", "value": "(["},
                           "Unable to parse regular expression"),
                          ({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO",
                            "value": "True"}, "not allowed in this deployment")):
        fault(me.post(rules, {"rule": bad}), 400, contains)
    listed = expect(me.get(rules), 200)["rules"]
    assert len(listed) == 5
    upd = expect(me.put(f"{rules}/{listed[0]['id']}", {"rule": {"invert": True,
                                                                "value": "/v2"}}), 200)["rule"]
    assert upd["invert"] is True and upd["value"] == "/v2"
    octavia.ack()
    fault(me.delete(f"{LB}/pools/{api_pool['id']}"), 409,
          f"Pool {api_pool['id']} is in use by L7 policy {first['id']}")
    state = [s for h in octavia.hosts() for s in octavia.state(h) if s["id"] == lb["id"]][0]
    pols = state["listeners"][0]["l7policies"]
    assert [(p["position"], p["action"]) for p in pols] == [
        (1, "REJECT"), (2, "REDIRECT_TO_POOL"), (3, "REDIRECT_PREFIX")]
    assert pols[1]["rules"][0]["value"] == "/v2" and pols[1]["rules"][0]["invert"] is True
    # Rules may come with their policy, as Octavia allows.
    with_rules = octavia.post(me, "l7policies", "l7policy", listener_id=lis["id"],
                              action="REJECT", rules=[
                                  {"type": "HOST_NAME", "compare_type": "EQUAL_TO",
                                   "value": "bad.example.com"}])
    assert len(with_rules["rules"]) == 1
    fault(me.post(f"{LB}/l7policies", {"l7policy": {
        "listener_id": lis["id"], "action": "REJECT",
        "rules": [{"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"}]}}), 400,
        "L7 rule type requires a key")
    expect(me.delete(f"{LB}/l7policies/{with_rules['id']}"), 204)
    octavia.ack()
    expect(me.delete(f"{LB}/l7policies/{reject['id']}"), 204)
    octavia.ack()
    assert octavia.show(me, f"l7policies/{first['id']}", "l7policy")["position"] == 1
    expect(me.delete(f"{rules}/{listed[1]['id']}"), 204)
    octavia.ack()
    assert len(expect(me.get(rules), 200)["rules"]) == 4


def test_status_tree_reports_and_stats(api, octavia):
    me = api.member_a
    t = octavia.tree(me)
    lb, lis, pool = t["lb"], t["listener"], t["pool"]
    m1, m2 = t["members"]
    tree = expect(me.get(f"{LB}/loadbalancers/{lb['id']}/status"), 200)["statuses"]
    top = tree["loadbalancer"]
    assert top["id"] == lb["id"] and top["provisioning_status"] == "ACTIVE"
    [lv] = top["listeners"]
    assert lv["id"] == lis["id"] and [p["id"] for p in lv["pools"]] == [pool["id"]]
    pv = lv["pools"][0]
    assert pv["health_monitor"]["id"] == t["hm"]["id"] and pv["health_monitor"]["type"] == "HTTP"
    assert {(m["id"], m["address"], m["protocol_port"]) for m in pv["members"]} == {
        (m1["id"], "10.20.0.11", 80), (m2["id"], "10.20.0.12", 80)}
    # Health and traffic as the agent sees them (whatever the version).
    stats = {lis["id"]: {"bytes_in": 100, "bytes_out": 2000, "active_connections": 3,
                         "total_connections": 40, "request_errors": 1}}
    octavia.ack(operating_status="DEGRADED", listeners={lis["id"]: "ONLINE"},
                pools={pool["id"]: "DEGRADED"},
                members={m1["id"]: "ONLINE", m2["id"]: "ERROR"}, stats={"listeners": stats})
    tree = expect(me.get(f"{LB}/loadbalancers/{lb['id']}/status"), 200)["statuses"]
    pv = tree["loadbalancer"]["listeners"][0]["pools"][0]
    assert tree["loadbalancer"]["operating_status"] == "DEGRADED"
    assert pv["operating_status"] == "DEGRADED"
    assert {m["id"]: m["operating_status"] for m in pv["members"]} == {
        m1["id"]: "ONLINE", m2["id"]: "ERROR"}
    assert expect(me.get(f"{LB}/loadbalancers/{lb['id']}/stats"), 200)["stats"] == \
        stats[lis["id"]]
    assert expect(me.get(f"{LB}/listeners/{lis['id']}/stats"), 200)["stats"] == \
        stats[lis["id"]]
    # A listener set admin down is OFFLINE even if the agent says nothing of it.
    expect(me.put(f"{LB}/listeners/{lis['id']}", {"listener": {"admin_state_up": False}}), 200)
    octavia.ack()
    assert octavia.show(me, f"listeners/{lis['id']}", "listener")["operating_status"] == \
        "OFFLINE"
    expect(me.put(f"{LB}/listeners/{lis['id']}", {"listener": {"admin_state_up": True}}), 200)
    octavia.ack(listeners={lis["id"]: "ONLINE"})
    # A member set admin down is OFFLINE whatever the agent says.
    expect(me.put(f"{LB}/pools/{pool['id']}/members/{m2['id']}",
                  {"member": {"admin_state_up": False}}), 200)
    octavia.ack(members={m2["id"]: "ERROR"})
    assert octavia.show(me, f"pools/{pool['id']}/members/{m2['id']}",
                        "member")["operating_status"] == "OFFLINE"
    # A report of an older version changes no provisioning status; ERROR does.
    expect(me.put(f"{LB}/pools/{pool['id']}", {"pool": {"name": "p2"}}), 200)
    state = [s for h in octavia.hosts() for s in octavia.state(h) if s["id"] == lb["id"]][0]
    for host in octavia.hosts():
        octavia.rpc.update_loadbalancer_statuses(host, {lb["id"]: {
            "version": str(int(state["version"]) - 1), "provisioning_status": "ACTIVE"}})
    assert octavia.show(me, f"pools/{pool['id']}", "pool")["provisioning_status"] == \
        "PENDING_UPDATE"
    octavia.ack("ERROR")
    assert octavia.show(me, f"pools/{pool['id']}", "pool")["provisioning_status"] == "ERROR"
    assert octavia.show(me, f"loadbalancers/{lb['id']}",
                        "loadbalancer")["provisioning_status"] == "ERROR"
    # ERROR is deletable (and mutable again only through delete or failover).
    fault(me.post(f"{LB}/listeners", {"listener": {"loadbalancer_id": lb["id"],
                                                   "protocol": "TCP",
                                                   "protocol_port": 22}}), 409)


def test_cascade_delete(api, octavia):
    me = api.member_a
    t = octavia.tree(me)
    lb_id = t["lb"]["id"]
    fault(me.delete(f"{LB}/loadbalancers/{lb_id}"), 400,
          f"Cannot delete Load Balancer {lb_id} - it has children")
    expect(me.delete(f"{LB}/loadbalancers/{lb_id}?cascade=true"), 204)
    for path, key in ((f"listeners/{t['listener']['id']}", "listener"),
                      (f"pools/{t['pool']['id']}", "pool"),
                      (f"healthmonitors/{t['hm']['id']}", "healthmonitor"),
                      (f"l7policies/{t['l7policy']['id']}", "l7policy")):
        assert octavia.show(me, path, key)["provisioning_status"] == "PENDING_DELETE"
    state = [s for h in octavia.hosts() for s in octavia.state(h) if s["id"] == lb_id][0]
    assert state["deleted"] is True
    octavia.ack()
    for path in (f"loadbalancers/{lb_id}", f"listeners/{t['listener']['id']}",
                 f"pools/{t['pool']['id']}", f"healthmonitors/{t['hm']['id']}",
                 f"l7policies/{t['l7policy']['id']}",
                 f"pools/{t['pool']['id']}/members/{t['members'][0]['id']}"):
        fault(me.get(f"{LB}/{path}"), 404)
    me.show("ports", t["lb"]["vip_port_id"], status=404)


def test_failover_is_admin_only_and_rebuilds(api, octavia):
    me = api.member_a
    _, sub = me.net_with_subnet("10.37.0.0/24")
    lb = octavia.lb(me, sub["id"])
    fault(me.put(f"{LB}/loadbalancers/{lb['id']}/failover"), 403,
          "Policy does not allow this request to be performed.")
    before = [s for h in octavia.hosts() for s in octavia.state(h) if s["id"] == lb["id"]][0]
    resp = api.admin.put(f"{LB}/loadbalancers/{lb['id']}/failover")
    assert resp.status_code == 202 and resp.content == b""
    after = [s for h in octavia.hosts() for s in octavia.state(h) if s["id"] == lb["id"]][0]
    assert after["epoch"] == before["epoch"] + 1
    assert after["provisioning_status"] == "PENDING_UPDATE"
    octavia.ack()
    assert octavia.show(me, f"loadbalancers/{lb['id']}",
                        "loadbalancer")["provisioning_status"] == "ACTIVE"


def test_lists_filters_pagination_and_fields(api, octavia):
    who = api.project()
    _, sub = who.net_with_subnet("10.38.0.0/24")
    names = [rand("lb") for _ in range(3)]
    for name in names:
        octavia.lb(who, sub["id"], name=name)
    body = expect(who.get(f"{LB}/loadbalancers"), 200)
    assert [x["name"] for x in body["loadbalancers"]] == names    # creation order
    assert sorted(x["name"] for x in body["loadbalancers"]) == sorted(names)
    assert body["loadbalancers_links"] == []
    one = expect(who.get(f"{LB}/loadbalancers", params={"name": names[1]}), 200)
    assert [x["name"] for x in one["loadbalancers"]] == [names[1]]
    page = expect(who.get(f"{LB}/loadbalancers", params={"limit": 2, "sort": "name:asc"}),
                  200)
    assert [x["name"] for x in page["loadbalancers"]] == sorted(names)[:2]
    assert page["loadbalancers_links"][0]["rel"] == "next"
    expect(who.put(f"{LB}/loadbalancers/{page['loadbalancers'][0]['id']}",
                   {"loadbalancer": {"tags": ["blue", "big"]}}), 200)
    octavia.ack()
    for flt, count in (({"tags": "blue,big"}, 1), ({"tags": "blue,small"}, 0),
                       ({"tags-any": "small,big"}, 1), ({"not-tags": "blue,big"}, 2),
                       ({"not-tags-any": "blue"}, 2)):
        assert len(expect(who.get(f"{LB}/loadbalancers", params=flt),
                          200)["loadbalancers"]) == count, flt
    fields = expect(who.get(f"{LB}/loadbalancers", params={"fields": "id,name"}), 200)
    assert all(set(x) == {"id", "name"} for x in fields["loadbalancers"])
    fault(who.get(f"{LB}/loadbalancers", params={"sort": "name:sideways"}), 400)
    # Filters on the parent's id (a list of {"id"} in the view), as Octavia's columns.
    lbs = expect(who.get(f"{LB}/loadbalancers"), 200)["loadbalancers"]
    pools = [octavia.pool(who, lb_id=x["id"]) for x in lbs[:2]]
    only = expect(who.get(f"{LB}/pools", params={"loadbalancer_id": lbs[1]["id"]}),
                  200)["pools"]
    assert [p["id"] for p in only] == [pools[1]["id"]]
    hm = octavia.post(who, "healthmonitors", "healthmonitor", pool_id=pools[0]["id"],
                      type="TCP", delay=1, timeout=1, max_retries=1)
    only = expect(who.get(f"{LB}/healthmonitors", params={"pool_id": pools[0]["id"]}),
                  200)["healthmonitors"]
    assert [h["id"] for h in only] == [hm["id"]]
    # /v2.0/lbaas and the catalog's /load-balancer prefix serve the same.
    alt = expect(who.get(f"/v2.0/lbaas/loadbalancers"), 200)["loadbalancers"]
    assert sorted(x["name"] for x in alt) == sorted(names)
    alt = expect(who.get(f"/load-balancer/v2/lbaas/loadbalancers"), 200)["loadbalancers"]
    assert len(alt) == 3


def test_providers_flavors_and_versions(api):
    me = api.member_a
    providers = expect(me.get(f"{LB}/providers"), 200)["providers"]
    assert [p["name"] for p in providers] == ["haproxy"]
    assert expect(me.get(f"{LB}/providers", params={"fields": "name"}), 200) == {
        "providers": [{"name": "haproxy"}]}
    assert expect(me.get(f"{LB}/flavors"), 200) == {"flavors": [], "flavors_links": []}
    fault(me.get(f"{LB}/flavors/5d1d1c5e-0000-4000-8000-000000000000"), 404)
    versions = expect(me.get("/load-balancer/"), 200)["versions"]
    assert versions[0]["id"] == "v2.0"
    assert [v for v in versions if v["status"] == "CURRENT"][0]["id"] == "v2.25"


def test_vip_address_taken(api, octavia):
    me = api.member_a
    net, sub = me.net_with_subnet("10.39.0.0/24")
    me.port(net["id"], fixed_ips=[{"subnet_id": sub["id"], "ip_address": "10.39.0.50"}])
    octavia.heartbeat()
    fault(me.post(f"{LB}/loadbalancers", {"loadbalancer": {
        "vip_subnet_id": sub["id"], "vip_address": "10.39.0.50"}}), 409,
        "The VIP IP address is already in use")
    assert not [p for p in me.list("ports") if p["device_owner"] == "Octavia"
                and p["network_id"] == net["id"]]
    assert not [g for g in me.list("security-groups") if g["name"].startswith("lb-")
                and not [x for x in me.list("ports") if g["id"] in x["security_groups"]]]


def test_fully_populated_create(api, octavia):
    """Octavia's single-call create: listeners with their default pool
    (members, monitor) and L7 policies (rules, redirect pool), and pools
    referred to by name."""
    me = api.member_a
    _, sub = me.net_with_subnet("10.44.0.0/24")
    octavia.heartbeat()
    body = {"vip_subnet_id": sub["id"], "name": "full", "pools": [
        {"name": "api", "protocol": "HTTP", "lb_algorithm": "LEAST_CONNECTIONS",
         "members": [{"address": "10.44.0.21", "protocol_port": 8080}]}],
        "listeners": [{"name": "web", "protocol": "HTTP", "protocol_port": 80,
                       "default_pool": {"name": "www", "protocol": "HTTP",
                                        "lb_algorithm": "ROUND_ROBIN",
                                        "healthmonitor": {"type": "HTTP", "delay": 2,
                                                          "timeout": 1, "max_retries": 2},
                                        "members": [{"address": "10.44.0.11",
                                                     "protocol_port": 80},
                                                    {"address": "10.44.0.12",
                                                     "protocol_port": 80}]},
                       "l7policies": [{"action": "REDIRECT_TO_POOL",
                                       "redirect_pool": {"name": "api"},
                                       "rules": [{"type": "PATH",
                                                  "compare_type": "STARTS_WITH",
                                                  "value": "/api"}]}]}]}
    lb = expect(me.post(f"{LB}/loadbalancers", {"loadbalancer": body}), 201)["loadbalancer"]
    [lis] = lb["listeners"]
    assert lis["name"] == "web" and lis["provisioning_status"] == "PENDING_CREATE"
    pools = {p["name"]: p for p in lb["pools"]}
    assert set(pools) == {"api", "www"} and lis["default_pool_id"] == pools["www"]["id"]
    assert len(pools["www"]["members"]) == 2 and pools["www"]["healthmonitor"]["type"] == "HTTP"
    [pol] = lis["l7policies"]
    assert pol["redirect_pool_id"] == pools["api"]["id"] and pol["rules"][0]["value"] == "/api"
    octavia.ack()
    tree = expect(me.get(f"{LB}/loadbalancers/{lb['id']}/status"), 200)["statuses"]
    [lv] = tree["loadbalancer"]["listeners"]
    assert {p["id"] for p in lv["pools"]} == {pools["www"]["id"], pools["api"]["id"]}
    assert octavia.show(me, f"listeners/{lis['id']}", "listener")["provisioning_status"] == \
        "ACTIVE"
    # Checked before anything is written: a bad member fails the whole create.
    bad = dict(body, name="bad")
    bad["listeners"] = [dict(body["listeners"][0], default_pool={
        "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
        "members": [{"address": "10.44.0.11", "protocol_port": 80, "weight": 999}]})]
    fault(me.post(f"{LB}/loadbalancers", {"loadbalancer": bad}), 400, "weight")
    assert not [x for x in expect(me.get(f"{LB}/loadbalancers"), 200)["loadbalancers"]
                if x["name"] == "bad"]
    fault(me.post(f"{LB}/loadbalancers", {"loadbalancer": dict(body, listeners=[
        dict(body["listeners"][0], default_pool={"name": "nosuch"})])}), 400,
        "not defined")


def test_missing_parents_are_404(api):
    me = api.member_a
    gone = "5d1d1c5e-0000-4000-8000-0000000000aa"
    fault(me.post(f"{LB}/listeners", {"listener": {"loadbalancer_id": gone, "protocol": "HTTP",
                                                   "protocol_port": 80}}), 404,
          f"Load Balancer {gone} not found.")
    fault(me.post(f"{LB}/pools", {"pool": {"listener_id": gone, "protocol": "HTTP",
                                           "lb_algorithm": "ROUND_ROBIN"}}), 404,
          f"Listener {gone} not found.")
    fault(me.post(f"{LB}/healthmonitors", {"healthmonitor": {
        "pool_id": gone, "type": "TCP", "delay": 1, "timeout": 1, "max_retries": 1}}), 404,
        f"Pool {gone} not found.")
    fault(me.post(f"{LB}/l7policies", {"l7policy": {"listener_id": gone,
                                                    "action": "REJECT"}}), 404)
    fault(me.post(f"{LB}/pools/{gone}/members", {"member": {"address": "10.0.0.1",
                                                            "protocol_port": 80}}), 404,
          f"Pool {gone} not found.")
