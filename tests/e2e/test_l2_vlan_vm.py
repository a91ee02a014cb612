"""VLAN networks end to end inside vm-run (a User-Mode Linux kernel with
802.1Q; this machine's kernel has none). The inner test is
tests/e2e/vlan_in_vm/test_l2_vlan.py; see ../shared/tools/vm-run/README.md.

The VM has no network, so no RabbitMQ: the inner lab uses the in-process
bus. The VLAN code path (plan/apply) does not depend on the transport."""
from __future__ import annotations

import pytest

from tests.vm_run import run_in_vm

pytestmark = pytest.mark.root


def test_vlan_networks_inside_vm():
    run_in_vm("tests/e2e/vlan_in_vm/test_l2_vlan.py", passed=1, timeout=600,
              what="VLAN e2e")
