"""Running a test file inside vm-run (../shared/tools/vm-run): a User-Mode
Linux kernel with 802.1Q, which this machine's kernel lacks. The outer test
skips only where vm-run cannot start, with the reason; anything else the VM
reports is a failure."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.machine import missing

REPO = Path(__file__).resolve().parents[1]
VM_RUN = REPO.parent / "shared" / "tools" / "vm-run" / "vm-run"
VM_FAILED = 125   # vm-run: the VM itself failed (console log on stderr)
TIMED_OUT = 124


def run_in_vm(inner: str, passed: int, timeout: int, what: str) -> None:
    """pytest `inner` (a path under the repository) inside the VM; assert
    that `passed` tests passed there."""
    if not os.access(VM_RUN, os.X_OK):
        missing(f"{VM_RUN} is missing or not executable (../shared beside the repository)")
    python = REPO / ".venv" / "bin" / "python"
    if not python.exists():
        python = Path(sys.executable)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    # --keep: on a VM failure the reason is in the guest console's log, of
    # which vm-run prints only the tail; the kept directory is removed below.
    argv = [str(VM_RUN), "--keep", "--timeout", str(timeout), "--", str(python), "-m",
            "pytest", "-q",
            "-p", "no:cacheprovider", inner]
    try:
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout + 100)
    except OSError as exc:
        pytest.skip(f"vm-run cannot start: {exc}")
    output = proc.stdout + proc.stderr
    kept = re.search(r"vm-run: kept (\S+)", proc.stderr)
    console = ""
    if kept:
        log = Path(kept.group(1)) / "console.log"
        console = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(kept.group(1), ignore_errors=True)
    if proc.returncode == VM_FAILED:
        pytest.skip("vm-run cannot start: the VM failed (exit 125): "
                    + vm_failure_reason(console or proc.stderr))
    assert proc.returncode != TIMED_OUT, f"vm-run timed out:\n{output}"
    assert proc.returncode == 0, f"{what} failed inside the VM:\n{output}"
    assert f"{passed} passed" in proc.stdout, output


def vm_failure_reason(console: str) -> str:
    """The guest console's own words for why the VM died (e.g. on a host CPU
    whose XSAVE area UML 6.1 cannot transfer: "userspace - ptrace set fp regs
    failed, errno = 14" then "Kernel panic - not syncing: Attempted to kill
    init!"), not the call trace that follows them."""
    lines = [ln.strip() for ln in console.splitlines()
             if ln.strip() and not ln.lstrip().startswith(("[<", "Call Trace", "Stack"))]
    for i, line in enumerate(lines):
        if "Kernel panic" in line:
            return " | ".join(lines[max(0, i - 1):i + 1])
    return " | ".join(lines[-3:])
