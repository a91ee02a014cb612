"""The dashboard with Keystone authentication (the embedded identity), in a
real headless Chromium: log in with the form, build something, and check
that a member of another project does not see it while the shared external
network is seen by all -- the API's policy, since the page only calls the
API with the user's token."""
from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import start_server
from tests.api.helpers import rand
from tests.api.test_auth_openstackclient import neutrino_cli
from tests.browser.driver import Page

ADMIN_PASSWORD = "dash-browser-admin"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    server = start_server(str(tmp_path_factory.mktemp("dash-keystone")),
                          {"DEFAULT": {"auth_strategy": "keystone", "api_workers": "1"},
                           "identity": {"admin_password": ADMIN_PASSWORD}})
    users = {}
    try:
        for project in ("alpha", "beta"):
            neutrino_cli(server.conf, "identity", "project", "create", project)
        for user, project in (("alice", "alpha"), ("bob", "beta")):
            password = rand("pw")
            neutrino_cli(server.conf, "identity", "user", "create", user, "--project", project,
                         "--password", password)
            neutrino_cli(server.conf, "identity", "role", "add", "--user", user, "--project",
                         project, "member")
            users[user] = (project, password)
        yield server, users
    finally:
        server.stop()


def login(page: Page, user: str, password: str, project: str) -> None:
    page.open()
    form = page.d.find_element("id", "login-form")
    page.wait(lambda: form.is_displayed(), 20, "the login form")
    for name, value in (("username", user), ("password", password), ("project", project)):
        el = form.find_element("css selector", f"[name='{name}']")
        el.clear()
        el.send_keys(value)
    form.find_element("css selector", "button[type=submit]").click()
    page.ready()


def admin_token(url: str) -> str:
    r = httpx.post(url + "/dashboard/api/login", json={"username": "admin",
                                                      "password": ADMIN_PASSWORD,
                                                      "project": "admin"})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def test_login_build_and_project_isolation(cloud, browser):
    server, users = cloud
    page = Page(browser, server.url)

    # a wrong password: the identity's message, and still the login form
    page.open()
    form = page.d.find_element("id", "login-form")
    page.wait(lambda: form.is_displayed(), 20, "the login form")
    for name, value in (("username", "alice"), ("password", "nope"), ("project", "alpha")):
        form.find_element("css selector", f"[name='{name}']").send_keys(value)
    form.find_element("css selector", "button[type=submit]").click()
    page.wait(lambda: page.error(), 10, "the refusal")
    assert "requires authentication" in page.error(), page.error()   # Keystone's words
    assert page.d.find_element("id", "login-form").is_displayed()

    # alice logs in and creates her network with the form
    login(page, "alice", users["alice"][1], "alpha")
    name = rand("alpha-net")
    page.fill("network", {"name": name})
    nets = httpx.get(server.url + "/v2.0/networks", params={"name": name},
                     headers={"X-Auth-Token": admin_token(server.url)}).json()["networks"]
    assert len(nets) == 1
    alpha_net = nets[0]["id"]
    page.wait(lambda: page.has_node(f"network:{alpha_net}"), 10, "alice's network in the graph")
    # an error is the API's own message
    page.fill("subnet", {"network_id": alpha_net, "cidr": "not-a-cidr"}, submit=False)
    page.form("subnet").find_element("css selector", "button[type=submit]").click()
    page.wait(lambda: page.error(), 10, "the API's refusal")
    assert "not-a-cidr" in page.error() and "Invalid input" in page.error(), page.error()
    page.shot("keystone-alice")

    # the admin makes a shared external network: everybody sees it
    token = admin_token(server.url)
    ext = httpx.post(server.url + "/v2.0/networks", headers={"X-Auth-Token": token},
                     json={"network": {"name": rand("public"), "router:external": True}})
    assert ext.status_code == 201, ext.text
    ext_id = ext.json()["network"]["id"]

    # bob, member of beta, in the same browser after logging out
    page.d.find_element("id", "logout").click()
    page.wait(lambda: page.d.find_element("id", "login-form").is_displayed(), 10, "logged out")
    login(page, "bob", users["bob"][1], "beta")
    page.wait(lambda: page.has_node(f"network:{ext_id}"), 10, "the external network")
    assert not page.has_node(f"network:{alpha_net}")
    assert name not in page.d.find_element("id", "objects").text
    # and "under the hood" is not offered to a member (host-level data)
    page.select(f"network:{ext_id}")
    assert not page.d.find_elements("css selector", "#panel .hood-btn")
    page.shot("keystone-bob")
