"""VLAN across hosts in the multi-host lab, inside vm-run (a User-Mode
Linux kernel with 802.1Q; this machine's kernel has none). The inner test is
tests/e2e/vlan_in_vm/test_multihost_vlan.py; see ../shared/tools/vm-run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
VM_RUN = REPO.parent / "shared" / "tools" / "vm-run" / "vm-run"
INNER = "tests/e2e/vlan_in_vm/test_multihost_vlan.py"


@pytest.mark.skipif(os.environ.get("VM_RUN") == "1", reason="already inside vm-run")
def test_multihost_vlan_inside_vm():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not os.access(VM_RUN, os.X_OK):
        pytest.skip(f"vm-run cannot start: {VM_RUN} is missing or not executable")
    python = REPO / ".venv" / "bin" / "python"
    if not python.exists():
        python = Path(sys.executable)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    argv = [str(VM_RUN), "--timeout", "900", "--", str(python), "-m", "pytest", "-q",
            "-p", "no:cacheprovider", INNER]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1000)
    output = proc.stdout + proc.stderr
    if proc.returncode == 125:
        pytest.skip("vm-run: the VM failed to start: "
                    + " | ".join(proc.stderr.strip().splitlines()[-5:]))
    assert proc.returncode != 124, f"vm-run timed out:\n{output}"
    assert proc.returncode == 0, f"multi-host VLAN e2e failed inside the VM:\n{output}"
    assert "1 passed" in proc.stdout, output
