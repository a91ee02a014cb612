"""The page itself in headless Chromium (noauth server, no lab): phone width,
keyboard navigation, the system's dark setting, the topology built from API
data, and the project switcher acting as another project."""
from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import start_server
from tests.api.helpers import new_project, rand
from tests.browser.driver import Page, chrome


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(str(tmp_path_factory.mktemp("dash-page")), {"DEFAULT": {"api_workers": "1"}})
    try:
        yield srv
    finally:
        srv.stop()


def network(url: str, name: str, project: str | None = None, **extra) -> dict:
    headers = {"X-Project-Id": project, "X-Roles": "member"} if project else {}
    r = httpx.post(url + "/v2.0/networks", headers=headers,
                   json={"network": {"name": name, **extra}})
    assert r.status_code == 201, r.text
    return r.json()["network"]


def test_phone_width_keyboard_and_dark(server):
    net = network(server.url, rand("phone"))
    driver = chrome(390, 844)
    try:   # (a desktop window is at least 500 px wide: emulate the phone's viewport)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        page = Page(driver, server.url).open()
        page.ready()
        page.wait(lambda: page.has_node(f"network:{net['id']}"), 10, "the network")
        # one column: the graph above the panel, nothing wider than the screen
        graph = driver.find_element("id", "graph-pane").rect
        side = driver.find_element("id", "side").rect
        assert side["y"] >= graph["y"] + graph["height"] - 1, (graph, side)
        assert page.js("return window.innerWidth") == 390
        assert page.js("return document.documentElement.scrollWidth") <= 390
        # dark: the system's setting, no switch needed
        assert page.js("return getComputedStyle(document.body).backgroundColor") == \
            "rgb(21, 23, 26)"
        page.shot("phone-dark")

        # keyboard: Tab from the filter reaches the object list; Enter selects, Escape clears.
        # Keys go to whatever has the focus (ActionChains): the list is re-rendered
        # on every change in the cloud, so an element handle may be gone by then.
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        def keys(*k):
            ActionChains(driver).send_keys(*k).perform()

        def focused():
            return page.js("return document.activeElement.dataset.node || null")

        def settled():      # no render for 0.5 s
            seen = page.js("return window.dash.version")
            page.wait(lambda: page.js("return Date.now() - window.dash.lastRenderAt") > 500
                      and page.js("return window.dash.version") >= seen, 10, "quiet renders")
        node = f"network:{net['id']}"
        page.click("#filter")          # (scrolled into view: below the graph on a phone)
        keys(net["name"])
        page.wait(lambda: len(page.d.find_elements("css selector", "#objects button")) == 1, 10,
                  "the filtered list")
        settled()
        keys(Keys.TAB)
        assert focused() == node
        # a change elsewhere in the cloud re-renders the list: the focus stays on the object
        version = page.js("return window.dash.version")
        network(server.url, rand("other"))
        page.wait(lambda: page.js("return window.dash.version") > version, 10, "a re-render")
        settled()
        assert focused() == node
        keys(Keys.ENTER)
        page.wait(lambda: page.js("return window.dash.selected") == node, 5, "the selection")
        assert net["name"] in page.d.find_element("id", "panel").text
        keys(Keys.ESCAPE)
        page.wait(lambda: page.js("return window.dash.selected") is None, 5, "no selection")
    finally:
        driver.quit()


def test_topology_edges_from_api_objects(server, browser):
    """buildElements, the page's pure mapping, on objects shaped as the API returns them."""
    page = Page(browser, server.url).open()
    page.ready()
    out = page.d.execute_async_script("""
      const done = arguments[arguments.length - 1];
      import('./static/topology.js').then((m) => {
        const d = {
          networks: [{id: 'e', name: 'public', 'router:external': true, status: 'ACTIVE'},
                     {id: 'n', name: 'private', status: 'ACTIVE'}],
          subnets: [{id: 's', network_id: 'n', cidr: '10.0.0.0/24'}],
          routers: [{id: 'r', name: 'r1', status: 'ACTIVE', external_gateway_info: {
            network_id: 'e', enable_snat: false,
            external_fixed_ips: [{ip_address: '203.0.113.5'}]}}],
          ports: [
            {id: 'ri', device_owner: 'network:router_interface', device_id: 'r',
             network_id: 'n', fixed_ips: [{subnet_id: 's', ip_address: '10.0.0.1'}]},
            {id: 'gw', device_owner: 'network:router_gateway', device_id: 'r',
             network_id: 'e', fixed_ips: []},
            {id: 'vm', device_owner: 'compute:nova', network_id: 'n', status: 'DOWN',
             fixed_ips: [{subnet_id: 's', ip_address: '10.0.0.7'}]},
            {id: 'dh', device_owner: 'network:dhcp', network_id: 'n', status: 'ACTIVE',
             fixed_ips: [{subnet_id: 's', ip_address: '10.0.0.2'}]},
            {id: 'bare', device_owner: '', network_id: 'n', status: 'DOWN', fixed_ips: []}],
          floatingips: [{id: 'f', floating_network_id: 'e', floating_ip_address: '203.0.113.9',
                         port_id: 'vm', fixed_ip_address: '10.0.0.7', status: 'ACTIVE'}],
          loadbalancers: [{id: 'lb', vip_subnet_id: 's', operating_status: 'ONLINE'}],
          firewall_groups: [{id: 'fw', ports: ['ri'], status: 'ACTIVE'},
                            {id: 'idle', ports: [], status: 'INACTIVE'}],
          instances: [{name: 'vm1', port_id: 'vm'}],
        };
        const el = m.buildElements(d);
        done({nodes: el.nodes.map((n) => [n.data.id, n.data.kind, n.data.label]),
              edges: el.edges.map((e) => [e.data.id, e.data.label || ''])});
      });
    """)
    nodes = {n[0]: (n[1], n[2]) for n in out["nodes"]}
    edges = dict(out["edges"])
    assert set(nodes) == {"network:e", "network:n", "subnet:s", "router:r", "port:vm",
                          "port:dh", "port:bare", "floatingip:f", "loadbalancer:lb",
                          "firewall_group:fw"}
    assert nodes["port:vm"] == ("instance", "vm1\n10.0.0.7")
    assert nodes["port:dh"][0] == "dhcp"
    assert edges["network:e>router:r"] == "gw 203.0.113.5 no SNAT"
    assert edges["router:r>subnet:s"] == "10.0.0.1"
    assert edges["floatingip:f>port:vm"] == "10.0.0.7"
    for e in ("network:n>subnet:s", "subnet:s>port:vm", "subnet:s>port:dh",
              "network:n>port:bare", "network:e>floatingip:f", "subnet:s>loadbalancer:lb",
              "firewall_group:fw>router:r"):
        assert e in edges, e


def test_project_switcher_acts_as_that_project(server, browser):
    mine, theirs = new_project(), new_project()
    own = network(server.url, rand("own"), project=mine)
    other = network(server.url, rand("other"), project=theirs)
    shared = network(server.url, rand("shared"), shared=True)
    page = Page(browser, server.url).open()
    page.ready()
    page.wait(lambda: page.has_node(f"network:{other['id']}"), 10, "the admin's view")
    box = page.d.find_element("id", "project-id")
    box.clear()
    box.send_keys(mine)
    from selenium.webdriver.support.ui import Select
    Select(page.d.find_element("id", "project-role")).select_by_value("member")
    page.click("#project-switch button")
    page.wait(lambda: page.has_node(f"network:{own['id']}")
              and not page.has_node(f"network:{other['id']}"), 10, "the member's view")
    assert page.has_node(f"network:{shared['id']}")
    # a member cannot look under the hood: the button is not offered, and the API says 403
    page.select(f"network:{own['id']}")
    assert not page.d.find_elements("css selector", "#panel .hood-btn")
    r = httpx.get(server.url + f"/dashboard/api/inspect/network/{own['id']}",
                  headers={"X-Project-Id": mine, "X-Roles": "member"})
    assert r.status_code == 403


def test_rule_and_delete_actions(server, browser):
    """A security group rule made and deleted with the page; a network deleted
    from its panel; a refused delete shows the API's message."""
    project = new_project()
    page = Page(browser, server.url).open()
    page.ready()
    box = page.d.find_element("id", "project-id")
    box.clear()
    box.send_keys(project)
    page.click("#project-switch button")
    page.wait(lambda: page.js("return window.dash.who && window.dash.who.project_id")
              == project, 10, "the switch")
    member = {"X-Project-Id": project, "X-Roles": "admin"}
    groups = httpx.get(server.url + "/v2.0/security-groups", headers=member,
                       params={"project_id": project}).json()["security_groups"]
    group = next(g for g in groups if g["name"] == "default")
    page.fill("rule", {"group": group["id"], "direction": "ingress", "protocol": "tcp",
                       "ports": "22", "remote": "198.51.100.0/24"})
    rules = httpx.get(server.url + "/v2.0/security-group-rules", headers=member,
                      params={"security_group_id": group["id"], "protocol": "tcp"}).json()
    rule = rules["security_group_rules"]
    assert [(r["port_range_min"], r["port_range_max"], r["remote_ip_prefix"]) for r in rule] \
        == [(22, 22, "198.51.100.0/24")]
    button = f"ul.rules button[data-rule='{rule[0]['id']}']"
    page.wait(lambda: "198.51.100.0/24" in page.js(
        "const b = document.querySelector(arguments[0]); return b ? b.parentNode.textContent : ''",
        button), 10, "the rule in the list")
    page.click(button)      # (the list is redrawn on every change: clicked again if stale)
    page.wait(lambda: not httpx.get(server.url + f"/v2.0/security-group-rules/{rule[0]['id']}",
                                    headers=member).status_code == 200, 10, "the rule deleted")

    # a network with a port cannot go: the API's 409 message is shown
    net = network(server.url, rand("busy"), project=project)
    port = httpx.post(server.url + "/v2.0/ports", headers=member,
                      json={"port": {"network_id": net["id"], "device_owner": "compute:nova",
                                     "device_id": "x"}})
    assert port.status_code == 201, port.text
    page.select(f"network:{net['id']}")
    page.click("#panel button.danger")
    page.wait(lambda: page.error(), 10, "the refusal")
    assert "in use" in page.error() and net["id"] in page.error(), page.error()
    httpx.delete(server.url + f"/v2.0/ports/{port.json()['port']['id']}", headers=member)
    page.select(f"network:{net['id']}")
    page.click("#panel button.danger")
    page.wait(lambda: not page.has_node(f"network:{net['id']}"), 10, "the network gone")
    assert httpx.get(server.url + f"/v2.0/networks/{net['id']}",
                     headers=member).status_code == 404
