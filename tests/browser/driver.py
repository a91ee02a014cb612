"""Driving the dashboard in a real headless Chromium (Debian's chromium and
chromium-driver, through selenium): no browser is downloaded."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from tests.machine import missing

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def skip_reason() -> str | None:
    if not os.path.exists(CHROMIUM):
        return "chromium is not installed (apt-get install chromium chromium-driver; ./bootstrap does)"
    if not os.path.exists(CHROMEDRIVER):
        return "chromedriver is not installed (apt-get install chromium-driver; ./bootstrap does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def artifacts_dir() -> Path:
    """Screenshots and figures of the browser tests (git-ignored)."""
    path = Path(os.environ.get("NEUTRINO_TEST_ARTIFACTS", ROOT / "artifacts")) / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def record(name: str, data: dict) -> None:
    """Append one JSON line of figures to artifacts/dashboard/<name>.jsonl."""
    with open(artifacts_dir() / f"{name}.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              **data}) + "\n")


def chrome(width: int = 1280, height: int = 800):
    reason = skip_reason()
    if reason:
        missing(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--force-device-scale-factor=1",
                "--no-first-run", "--disable-extensions", "--proxy-server=direct://",
                "--proxy-bypass-list=*"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


class Page:
    """The dashboard open in one browser."""

    def __init__(self, driver, url: str):
        self.d = driver
        self.url = url.rstrip("/") + "/dashboard/"

    def open(self) -> "Page":
        self.d.get(self.url)
        return self

    def js(self, script: str, *args):
        return self.d.execute_script(script, *args)

    def wait(self, predicate, timeout: float = 20.0, what: str = "condition", interval=0.02):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                                     f"page error: {self.error()!r}; console: {self.console()}")
            time.sleep(interval)

    def ready(self, timeout: float = 30.0) -> None:
        self.wait(lambda: self.js("return !!(window.dash && window.dash.version > 0)"),
                  timeout, "the first render")

    def console(self) -> list[str]:
        try:
            return [e["message"] for e in self.d.get_log("browser") if e["level"] == "SEVERE"]
        except Exception:  # noqa: BLE001
            return []

    def error(self) -> str:
        return self.js("const e = document.getElementById('error'); return e.hidden ? '' : e.textContent")

    def shot(self, name: str) -> Path:
        path = artifacts_dir() / f"{name}.png"
        self.d.save_screenshot(str(path))
        return path

    # --- the graph ------------------------------------------------------------------
    def has_node(self, node_id: str) -> bool:
        return bool(self.js("return window.dash.graph.cy.getElementById(arguments[0]).length",
                            node_id))

    def has_edge(self, source: str, target: str) -> bool:
        return bool(self.js("return window.dash.graph.cy.getElementById(arguments[0] + '>' + "
                            "arguments[1]).length", source, target))

    def node_ids(self) -> list[str]:
        return self.js("return window.dash.graph.cy.nodes().map(n => n.id())")

    def node_label(self, node_id: str) -> str:
        return self.js("const n = window.dash.graph.cy.getElementById(arguments[0]);"
                       "return n.length ? n.data('label') : null", node_id)

    # --- forms --------------------------------------------------------------------------
    def form(self, name: str):
        return self.d.find_element("css selector", f"form[data-form='{name}']")

    def fill(self, name: str, values: dict, submit: bool = True) -> None:
        """Type into the form's fields (selects by visible text or value)."""
        form = self.form(name)
        for field, value in values.items():
            el = form.find_element("css selector", f"[name='{field}']")
            if el.tag_name == "select":   # by value or by visible text, once it is offered
                self.wait(lambda: self.js(
                    "const [s, v] = arguments;"
                    "const o = [...s.options].find(o => o.value === v || o.text === v);"
                    "if (!o) return false; s.value = o.value;"
                    "s.dispatchEvent(new Event('change')); return true", el, value),
                    10, f"option {value} of {field}")
            elif el.get_attribute("type") == "checkbox":
                if el.is_selected() != bool(value):
                    el.click()
            else:
                el.clear()
                el.send_keys(value)
        if submit:
            before = form.get_attribute("data-done") or "0"
            form.find_element("css selector", "button[type=submit]").click()
            self.wait(lambda: (form.get_attribute("data-done") or "0") != before, 60,
                      f"the {name} form to be applied")
            assert not self.error(), f"{name}: {self.error()} (form: {self.form_data(name)})"

    def form_data(self, name: str) -> list:
        return self.js("return [...new FormData(document.querySelector("
                       "`form[data-form='${arguments[0]}']`)).entries()]", name)

    def click(self, css: str) -> None:
        """Click what `css` finds, again if a redraw replaced it meanwhile."""
        from selenium.common.exceptions import (NoSuchElementException,
                                                StaleElementReferenceException)

        def once():
            try:
                self.d.find_element("css selector", css).click()
                return True
            except (StaleElementReferenceException, NoSuchElementException):
                return False
        self.wait(once, 10, f"{css} to click")

    def select(self, node_id: str) -> None:
        """Click the object in the list (redrawn on every change: retry a stale one)."""
        from selenium.common.exceptions import (NoSuchElementException,
                                                StaleElementReferenceException)

        def click():
            try:
                self.d.find_element("css selector",
                                    f"#objects button[data-node='{node_id}']").click()
                return True
            except (StaleElementReferenceException, NoSuchElementException):
                return False
        self.wait(click, 10, f"{node_id} in the list")
        self.wait(lambda: self.js("return window.dash.selected") == node_id, 5, "the selection")
