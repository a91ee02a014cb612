"""VLAN across hosts in the multi-host lab, inside vm-run (a User-Mode
Linux kernel with 802.1Q; this machine's kernel has none). The inner test is
tests/e2e/vlan_in_vm/test_multihost_vlan.py; see ../shared/tools/vm-run."""
from __future__ import annotations

import pytest

from tests.vm_run import run_in_vm

pytestmark = pytest.mark.root


def test_multihost_vlan_inside_vm():
    run_in_vm("tests/e2e/vlan_in_vm/test_multihost_vlan.py", passed=1, timeout=900,
              what="multi-host VLAN e2e")
