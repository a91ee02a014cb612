"""Failed-login throttling of the embedded identity.

Per user, as Keystone's [security_compliance] lockout_failure_attempts /
lockout_duration: every wrong password counts; at the limit the user is
locked until `lockout_duration` seconds after the last failure, and while
locked even the right password is refused (401, without hashing anything).
A success resets the count; so does an expired lock (the next attempt
counts from 0), an admin setting the password or enabling the user.

Per source address (neutrino's own; Keystone has none): the same rule over
every failure from one client address, whichever user it named (also names
that do not exist), so one client cannot try password after password across
accounts. A locked source is answered 429 with Retry-After. A success does
not reset a source's count (one known password must not buy more guesses).

The counts live in the database (identity_auth_failures), shared by every
API worker and server. Increments are single UPSERT statements, so parallel
failures are all counted."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import delete, select

from neutrino.db.engine import Database
from neutrino.db.upsert import upsert
from neutrino.identity.models import auth_failures as F


@dataclass(frozen=True)
class LockoutPolicy:
    user_attempts: int    # 0: no per-user lockout (Keystone's default)
    user_duration: int    # seconds; 0: until an admin resets it
    source_attempts: int  # 0: no per-source throttling
    source_duration: int

    @classmethod
    def from_config(cls, cfg) -> "LockoutPolicy":
        sc, ident = cfg.security_compliance, cfg.identity
        return cls(sc.lockout_failure_attempts, sc.lockout_duration,
                   ident.source_lockout_failure_attempts, ident.source_lockout_duration)


def user_key(user_id: str) -> str:
    return "user:" + user_id


def source_key(address: str) -> str:
    return "source:" + address[:240]


class LoginThrottle:
    def __init__(self, db: Database, policy: LockoutPolicy,
                 clock: Callable[[], float] = time.time):
        self.db = db
        self.policy = policy
        self.clock = clock

    def _now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    def _state(self, key: str, attempts: int, duration: int) -> tuple[float, int]:
        """(seconds the key stays locked: 0 not locked, inf until reset;
        failures counted)."""
        if attempts <= 0:
            return 0.0, 0
        row = self.db.read(lambda conn: conn.execute(
            select(F.c.failures, F.c.last_failure_us).where(F.c.key == key)).first())
        if row is None:
            return 0.0, 0
        if row.failures < attempts:
            return 0.0, row.failures
        if duration <= 0:
            return float("inf"), row.failures
        left = (row.last_failure_us + duration * 1_000_000 - self._now_us()) / 1e6
        return max(left, 0.0), row.failures

    def user_state(self, user_id: str) -> tuple[bool, int]:
        """(locked, failures counted) of a user."""
        p = self.policy
        left, failures = self._state(user_key(user_id), p.user_attempts, p.user_duration)
        return left > 0, failures

    def source_locked_for(self, address: str) -> float:
        """Seconds the source address stays locked (0: it is not)."""
        p = self.policy
        return self._state(source_key(address), p.source_attempts, p.source_duration)[0]

    def failed(self, user_id: str | None, address: str) -> None:
        """Count one failure against the user (when known) and the source."""
        p = self.policy
        keys = []
        if user_id is not None and p.user_attempts > 0:
            keys.append((user_key(user_id), p.user_duration))
        if address and p.source_attempts > 0:
            keys.append((source_key(address), p.source_duration))
        if not keys:
            return
        now = self._now_us()

        def txn(conn):
            for key, duration in keys:
                # A count whose last failure is older than the duration has
                # expired: this failure is the first of a new count.
                fresh_after = now - duration * 1_000_000 if duration > 0 else None
                row = conn.execute(select(F.c.last_failure_us).where(F.c.key == key)).first()
                if row is not None and fresh_after is not None \
                        and row.last_failure_us <= fresh_after:
                    conn.execute(F.update().where(F.c.key == key,
                                                  F.c.last_failure_us <= fresh_after)
                                 .values(failures=0))
                upsert(conn, F, {"key": key, "failures": 1, "last_failure_us": now},
                       update={"failures": F.c.failures + 1, "last_failure_us": now})
        self.db.write(txn)

    def reset_user(self, user_id: str) -> None:
        """After a success (the caller knows there were failures), or an admin's
        new password or re-enabling."""
        key = user_key(user_id)
        self.db.write(lambda conn: conn.execute(delete(F).where(F.c.key == key)))
