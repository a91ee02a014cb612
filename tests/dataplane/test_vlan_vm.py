"""VLAN (802.1Q) dataplane test, run under vm-run because this machine's
kernel has no CONFIG_VLAN_8021Q. The inner tests are
tests/dataplane/vlan_in_vm/; see <repo>/../shared/tools/vm-run/README.md."""

from __future__ import annotations

import pytest

from tests.vm_run import run_in_vm

pytestmark = pytest.mark.root


def test_vlan_ping_inside_vm():
    run_in_vm("tests/dataplane/vlan_in_vm/test_vlan_ping.py", passed=2, timeout=300,
              what="VLAN tests")
