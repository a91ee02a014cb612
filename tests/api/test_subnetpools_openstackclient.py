"""The user guide's address scope commands with the real python-openstackclient
(`openstack address scope / subnet pool / subnet create --subnet-pool`,
`openstack network show` with the network's scope, prefix and onboarding
commands)."""
from __future__ import annotations

import secrets

import pytest

from tests.api.test_openstackclient import (OPENSTACK, admin_osc, osc_home,  # noqa: F401
                                            server)

pytestmark = pytest.mark.missing(not OPENSTACK.exists(),
                                reason=f"python-openstackclient not installed ({OPENSTACK})")


def test_address_scope_and_pool_commands(admin_osc):  # noqa: F811
    osc, tag = admin_osc, secrets.token_hex(3)
    scope = osc.json("address", "scope", "create", "--share", "--ip-version", "4", f"as-{tag}")
    assert (scope["ip_version"], scope["shared"]) == (4, True)
    pool = osc.json("subnet", "pool", "create", "--address-scope", scope["id"], "--share",
                    "--pool-prefix", "10.210.0.0/16", "--default-prefix-length", "24",
                    f"sp-{tag}")
    assert pool["address_scope_id"] == scope["id"] and pool["prefixes"] == ["10.210.0.0/16"]
    net = osc.json("network", "create", f"n-{tag}")
    sub = osc.json("subnet", "create", "--subnet-pool", pool["id"], "--network", net["id"],
                   f"s-{tag}")
    assert sub["cidr"] == "10.210.0.0/24" and sub["subnetpool_id"] == pool["id"]
    assert osc.json("network", "show", net["id"])["ipv4_address_scope"] == scope["id"]
    small = osc.json("subnet", "create", "--subnet-pool", pool["id"], "--prefix-length", "28",
                     "--network", net["id"], f"s2-{tag}")
    assert small["cidr"].endswith("/28")
    osc.run("subnet", "pool", "set", "--pool-prefix", "10.211.0.0/24", pool["id"])
    assert osc.json("subnet", "pool", "show", pool["id"])["prefixes"] == [
        "10.210.0.0/16", "10.211.0.0/24"]
    failed = osc.run("subnet", "pool", "delete", pool["id"], check=False)
    assert failed.returncode != 0
    for sid in (small["id"], sub["id"]):
        osc.run("subnet", "delete", sid)
    osc.run("network", "delete", net["id"])
    osc.run("subnet", "pool", "delete", pool["id"])
    osc.run("address", "scope", "delete", scope["id"])
