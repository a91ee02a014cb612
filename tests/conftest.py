"""`@pytest.mark.missing(condition, reason=...)`: the test fails, naming what
is missing, when `condition` holds (see tests/machine.py)."""
from __future__ import annotations

from tests.machine import missing


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "missing(condition, reason): fail, naming what is missing, when condition holds")


def pytest_runtest_setup(item):
    for mark in item.iter_markers("missing"):
        if mark.args[0]:
            missing(mark.kwargs["reason"])
