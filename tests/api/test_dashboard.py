"""The dashboard's server side (#15): the page and its vendored scripts, the
[dashboard] switch, the login proxy, the live event stream and the
admin-only "under the hood" endpoint. The browser itself is driven in
tests/e2e/test_dashboard_browser.py."""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.api.helpers import expect, fault, rand
from tests.machine import missing

ADMIN_PASSWORD = "dash-admin-pw"


def test_page_scripts_and_licenses_are_served_locally(api):
    resp = api.client.get("/dashboard/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    csp = resp.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "static/vendor/cytoscape.min.js" in resp.text
    for path in ("vendor/cytoscape.min.js", "vendor/cytoscape-dagre.min.js", "app.js",
                 "vendor/LICENSE.cytoscape", "vendor/LICENSE.cytoscape-dagre",
                 "vendor/LICENSE.dagre", "vendor/VERSIONS.md", "style.css"):
        r = api.client.get(f"/dashboard/static/{path}")
        assert r.status_code == 200, path
    # nothing the page loads comes from elsewhere
    for path in ("app.js", "api.js", "graph.js", "panel.js", "forms.js", "topology.js",
                 "style.css"):
        text = api.client.get(f"/dashboard/static/{path}").text
        assert "https://" not in text and "http://" not in text, path
    r = api.client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"].endswith("/dashboard/")


def test_disabled_dashboard_is_not_there(make_api):
    off = make_api({"dashboard": {"enabled": "false"}})
    for path in ("/dashboard/", "/dashboard/api/config", "/dashboard/static/app.js"):
        resp = off.client.get(path)
        assert resp.status_code == 404, path
        assert fault(resp)["type"] == "HTTPNotFound"
    # the API itself is unaffected
    expect(off.admin.get("/v2.0/networks"), 200)


def test_config_and_whoami_follow_the_request(api):
    cfg = expect(api.client.get("/dashboard/api/config"), 200)
    assert cfg["auth_strategy"] == "noauth" and cfg["lab"] is False
    who = expect(api.member_a.get("/dashboard/api/whoami"), 200)
    assert who == {"project_id": api.project_a, "user_id": "member-a",
                   "roles": sorted(who["roles"]), "is_admin": False}
    assert "member" in who["roles"]
    assert expect(api.admin.get("/dashboard/api/whoami"), 200)["is_admin"] is True


def test_under_the_hood_is_admin_only_and_follows_visibility(api):
    net = api.member_a.network(name=rand("net"))
    resp = api.member_a.get(f"/dashboard/api/inspect/network/{net['id']}")
    expect(resp, 403, "PolicyNotAuthorized")
    expect(api.admin.get("/dashboard/api/inspect/network/" + "0" * 8 + "-0000-0000-0000-"
                         + "0" * 12), 404, "NetworkNotFound")
    expect(api.admin.get(f"/dashboard/api/inspect/volume/{net['id']}"), 404)
    host = api.register_agent()
    view = expect(api.admin.get(f"/dashboard/api/inspect/network/{net['id']}"), 200)
    assert view["network"]["id"] == net["id"]
    # this in-process server has no bus: every host is reported, as not asked
    mine = [h for h in view["hosts"] if h["host"] == host]
    assert mine and "no message bus" in mine[0]["error"]


def test_lab_actions_need_a_lab(api):
    expect(api.admin.get("/dashboard/api/lab/instances"), 404, "HTTPNotFound")
    expect(api.admin.post("/dashboard/api/lab/ping", json={"ping": {"from": "a", "to": "b"}}),
           404, "HTTPNotFound")


def _listen(url: str, headers: dict, got: list, ready: threading.Event, stop: threading.Event):
    with httpx.stream("GET", url + "/dashboard/api/events", headers=headers,
                      timeout=httpx.Timeout(10, read=30)) as resp:
        got.append(("status", resp.status_code, time.monotonic()))
        for line in resp.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            if line.startswith("data: "):
                got.append(("event", json.loads(line[6:]), time.monotonic()))
            if stop.is_set():
                return


def test_events_reach_an_open_stream_within_a_second(server_factory):
    server = server_factory({"DEFAULT": {"api_workers": "1"}})
    got: list = []
    ready, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=_listen, args=(server.url, {}, got, ready, stop), daemon=True)
    t.start()
    assert ready.wait(10), got
    sent = time.monotonic()
    r = httpx.post(server.url + "/v2.0/networks", json={"network": {"name": rand("n")}})
    assert r.status_code == 201, r.text
    deadline = sent + 5
    while time.monotonic() < deadline and not any(g[0] == "event" for g in got):
        time.sleep(0.01)
    stop.set()
    events = [g for g in got if g[0] == "event"]
    assert events, f"no event: {got}\n{server.log_tail()}"
    assert {e[1]["resource"] for e in events} & {"network", "networks"}
    assert "id" not in events[0][1]       # a type, never another project's ids
    assert events[0][2] - sent < 1.0, f"event after {events[0][2] - sent:.3f} s"


def test_login_through_the_embedded_identity(server_factory):
    server = server_factory({"DEFAULT": {"auth_strategy": "keystone", "api_workers": "1"},
                             "identity": {"admin_password": ADMIN_PASSWORD}})
    cfg = httpx.get(server.url + "/dashboard/api/config").json()
    assert cfg["auth_strategy"] == "keystone"
    bad = httpx.post(server.url + "/dashboard/api/login",
                     json={"username": "admin", "password": "wrong", "project": "admin"})
    assert bad.status_code == 401 and bad.json()["NeutronError"]["message"]
    missing = httpx.post(server.url + "/dashboard/api/login", json={"username": "admin"})
    assert missing.status_code == 400
    r = httpx.post(server.url + "/dashboard/api/login",
                   json={"username": "admin", "password": ADMIN_PASSWORD, "project": "admin"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"] and body["project_name"] == "admin" and "admin" in body["roles"]
    who = httpx.get(server.url + "/dashboard/api/whoami", headers={"X-Auth-Token": body["token"]})
    assert who.status_code == 200 and who.json()["is_admin"] is True
    # without a token: the API's 401, for the page and for the event stream
    assert httpx.get(server.url + "/dashboard/api/whoami").status_code == 401
    assert httpx.get(server.url + "/dashboard/api/events").status_code == 401


@pytest.mark.parametrize("path,resource", [
    ("/v2.0/routers/x/add_router_interface", "routers"), ("/v2.0/networks", "networks"),
    ("/v2/lbaas/loadbalancers/y", "loadbalancers"), ("/v2.0/fwaas/firewall_groups", "fwaas")])
def test_write_paths_name_their_resource(path, resource):
    from neutrino.dashboard.events import resource_of
    assert resource_of(path) == resource


@pytest.mark.parametrize("bus", ["rabbit", "none"])
def test_events_reach_the_page_whichever_worker_made_the_change(server_factory, bus):
    """Two API workers: the page's stream is held by one of them, the writes
    land on both; every change reaches the page (rabbit: through the fanout
    topic <control_exchange>.dashboard; no bus, transport_url = inproc://:
    through the workers' Unix sockets)."""
    import secrets
    conf = {"api_workers": "2"}
    if bus == "rabbit":
        from tests.e2e.conftest import RABBIT_URL, _rabbit_unreachable
        reason = _rabbit_unreachable()
        if reason:
            missing(reason)
        conf.update(transport_url=RABBIT_URL, control_exchange=f"dash-{secrets.token_hex(4)}")
    server = server_factory({"DEFAULT": conf})
    got: list = []
    ready, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=_listen, args=(server.url, {}, got, ready, stop), daemon=True)
    t.start()
    assert ready.wait(10), got
    time.sleep(0.5)     # the worker's subscription is declared on the broker
    n = 20
    for _ in range(n):  # a new connection each: the kernel spreads them over both workers
        r = httpx.post(server.url + "/v2.0/networks", json={"network": {"name": rand("w")}},
                       headers={"Connection": "close"})
        assert r.status_code == 201, r.text
    deadline = time.monotonic() + 10
    count = 0
    while time.monotonic() < deadline:
        count = sum(1 for g in got if g[0] == "event" and g[1]["resource"] == "network")
        if count >= n:
            break
        time.sleep(0.05)
    stop.set()
    assert count == n, f"{count} of {n} changes reached the page\n{server.log_tail()}"


def test_the_event_stream_ends_by_itself(api, monkeypatch):
    """An endless response would hold up the server's graceful shutdown: each
    stream ends after STREAM_LIFETIME and the page reconnects."""
    from neutrino.dashboard import routes
    monkeypatch.setattr(routes, "STREAM_LIFETIME", 0.5)
    started = time.monotonic()
    resp = api.admin.get("/dashboard/api/events")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.text.startswith("retry: 1000\n: connected\n\n")
    assert resp.text.endswith(": reconnect\n\n")
    assert time.monotonic() - started < 5
