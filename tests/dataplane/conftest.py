"""Fixtures for dataplane tests: throwaway namespaces and a 2-host lab.

Everything created here carries a random per-test prefix and is removed in
the fixture's finalizer, which runs even when the test fails.
"""

from __future__ import annotations

import os
import secrets
import shutil

import pytest
from tests.machine import missing

NOT_ROOT_REASON = ("needs root (euid 0): creating network namespaces and links "
                   "requires CAP_SYS_ADMIN and CAP_NET_ADMIN")

# The VLAN and trunk tests need an 802.1Q kernel; they run inside vm-run,
# driven by test_vlan_vm.py and test_trunk_vm.py, and are not collected on
# the host.
if os.environ.get("VM_RUN") != "1":
    collect_ignore_glob = ["vlan_in_vm/*", "trunk_in_vm/*"]


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.missing(True, reason=NOT_ROOT_REASON)
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def _require_root() -> None:
    if os.geteuid() != 0:
        missing(NOT_ROOT_REASON)


@pytest.fixture
def netns():
    """Factory: `netns("a")` creates a namespace "nt<rand>-a" (lo up) and
    returns its name. All of them are deleted after the test."""
    _require_root()
    from neutrino.dataplane import netns as ns

    prefix = f"nt{secrets.token_hex(3)}-"
    made: list[str] = []

    def make(tag: str = "ns") -> str:
        name = f"{prefix}{tag}"
        made.append(name)
        ns.create(name)
        return name

    make.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield make
    finally:
        for name in reversed(made):
            ns.delete(name, missing_ok=True)


@pytest.fixture
def lab(tmp_path):
    """A 2-host lab (underlay, host1, host2, outside + HTTP server)."""
    _require_root()
    from neutrino.lab.topology import Lab

    built = Lab.build(2, state_dir=tmp_path / "lab")
    try:
        yield built
    finally:
        built.teardown()


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
