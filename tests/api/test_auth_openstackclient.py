"""The real python-openstackclient, password auth against the embedded
identity of a real `neutrino-server` (2 API workers): `neutrino openrc`
files sourced by bash, then `openstack ...`. An admin and two member projects
(plus a reader of the first): isolation, admin sees all, reader cannot create.
Users and projects are made with the `neutrino identity` CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.api.conftest import BIN
from tests.api.helpers import rand

OPENSTACK = BIN / "openstack"
pytestmark = pytest.mark.missing(not OPENSTACK.exists(), reason="python-openstackclient missing")


def neutrino_cli(conf: str, *args: str) -> str:
    """`neutrino ...` (identity/openrc commands), with the server's config."""
    cmd = [sys.executable, "-m", "neutrino.cli.identity", "--config-file", conf, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


class Cloud:
    def __init__(self, server, tmp):
        self.server, self.tmp = server, tmp
        self.rc: dict[str, str] = {}

    def user(self, name: str, project: str, role: str) -> str:
        password = rand("pw")
        neutrino_cli(self.server.conf, "identity", "user", "create", name, "--project", project,
                     "--password", password)
        neutrino_cli(self.server.conf, "identity", "role", "add", "--user", name, "--project",
                     project, role)
        self.openrc(name, project, password)
        return name

    def openrc(self, user: str, project: str, password: str | None = None) -> str:
        args = ["openrc", user, project] + (["--password", password] if password else [])
        path = os.path.join(self.tmp, f"{user}-openrc.sh")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(neutrino_cli(self.server.conf, *args))
        self.rc[user] = path
        return path

    def openstack(self, user: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        script = f'source "$1" && shift && exec {OPENSTACK} "$@"'
        out = subprocess.run(["bash", "-c", script, "bash", self.rc[user], *args],
                             capture_output=True, text=True, env=env, timeout=120)
        if ok:
            assert out.returncode == 0, f"openstack {' '.join(args)}: {out.stderr}"
        return out

    def networks(self, user: str) -> set[str]:
        out = self.openstack(user, "network", "list", "-f", "json")
        return {n["Name"] for n in json.loads(out.stdout)}


@pytest.fixture(scope="module")
def cloud(server_factory, tmp_path_factory):
    server = server_factory({"DEFAULT": {"auth_strategy": "keystone", "api_workers": "2"}})
    c = Cloud(server, str(tmp_path_factory.mktemp("openrc")))
    c.openrc("admin", "admin")  # password from <state_path>/identity/admin-password
    for project in ("alpha", "beta"):
        neutrino_cli(server.conf, "identity", "project", "create", project)
    c.user("alice", "alpha", "member")
    c.user("bob", "beta", "member")
    c.user("rita", "alpha", "reader")
    return c


def test_openrc_lines(cloud):
    with open(cloud.rc["alice"], encoding="utf-8") as handle:
        text = handle.read()
    port = cloud.server.url.rsplit(":", 1)[1]
    for line in (f"export OS_AUTH_URL=http://127.0.0.1:{port}/identity/v3",
                 "export OS_USERNAME=alice", "export OS_PROJECT_NAME=alpha",
                 "export OS_USER_DOMAIN_NAME=Default", "export OS_PROJECT_DOMAIN_NAME=Default",
                 "export OS_IDENTITY_API_VERSION=3", "export OS_INTERFACE=public"):
        assert line in text.splitlines()
    assert "export OS_PASSWORD=" in text


def test_admin_and_members_isolated(cloud):
    cloud.openstack("admin", "network", "create", "net-admin")
    cloud.openstack("alice", "network", "create", "net-alpha")
    cloud.openstack("bob", "network", "create", "net-beta")
    alice, bob = cloud.networks("alice"), cloud.networks("bob")
    assert "net-alpha" in alice and not {"net-beta", "net-admin"} & alice
    assert "net-beta" in bob and not {"net-alpha", "net-admin"} & bob
    assert {"net-admin", "net-alpha", "net-beta"} <= cloud.networks("admin")
    shown = cloud.openstack("alice", "network", "show", "net-beta", ok=False)
    assert shown.returncode != 0
    # The project of the token owns what the member creates.
    show = json.loads(cloud.openstack("alice", "network", "show", "net-alpha",
                                      "-f", "json").stdout)
    token = json.loads(cloud.openstack("alice", "token", "issue", "-f", "json").stdout)
    assert show["project_id"] == token["project_id"]


def test_reader_lists_but_cannot_create(cloud):
    if "net-alpha" not in cloud.networks("alice"):
        cloud.openstack("alice", "network", "create", "net-alpha")
    assert "net-alpha" in cloud.networks("rita")
    out = cloud.openstack("rita", "network", "create", "net-rita", ok=False)
    assert out.returncode != 0
    assert "disallowed by policy" in out.stderr or "403" in out.stderr, out.stderr


def test_catalog_and_wrong_password(cloud):
    out = cloud.openstack("admin", "catalog", "list", "-f", "json")
    assert {s["Type"] for s in json.loads(out.stdout)} == {"identity", "network", "load-balancer"}
    bad = cloud.openstack("alice", "--os-password", "wrong", "network", "list", ok=False)
    assert bad.returncode != 0 and "401" in bad.stderr


def test_admin_manages_identity_with_openstack(cloud):
    """`openstack project/user/role` against the embedded identity's admin API."""
    cloud.openstack("admin", "project", "create", "gamma")
    cloud.openstack("admin", "user", "create", "--project", "gamma", "--password", "carol-pw",
                    "carol")
    cloud.openstack("admin", "role", "add", "--user", "carol", "--project", "gamma", "member")
    cloud.openrc("carol", "gamma", "carol-pw")
    cloud.openstack("carol", "network", "create", "net-gamma")
    assert cloud.networks("carol") == {"net-gamma"}
    users = json.loads(cloud.openstack("admin", "user", "list", "-f", "json").stdout)
    assert {"admin", "alice", "bob", "rita", "carol"} <= {u["Name"] for u in users}
