"""FWaaS races against a real `neutrino-server` with two API workers on
every backend: two groups claiming one port, a rule deleted while inserted
into a policy, a project's first lists creating its default group. Only
2xx/404/409 with Neutron bodies, and a consistent state afterwards."""
from __future__ import annotations

import secrets

import httpx
import pytest

from tests.api.helpers import UNLIMITED_QUOTAS, two_worker_config
from tests.api.test_races import check_answers, ok, together

ROUNDS = 4
FW = "fwaas/"


@pytest.fixture(scope="module")
def server(server_factory, db_url):
    quotas = {**UNLIMITED_QUOTAS, "quota_firewall_group": "-1", "quota_firewall_policy": "-1",
              "quota_firewall_rule": "-1"}
    return server_factory(two_worker_config(db_url, quotas=quotas))


def member_headers() -> dict[str, str]:
    return {"X-Project-Id": secrets.token_hex(16), "X-Roles": "member", "X-User-Id": "fw"}


@pytest.fixture
def client(server):
    headers = member_headers()
    with httpx.Client(base_url=server.url + "/v2.0", headers=headers, timeout=60) as c:
        c.race_headers = headers
        yield c


def test_two_groups_claim_one_port(server, client):
    router = ok(client.post("routers", json={"router": {"name": "r"}}))["router"]
    ports = []
    for i in range(ROUNDS):
        net = ok(client.post("networks", json={"network": {"name": f"n{i}"}}))["network"]
        sub = ok(client.post("subnets", json={"subnet": {
            "network_id": net["id"], "cidr": f"10.{190 + i}.0.0/24", "ip_version": 4}}))["subnet"]
        ports.append(ok(client.put(f"routers/{router['id']}/add_router_interface",
                                   json={"subnet_id": sub["id"]}))["port_id"])
    for port in ports:
        answers = together(server, [("POST", FW + "firewall_groups", {"firewall_group": {
            "name": f"g{k}", "ports": [port]}}) for k in range(2)], client.race_headers)
        statuses = check_answers(server, answers, {201: None, 409: {"FirewallGroupPortInUse"}})
        assert sorted(statuses) == [201, 409], statuses
        holders = ok(client.get(FW + "firewall_groups", params={"ports": port}))
        assert len(holders["firewall_groups"]) == 1


def test_rule_deleted_while_inserted(server, client):
    policy = ok(client.post(FW + "firewall_policies", json={"firewall_policy": {}}))[
        "firewall_policy"]
    for _ in range(ROUNDS):
        rule = ok(client.post(FW + "firewall_rules", json={"firewall_rule": {}}))[
            "firewall_rule"]
        answers = together(server, [
            ("DELETE", f"{FW}firewall_rules/{rule['id']}", None),
            ("PUT", f"{FW}firewall_policies/{policy['id']}/insert_rule",
             {"firewall_rule_id": rule["id"]})], client.race_headers)
        check_answers(server, answers, {200: None, 204: None,
                                        404: {"FirewallRuleNotFound"},
                                        409: {"FirewallRuleInUse"}})
        deleted, inserted = answers[0].status_code == 204, answers[1].status_code == 200
        assert deleted != inserted, [a.text for a in answers]
        rules = ok(client.get(f"{FW}firewall_policies/{policy['id']}"))["firewall_policy"][
            "firewall_rules"]
        assert (rule["id"] in rules) == inserted
        if inserted:
            ok(client.put(f"{FW}firewall_policies/{policy['id']}/remove_rule",
                          json={"firewall_rule_id": rule["id"]}))


def test_first_lists_make_one_default_group(server):
    for _ in range(ROUNDS):
        headers = member_headers()
        answers = together(server, [("GET", FW + coll, None) for coll in (
            "firewall_groups", "firewall_policies", "firewall_rules", "firewall_groups")],
            headers)
        check_answers(server, answers, {200: None})
        with httpx.Client(base_url=server.url + "/v2.0", headers=headers, timeout=60) as c:
            mine = {"project_id": headers["X-Project-Id"]}
            groups = ok(c.get(FW + "firewall_groups", params=mine))["firewall_groups"]
            assert [g["name"] for g in groups] == ["default"]
            assert len(ok(c.get(FW + "firewall_policies", params=mine))[
                "firewall_policies"]) == 2
            assert len(ok(c.get(FW + "firewall_rules", params=mine))["firewall_rules"]) == 4
