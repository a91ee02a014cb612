"""Browser fixtures: a headless Chromium per test (skipped, with the reason,
where chromium or chromedriver is missing)."""
from __future__ import annotations

import pytest

from tests.browser.driver import chrome


@pytest.fixture
def browser():
    driver = chrome()
    try:
        yield driver
    finally:
        driver.quit()
