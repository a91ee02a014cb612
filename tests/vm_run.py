"""Running a test file inside vm-run (../shared/tools/vm-run): a User-Mode
Linux kernel with 802.1Q, which this machine's kernel lacks. The outer test
skips only where vm-run cannot start, with the reason; anything else the VM
reports is a failure."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VM_RUN = REPO.parent / "shared" / "tools" / "vm-run" / "vm-run"
VM_FAILED = 125   # vm-run: the VM itself failed (console log on stderr)
TIMED_OUT = 124
INSIDE = os.environ.get("VM_RUN") == "1"


def run_in_vm(inner: str, passed: int, timeout: int, what: str) -> None:
    """pytest `inner` (a path under the repository) inside the VM; assert
    that `passed` tests passed there."""
    if not os.access(VM_RUN, os.X_OK):
        pytest.skip(f"vm-run cannot start: {VM_RUN} is missing or not executable")
    python = REPO / ".venv" / "bin" / "python"
    if not python.exists():
        python = Path(sys.executable)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    argv = [str(VM_RUN), "--timeout", str(timeout), "--", str(python), "-m", "pytest", "-q",
            "-p", "no:cacheprovider", inner]
    try:
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout + 100)
    except OSError as exc:
        pytest.skip(f"vm-run cannot start: {exc}")
    output = proc.stdout + proc.stderr
    if proc.returncode == VM_FAILED:
        pytest.skip("vm-run cannot start: the VM failed (exit 125): "
                    + " | ".join(proc.stderr.strip().splitlines()[-5:]))
    assert proc.returncode != TIMED_OUT, f"vm-run timed out:\n{output}"
    assert proc.returncode == 0, f"{what} failed inside the VM:\n{output}"
    assert f"{passed} passed" in proc.stdout, output
