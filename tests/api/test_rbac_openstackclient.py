"""The user guide's commands with the real openstackclient: `network rbac
create/list/delete` (to all projects), `address group create/set/unset`, a rule naming an
address group, a stateless group and the default rule templates."""
from __future__ import annotations

import secrets

import pytest

from tests.api.test_openstackclient import (OPENSTACK, HeaderProxy, Osc, admin_osc,  # noqa: F401
                                            api_get, osc_home, server)

pytestmark = pytest.mark.missing(not OPENSTACK.exists(),
                                reason=f"python-openstackclient not installed ({OPENSTACK})")


@pytest.fixture(scope="module")
def user_osc(server, osc_home):  # noqa: F811
    project = secrets.token_hex(16)
    proxy = HeaderProxy(server.url, {"X-Project-Id": project, "X-Roles": "member,reader",
                                     "X-User-Id": "osc-user"})
    osc = Osc(proxy.url, osc_home)
    osc.project = project
    yield osc
    proxy.close()


def test_rbac_address_groups_stateless_with_osc(admin_osc, user_osc, server):  # noqa: F811
    net = admin_osc.json("network", "create", "osc-rbac")
    assert api_get(server, f"networks/{net['id']}").status_code == 200
    # (--target-project looks the project up in Keystone, which a noauth
    # server has not: the wildcard here, a named project in the API tests)
    pol = admin_osc.json("network", "rbac", "create", "--type", "network",
                         "--action", "access_as_shared", "--target-all-projects", net["id"])
    assert pol["target_project_id"] == "*"
    assert user_osc.json("network", "show", net["id"])["shared"] is True
    listed = admin_osc.json("network", "rbac", "list")
    assert pol["id"] in {p["ID"] for p in listed}

    ag = admin_osc.json("address", "group", "create", "--address", "10.0.0.7/32",
                        "--address", "192.168.5.10/24", "admins")
    assert sorted(ag["addresses"]) == ["10.0.0.7/32", "192.168.5.0/24"]
    admin_osc.run("address", "group", "set", "--address", "10.0.0.8", "admins")
    admin_osc.run("address", "group", "unset", "--address", "10.0.0.7/32", "admins")
    shown = admin_osc.json("address", "group", "show", "admins")
    assert sorted(shown["addresses"]) == ["10.0.0.8/32", "192.168.5.0/24"]

    sg = admin_osc.json("security", "group", "create", "--stateless", "web")
    assert sg["stateful"] is False
    rule = admin_osc.json("security", "group", "rule", "create", "--ingress", "--protocol",
                          "tcp", "--dst-port", "22", "--remote-address-group", "admins",
                          sg["id"])
    assert rule["remote_address_group_id"] == ag["id"]
    templates = admin_osc.json("default", "security", "group", "rule", "list")
    assert len(templates) >= 4
    admin_osc.run("security", "group", "rule", "delete", rule["id"])
    admin_osc.run("address", "group", "delete", "admins")
    admin_osc.run("network", "rbac", "delete", pol["id"])
    assert user_osc.run("network", "show", net["id"], check=False).returncode != 0
