"""VLAN (802.1Q) dataplane test, run under vm-run because this machine's
kernel has no CONFIG_VLAN_8021Q. The inner tests are
tests/dataplane/vlan_in_vm/; see <repo>/../shared/tools/vm-run/README.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
VM_RUN = REPO.parent / "shared" / "tools" / "vm-run" / "vm-run"
INNER = "tests/dataplane/vlan_in_vm/test_vlan_ping.py"
VM_FAILED = 125  # vm-run: the VM itself failed (console log on stderr)
TIMED_OUT = 124


@pytest.mark.skipif(os.environ.get("VM_RUN") == "1", reason="already inside vm-run")
def test_vlan_ping_inside_vm():
    if not os.access(VM_RUN, os.X_OK):
        pytest.skip(f"vm-run cannot start: {VM_RUN} is missing or not executable")
    python = REPO / ".venv" / "bin" / "python"
    if not python.exists():
        python = Path(sys.executable)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    argv = [str(VM_RUN), "--timeout", "300", "--", str(python), "-m", "pytest", "-q",
            "-p", "no:cacheprovider", INNER]
    try:
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=360)
    except OSError as exc:
        pytest.skip(f"vm-run cannot start: {exc}")
    output = proc.stdout + proc.stderr
    if proc.returncode == VM_FAILED:
        pytest.skip("vm-run cannot start: the VM failed (exit 125): "
                    + " | ".join(proc.stderr.strip().splitlines()[-5:]))
    assert proc.returncode != TIMED_OUT, f"vm-run timed out:\n{output}"
    assert proc.returncode == 0, f"VLAN tests failed inside the VM:\n{output}"
    assert "2 passed" in proc.stdout, output
