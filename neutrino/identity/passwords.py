"""Password hashes: scrypt (hashlib), stored as
`scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`. Never the password itself.
Logins check passwords through a HashPool (bounded, low priority)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from concurrent.futures import ThreadPoolExecutor

N, R, P = 2 ** 14, 8, 1
_DKLEN = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P,
                            dklen=_DKLEN, maxmem=64 * 1024 * 1024)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or password is None:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                             n=int(n), r=int(r), p=int(p), dklen=len(want),
                             maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


class HashPoolBusy(Exception):
    """Every hashing slot of this worker is taken: the caller answers 503."""


class HashPool:
    """Password checks off the request workers' critical path.

    scrypt costs ~50 ms of CPU and 16 MB each. Run directly in the request
    threads, a burst of logins takes every core and every thread, and all
    other API calls wait behind it. Here at most `workers` checks run at a
    time, in threads of lower CPU priority (nice 10: the scheduler serves
    the API's threads first; hashlib releases the GIL while hashing), and at
    most `queue` more wait; a check beyond that is refused at once
    (HashPoolBusy) instead of tying up a request thread."""

    NICE = 10

    def __init__(self, workers: int = 1, queue: int = 16):
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pwhash",
                                           initializer=_lower_priority, initargs=(self.NICE,))
        self.slots = threading.BoundedSemaphore(workers + queue)

    def verify(self, password: str, stored: str | None) -> bool:
        if not self.slots.acquire(blocking=False):
            raise HashPoolBusy("too many password checks in progress")
        try:
            return self.executor.submit(verify_password, password, stored).result()
        finally:
            self.slots.release()

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _lower_priority(nice: int) -> None:
    # Linux: the nice value is per thread (setpriority on the thread id).
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (OSError, AttributeError):
        pass
