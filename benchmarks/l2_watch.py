"""Times kernel objects going away from the kernel's own events (`nft
monitor`), not by polling: listing 5,000 ports' chains
every 50 ms took most of a core from the agent it was timing. The watch
only reports when the last awaited object went; the caller checks the
kernel itself afterwards."""
from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable


class GoneWatch:
    """Starts `argv` in `netns` and reads its event lines; `key(line)` names
    the object a line says is gone (None: not one of ours). done_at: when
    the last of `awaited` went (time.monotonic()), None until then."""

    def __init__(self, netns: str, argv: list[str], awaited: set[str],
                 key: Callable[[str], str | None]):
        self.left = set(awaited)
        self.done_at: float | None = None if self.left else time.monotonic()
        self.done = threading.Event()
        if not self.left:
            self.done.set()
        self._key = key
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, "stdbuf", "-oL", *argv],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.last_line = ""
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.last_line = line
            name = self._key(line)
            if name is not None and name in self.left:
                self.left.discard(name)
                if not self.left:
                    self.done_at = time.monotonic()
                    self.done.set()

    def stop(self) -> None:
        self.proc.terminate()          # our own child, by its handle
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def chain_key(line: str) -> str | None:
    """`delete chain FAMILY TABLE NAME` -> "FAMILY NAME"."""
    parts = line.split()
    if len(parts) >= 5 and parts[:2] == ["delete", "chain"]:
        return f"{parts[2]} {parts[4]}"
    return None


def awaited_chains(port_ids: list[str]) -> set[str]:
    """The nftables driver's chains whose going chains_left() counts, as
    chain_key() names them."""
    return {f"inet in-{p}" for p in port_ids} | {f"bridge pi-{p}" for p in port_ids}
