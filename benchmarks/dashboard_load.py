#!/usr/bin/env python3
"""The dashboard under load (issue #15): a topology of 20 routers (each with
a gateway on one external network and an interface on its own tenant
network) and 300 ports, opened in headless Chromium at 1280x800.

Prints
  * first render: from navigation start to the first complete graph drawn
    (all lists read through the API, elements built, dagre layout, painted),
    and the page's own read-build-draw time of a re-render;
  * event to screen: a port created through the API -> the page's render
    that contains it (the change notification goes out as a server-sent
    event, the page re-reads through the API and redraws), p50/p95 over
    --rounds ports, and the same for a port update (status/name change,
    no layout).

A neutrino-server (noauth, SQLite, 1 API worker) is started here on a free
loopback port and stopped by PID afterwards; a screenshot of the 300-port
graph goes to artifacts/dashboard/bench-300.png.

    .venv/bin/python benchmarks/dashboard_load.py [--ports 300] [--routers 20] [--rounds 30]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.api.conftest import start_server  # noqa: E402
from tests.browser.driver import Page, chrome  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def build(url: str, routers: int, ports: int) -> list[str]:
    c = httpx.Client(base_url=url, timeout=30)

    def post(path, body):
        r = c.post(path, json=body)
        r.raise_for_status()
        return r.json()

    ext = post("/v2.0/networks", {"network": {"name": "public", "router:external": True}})
    post("/v2.0/subnets", {"subnet": {"network_id": ext["network"]["id"], "cidr": "203.0.113.0/24",
                                      "ip_version": 4, "enable_dhcp": False}})
    nets = []
    for i in range(routers):
        net = post("/v2.0/networks", {"network": {"name": f"net{i}"}})["network"]
        sub = post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "name": f"sub{i}",
                                                "cidr": f"10.{i}.0.0/22", "ip_version": 4,
                                                "enable_dhcp": False}})["subnet"]
        router = post("/v2.0/routers", {"router": {"name": f"r{i}", "external_gateway_info": {
            "network_id": ext["network"]["id"]}}})["router"]
        c.put(f"/v2.0/routers/{router['id']}/add_router_interface",
              json={"subnet_id": sub["id"]}).raise_for_status()
        nets.append(net["id"])
    for j in range(ports):
        post("/v2.0/ports", {"port": {"network_id": nets[j % len(nets)], "name": f"p{j}",
                                      "device_owner": "compute:nova"}})
    return nets


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ports", type=int, default=300)
    ap.add_argument("--routers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--gap", type=float, default=1.5,
                    help="seconds between changes (the page re-lays out after each)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="dash-bench-")
    server = start_server(tmp, {"DEFAULT": {"api_workers": "1"}, "quotas": {
        "quota_port": "-1", "quota_network": "-1", "quota_subnet": "-1", "quota_router": "-1"}})
    driver = None
    try:
        t = time.monotonic()
        nets = build(server.url, args.routers, args.ports)
        print(f"topology: {args.routers} routers, {args.routers + 1} networks, "
              f"{args.ports} ports (built in {time.monotonic() - t:.1f} s)")
        driver = chrome(1280, 800)
        page = Page(driver, server.url)
        page.open()
        page.ready(timeout=120)
        first = page.js("return window.dash.lastRenderAt - performance.timeOrigin")
        nodes, edges = page.js("const cy = window.dash.graph.cy;"
                               "return [cy.nodes().length, cy.edges().length]")
        rerender = []
        for _ in range(5):
            v = page.js("return window.dash.version")
            page.js("window.dash.refreshNow = true; import('./static/app.js')"
                    ".then(m => m.refresh())")
            page.wait(lambda: page.js("return window.dash.version") > v, 30, "a re-render")
            rerender.append(page.js("return window.dash.renders.at(-1).ms"))
        page.js("window.dash.graph.fit()")
        shot = page.shot("bench-300")
        print(f"first render: {first:.0f} ms from navigation start "
              f"({nodes} nodes, {edges} edges); re-render (read+build+draw) "
              f"p50 {statistics.median(rerender):.0f} ms")

        c = httpx.Client(base_url=server.url, timeout=30)
        page.wait(lambda: page.js("return document.getElementById('live').dataset.state")
                  == "live", 10, "the event stream")
        create, update, delivered = [], [], []

        def first_event_after(sent: float) -> float | None:
            times = page.js("return window.dash.eventTimes")
            return next((t - sent for t in times if t >= sent), None)
        for i in range(args.rounds):
            sent = time.time() * 1000
            r = c.post("/v2.0/ports", json={"port": {"network_id": nets[i % len(nets)],
                                                     "name": f"bench{i}",
                                                     "device_owner": "compute:nova"}})
            r.raise_for_status()
            pid = r.json()["port"]["id"]
            shown = page.wait(lambda: page.js(
                "return window.dash.graph.cy.getElementById(arguments[0]).length"
                " ? window.dash.lastRenderAt : 0", f"port:{pid}"), 10, "the new port",
                interval=0.002)
            create.append(shown - sent)
            time.sleep(args.gap)
            got = first_event_after(sent)
            if got is not None:
                delivered.append(got)
            sent = time.time() * 1000
            c.put(f"/v2.0/ports/{pid}", json={"port": {"name": f"renamed{i}"}}).raise_for_status()
            shown = page.wait(lambda: page.js(
                "const n = window.dash.graph.cy.getElementById(arguments[0]);"
                "return n.length && n.data('label').startsWith(arguments[1])"
                " ? window.dash.lastRenderAt : 0", f"port:{pid}", f"renamed{i}"), 10,
                "the renamed port", interval=0.002)
            update.append(shown - sent)
            time.sleep(args.gap)
        print(f"event to screen, new port: p50 {pct(create, 50):.0f} ms, "
              f"p95 {pct(create, 95):.0f} ms, max {max(create):.0f} ms ({len(create)} rounds)")
        if delivered:
            print(f"  of which the event reaching the page: p50 {pct(delivered, 50):.0f} ms, "
                  f"p95 {pct(delivered, 95):.0f} ms")
        print(f"event to screen, port renamed (no layout): p50 {pct(update, 50):.0f} ms, "
              f"p95 {pct(update, 95):.0f} ms, max {max(update):.0f} ms")
        renders = page.js("return window.dash.renders.map(r => r.ms)")[-4 * args.rounds:]
        print(f"  renders during the rounds (read+build+layout+draw): p50 "
              f"{pct(renders, 50):.0f} ms, p95 {pct(renders, 95):.0f} ms ({len(renders)})")
        print(f"  dagre layout of the whole graph: {page.js('return window.dash.graph.layoutMs'):.0f} ms "
              "(runs 0.3 s after the last change, the new object is drawn before it)")
        print(f"screenshot: {shot}")
        print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
